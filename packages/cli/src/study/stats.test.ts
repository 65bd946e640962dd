import { describe, expect, it } from 'vitest';
import { logGamma, meanSd, pairedDifference, studentTwoSidedP } from './stats.js';

describe('study statistics against published tables', () => {
  it("Student's t: the two-sided 5 % and 1 % critical values of standard t tables give p = 0.05 and 0.01", () => {
    // Critical values t_{0.975, df} and t_{0.995, df} (e.g. NIST/SEMATECH e-Handbook, Table 1.4.2.1.3.3.4).
    const table: [number, number, number][] = [
      [1, 12.706, 63.657],
      [2, 4.303, 9.925],
      [3, 3.182, 5.841],
      [4, 2.776, 4.604],
      [10, 2.228, 3.169],
      [30, 2.042, 2.75],
    ];
    for (const [df, t05, t01] of table) {
      expect(studentTwoSidedP(t05, df)).toBeCloseTo(0.05, 3);
      expect(studentTwoSidedP(-t01, df)).toBeCloseTo(0.01, 3);
    }
    expect(studentTwoSidedP(0, 5)).toBeCloseTo(1, 12);
    // df = 1 is the Cauchy distribution: P(|T| ≥ 1) = 1/2 exactly.
    expect(studentTwoSidedP(1, 1)).toBeCloseTo(0.5, 10);
  });

  it('ln Γ matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('paired difference: the textbook example and the degenerate cases', () => {
    // Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1/√3) = 3.4641, df 2, p = 0.0742 (two-sided).
    const paired = pairedDifference([3, 5, 7], [2, 3, 4]);
    expect(paired.differences).toEqual([1, 2, 3]);
    expect(paired.mean).toBe(2);
    expect(paired.sd).toBe(1);
    expect(paired.t).toBeCloseTo(3.4641, 4);
    expect(paired.p).toBeCloseTo(0.0742, 4);
    expect(pairedDifference([1, 2], [0, 1]).p).toBe(0);
    expect(pairedDifference([1, 2], [1, 2]).p).toBe(1);
    expect(Number.isNaN(pairedDifference([1], [0]).p)).toBe(true);
    expect(meanSd([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ mean: 5, sd: Math.sqrt(32 / 7) });
  });
});
