// Rollout throughput: completion tokens/s of @rlpt/backend-onnx against transformers.js 4.3 generate() on
// the same model folder, measured in the same run.
//
// Workload (GRPO rollouts): 8 prompts × n = 8 samples × 64 new tokens, temperature 1, no top-k (full
// vocabulary), seeded. Both sides run the 64 sequences as one batch on onnxruntime-node's CPU provider
// with the same thread count (RLPT_BENCH_THREADS, default 2).
// - backend-onnx: `backend.generate({ prompts, n: 8, maxTokens: 64, temperature: 1, seed })` (its own
//   KV-cache loop: each prompt prefilled once, finished rows leave the batch, linear-time sampling).
// - transformers.js (the baseline): raw `model.generate()` through its public API, the way its docs show
//   it: the 8 prompts each repeated 8 times, tokenised with left padding, `do_sample: true,
//   temperature: 1, top_k: 0` (its default top_k is 50), `max_new_tokens: 64`, `random.seed()`.
// - @rlpt/backend-transformers (information only): the same request through this repo's wrapper.
// Tokens counted = completion tokens a rollout consumer gets: per sequence, tokens up to and including
// the first eos (transformers.js keeps decoding finished rows until every row is done; that extra work is
// not counted as output). Time = wall clock of the generate call, after one warm-up call per side.
//
// Noise: the machine is 2 vCPUs shared with other work, which only ever adds time, and adds more to
// transformers.js (more threads: JS sampling plus onnxruntime) than to backend-onnx, so a loaded machine
// inflates the ratio (the small model measured 4.5–8x at load average ~12, 2.2x on a quiet machine). Each side
// therefore runs ROUNDS times (RLPT_BENCH_ROUNDS, default 5) in ABAB order and the headline uses each
// side's fastest run (the least disturbed one). Also printed: the median of the per-round ratios, and
// tokens per CPU-second of this process (onnxruntime threads included).
//
// Models (written by @rlpt/model's factory into a temp folder, seeded random weights, char tokenizer with
// 357 tokens unless noted):
// - tiny: the factory default (Qwen3-style, hidden 64, 2 layers, 4 heads, 2 kv heads): the model tests
//   and the demo use. The headline ratio is on this model.
// - small: hidden 256, 2 layers, 4 heads (2 kv), MLP 1024, where the model's own compute weighs more.
// - tiny-width Qwen3 vocabulary: hidden 64, 2 layers, the real Qwen3 tokenizer (151,936-way logits),
//   where transformers.js sorts the full vocabulary for every row and token. Its generate() takes minutes
//   for the full workload on 2 cores, so this model runs RLPT_BENCH_QWEN3_TOKENS (default 16) new tokens
//   per sequence, once per side (the per-token cost is flat, so the ratio barely depends on the length).
//
// Run alone: `pnpm bench:rollout`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createTransformersBackend } from '@rlpt/backend-transformers';
import { createTinyModel, type TinyModelOptions } from '@rlpt/model';

const THREADS = Number(process.env.RLPT_BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.RLPT_BENCH_ROUNDS ?? 5);
const QWEN3_TOKENS = Number(process.env.RLPT_BENCH_QWEN3_TOKENS ?? 16);
const N = 8;
const MAX_TOKENS = 64;
const SEED = 1;
const PROMPTS = [
  'The capital of France is',
  'Once upon a time',
  'In 1905, Albert Einstein published',
  'The quick brown fox jumps over the lazy dog and then',
  'Water boils at',
  'A sentence about trains:',
  'def fibonacci(n):',
  'The mitochondria is the powerhouse of the cell, which means that',
];

type Transformers = typeof import('@huggingface/transformers');

interface Measurement {
  tokens: number;
  /** Wall clock. */
  seconds: number;
  /** CPU time of this process (all onnxruntime threads included): steadier than wall time under load. */
  cpuSeconds: number;
}

/** Runs `task` and measures wall and CPU time around it. */
async function timed(task: () => Promise<number>): Promise<Measurement> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const tokens = await task();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { tokens, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const rate = (runs: Measurement[]) => median(runs.map((run) => run.tokens / run.seconds));
const best = (runs: Measurement[]) => Math.max(...runs.map((run) => run.tokens / run.seconds));
const cpuRate = (runs: Measurement[]) => median(runs.map((run) => run.tokens / run.cpuSeconds));
/** Median over rounds of the per-round ratio: pairing cancels the drift of a shared machine. */
const pairedRatio = (a: Measurement[], b: Measurement[], per: (run: Measurement) => number) =>
  median(a.map((run, index) => per(run) / per(b[index] as Measurement)));

/** Raw transformers.js: load the folder and return a function running the workload once. */
async function rawTransformers(transformers: Transformers, dir: string, maxTokens: number) {
  const tokenizer = await transformers.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = await transformers.AutoModelForCausalLM.from_pretrained(dir, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1, logSeverityLevel: 3 },
  });
  const eos = new Set<number>([
    tokenizer.eos_token_id,
    ...[model.generation_config?.eos_token_id ?? []].flat(),
  ]);
  const rows = PROMPTS.flatMap((prompt) => Array.from({ length: N }, () => prompt));
  const inputs = tokenizer(rows, { padding: true });
  const inputLength = inputs.input_ids.dims[1] as number;
  return {
    async run(newTokens = maxTokens): Promise<Measurement> {
      transformers.random.seed(SEED);
      return timed(async () => {
        const output = (await model.generate({
          ...inputs,
          max_new_tokens: newTokens,
          do_sample: true,
          temperature: 1,
          top_k: 0,
        })) as import('@huggingface/transformers').Tensor;
        const [batch, total] = output.dims as [number, number];
        const data = output.data as BigInt64Array;
        let tokens = 0;
        for (let row = 0; row < batch; row++) {
          for (let column = inputLength; column < total; column++) {
            tokens++;
            if (eos.has(Number(data[row * total + column]))) break;
          }
        }
        return tokens;
      });
    },
    close: () => model.dispose(),
  };
}

/** An InferenceBackendV1 running the workload once. */
function viaBackend(
  backend: ReturnType<typeof createOnnxBackend> | ReturnType<typeof createTransformersBackend>,
) {
  return (maxTokens: number): Promise<Measurement> =>
    timed(async () => {
      const result = await backend.generate({
        prompts: PROMPTS,
        n: N,
        maxTokens,
        temperature: 1,
        seed: SEED,
      });
      return result.usage.completionTokens;
    });
}

function line(label: string, runs: Measurement[]): string {
  const seconds = runs.map((run) => run.seconds.toFixed(2)).join('/');
  const tokens = [...new Set(runs.map((run) => run.tokens))].join('/');
  return `  ${label.padEnd(34)} best ${best(runs).toFixed(0).padStart(6)} tokens/s, median ${rate(runs).toFixed(0).padStart(6)}, ${cpuRate(runs).toFixed(0).padStart(6)} tokens/CPU-s   (tokens ${tokens}; wall s ${seconds})`;
}

async function benchModel(
  transformers: Transformers,
  root: string,
  name: string,
  options: Omit<TinyModelOptions, 'dir'>,
  maxTokens: number,
  rounds: number,
  withWrapper: boolean,
): Promise<number> {
  const model = await createTinyModel({
    dir: join(root, name.replace(/\W+/g, '-')),
    safetensors: false,
    ...options,
  });
  const { config } = model;
  console.log(
    `\n${name}: hidden ${config.hiddenSize}, ${config.numHiddenLayers} layers, vocab ${config.vocabSize}; ${PROMPTS.length} prompts × n ${N} × ${maxTokens} new tokens, T 1, no top-k, ${THREADS} threads`,
  );
  const onnx = createOnnxBackend({ modelDir: model.dir, threads: THREADS });
  const runOnnx = viaBackend(onnx);
  const raw = await rawTransformers(transformers, model.dir, maxTokens);
  const wrapper = withWrapper
    ? createTransformersBackend({ modelDir: model.dir, threads: THREADS })
    : undefined;
  const runWrapper = wrapper ? viaBackend(wrapper) : undefined;
  // Warm-up: load sessions, JIT, allocator.
  await runOnnx(4);
  await raw.run(2);
  await runWrapper?.(2);
  const onnxRuns: Measurement[] = [];
  const rawRuns: Measurement[] = [];
  const wrapperRuns: Measurement[] = [];
  for (let round = 0; round < rounds; round++) {
    onnxRuns.push(await runOnnx(maxTokens));
    rawRuns.push(await raw.run(maxTokens));
    if (runWrapper) wrapperRuns.push(await runWrapper(maxTokens));
  }
  console.log(line('@rlpt/backend-onnx', onnxRuns));
  console.log(line('transformers.js generate() (raw)', rawRuns));
  if (runWrapper) console.log(line('@rlpt/backend-transformers', wrapperRuns));
  const ratio = best(onnxRuns) / best(rawRuns);
  const paired = pairedRatio(onnxRuns, rawRuns, (run) => run.tokens / run.seconds);
  const cpuRatio = pairedRatio(onnxRuns, rawRuns, (run) => run.tokens / run.cpuSeconds);
  console.log(
    `  backend-onnx / transformers.js: ${ratio.toFixed(1)}x best tokens/s (goal ≥ 5x); median of per-round ratios ${paired.toFixed(1)}x; ${cpuRatio.toFixed(1)}x tokens per CPU-second`,
  );
  await Promise.all([onnx.close(), raw.close(), wrapper?.close()]);
  return ratio;
}

const root = await mkdtemp(join(tmpdir(), 'rlpt-bench-rollout-'));
try {
  const transformers = (await import('@huggingface/transformers')) as Transformers;
  transformers.env.allowRemoteModels = false;
  const tiny = await benchModel(
    transformers,
    root,
    'tiny',
    { tokenizer: 'char', seed: 1 },
    MAX_TOKENS,
    ROUNDS,
    true,
  );
  const small = await benchModel(
    transformers,
    root,
    'small',
    { tokenizer: 'char', hiddenSize: 256, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 1024, seed: 1 },
    MAX_TOKENS,
    ROUNDS,
    true,
  );
  const qwen3 = await benchModel(
    transformers,
    root,
    'tiny-width Qwen3 vocabulary',
    { tokenizer: 'qwen3', hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, seed: 1 },
    QWEN3_TOKENS,
    1,
    false,
  );
  console.log('\nbackend-onnx tokens/s ÷ transformers.js generate() tokens/s (best runs):');
  console.log(
    `  tiny ${tiny.toFixed(1)}x, small ${small.toFixed(1)}x, tiny-width Qwen3 vocabulary ${qwen3.toFixed(1)}x`,
  );
  console.log(`rollout: ${tiny.toFixed(1)}x backend-onnx tokens/s vs transformers.js generate()`);
} finally {
  await rm(root, { recursive: true, force: true });
}
