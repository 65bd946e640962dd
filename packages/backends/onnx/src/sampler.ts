import { NumericError } from '@rlpt/spec';
import type { Xoshiro128 } from './prng.js';
import { kthLargest, nucleusThreshold } from './select.js';

/** Sampling settings for one row (already validated). */
export interface SamplingSettings {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
}

/** A chosen token and its logprob under the full temperature-scaled distribution. */
export interface SampledToken {
  token: number;
  /** log softmax(logits / T)[token] over the whole vocabulary (T = 1 for greedy); NaN if not computed. */
  logprob: number;
}

/**
 * Picks next tokens from logit rows with reusable scratch buffers (no per-step `[vocab]` allocations).
 *
 * Order of filters, as Hugging Face applies its logits warpers: temperature → top-k → top-p → min-p. Each
 * keeps a top set of tokens, so together they are one threshold τ on w_i = exp(z_i − max z), and the
 * token is drawn by inverse CDF over {i : w_i ≥ τ}. Top-k and top-p use linear-time selection, never a
 * full sort. Ties at a top-k boundary are all kept (as Hugging Face does).
 */
export class Sampler {
  private readonly weights: Float32Array;
  private readonly work: Float32Array;

  constructor(readonly vocabSize: number) {
    this.weights = new Float32Array(vocabSize);
    this.work = new Float32Array(vocabSize);
  }

  /** Index of the largest logit (first on ties); throws on NaN. */
  argmax(logits: Float32Array): number {
    let best = 0;
    let max = Number.NEGATIVE_INFINITY;
    let sawNaN = false;
    for (let i = 0; i < logits.length; i++) {
      const value = logits[i] as number;
      if (value > max) {
        max = value;
        best = i;
      } else if (Number.isNaN(value)) sawNaN = true;
    }
    if (sawNaN) throw nanError();
    return best;
  }

  /** log Σ exp(logits / temperature), one max pass and one exp pass. */
  logSumExp(logits: Float32Array, temperature = 1): number {
    const inverse = 1 / temperature;
    const max = maxOf(logits) * inverse;
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) * inverse - max);
    return max + Math.log(sum);
  }

  /**
   * Chooses the next token. `random` is the row's stream (one draw per sampled token; none when greedy).
   * `withLogprob` false skips the log-sum-exp for greedy rows.
   */
  sample(
    logits: Float32Array,
    settings: SamplingSettings,
    random: Xoshiro128 | undefined,
    withLogprob: boolean,
  ): SampledToken {
    if (settings.temperature === 0 || !random) {
      const token = this.argmax(logits);
      return {
        token,
        logprob: withLogprob ? (logits[token] as number) - this.logSumExp(logits, 1) : Number.NaN,
      };
    }
    const n = logits.length;
    const inverse = 1 / settings.temperature;
    const max = maxOf(logits) * inverse;
    const weights = this.weights;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const weight = Math.exp((logits[i] as number) * inverse - max);
      weights[i] = weight;
      total += weight;
    }
    const logZ = max + Math.log(total);
    const threshold = this.threshold(n, total, settings);
    let kept = total;
    if (threshold > 0) {
      kept = 0;
      for (let i = 0; i < n; i++) {
        const weight = weights[i] as number;
        if (weight >= threshold) kept += weight;
      }
    }
    const target = random.nextFloat() * kept;
    let cumulative = 0;
    let token = -1;
    for (let i = 0; i < n; i++) {
      const weight = weights[i] as number;
      if (weight < threshold || weight === 0) continue;
      token = i;
      cumulative += weight;
      if (cumulative > target) break;
    }
    if (token < 0) token = this.argmax(logits);
    return { token, logprob: (logits[token] as number) * inverse - logZ };
  }

  /**
   * Draws from the full temperature-scaled distribution given the softmax mass of each block of ids (see
   * `SoftmaxHead`): pick a block by its mass, then a token inside it — O(vocab / blockSize + blockSize).
   * The logprob is log(block mass) + log(share of the token inside its block).
   */
  sampleFromBlocks(
    logits: Float32Array,
    temperature: number,
    blockProbs: Float32Array,
    blockSize: number,
    random: Xoshiro128 | undefined,
  ): SampledToken {
    let total = 0;
    for (let block = 0; block < blockProbs.length; block++) total += blockProbs[block] as number;
    if (!(total > 0) || !Number.isFinite(total)) throw nanError();
    if (!random || temperature === 0) {
      const token = this.argmax(logits);
      return { token, logprob: this.logprobInBlock(logits, 1, token, blockProbs, blockSize, total).logprob };
    }
    const target = random.nextFloat() * total;
    let cumulative = 0;
    let chosen = -1;
    for (let block = 0; block < blockProbs.length; block++) {
      const mass = blockProbs[block] as number;
      if (mass <= 0) continue;
      chosen = block;
      if (cumulative + mass > target) break;
      cumulative += mass;
    }
    const inverse = 1 / temperature;
    const start = chosen * blockSize;
    const end = Math.min(logits.length, start + blockSize);
    let max = Number.NEGATIVE_INFINITY;
    for (let i = start; i < end; i++) max = Math.max(max, (logits[i] as number) * inverse);
    let inside = 0;
    for (let i = start; i < end; i++) inside += Math.exp((logits[i] as number) * inverse - max);
    // Where inside the block the draw landed, in units of the block's unnormalised weights.
    const remaining = ((target - cumulative) / (blockProbs[chosen] as number)) * inside;
    let running = 0;
    let token = -1;
    for (let i = start; i < end; i++) {
      const weight = Math.exp((logits[i] as number) * inverse - max);
      if (weight <= 0) continue;
      token = i;
      running += weight;
      if (running > remaining) break;
    }
    if (token < 0) token = this.argmax(logits);
    const blockMass = (blockProbs[chosen] as number) / total;
    return {
      token,
      logprob: Math.log(blockMass) + (logits[token] as number) * inverse - max - Math.log(inside),
    };
  }

  private logprobInBlock(
    logits: Float32Array,
    inverse: number,
    token: number,
    blockProbs: Float32Array,
    blockSize: number,
    total: number,
  ): { logprob: number } {
    const block = Math.floor(token / blockSize);
    const start = block * blockSize;
    const end = Math.min(logits.length, start + blockSize);
    let max = Number.NEGATIVE_INFINITY;
    for (let i = start; i < end; i++) max = Math.max(max, (logits[i] as number) * inverse);
    let inside = 0;
    for (let i = start; i < end; i++) inside += Math.exp((logits[i] as number) * inverse - max);
    const blockMass = (blockProbs[block] as number) / total;
    return { logprob: Math.log(blockMass) + (logits[token] as number) * inverse - max - Math.log(inside) };
  }

  /** The combined top-k / top-p / min-p threshold on the weights (0 = keep everything). */
  private threshold(n: number, total: number, settings: SamplingSettings): number {
    const weights = this.weights;
    const work = this.work;
    let threshold = 0;
    let candidates = n;
    let mass = total;
    if (settings.topK > 0 && settings.topK < n) {
      work.set(weights.subarray(0, n));
      threshold = kthLargest(work, n, settings.topK);
      if (settings.topP < 1) {
        candidates = 0;
        mass = 0;
        for (let i = 0; i < n; i++) {
          const weight = weights[i] as number;
          if (weight >= threshold) {
            work[candidates++] = weight;
            mass += weight;
          }
        }
      }
    } else if (settings.topP < 1) {
      work.set(weights.subarray(0, n));
    }
    if (settings.topP < 1)
      threshold = Math.max(threshold, nucleusThreshold(work, candidates, settings.topP * mass));
    // The largest weight is exactly 1, so min-p's "minP × top probability" is minP itself.
    if (settings.minP > 0) threshold = Math.max(threshold, settings.minP);
    return threshold;
  }
}

function maxOf(values: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  let sawNaN = false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (value > max) max = value;
    else if (Number.isNaN(value)) sawNaN = true;
  }
  if (sawNaN || Number.isNaN(max)) throw nanError();
  if (max === Number.NEGATIVE_INFINITY) {
    throw new NumericError({
      argument: 'logits',
      message: 'Every logit is −∞: the model gives no token a probability.',
    });
  }
  return max;
}

function nanError(): NumericError {
  return new NumericError({
    argument: 'logits',
    message:
      'The model produced NaN logits (corrupt weights, or float16 overflow); sampling cannot continue.',
  });
}
