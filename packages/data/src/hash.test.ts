import { describe, expect, it } from 'vitest';
import { createRandom, fmix32, hash64Hex, hashToUnit, murmur32 } from './hash.js';

describe('hashing', () => {
  it('is stable across runs and platforms (pinned values)', () => {
    // Pinned so a refactor that changed ids, splits or shuffles would be caught; computed once by this code.
    expect(murmur32('hello', 0)).toBe(3162722260);
    expect(murmur32('', 0)).toBe(0);
    expect(murmur32('hello, world', 99)).toBe(429575199);
    expect(hash64Hex('demo-train-0:1')).toBe('ceed72c434ddc8cf');
    expect(hashToUnit('split:x', 0)).toBeCloseTo(0.840650122018676, 15);
    expect(murmur32('abc', 1)).not.toBe(murmur32('abc', 2));
  });

  it('fmix32 is a bijection on a sample (no collisions among 100k consecutive inputs)', () => {
    const seen = new Set<number>();
    for (let value = 0; value < 100_000; value++) seen.add(fmix32(value));
    expect(seen.size).toBe(100_000);
  });

  it('murmur32 distinguishes strings that differ in one character or in length', () => {
    const values = new Set(
      ['a', 'b', 'ab', 'ba', 'abc', 'abd', 'a\u0000', 'é', 'e\u0301'].map((text) => murmur32(text)),
    );
    expect(values.size).toBe(9);
  });

  it('hashToUnit is uniform on [0, 1)', () => {
    const bins = new Array(10).fill(0);
    let sum = 0;
    for (let index = 0; index < 20_000; index++) {
      const value = hashToUnit(`doc-${index}`, 7);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      bins[Math.floor(value * 10)]++;
      sum += value;
    }
    expect(sum / 20_000).toBeCloseTo(0.5, 1);
    // Each decile within 10% of 2000 (binomial sd ≈ 42, so this is > 4 sd).
    for (const count of bins) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });

  it('hex keys sort like their numbers', () => {
    const keys = Array.from({ length: 500 }, (_, index) => hash64Hex(`k${index}`));
    const sorted = [...keys].sort();
    const numeric = [...keys].sort((a, b) => (BigInt(`0x${a}`) < BigInt(`0x${b}`) ? -1 : 1));
    expect(sorted).toEqual(numeric);
  });

  it('createRandom repeats for a seed and differs between seeds', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    for (const value of first) expect(value >= 0 && value < 1).toBe(true);
  });
});
