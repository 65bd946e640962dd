import { GrpoArgumentError } from './errors.js';

function requireInteger(argument: string, value: number, min: number, max: number, meaning: string): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new GrpoArgumentError({
      argument,
      message: `passAtK: ${argument} must be an integer in [${min}, ${max}] (${meaning}), got ${value}.`,
    });
  }
}

/**
 * Unbiased pass@k (Chen et al. 2021): the probability that at least one of k samples drawn without
 * replacement from n generations, `correct` of them correct, is correct: 1 − C(n − c, k) / C(n, k).
 *
 * Computed as −expm1(Σ_{i=n−c+1..n} log1p(−k/i)), which never forms a binomial coefficient (no overflow
 * for large n) and keeps full relative precision for small results.
 *
 * @example
 * passAtK(64, 1, 1); // 1/64 = 0.015625
 * passAtK(4, 2, 2); // 1 − C(2,2)/C(4,2) = 1 − 1/6
 *
 * @param n generations per problem (≥ 1).
 * @param correct how many of them are correct (0 ≤ correct ≤ n).
 * @param k samples drawn (1 ≤ k ≤ n).
 * @throws GrpoArgumentError naming the argument when one is not an integer in range.
 */
export function passAtK(n: number, correct: number, k: number): number {
  requireInteger('n', n, 1, Number.MAX_SAFE_INTEGER, 'generations per problem');
  requireInteger('correct', correct, 0, n, 'correct generations, at most n');
  requireInteger('k', k, 1, n, 'samples drawn, at most n');
  if (correct === 0) return 0;
  if (n - correct < k) return 1;
  let logFailure = 0;
  for (let i = n - correct + 1; i <= n; i++) logFailure += Math.log1p(-k / i);
  return -Math.expm1(logFailure);
}
