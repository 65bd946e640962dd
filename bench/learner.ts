// Training-step speed of @rlpt/learner-onnx against PyTorch CPU on the same model, measured in the same run.
//
// Model: the reference decoder of the learner issue, built with @rlpt/model as a Llama-style config: 2 layers,
// d 256, 4 heads, SwiGLU MLP 1024, vocab 4096, untied head (4.2M parameters: SwiGLU has three MLP matrices),
// batch 8 × 128 tokens, loss = −Σ c·logπ with c = 1/1024 (mean next-token cross-entropy), AdamW + clipping.
//
// Phases, interleaved over rounds so slow drifts in machine load hit every phase alike. Medians are taken over the
// rounds in which other processes used < 0.1 core per second (all rounds, flagged, when none was clean):
//   learner step    forwardBackward + optimStep (gradient graph in ORT, AdamW in JS), dynamic dims
//   learner static  the same with one session per (batch, length) shape
//   no spinning     the same with onnxruntime's thread spinning off (threadSpinning: false)
//   fused graph     one session.run of buildTrainStepGraph (fwd + bwd + clip + AdamW in the graph)
//   forward         learner.logprobs on the same batch (forward + log-softmax)
//   PyTorch         the same architecture in torch 1.13 (Debian python3-torch) with torch.optim.AdamW and
//                   clip_grad_norm_, two thread layouts: BLAS 2 × intra-op 1 and BLAS 1 × intra-op 2; the faster
//                   one is the anchor. Needs `apt-get install python3-torch libopenblas0-pthread`: without OpenBLAS
//                   Debian's torch runs the reference BLAS (~45× slower), which the bench detects and reports.
// Then, for information: the demo-size model (3 layers, d 128, MLP 384, vocab 120, tied; Llama-style here, the demo's
// is Qwen3-style with q/k norm) at 1 thread against PyTorch at
// 1 thread, and exportForInference time.
//
// Each round first waits (up to RLPT_BENCH_QUIET_S, default 20 s) for the machine to be idle and reports the CPU
// other processes used during each phase. Env: RLPT_BENCH_ROUNDS (5), RLPT_BENCH_STEPS (5 per phase and round),
// RLPT_BENCH_THREADS (learner threads, 2). Run alone: `pnpm bench:learner`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createOnnxLearner, type OnnxLearner } from '@rlpt/learner-onnx';
import {
  buildTrainStepGraph,
  countParameters,
  type DecoderConfig,
  parseDecoderConfig,
  randomWeights,
  serializeModel,
  trainingNames,
  wordTokenizer,
} from '@rlpt/model';
import type { TokenBatch } from '@rlpt/spec';
import * as ort from 'onnxruntime-node';

const rounds = Number(process.env.RLPT_BENCH_ROUNDS ?? 5);
const stepsPerRound = Number(process.env.RLPT_BENCH_STEPS ?? 5);
const learnerThreads = Number(process.env.RLPT_BENCH_THREADS ?? 2);
const quietSeconds = Number(process.env.RLPT_BENCH_QUIET_S ?? 20);
const python = '/usr/bin/python3';

interface ModelSpec {
  label: string;
  json: Record<string, unknown>;
  batch: number;
  /** Tokens per sequence: `length − 1` positions are trained (position t predicts token t + 1). */
  length: number;
}

const reference: ModelSpec = {
  label: 'reference (2L d256 h4 ff1024 V4096, 8×128)',
  json: {
    model_type: 'llama',
    vocab_size: 4096,
    hidden_size: 256,
    intermediate_size: 1024,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    tie_word_embeddings: false,
    max_position_embeddings: 512,
  },
  batch: 8,
  length: 129,
};
const demo: ModelSpec = {
  label: 'demo size (3L d128 h4 ff384 V120 tied, 32×48)',
  json: {
    model_type: 'llama',
    vocab_size: 120,
    hidden_size: 128,
    intermediate_size: 384,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    tie_word_embeddings: true,
    max_position_embeddings: 256,
  },
  batch: 32,
  length: 49,
};

// ---- machine load ----

function cpuTimes(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

async function waitForQuiet(): Promise<number> {
  const started = performance.now();
  while ((performance.now() - started) / 1000 < quietSeconds) {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = cpuTimes();
    if (after.busy - before.busy < 0.1) break;
  }
  return (performance.now() - started) / 1000;
}

/** Runs `work`, returning its result and the CPU seconds other processes used meanwhile. */
async function measured<T>(
  work: () => Promise<{ result: T; ownCpu: number }>,
): Promise<{ result: T; foreignCpu: number }> {
  const before = cpuTimes();
  const { result, ownCpu } = await work();
  const after = cpuTimes();
  return { result, foreignCpu: Math.max(0, after.busy - before.busy - ownCpu) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

// ---- node side ----

function syntheticBatch(
  spec: ModelSpec,
  config: DecoderConfig,
): { batch: TokenBatch; coefficients: Float32Array[] } {
  const sequences = Array.from({ length: spec.batch }, (_, row) => ({
    promptTokenIds: [(row * 31 + 1) % config.vocabSize],
    completionTokenIds: Array.from(
      { length: spec.length - 1 },
      (_, t) => (row * 7919 + t * 104729 + 3) % config.vocabSize,
    ),
  }));
  const weight = 1 / (spec.batch * (spec.length - 1));
  return {
    batch: { sequences },
    coefficients: sequences.map((s) => new Float32Array(s.completionTokenIds.length).fill(weight)),
  };
}

type Phase = () => Promise<number>;

async function timeSteps(phase: Phase, steps: number): Promise<{ result: number[]; ownCpu: number }> {
  const cpuBefore = process.cpuUsage();
  const times: number[] = [];
  for (let step = 0; step < steps; step++) times.push(await phase());
  const cpu = process.cpuUsage(cpuBefore);
  return { result: times, ownCpu: (cpu.user + cpu.system) / 1e6 };
}

async function learnerPhases(spec: ModelSpec, threads: number, withStatic: boolean) {
  const config = parseDecoderConfig(spec.json);
  const weights = randomWeights(config, { seed: 1 });
  const { batch, coefficients } = syntheticBatch(spec, config);
  const learner = await createOnnxLearner({ config, weights, threads, maxGradNorm: 1, seed: 1 });
  const learnerStatic = withStatic
    ? await createOnnxLearner({ config, weights, threads, shapes: 'static' })
    : undefined;
  const learnerQuiet =
    withStatic && threads > 1
      ? await createOnnxLearner({ config, weights, threads, threadSpinning: false })
      : undefined;
  const stepOf =
    (target: OnnxLearner): Phase =>
    async () => {
      const started = performance.now();
      await target.forwardBackward(batch, coefficients);
      await target.optimStep({ learningRate: 1e-3 });
      return (performance.now() - started) / 1000;
    };
  // The fused graph: params and moments fed back from the previous run's outputs.
  const { graph, parameters } = buildTrainStepGraph(config);
  const fused = await ort.InferenceSession.create(serializeModel(graph), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const state = new Map<string, ort.Tensor>();
  for (const parameter of parameters) {
    const data = weights.get(parameter.name)?.data as Float32Array;
    state.set(parameter.name, new ort.Tensor('float32', Float32Array.from(data), parameter.shape));
    state.set(
      trainingNames.adamM(parameter.name),
      new ort.Tensor('float32', new Float32Array(data.length), parameter.shape),
    );
    state.set(
      trainingNames.adamV(parameter.name),
      new ort.Tensor('float32', new Float32Array(data.length), parameter.shape),
    );
  }
  const rows = spec.batch;
  const width = spec.length - 1;
  const int64 = (fill: (row: number, t: number) => number) =>
    new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: rows * width }, (_, i) => BigInt(fill(Math.floor(i / width), i % width))),
      [rows, width],
    );
  const tokenAt = (row: number, t: number) =>
    t === 0
      ? (batch.sequences[row]?.promptTokenIds[0] as number)
      : (batch.sequences[row]?.completionTokenIds[t - 1] as number);
  const scalar = (value: number) => new ort.Tensor('float32', Float32Array.of(value), []);
  const batchFeeds: Record<string, ort.Tensor> = {
    [trainingNames.inputIds]: int64(tokenAt),
    [trainingNames.targetIds]: int64((row, t) => tokenAt(row, t + 1)),
    [trainingNames.positionIds]: int64((_, t) => t),
    [trainingNames.attentionMask]: int64(() => 1),
    [trainingNames.coefficients]: new ort.Tensor(
      'float32',
      new Float32Array(rows * width).fill(1 / (rows * width)),
      [rows, width],
    ),
    [trainingNames.beta1]: scalar(0.9),
    [trainingNames.beta2]: scalar(0.999),
    [trainingNames.epsilon]: scalar(1e-8),
    [trainingNames.weightDecay]: scalar(0.01),
    [trainingNames.maxGradNorm]: scalar(1),
    [trainingNames.learningRate]: scalar(1e-3),
  };
  let fusedStep = 0;
  const fusedPhase: Phase = async () => {
    const started = performance.now();
    fusedStep++;
    const out = await fused.run({
      ...batchFeeds,
      ...Object.fromEntries(state),
      [trainingNames.step]: scalar(fusedStep),
    });
    for (const name of state.keys()) state.set(name, out[trainingNames.next(name)] as ort.Tensor);
    return (performance.now() - started) / 1000;
  };
  const forwardPhase: Phase = async () => {
    const started = performance.now();
    await learner.logprobs(batch);
    return (performance.now() - started) / 1000;
  };
  const phases: Record<string, Phase> = {
    'learner step': stepOf(learner),
    ...(learnerStatic ? { 'learner static': stepOf(learnerStatic) } : {}),
    ...(learnerQuiet ? { 'learner no spinning': stepOf(learnerQuiet) } : {}),
    'fused graph': fusedPhase,
    forward: forwardPhase,
  };
  // Warm-up: session creation and first-run allocation.
  for (const phase of Object.values(phases)) for (let i = 0; i < 2; i++) await phase();
  const close = async () => {
    await learner.close();
    await learnerStatic?.close();
    await learnerQuiet?.close();
    await fused.release();
  };
  return { phases, learner, close, config };
}

// ---- PyTorch side ----

const torchScript = `
import json, math, os, sys, time
import torch
import torch.nn.functional as F

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec['intra'])
torch.manual_seed(0)
V, H, L, NH, FF = spec['vocab'], spec['hidden'], spec['layers'], spec['heads'], spec['ff']
B, S, TIED = spec['batch'], spec['length'] - 1, spec['tied']
D = H // NH

def blas_libraries():
    with open('/proc/self/maps') as maps:
        return sorted({line.split()[-1] for line in maps if 'blas' in line.lower()})

def gemm_gflops():
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    for _ in range(3): a @ b
    started = time.perf_counter()
    for _ in range(10): a @ b
    return 2 * 512 ** 3 * 10 / (time.perf_counter() - started) / 1e9

def linear(i, o):
    layer = torch.nn.Linear(i, o, bias=False)
    torch.nn.init.normal_(layer.weight, std=0.02)
    return layer

class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = linear(H, H), linear(H, H), linear(H, H), linear(H, H)
        self.gate, self.up, self.down = linear(H, FF), linear(H, FF), linear(FF, H)
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(H)), torch.nn.Parameter(torch.ones(H))

def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, H)
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(L)])
        self.norm = torch.nn.Parameter(torch.ones(H))
        self.head = None if TIED else linear(H, V)
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        angles = torch.arange(S).float()[:, None] * inv[None, :]
        angles = torch.cat([angles, angles], -1)
        self.cos, self.sin = angles.cos(), angles.sin()
        self.mask = torch.triu(torch.full((S, S), float('-inf')), 1)

    def rope(self, x):
        x1, x2 = x[..., : D // 2], x[..., D // 2 :]
        return x * self.cos + torch.cat([-x2, x1], -1) * self.sin

    def forward(self, ids):
        x = self.embed(ids)
        for layer in self.layers:
            h = rms(x, layer.n1)
            q = self.rope(layer.q(h).view(B, S, NH, D).transpose(1, 2))
            k = self.rope(layer.k(h).view(B, S, NH, D).transpose(1, 2))
            v = layer.v(h).view(B, S, NH, D).transpose(1, 2)
            scores = q @ k.transpose(-1, -2) / math.sqrt(D) + self.mask
            context = torch.softmax(scores, -1) @ v
            x = x + layer.o(context.transpose(1, 2).reshape(B, S, H))
            h = rms(x, layer.n2)
            x = x + layer.down(F.silu(layer.gate(h)) * layer.up(h))
        h = rms(x, self.norm)
        return h @ self.embed.weight.t() if TIED else self.head(h)

model = Model()
ids = torch.randint(0, V, (B, S))
targets = torch.randint(0, V, (B, S))
coefficients = torch.full((B, S), 1.0 / (B * S))
matrices = [p for p in model.parameters() if p.dim() >= 2]
vectors = [p for p in model.parameters() if p.dim() < 2]
optimizer = torch.optim.AdamW([{'params': matrices, 'weight_decay': 0.01}, {'params': vectors, 'weight_decay': 0.0}], lr=1e-3)

def step():
    optimizer.zero_grad(set_to_none=True)
    logprobs = torch.log_softmax(model(ids), -1).gather(-1, targets[..., None]).squeeze(-1)
    loss = -(coefficients * logprobs).sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()

def forward():
    with torch.no_grad():
        torch.log_softmax(model(ids), -1).gather(-1, targets[..., None])

for _ in range(2): step(); forward()
print(json.dumps({'ready': True, 'torch': torch.__version__, 'blas': blas_libraries(), 'gemm_gflops': gemm_gflops(),
                  'parameters': sum(p.numel() for p in model.parameters())}), flush=True)
for line in sys.stdin:
    kind, count = line.split()
    if kind == 'quit': break
    function = step if kind == 'step' else forward
    cpu = time.process_time()
    times = []
    for _ in range(int(count)):
        started = time.perf_counter(); function(); times.append(time.perf_counter() - started)
    print(json.dumps({'times': times, 'cpu': time.process_time() - cpu}), flush=True)
`;

interface TorchInfo {
  torch: string;
  blas: string[];
  gemm_gflops: number;
  parameters: number;
}

interface TorchWorker {
  info: TorchInfo;
  run(kind: 'step' | 'forward', count: number): Promise<{ result: number[]; ownCpu: number }>;
  close(): void;
}

async function startTorch(
  scriptPath: string,
  spec: ModelSpec,
  blasThreads: number,
  intra: number,
): Promise<TorchWorker | string> {
  const config = parseDecoderConfig(spec.json);
  const args = JSON.stringify({
    intra,
    vocab: config.vocabSize,
    hidden: config.hiddenSize,
    layers: config.numHiddenLayers,
    heads: config.numAttentionHeads,
    ff: config.intermediateSize,
    batch: spec.batch,
    length: spec.length,
    tied: config.tieWordEmbeddings,
  });
  const child = spawn(python, [scriptPath, args], {
    env: {
      ...process.env,
      OPENBLAS_NUM_THREADS: String(blasThreads),
      OMP_NUM_THREADS: String(intra),
      MKL_NUM_THREADS: String(intra),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string | undefined> =>
    (await iterator.next()).value as string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.on('close', () => resolve(stderr.trim().split('\n').slice(-3).join(' '))),
  );
  const spawnFailed = new Promise<string>((resolve) => child.on('error', (error) => resolve(error.message)));
  const first = await Promise.race([nextLine(), exited, spawnFailed]);
  if (!first?.startsWith('{')) return `PyTorch did not start (${first || 'no output'})`;
  const info = JSON.parse(first) as TorchInfo;
  return {
    info,
    async run(kind, count) {
      child.stdin.write(`${kind} ${count}\n`);
      const line = await nextLine();
      if (!line) throw new Error(`PyTorch worker exited: ${stderr.slice(-500)}`);
      const parsed = JSON.parse(line) as { times: number[]; cpu: number };
      return { result: parsed.times, ownCpu: parsed.cpu };
    },
    close() {
      child.stdin.write('quit 0\n');
      child.stdin.end();
    },
  };
}

// ---- main ----

/** Per phase: step times of every round, and of the rounds other processes left alone. */
type Samples = Map<
  string,
  { times: number[]; clean: number[]; rounds: number; cleanRounds: number; foreignCpu: number; wall: number }
>;

/** A phase-round counts as clean when other processes used under 0.1 core per second of it. */
const cleanShare = 0.1;

function record(samples: Samples, name: string, times: number[], foreignCpu: number): void {
  const entry = samples.get(name) ?? {
    times: [],
    clean: [],
    rounds: 0,
    cleanRounds: 0,
    foreignCpu: 0,
    wall: 0,
  };
  const wall = times.reduce((a, b) => a + b, 0);
  entry.times.push(...times);
  entry.rounds++;
  if (foreignCpu < cleanShare * wall) {
    entry.clean.push(...times);
    entry.cleanRounds++;
  }
  entry.foreignCpu += foreignCpu;
  entry.wall += wall;
  samples.set(name, entry);
}

/** Median over clean rounds when there are any, else over all rounds (and says so). */
function typical(samples: Samples, name: string): { time: number; contended: boolean } {
  const entry = samples.get(name);
  if (!entry) return { time: Number.NaN, contended: true };
  const contended = entry.clean.length === 0;
  return { time: median(contended ? entry.times : entry.clean), contended };
}

function report(samples: Samples): void {
  for (const [name, entry] of samples) {
    const { time, contended } = typical(samples, name);
    console.log(
      `  ${name.padEnd(30)} ${time.toFixed(4)} s (min ${Math.min(...entry.times).toFixed(4)}; clean rounds ${entry.cleanRounds}/${entry.rounds}${contended ? ', all contended: median of all' : ''}; other processes used ${entry.foreignCpu.toFixed(1)} core-s over ${entry.wall.toFixed(1)} s)`,
    );
  }
}

async function benchModel(
  spec: ModelSpec,
  threads: number,
  torchLayouts: [number, number][],
  scriptPath: string | undefined,
  withStatic: boolean,
) {
  const config = parseDecoderConfig(spec.json);
  console.log(
    `\n${spec.label}: ${countParameters(config).toLocaleString('en')} parameters, learner threads ${threads}`,
  );
  const node = await learnerPhases(spec, threads, withStatic);
  const workers: { name: string; worker: TorchWorker }[] = [];
  const notes: string[] = [];
  if (scriptPath) {
    for (const [blas, intra] of torchLayouts) {
      const worker = await startTorch(scriptPath, spec, blas, intra);
      if (typeof worker === 'string') notes.push(worker);
      else {
        const usable =
          worker.info.blas.some((path) => path.includes('openblas')) && worker.info.gemm_gflops > 20;
        notes.push(
          `PyTorch ${worker.info.torch} (BLAS ${blas} × intra-op ${intra}): ${worker.info.blas.join(', ') || 'no BLAS library mapped'}, 512³ GEMM ${worker.info.gemm_gflops.toFixed(0)} GFLOP/s, ${worker.info.parameters.toLocaleString('en')} parameters${usable ? '' : ' — reference BLAS or no OpenBLAS: not a useful anchor (apt-get install libopenblas0-pthread)'}`,
        );
        if (usable) workers.push({ name: `PyTorch step (BLAS ${blas}, intra ${intra})`, worker });
        else worker.close();
      }
    }
  } else
    notes.push(
      `no PyTorch anchor: ${python} has no torch (apt-get install python3-torch libopenblas0-pthread)`,
    );
  for (const note of notes) console.log(`  ${note}`);
  const samples: Samples = new Map();
  for (let round = 0; round < rounds; round++) {
    const waited = await waitForQuiet();
    if (waited > 1.5) console.log(`  round ${round + 1}: waited ${waited.toFixed(0)} s for an idle machine`);
    for (const [name, phase] of Object.entries(node.phases)) {
      const { result, foreignCpu } = await measured(() => timeSteps(phase, stepsPerRound));
      record(samples, name, result, foreignCpu);
    }
    for (const { name, worker } of workers) {
      const { result, foreignCpu } = await measured(() => worker.run('step', stepsPerRound));
      record(samples, name, result, foreignCpu);
    }
    const first = workers[0];
    if (first) {
      const { result, foreignCpu } = await measured(() => first.worker.run('forward', stepsPerRound));
      record(samples, `PyTorch forward (${first.name.replace('PyTorch step ', '')})`, result, foreignCpu);
    }
  }
  report(samples);
  const exportTimes: number[] = [];
  const exportRoot = await mkdtemp(join(tmpdir(), 'rlpt-bench-learner-'));
  try {
    const learner = await createOnnxLearner({
      config,
      weights: randomWeights(config, { seed: 1 }),
      threads,
      tokenizer: wordTokenizer({ words: ['a', 'b'] }),
    });
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await learner.exportForInference(join(exportRoot, 'policy'));
      exportTimes.push((performance.now() - started) / 1000);
    }
    await learner.close();
  } finally {
    await rm(exportRoot, { recursive: true, force: true });
  }
  console.log(`  exportForInference: ${median(exportTimes).toFixed(3)} s (median of 3)`);
  for (const { worker } of workers) worker.close();
  await node.close();
  const step = typical(samples, 'learner step');
  const stepTime = step.time;
  const torch = workers.map(({ name }) => typical(samples, name));
  const torchTimes = torch.map((entry) => entry.time);
  const contended = step.contended || torch.some((entry) => entry.contended);
  const torchBest = torchTimes.length > 0 ? Math.min(...torchTimes) : undefined;
  return {
    stepTime,
    fusedTime: typical(samples, 'fused graph').time,
    forwardTime: typical(samples, 'forward').time,
    contended,
    torchBest,
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-bench-torch-'));
  let scriptPath: string | undefined;
  const probe = spawn(python, ['-c', 'import torch'], { stdio: 'ignore' });
  const hasTorch = await new Promise<boolean>((resolve) => {
    probe.on('error', () => resolve(false));
    probe.on('close', (code) => resolve(code === 0));
  });
  if (hasTorch) {
    scriptPath = join(root, 'torch_step.py');
    await writeFile(scriptPath, torchScript);
  }
  try {
    const main = await benchModel(
      reference,
      learnerThreads,
      [
        [2, 1],
        [1, 2],
      ],
      scriptPath,
      true,
    );
    console.log(
      `  ratios: step/forward ${(main.stepTime / main.forwardTime).toFixed(2)}, learner step/fused graph ${(main.stepTime / main.fusedTime).toFixed(2)}${main.torchBest ? `, PyTorch/learner ${(main.torchBest / main.stepTime).toFixed(2)}` : ''}; goal ≤ 0.13 s/step: ${main.stepTime <= 0.13 ? 'met' : 'not met'} (${main.stepTime.toFixed(3)} s)`,
    );
    const small = await benchModel(demo, 1, [[1, 1]], scriptPath, false);
    if (small.torchBest) {
      console.log(
        `  demo-size ratio PyTorch/learner at 1 thread: ${(small.torchBest / small.stepTime).toFixed(2)}`,
      );
    }
    console.log();
    if (main.torchBest) {
      console.log(
        `learner: ${(main.torchBest / main.stepTime).toFixed(2)}x PyTorch CPU step speed (${main.stepTime.toFixed(3)} vs ${main.torchBest.toFixed(3)} s/step${main.contended ? '; machine busy, not clean' : ''})`,
      );
    } else {
      console.log(
        `learner: ${(main.forwardTime / main.stepTime).toFixed(2)}x forward-pass speed for a full training step (${main.stepTime.toFixed(3)} vs ${main.forwardTime.toFixed(3)} s; no PyTorch anchor${main.contended ? '; machine busy, not clean' : ''})`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
