// HTTP overhead of a training step over the Tinker API: @rlpt/learner-tinker against a real `rlpt serve tinker`
// child process (one onnxruntime thread, @rlpt/learner-onnx inside) vs @rlpt/learner-onnx in this process (one
// thread), on the same model and batch, measured in the same run.
//
// Model: the demo's size (3 layers, d 128, 4 heads, MLP 384, tied; word-level over the embedded demo corpus's
// vocabulary). Batch: 16 sequences of the embedded demo corpus (a 48-token prompt and a 24-token completion,
// GRPO-like coefficients ±1/384). A step is forwardBackward + optimStep.
//
// Phases, in a rotating order each round (drifts in machine load hit every phase alike); medians over rounds of the
// per-round ratio to the in-process step:
//   in process         createOnnxLearner({ threads: 1 })
//   tinker JSON        forward_backward as JSON, optim_step awaited (pipeline: false: the grad norm is reported)
//   tinker protobuf    forward_backward as protobuf (the SDK ≥ 0.25 encoding), optim_step awaited
//   tinker pipelined   JSON, optim_step sent behind forward_backward without waiting (pipeline: true)
// The server runs in its own process, so its compute uses the second core while the client waits.
// Data: the embedded demo corpus (no ../shared/data needed). Env: RLPT_BENCH_ROUNDS (5), RLPT_BENCH_STEPS (6).
// Run alone: `pnpm bench tinker` (node bench/run-all.mjs tinker).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoCorpus, demoVocabulary } from '@rlpt/data';
import { createOnnxLearner } from '@rlpt/learner-onnx';
import { createTinkerLearner } from '@rlpt/learner-tinker';
import { createTinyModel, loadTextTokenizer } from '@rlpt/model';
import type { LearnerV1, TokenBatch } from '@rlpt/spec';

const rounds = Number(process.env.RLPT_BENCH_ROUNDS ?? 5);
const steps = Number(process.env.RLPT_BENCH_STEPS ?? 6);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const dir = await mkdtemp(join(tmpdir(), 'rlpt-bench-tinker-'));
const tags = ['<|startofprediction|>', '<|endofprediction|>'];
const model = await createTinyModel({
  dir: join(dir, 'model'),
  tokenizer: { words: [...demoVocabulary], addedTokens: [...tags, '<MASK>'] },
  hiddenSize: 128,
  layers: 3,
  heads: 4,
  kvHeads: 4,
  intermediateSize: 384,
  maxPositionEmbeddings: 256,
  seed: 1,
});
const tokenizer = await loadTextTokenizer(model.dir);
const corpus = buildDemoCorpus({ seed: 1 });
const ids = corpus.train.flatMap((document) => tokenizer.encode(document.text));
const batch: TokenBatch = {
  sequences: Array.from({ length: 16 }, (_, index) => {
    const start = (index * 97) % (ids.length - 80);
    return {
      promptTokenIds: ids.slice(start, start + 48),
      completionTokenIds: ids.slice(start + 48, start + 72),
    };
  }),
};
const coefficients = batch.sequences.map((_, index) => new Float32Array(24).fill((index % 2 ? 1 : -1) / 384));
const adam = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 };

// The server: `rlpt serve tinker` from the sources, as a user runs it.
const server = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--conditions=@rlpt/source',
    join(root, 'packages/cli/src/bin.ts'),
    'serve',
    'tinker',
    '--model',
    model.dir,
    '--base-model',
    'bench',
    '--port',
    '0',
    '--threads',
    '1',
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const match = /at (http:\/\/127\.0\.0\.1:\d+) \(Tinker API/.exec(out);
    if (match) resolve(match[1]!);
  });
  server.on('exit', (code) =>
    reject(new Error(`rlpt serve tinker exited (code ${code}) before it listened`)),
  );
});
server.stdout.resume();

const overHttp = (encoding: 'json' | 'protobuf', pipeline: boolean) => () =>
  createTinkerLearner({ baseURL: url, baseModel: 'bench', adam, gradClipNorm: 1, pipeline, encoding });
const phases: Record<string, () => Promise<LearnerV1>> = {
  'in process': () => createOnnxLearner({ modelDir: model.dir, threads: 1, adam, maxGradNorm: 1 }),
  'tinker JSON': overHttp('json', false),
  'tinker protobuf': overHttp('protobuf', false),
  'tinker pipelined': overHttp('json', true),
};
const names = Object.keys(phases);
const perStep: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
const learners = new Map<string, LearnerV1>();
for (const name of names) {
  const learner = await phases[name]!();
  // Warm-up: sessions, first-shape compilation, server model creation.
  await learner.forwardBackward(batch, coefficients);
  await learner.optimStep({ learningRate: 1e-4 });
  learners.set(name, learner);
}
try {
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, index) => names[(index + round) % names.length]!);
    for (const name of order) {
      const learner = learners.get(name)!;
      const started = performance.now();
      for (let step = 0; step < steps; step++) {
        await learner.forwardBackward(batch, coefficients);
        await learner.optimStep({ learningRate: 1e-4 });
      }
      // A pipelined step is finished when the next call has its result: settle it inside the timing.
      await learner.logprobs({ sequences: batch.sequences.slice(0, 1) });
      perStep[name]!.push((performance.now() - started) / steps);
    }
  }
} finally {
  for (const learner of learners.values()) await learner.close?.();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.on('exit', resolve));
  await rm(dir, { recursive: true, force: true });
}

const base = perStep['in process']!;
const ratio = (name: string) => median(perStep[name]!.map((ms, index) => ms / base[index]!));
console.log(
  `model: demo size (3L d128 h4 ff384 tied, vocab ${model.config.vocabSize}), batch 16 × (48 + 24) tokens; ${rounds} rounds × ${steps} steps`,
);
console.log(
  '| phase | ms per step (median) | × in process (median of per-round ratios) | overhead ms per step |',
);
console.log('| --- | --- | --- | --- |');
for (const name of names) {
  const ms = median(perStep[name]!);
  console.log(
    `| ${name} | ${ms.toFixed(1)} | ${ratio(name).toFixed(2)} | ${name === 'in process' ? '—' : (ms - median(base)).toFixed(1)} |`,
  );
}
console.log(
  `tinker: ${ratio('tinker JSON').toFixed(2)}x training step over the Tinker API (JSON; protobuf ${ratio('tinker protobuf').toFixed(2)}x, pipelined ${ratio('tinker pipelined').toFixed(2)}x) vs @rlpt/learner-onnx in process`,
);
