import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from './rng.js';

describe('Rng', () => {
  it('repeats the same stream for the same seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const streamA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(streamA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(streamA);
  });

  it('resumes from a saved state', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 100; i++) rng.next();
    const resumed = new Rng(rng.getState());
    expect(Array.from({ length: 5 }, () => resumed.next())).toEqual(
      Array.from({ length: 5 }, () => rng.next()),
    );
  });

  it('draws uniform floats in [0, 1) with a plausible mean', () => {
    const rng = new Rng(1);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < 20000; i++) {
      const value = rng.next();
      min = Math.min(min, value);
      max = Math.max(max, value);
      sum += value;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // Standard error of the mean of 20k uniforms is 0.002; 5 SE tolerance.
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
  });

  it('shuffles into a permutation', () => {
    const shuffled = new Rng(3).shuffle(Array.from({ length: 50 }, (_, index) => index));
    expect([...shuffled].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, index) => index));
    expect(shuffled).not.toEqual(Array.from({ length: 50 }, (_, index) => index));
  });

  it('derives distinct, stable seeds per purpose and step', () => {
    expect(deriveSeed(1, 'rlpt:rollout', 5)).toBe(deriveSeed(1, 'rlpt:rollout', 5));
    const seeds = new Set([
      deriveSeed(1, 'rlpt:rollout', 5),
      deriveSeed(1, 'rlpt:rollout', 6),
      deriveSeed(2, 'rlpt:rollout', 5),
      deriveSeed(1, 'sft:order', 5),
    ]);
    expect(seeds.size).toBe(4);
  });
});
