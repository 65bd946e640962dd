import {
  type ObjectiveBatch,
  type ObjectiveConfig,
  grpoObjective,
  resolveObjectiveConfig,
} from '../src/index.js';

/** Deterministic PRNG (mulberry32) so property tests are reproducible. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Solves f(x) = target for increasing f on [low, high] by bisection. */
function bisect(f: (x: number) => number, target: number, low: number, high: number): number {
  for (let iteration = 0; iteration < 200; iteration++) {
    const middle = (low + high) / 2;
    if (f(middle) < target) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * Points (in d_old = logπ − logπ_old, and d_ref = logπ − logπ_ref) where the objective is not
 * differentiable under `config`: clip bounds, dual clip, clamps. Samples keep away from them.
 */
export function kinks(config: ObjectiveConfig): { old: number[]; ref: number[] } {
  const resolved = resolveObjectiveConfig(config);
  const old: number[] = [Math.log(1 + resolved.clipHigh)];
  if (resolved.clipLow < 1) old.push(Math.log(1 - resolved.clipLow));
  if (resolved.dualClip !== null) old.push(Math.log(resolved.dualClip));
  if (resolved.logRatioClamp !== null) old.push(resolved.logRatioClamp, -resolved.logRatioClamp);
  const ref: number[] = [];
  const kl = resolved.kl;
  if (kl !== null) {
    const estimator = kl.estimator.replace('+', '');
    const clamp = kl.valueClamp;
    if (estimator === 'abs') ref.push(0);
    if (clamp !== null) {
      if (estimator === 'k1' || estimator === 'abs') ref.push(clamp, -clamp);
      if (estimator === 'k2') ref.push(Math.sqrt(2 * clamp), -Math.sqrt(2 * clamp));
      if (estimator === 'k3') {
        // k3(x) = e^x − x − 1 reaches the clamp once for x > 0 and once for x < 0 (d = −x).
        const k3 = (x: number) => Math.exp(x) - x - 1;
        ref.push(
          -bisect(k3, clamp, 0, 50),
          bisect((u) => k3(-u), clamp, 0, 50),
        );
      }
    }
    if (estimator === 'k3' && kl.logRatioClamp !== null) ref.push(kl.logRatioClamp, -kl.logRatioClamp);
  }
  return { old, ref };
}

function sampleAwayFrom(
  random: () => number,
  low: number,
  high: number,
  avoid: number[],
  margin: number,
): number {
  for (;;) {
    const value = low + (high - low) * random();
    if (avoid.every((point) => Math.abs(value - point) > margin)) return value;
  }
}

export interface RandomBatchOptions {
  sequences?: number;
  maxLength?: number;
  /** Range of logπ − logπ_old. */
  oldRange?: [number, number];
  /** Range of logπ − logπ_ref. */
  refRange?: [number, number];
  withRef?: boolean;
  withEntropies?: boolean;
  withMasks?: boolean;
  withKeep?: boolean;
}

/** A float64 batch (optional parts present only when asked for). */
export interface RandomBatch extends ObjectiveBatch {
  logprobs: Float64Array[];
  oldLogprobs: Float64Array[];
  advantages: Float64Array;
  refLogprobs?: Float64Array[];
  entropies?: Float64Array[];
  masks?: Uint8Array[];
  keep?: Uint8Array;
}

/** A float64 batch with random lengths, masks (some zero), an empty and an all-masked sequence. */
export function randomBatch(
  random: () => number,
  config: ObjectiveConfig,
  options: RandomBatchOptions = {},
): RandomBatch {
  const {
    sequences = 7,
    maxLength = 9,
    oldRange = [-3, 3],
    refRange = [-4, 4],
    withRef = true,
    withEntropies = true,
    withMasks = true,
    withKeep = true,
  } = options;
  const avoid = kinks(config);
  const margin = 1e-3;
  const logprobs: Float64Array[] = [];
  const oldLogprobs: Float64Array[] = [];
  const refLogprobs: Float64Array[] = [];
  const entropies: Float64Array[] = [];
  const masks: Uint8Array[] = [];
  const advantages = new Float64Array(sequences);
  const keep = new Uint8Array(sequences).fill(1);
  for (let sequence = 0; sequence < sequences; sequence++) {
    // Sequence 0 is empty; sequence 1 is fully masked; the rest have 1..maxLength tokens.
    const length = sequence === 0 ? 0 : 1 + Math.floor(random() * maxLength);
    const current = new Float64Array(length);
    const old = new Float64Array(length);
    const ref = new Float64Array(length);
    const entropy = new Float64Array(length);
    const mask = new Uint8Array(length);
    for (let token = 0; token < length; token++) {
      current[token] = -0.05 - 4 * random();
      old[token] = current[token]! - sampleAwayFrom(random, oldRange[0], oldRange[1], avoid.old, margin);
      ref[token] = current[token]! - sampleAwayFrom(random, refRange[0], refRange[1], avoid.ref, margin);
      entropy[token] = 3 * random();
      mask[token] = sequence === 1 ? 0 : random() < 0.85 ? 1 : 0;
    }
    logprobs.push(current);
    oldLogprobs.push(old);
    refLogprobs.push(ref);
    entropies.push(entropy);
    masks.push(mask);
    advantages[sequence] = random() < 0.1 ? 0 : -2 + 4 * random();
  }
  if (withKeep && sequences > 3) keep[sequences - 1] = 0;
  return {
    logprobs,
    oldLogprobs,
    advantages,
    ...(withRef ? { refLogprobs } : {}),
    ...(withEntropies ? { entropies } : {}),
    ...(withMasks ? { masks } : {}),
    ...(withKeep ? { keep } : {}),
  };
}

export interface GradientMismatch {
  sequence: number;
  token: number;
  coefficient: number;
  finiteDifference: number;
}

/**
 * Central finite differences of the returned loss w.r.t. every current logprob (float64 inputs,
 * step h), compared with the returned coefficients: |c − (−∂L/∂logπ)| ≤ 1e-6 + 1e-5·|∂L/∂logπ|.
 * The tolerance covers float32 rounding of c (relative 6e-8) and O(h²) truncation; FD rounding is
 * about 1e-16·|L|/h ≈ 1e-10 here. Returns every mismatch (empty when the check passes).
 */
export function finiteDifferenceMismatches(
  batch: ObjectiveBatch & { logprobs: Float64Array[] },
  config: ObjectiveConfig,
  surrogate: ObjectiveConfig = config,
  h = 1e-6,
): GradientMismatch[] {
  const { coefficients } = grpoObjective(batch, config);
  const mismatches: GradientMismatch[] = [];
  for (let sequence = 0; sequence < batch.logprobs.length; sequence++) {
    const current = batch.logprobs[sequence]!;
    for (let token = 0; token < current.length; token++) {
      const original = current[token]!;
      current[token] = original + h;
      const plus = grpoObjective(batch, surrogate).loss;
      current[token] = original - h;
      const minus = grpoObjective(batch, surrogate).loss;
      current[token] = original;
      const finiteDifference = -(plus - minus) / (2 * h);
      const coefficient = coefficients[sequence]![token]!;
      if (!(Math.abs(coefficient - finiteDifference) <= 1e-6 + 1e-5 * Math.abs(finiteDifference))) {
        mismatches.push({ sequence, token, coefficient, finiteDifference });
      }
    }
  }
  return mismatches;
}
