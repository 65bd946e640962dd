import { describe, expect, it } from 'vitest';
import { ksUniform, samplingPit } from './backend.js';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Draws a token from softmax(row / T) restricted to the top k (0 = all). */
function draw(row: Float32Array, temperature: number, topK: number, next: () => number): number {
  const order = Array.from(row.keys()).sort((a, b) => (row[b] as number) - (row[a] as number));
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const weights = kept.map((index) => Math.exp((row[index] as number) / temperature));
  let target = next() * weights.reduce((sum, weight) => sum + weight, 0);
  for (const [position, index] of kept.entries()) {
    target -= weights[position] as number;
    if (target <= 0) return index;
  }
  return kept[kept.length - 1] as number;
}

describe('ksUniform', () => {
  it('is the Kolmogorov–Smirnov distance to Uniform(0, 1)', () => {
    expect(ksUniform([0.5])).toBeCloseTo(0.5, 12);
    const even = Array.from({ length: 10 }, (_, index) => (index + 0.5) / 10);
    expect(ksUniform(even)).toBeCloseTo(0.05, 12);
    expect(ksUniform([0.01, 0.02, 0.03])).toBeCloseTo(0.97, 12);
  });
});

describe('samplingPit', () => {
  const next = random(5);
  const rows = Array.from({ length: 8 }, () => Float32Array.from({ length: 40 }, () => 3 * (next() - 0.5)));

  it('maps correct samples to Uniform(0, 1) (with and without top-k)', () => {
    for (const [temperature, topK] of [
      [1, 0],
      [0.5, 0],
      [0.8, 6],
    ] as const) {
      const values = Array.from({ length: 2000 }, (_, index) => {
        const row = rows[index % rows.length] as Float32Array;
        return samplingPit(row, draw(row, temperature, topK, next), temperature, topK, next()) as number;
      });
      expect(ksUniform(values)).toBeLessThan(1.949 / Math.sqrt(values.length));
    }
  });

  it('exposes a sampler with an implicit top-k or a wrong temperature', () => {
    const truncated = Array.from({ length: 400 }, (_, index) => {
      const row = rows[index % rows.length] as Float32Array;
      return samplingPit(row, draw(row, 1, 5, next), 1, 0, next()) as number;
    });
    expect(ksUniform(truncated)).toBeGreaterThan(1.949 / Math.sqrt(400));
    const tooCold = Array.from({ length: 400 }, (_, index) => {
      const row = rows[index % rows.length] as Float32Array;
      return samplingPit(row, draw(row, 0.4, 0, next), 1, 0, next()) as number;
    });
    expect(ksUniform(tooCold)).toBeGreaterThan(1.949 / Math.sqrt(400));
  });

  it('returns undefined for a token outside the top-k set and is exact on a two-token row', () => {
    const row = Float32Array.of(0, Math.log(3));
    expect(samplingPit(row, 0, 1, 1, 0.5)).toBeUndefined();
    // p = [0.25, 0.75], ordered [1, 0]: token 1 → u ∈ [0, 0.75), token 0 → u ∈ [0.75, 1).
    expect(samplingPit(row, 1, 1, 0, 0.5)).toBeCloseTo(0.375, 6);
    expect(samplingPit(row, 0, 1, 0, 0.5)).toBeCloseTo(0.875, 6);
  });
});
