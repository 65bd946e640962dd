// Speed of `grpoObjective` (advantages → per-token coefficients) for 4096 sequences × 1024 tokens,
// against a plain memory copy of the same input arrays measured in the same run.
//
// Baseline: `Float32Array.prototype.set` of every input array (logprobs, old logprobs, and reference
// logprobs where the case reads them) into preallocated arrays of the same shape: the memory traffic of
// reading the inputs once and writing them once. grpoObjective reads the same inputs and writes one
// coefficient array (allocated per call, as the API does). Speed ratio = copy time / objective time
// (higher is better; 1.0 would mean "as fast as copying the inputs"). Goal: ≥ 0.25.
//
// Each case alternates baseline and objective runs, after warm-up, and compares medians.
// Run alone: `pnpm bench:grpo`.
import { type ObjectiveConfig, grpoObjective, groupAdvantages, presets } from '@rlpt/grpo';

const sequences = 4096;
const tokens = 1024;
const groupSize = 8;
const repetitions = Number(process.env.RLPT_BENCH_REPS ?? 15);

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(1);
const logprobs: Float32Array[] = [];
const oldLogprobs: Float32Array[] = [];
const refLogprobs: Float32Array[] = [];
for (let sequence = 0; sequence < sequences; sequence++) {
  const current = new Float32Array(tokens);
  const old = new Float32Array(tokens);
  const ref = new Float32Array(tokens);
  for (let token = 0; token < tokens; token++) {
    current[token] = -3 * next();
    old[token] = current[token]! + 0.3 * (next() - 0.5); // ρ ∈ [0.86, 1.16]: some tokens clip
    ref[token] = current[token]! + 0.5 * (next() - 0.5);
  }
  logprobs.push(current);
  oldLogprobs.push(old);
  refLogprobs.push(ref);
}
const rewards = Array.from({ length: sequences }, () => (next() < 0.4 ? 1 : 0));
const advantages = groupAdvantages(rewards, groupSize, presets.paper.advantage);

function copyInto(sources: Float32Array[][], targets: Float32Array[][]): void {
  for (let array = 0; array < sources.length; array++) {
    const source = sources[array]!;
    const target = targets[array]!;
    for (let sequence = 0; sequence < source.length; sequence++) target[sequence]!.set(source[sequence]!);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Case {
  name: string;
  config: ObjectiveConfig;
  old: boolean;
  ref: boolean;
}

const cases: Case[] = [
  { name: 'paper, on-policy (logprobs only)', config: presets.paper.objective, old: false, ref: false },
  { name: 'paper, off-policy (+ old logprobs)', config: presets.paper.objective, old: true, ref: false },
  { name: 'verl, off-policy, dual clip', config: presets.verl.objective, old: true, ref: false },
  {
    name: 'verl, off-policy + k3 KL (+ ref logprobs)',
    config: { ...presets.verl.objective, kl: { ...presets.verl.objective.kl!, coefficient: 0.001 } },
    old: true,
    ref: true,
  },
  {
    name: 'trl-grpo, off-policy, seq-mean-token-mean',
    config: presets['trl-grpo'].objective,
    old: true,
    ref: false,
  },
];

function run(benchCase: Case): number {
  const inputs = [logprobs, ...(benchCase.old ? [oldLogprobs] : []), ...(benchCase.ref ? [refLogprobs] : [])];
  const targets = inputs.map((arrays) => arrays.map((array) => new Float32Array(array.length)));
  const batch = {
    logprobs,
    advantages,
    ...(benchCase.old ? { oldLogprobs } : {}),
    ...(benchCase.ref ? { refLogprobs } : {}),
  };
  let checksum = 0;
  for (let warmup = 0; warmup < 3; warmup++) {
    copyInto(inputs, targets);
    checksum += grpoObjective(batch, benchCase.config).loss;
  }
  const copyTimes: number[] = [];
  const objectiveTimes: number[] = [];
  for (let repetition = 0; repetition < repetitions; repetition++) {
    let start = performance.now();
    copyInto(inputs, targets);
    copyTimes.push(performance.now() - start);
    start = performance.now();
    const result = grpoObjective(batch, benchCase.config);
    objectiveTimes.push(performance.now() - start);
    checksum += result.loss + result.coefficients[repetition % sequences]![0]! + targets[0]![0]![0]!;
  }
  const copy = median(copyTimes);
  const objective = median(objectiveTimes);
  const ratio = copy / objective;
  const megabytes = (inputs.length * sequences * tokens * 4) / 2 ** 20;
  console.log(
    `${benchCase.name.padEnd(44)} copy ${copy.toFixed(1).padStart(6)} ms (${megabytes} MiB in)  objective ${objective
      .toFixed(1)
      .padStart(
        6,
      )} ms  ratio ${ratio.toFixed(2)}x  ${(objective / ((sequences * tokens) / 1e6)).toFixed(2)} ns/token  [checksum ${checksum.toFixed(3)}]`,
  );
  return ratio;
}

/** Reference point: a loop that only computes ρ = exp(logπ − logπ_old) into preallocated arrays. */
function expFloor(): void {
  const targets = logprobs.map((array) => new Float32Array(array.length));
  const loop = () => {
    for (let sequence = 0; sequence < sequences; sequence++) {
      const current = logprobs[sequence]!;
      const old = oldLogprobs[sequence]!;
      const target = targets[sequence]!;
      for (let token = 0; token < tokens; token++) target[token] = Math.exp(current[token]! - old[token]!);
    }
  };
  const copyTargets = [logprobs, oldLogprobs].map((arrays) =>
    arrays.map((array) => new Float32Array(array.length)),
  );
  for (let warmup = 0; warmup < 3; warmup++) loop();
  const copyTimes: number[] = [];
  const loopTimes: number[] = [];
  for (let repetition = 0; repetition < repetitions; repetition++) {
    let start = performance.now();
    copyInto([logprobs, oldLogprobs], copyTargets);
    copyTimes.push(performance.now() - start);
    start = performance.now();
    loop();
    loopTimes.push(performance.now() - start);
  }
  const copy = median(copyTimes);
  const floor = median(loopTimes);
  console.log(
    `${'(reference) exp(logπ − logπ_old) loop only'.padEnd(44)} copy ${copy.toFixed(1).padStart(6)} ms (32 MiB in)  exp loop ${floor
      .toFixed(1)
      .padStart(6)} ms  ratio ${(copy / floor).toFixed(2)}x`,
  );
}

console.log(`grpo bench: ${sequences} sequences × ${tokens} tokens, ${repetitions} repetitions, medians`);
const ratios = cases.map(run);
expFloor();
// Headline: the typical off-policy case (one extra input, one exp per token); the others print above.
console.log(
  `grpo: ${ratios[1]!.toFixed(2)}x coefficient speed vs memcpy of the same arrays (paper preset, off-policy)`,
);
