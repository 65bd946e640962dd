import { describe, expect, it } from 'vitest';
import { createRandom } from '../test/helpers.js';
import { GrpoArgumentError, passAtK } from './index.js';

/** C(n, k) exactly, as a BigInt. */
function binomial(n: number, k: number): bigint {
  let result = 1n;
  for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}

/** 1 − C(n − c, k)/C(n, k) from exact integers, to ~1e-15. */
function exactPassAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1;
  const scale = 10n ** 30n;
  const failure = (binomial(n - c, k) * scale) / binomial(n, k);
  return 1 - Number(failure) / 1e30;
}

describe('passAtK', () => {
  it('golden values by hand', () => {
    expect(passAtK(64, 1, 1)).toBeCloseTo(1 / 64, 15);
    expect(passAtK(4, 2, 2)).toBeCloseTo(1 - 1 / 6, 15); // C(2,2)/C(4,2) = 1/6
    expect(passAtK(8, 3, 8)).toBe(1); // n − c < k: every draw includes a correct one
    expect(passAtK(10, 0, 5)).toBe(0);
    expect(passAtK(5, 5, 1)).toBe(1);
  });

  it('equals c/n for k = 1 and the exact binomial ratio elsewhere', () => {
    const random = createRandom(9);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(random() * 300);
      const c = Math.floor(random() * (n + 1));
      const k = 1 + Math.floor(random() * n);
      expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 14);
      expect(Math.abs(passAtK(n, c, k) - exactPassAtK(n, c, k))).toBeLessThanOrEqual(1e-12);
    }
  });

  it('keeps relative precision for tiny values and does not overflow for large n', () => {
    // 1 − (1 − 1e-6) = 1e-6 exactly for k = 1; naive 1 − product loses ~1e-10 relative here.
    expect(Math.abs(passAtK(1_000_000, 1, 1) / 1e-6 - 1)).toBeLessThan(1e-12);
    // C(10⁶, 500) overflows float64; the product form does not.
    const value = passAtK(1_000_000, 1000, 500);
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThan(1);
  });

  it('is non-decreasing in k and in correct', () => {
    for (let k = 1; k < 64; k++) expect(passAtK(64, 5, k + 1)).toBeGreaterThanOrEqual(passAtK(64, 5, k));
    for (let c = 0; c < 64; c++) expect(passAtK(64, c + 1, 8)).toBeGreaterThanOrEqual(passAtK(64, c, 8));
  });

  it.each([
    [0, 0, 1, 'n'],
    [8, 9, 1, 'correct'],
    [8, 2, 9, 'k'],
    [8, 2, 0, 'k'],
    [8, 2.5, 1, 'correct'],
    [Number.NaN, 1, 1, 'n'],
  ])('rejects passAtK(%s, %s, %s) naming %s', (n, c, k, argument) => {
    let error: unknown;
    try {
      passAtK(n, c, k);
    } catch (caught) {
      error = caught;
    }
    expect(GrpoArgumentError.isInstance(error)).toBe(true);
    expect((error as GrpoArgumentError).argument).toBe(argument);
    expect((error as Error).message).toContain(`passAtK: ${argument} must be an integer`);
  });
});
