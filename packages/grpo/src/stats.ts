import { GrpoArgumentError, throwNonFinite } from './errors.js';

/** Response-length statistics for logging (verl logs the same as `response_length/*`). */
export interface LengthStats {
  /** Number of responses. */
  count: number;
  mean: number;
  /** Biased (n) std. */
  std: number;
  min: number;
  max: number;
  /** Share of responses with length ≥ `maxLength` (hit the generation limit); 0 without `maxLength`. */
  truncatedFraction: number;
}

/**
 * Mean, std, min, max of response lengths (in tokens) and the share that hit `maxLength`. All zeros for
 * an empty input.
 *
 * @param lengths one length per response, e.g. `logprobs.map((l) => l.length)`.
 * @param options.maxLength the generation limit (`maxTokens`); responses at or above it count as truncated.
 * @throws GrpoArgumentError for a negative length or a bad `maxLength`; GrpoNumericError for NaN/Infinity.
 */
export function responseLengthStats(
  lengths: ArrayLike<number>,
  options: { maxLength?: number } = {},
): LengthStats {
  const { maxLength } = options;
  if (maxLength !== undefined && !(Number.isFinite(maxLength) && maxLength > 0)) {
    throw new GrpoArgumentError({
      argument: 'options.maxLength',
      message: `responseLengthStats: options.maxLength must be a number > 0, got ${maxLength}.`,
    });
  }
  const count = lengths.length;
  if (count === 0) return { count: 0, mean: 0, std: 0, min: 0, max: 0, truncatedFraction: 0 };
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let truncated = 0;
  for (let index = 0; index < count; index++) {
    const length = lengths[index]!;
    if (!Number.isFinite(length)) {
      throwNonFinite('responseLengthStats', 'lengths', index, length, 'lengths must be finite token counts.');
    }
    if (length < 0) {
      throw new GrpoArgumentError({
        argument: 'lengths',
        message: `responseLengthStats: lengths[${index}] is ${length}; lengths must be ≥ 0.`,
      });
    }
    sum += length;
    if (length < min) min = length;
    if (length > max) max = length;
    if (maxLength !== undefined && length >= maxLength) truncated++;
  }
  const mean = sum / count;
  let squares = 0;
  for (let index = 0; index < count; index++) {
    const deviation = lengths[index]! - mean;
    squares += deviation * deviation;
  }
  return { count, mean, std: Math.sqrt(squares / count), min, max, truncatedFraction: truncated / count };
}
