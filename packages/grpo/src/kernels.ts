// Per-sequence loops of grpoObjective. Each is a small monomorphic function over one sequence's arrays
// (a few KB, so the KL and entropy loops re-read data from L1, not from memory). They write the
// coefficients of that sequence and leave their sums in `sums` — no per-token allocation or closure.
import { GrpoNumericError, throwNonFinite } from './errors.js';
import type { ObjectiveBatch } from './objective.js';

/**
 * Slots of `sums`. POLICY, KL_SUM and ENTROPY_SUM hold the last sequence's sums (overwritten by each
 * kernel call); the others accumulate over the batch until `resetSums`.
 */
export const POLICY = 0; // Σ of the per-token policy loss divided by −A (see the kernels)
export const RATIO_SUM = 1;
export const RATIO_MIN = 2;
export const RATIO_MAX = 3;
export const LOG_RATIO_SUM = 4; // Σ (logπ − logπ_old), after the clamp
export const CLIP_LOW = 5;
export const CLIP_HIGH = 6;
export const DUAL_CLIP = 7;
export const CLAMPED = 8;
export const KL_SUM = 9;
export const ENTROPY_SUM = 10;
export const sums = new Float64Array(11);

export function resetSums(): void {
  sums.fill(0);
  sums[RATIO_MIN] = Number.POSITIVE_INFINITY;
  sums[RATIO_MAX] = Number.NEGATIVE_INFINITY;
}

/** Finds which input of token `token` is not finite and throws a `GrpoNumericError` naming it. */
export function reportNonFinite(batch: ObjectiveBatch, sequence: number, token: number): never {
  const named: [string, ArrayLike<number>[] | undefined, string][] = [
    ['logprobs', batch.logprobs, 'the learner returned a non-finite logprob'],
    ['oldLogprobs', batch.oldLogprobs, 'the backend returned a non-finite rollout logprob'],
    ['refLogprobs', batch.refLogprobs, 'the reference model returned a non-finite logprob'],
    ['entropies', batch.entropies, 'entropies must be finite'],
  ];
  for (const [name, arrays, hint] of named) {
    const value = arrays?.[sequence]?.[token];
    if (value !== undefined && !Number.isFinite(value)) {
      throwNonFinite(
        'grpoObjective',
        `${name}[${sequence}]`,
        token,
        value,
        `${hint} (sequence ${sequence}, token ${token}); mask the token out or fix the source. No output was produced.`,
      );
    }
  }
  throw new GrpoNumericError({
    argument: `logprobs[${sequence}]`,
    index: token,
    message: `grpoObjective: a difference of logprobs at sequence ${sequence}, token ${token} is not finite.`,
  });
}

/** exp() of a finite log-ratio overflowed float64 (log-ratio > 709): only possible with a clamp switched off. */
function reportOverflow(
  what: string,
  sequence: number,
  token: number,
  exponent: number,
  option: string,
): never {
  throw new GrpoNumericError({
    argument: `logprobs[${sequence}]`,
    index: token,
    message: `grpoObjective: the ${what} of sequence ${sequence}, token ${token} overflows float64 (exp(${exponent})); set ${option} (verl and OpenRLHF use 20).`,
  });
}

/**
 * On-policy (no old logprobs): ρ = 1, which is inside every clip band and below every dual clip, so
 * ℓ = −A and c = w·A for each valid token. Only validates and fills.
 */
export function onPolicyKernel(
  batch: ObjectiveBatch,
  sequence: number,
  current: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  out: Float32Array,
  scale: number,
): void {
  const length = current.length;
  if (mask === undefined) {
    for (let token = 0; token < length; token++) {
      const logprob = current[token]!;
      if (!(logprob - logprob === 0)) reportNonFinite(batch, sequence, token);
    }
    out.fill(scale);
    return;
  }
  for (let token = 0; token < length; token++) {
    if (mask[token] === 0) continue;
    const logprob = current[token]!;
    if (!(logprob - logprob === 0)) reportNonFinite(batch, sequence, token);
    out[token] = scale;
  }
}

/**
 * Off-policy with A ≥ 0: verl's max(−Aρ, −A·clip(ρ)) is −A·min(ρ, 1 + clipHigh), so the sum kept in
 * POLICY is Σ min(ρ, high) and the gradient is A·ρ where ρ ≤ high, else 0 (clipped). `high` is
 * +Infinity for A = 0 (verl never counts A = 0 tokens as clipped). `scale` = w·A.
 */
export function positiveKernel(
  batch: ObjectiveBatch,
  sequence: number,
  current: ArrayLike<number>,
  old: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  out: Float32Array,
  scale: number,
  high: number,
  clamp: number,
): void {
  let policy = 0;
  let ratioSum = 0;
  let ratioMin = sums[RATIO_MIN]!;
  let ratioMax = sums[RATIO_MAX]!;
  let logRatioSum = 0;
  let clipped = 0;
  let clamped = 0;
  const length = current.length;
  for (let token = 0; token < length; token++) {
    if (mask !== undefined && mask[token] === 0) continue;
    let logRatio = current[token]! - old[token]!;
    // x − x is 0 for finite x and NaN for NaN/±Infinity; a difference is finite iff both inputs are.
    if (!(logRatio - logRatio === 0)) reportNonFinite(batch, sequence, token);
    let passes = true;
    if (logRatio > clamp) {
      logRatio = clamp;
      passes = false;
      clamped++;
    } else if (logRatio < -clamp) {
      logRatio = -clamp;
      passes = false;
      clamped++;
    }
    const ratio = Math.exp(logRatio);
    if (ratio === Number.POSITIVE_INFINITY)
      reportOverflow('ratio', sequence, token, logRatio, 'config.logRatioClamp');
    logRatioSum += logRatio;
    ratioSum += ratio;
    if (ratio < ratioMin) ratioMin = ratio;
    if (ratio > ratioMax) ratioMax = ratio;
    if (ratio > high) {
      policy += high;
      clipped++;
    } else {
      policy += ratio;
      if (passes) out[token] = scale * ratio;
    }
  }
  sums[POLICY] = policy;
  sums[RATIO_SUM]! += ratioSum;
  sums[RATIO_MIN] = ratioMin;
  sums[RATIO_MAX] = ratioMax;
  sums[LOG_RATIO_SUM]! += logRatioSum;
  sums[CLIP_HIGH]! += clipped;
  sums[CLAMPED]! += clamped;
}

/**
 * Off-policy with A < 0: max(−Aρ, −A·clip(ρ)) is |A|·max(ρ, 1 − clipLow), and the dual clip caps it at
 * |A|·c, so POLICY sums min(max(ρ, low), c) and the gradient is A·ρ for low ≤ ρ ≤ c, else 0.
 * `dual` is +Infinity without a dual clip. `scale` = w·A.
 */
export function negativeKernel(
  batch: ObjectiveBatch,
  sequence: number,
  current: ArrayLike<number>,
  old: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  out: Float32Array,
  scale: number,
  low: number,
  dual: number,
  clamp: number,
): void {
  let policy = 0;
  let ratioSum = 0;
  let ratioMin = sums[RATIO_MIN]!;
  let ratioMax = sums[RATIO_MAX]!;
  let logRatioSum = 0;
  let clipped = 0;
  let capped = 0;
  let clamped = 0;
  const length = current.length;
  for (let token = 0; token < length; token++) {
    if (mask !== undefined && mask[token] === 0) continue;
    let logRatio = current[token]! - old[token]!;
    if (!(logRatio - logRatio === 0)) reportNonFinite(batch, sequence, token);
    let passes = true;
    if (logRatio > clamp) {
      logRatio = clamp;
      passes = false;
      clamped++;
    } else if (logRatio < -clamp) {
      logRatio = -clamp;
      passes = false;
      clamped++;
    }
    const ratio = Math.exp(logRatio);
    if (ratio === Number.POSITIVE_INFINITY)
      reportOverflow('ratio', sequence, token, logRatio, 'config.logRatioClamp');
    logRatioSum += logRatio;
    ratioSum += ratio;
    if (ratio < ratioMin) ratioMin = ratio;
    if (ratio > ratioMax) ratioMax = ratio;
    if (ratio < low) {
      policy += low;
      clipped++;
    } else if (ratio > dual) {
      policy += dual;
      capped++;
    } else {
      policy += ratio;
      if (passes) out[token] = scale * ratio;
    }
  }
  sums[POLICY] = policy;
  sums[RATIO_SUM]! += ratioSum;
  sums[RATIO_MIN] = ratioMin;
  sums[RATIO_MAX] = ratioMax;
  sums[LOG_RATIO_SUM]! += logRatioSum;
  sums[CLIP_LOW]! += clipped;
  sums[DUAL_CLIP]! += capped;
  sums[CLAMPED]! += clamped;
}

/** KL estimator codes: 0 k1 (d), 1 |d|, 2 ½d², 3 k3 (e^x − x − 1, x = −d). */
export type KlCode = 0 | 1 | 2 | 3;

/**
 * Adds −w·β·∂k/∂logπ to the coefficients and leaves Σ k in KL_SUM, d = logπ − logπ_ref. The value is
 * clamped to ±valueClamp (gradient 0 there); for k3, x is clamped to ±xClamp first (gradient 0 there).
 * `straightThrough`: gradient d (k2's) whatever the estimator (verl's `+` variants). `scale` = w·β.
 */
export function klKernel(
  batch: ObjectiveBatch,
  sequence: number,
  current: ArrayLike<number>,
  ref: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  out: Float32Array,
  scale: number,
  code: KlCode,
  valueClamp: number,
  xClamp: number,
  straightThrough: boolean,
): void {
  let total = 0;
  const length = current.length;
  for (let token = 0; token < length; token++) {
    if (mask !== undefined && mask[token] === 0) continue;
    const difference = current[token]! - ref[token]!;
    if (!(difference - difference === 0)) reportNonFinite(batch, sequence, token);
    let value: number;
    let gradient: number;
    if (code === 3) {
      let x = -difference;
      let passes = true;
      if (x > xClamp) {
        x = xClamp;
        passes = false;
      } else if (x < -xClamp) {
        x = -xClamp;
        passes = false;
      }
      const exponential = Math.exp(x);
      if (exponential === Number.POSITIVE_INFINITY)
        reportOverflow('k3 KL', sequence, token, x, 'config.kl.logRatioClamp');
      value = exponential - x - 1;
      gradient = passes ? 1 - exponential : 0;
    } else if (code === 0) {
      value = difference;
      gradient = 1;
    } else if (code === 2) {
      value = 0.5 * difference * difference;
      gradient = difference;
    } else {
      value = difference < 0 ? -difference : difference;
      gradient = difference > 0 ? 1 : difference < 0 ? -1 : 0;
    }
    if (value > valueClamp) {
      value = valueClamp;
      gradient = 0;
    } else if (value < -valueClamp) {
      value = -valueClamp;
      gradient = 0;
    }
    if (straightThrough) gradient = difference;
    total += value;
    if (scale !== 0 && gradient !== 0) out[token] = out[token]! - scale * gradient;
  }
  sums[KL_SUM] = total;
}

/**
 * Leaves Σ H_t (or, without `entropies`, the sampled estimate Σ −logπ_t) in ENTROPY_SUM and, for the
 * `'sampled-token'` gradient (`scale` = w·β_H ≠ 0), adds w·β_H·ρ·(−logπ_t) to the coefficients.
 */
export function entropyKernel(
  batch: ObjectiveBatch,
  sequence: number,
  current: ArrayLike<number>,
  old: ArrayLike<number> | undefined,
  entropies: ArrayLike<number> | undefined,
  mask: ArrayLike<number> | undefined,
  out: Float32Array,
  scale: number,
  clamp: number,
): void {
  let total = 0;
  const length = current.length;
  for (let token = 0; token < length; token++) {
    if (mask !== undefined && mask[token] === 0) continue;
    const logprob = current[token]!;
    if (entropies !== undefined) {
      const entropy = entropies[token]!;
      if (!(entropy - entropy === 0)) reportNonFinite(batch, sequence, token);
      total += entropy;
    } else {
      total -= logprob;
    }
    if (scale !== 0) {
      const logRatio =
        old === undefined ? 0 : Math.min(Math.max(current[token]! - old[token]!, -clamp), clamp);
      out[token] = out[token]! - scale * Math.exp(logRatio) * logprob;
    }
  }
  sums[ENTROPY_SUM] = total;
}
