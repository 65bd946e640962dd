import { InvalidArgumentError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { defaultMaxA, fitScalingLaw, scalingLaw } from './scaling.js';

describe('fitScalingLaw', () => {
  it('recovers a curve generated from known parameters', () => {
    // A curve with a clear knee, x in [0.01, 100].
    const truth = { a: 0.8, b: 0.5, c: 0.6 };
    const xs = Array.from({ length: 25 }, (_, i) => 0.01 * 10 ** (i / 6));
    const ys = xs.map((x) => scalingLaw(truth, x));
    const fit = fitScalingLaw(xs, ys);
    expect(fit.r2).toBeGreaterThan(0.99999);
    expect(fit.a).toBeCloseTo(truth.a, 3);
    expect(fit.b).toBeCloseTo(truth.b, 3);
    expect(fit.c).toBeCloseTo(truth.c, 3);
  });

  it('fits noisy data from the paper’s MMLU law well enough to extrapolate', () => {
    const truth = { a: 105.6, b: 0.3, c: 0.029 };
    const xs = [1, 2, 5, 10, 20, 50, 100, 200];
    // Deterministic ±0.05-point noise.
    const ys = xs.map((x, i) => scalingLaw(truth, x) + (i % 2 === 0 ? 0.05 : -0.05));
    const fit = fitScalingLaw(xs, ys);
    expect(fit.rmse).toBeLessThan(0.1);
    expect(Math.abs(scalingLaw(fit, 400) - scalingLaw(truth, 400))).toBeLessThan(1.5);
  });

  it('respects an upper bound on the asymptote', () => {
    // A nearly linear rise over a short range: unbounded fits run off to a huge a.
    const xs = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06];
    const ys = [0.45, 0.6, 0.66, 0.7, 0.76, 0.8];
    const bounded = fitScalingLaw(xs, ys, { maxA: 1 });
    expect(bounded.a).toBeLessThanOrEqual(1);
    expect(bounded.r2).toBeGreaterThan(0.9);
    expect(() => fitScalingLaw(xs, ys, { maxA: 0 })).toThrowError(InvalidArgumentError);
  });

  it('defaultMaxA bounds rates by 1 and leaves other values unbounded', () => {
    expect(defaultMaxA([0, 0.45, 1])).toBe(1);
    expect(defaultMaxA([45, 60, 80])).toBeUndefined();
    expect(defaultMaxA([-0.1, 0.5, 0.6])).toBeUndefined();
    expect(defaultMaxA([])).toBeUndefined();
    // The short rising curve of rates above fits an asymptote far above 1 unbounded.
    const ys = [0.45, 0.6, 0.66, 0.7, 0.76, 0.8];
    expect(fitScalingLaw([0.01, 0.02, 0.03, 0.04, 0.05, 0.06], ys).a).toBeGreaterThan(1);
  });

  it('rejects too few or invalid points with the offending index', () => {
    expect(() => fitScalingLaw([1, 2], [1, 2])).toThrowError(InvalidArgumentError);
    expect(() => fitScalingLaw([1, 0, 3], [1, 2, 3])).toThrowError(/Point 1/);
    expect(() => fitScalingLaw([1, 2, 3], [1, 2])).toThrowError(/3 points/);
  });
});
