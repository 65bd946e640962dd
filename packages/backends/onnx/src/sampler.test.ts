import { NumericError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { completionStream, Xoshiro128 } from './prng.js';
import { Sampler, type SamplingSettings } from './sampler.js';
import { kthLargest, nucleusThreshold } from './select.js';
import { blockSizeFor } from './softmax-head.js';

/** The filtered distribution by the textbook method: full sort, Hugging Face's warper order. */
function referenceDistribution(logits: number[], settings: SamplingSettings): number[] {
  const scaled = logits.map((value) => value / settings.temperature);
  const max = Math.max(...scaled);
  let weights = scaled.map((value) => Math.exp(value - max));
  const sortedDesc = () => [...weights].sort((a, b) => b - a);
  if (settings.topK > 0 && settings.topK < weights.length) {
    const kth = sortedDesc()[settings.topK - 1] as number;
    weights = weights.map((w) => (w >= kth ? w : 0));
  }
  if (settings.topP < 1) {
    const total = weights.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let threshold = 0;
    for (const w of sortedDesc()) {
      cumulative += w;
      threshold = w;
      if (cumulative >= settings.topP * total) break;
    }
    weights = weights.map((w) => (w >= threshold ? w : 0));
  }
  if (settings.minP > 0) weights = weights.map((w) => (w >= settings.minP ? w : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

function logSoftmax(logits: number[], temperature: number): number[] {
  const scaled = logits.map((value) => value / temperature);
  const max = Math.max(...scaled);
  const logZ = max + Math.log(scaled.reduce((sum, value) => sum + Math.exp(value - max), 0));
  return scaled.map((value) => value - logZ);
}

const logits = [2.0, 1.5, 1.5, 0.3, -0.7, 0.9, -2.0, 1.1, 0.0, -0.2];

describe('selection', () => {
  it('kthLargest agrees with sorting on random arrays (with ties)', () => {
    const random = new Xoshiro128([1, 2, 3, 4]);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + (random.nextUint32() % 300);
      const values = Float32Array.from({ length: n }, () => Math.floor(random.nextFloat() * 20) / 4);
      const sorted = [...values].sort((a, b) => b - a);
      const k = 1 + (random.nextUint32() % n);
      expect(kthLargest(values.slice(), n, k)).toBe(sorted[k - 1]);
    }
  });

  it('nucleusThreshold returns the smallest top set reaching the mass', () => {
    const random = new Xoshiro128([9, 8, 7, 6]);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + (random.nextUint32() % 300);
      const values = Float32Array.from({ length: n }, () => random.nextFloat() ** 3);
      const total = values.reduce((a, b) => a + b, 0);
      const target = random.nextFloat() * total;
      const sorted = [...values].sort((a, b) => b - a);
      let cumulative = 0;
      let expected = 0;
      for (const value of sorted) {
        cumulative += value;
        expected = value;
        if (cumulative >= target) break;
      }
      expect(nucleusThreshold(values.slice(), n, target)).toBe(expected);
    }
  });
});

describe('Sampler', () => {
  const row = Float32Array.from(logits);

  it('greedy picks the first maximum and reports the T=1 logprob', () => {
    const sampler = new Sampler(row.length);
    const { token, logprob } = sampler.sample(
      row,
      { temperature: 0, topK: 0, topP: 1, minP: 0 },
      undefined,
      true,
    );
    expect(token).toBe(0);
    expect(logprob).toBeCloseTo(logSoftmax(logits, 1)[0] as number, 6);
    expect(sampler.argmax(Float32Array.of(1, 3, 3, 2))).toBe(1);
  });

  const cases: [string, SamplingSettings][] = [
    ['plain T=1', { temperature: 1, topK: 0, topP: 1, minP: 0 }],
    ['T=0.5', { temperature: 0.5, topK: 0, topP: 1, minP: 0 }],
    ['top-k 2 (the tie at the boundary keeps both 1.5s)', { temperature: 1, topK: 2, topP: 1, minP: 0 }],
    ['top-p 0.6', { temperature: 0.8, topK: 0, topP: 0.6, minP: 0 }],
    ['top-k 5 then top-p 0.7', { temperature: 1.3, topK: 5, topP: 0.7, minP: 0 }],
    ['min-p 0.3', { temperature: 1, topK: 0, topP: 1, minP: 0.3 }],
    ['all three', { temperature: 0.9, topK: 6, topP: 0.9, minP: 0.2 }],
  ];

  it.each(cases)(
    'draws from the filtered distribution (%s) and reports full-distribution logprobs',
    (_, settings) => {
      const sampler = new Sampler(row.length);
      const expected = referenceDistribution(logits, settings);
      const logprobs = logSoftmax(logits, settings.temperature);
      const random = new Xoshiro128([11, 22, 33, 44]);
      const draws = 40000;
      const counts = new Array(logits.length).fill(0);
      for (let i = 0; i < draws; i++) {
        const { token, logprob } = sampler.sample(row, settings, random, true);
        counts[token]++;
        if (i < 50) expect(logprob).toBeCloseTo(logprobs[token] as number, 5);
      }
      for (const [token, probability] of expected.entries()) {
        if (probability === 0) expect(counts[token]).toBe(0);
        else {
          // 5 standard deviations of a binomial count.
          const sd = Math.sqrt(draws * probability * (1 - probability));
          expect(Math.abs(counts[token] - draws * probability)).toBeLessThan(5 * sd + 1);
        }
      }
    },
  );

  it('sampleFromBlocks draws from the full softmax and matches sample() token for token', () => {
    const temperature = 0.9;
    const full = logSoftmax(logits, temperature);
    const blockSize = 3;
    const blockProbs = new Float32Array(Math.ceil(logits.length / blockSize));
    full.forEach((logprob, i) => {
      const block = Math.floor(i / blockSize);
      blockProbs[block] = (blockProbs[block] as number) + Math.exp(logprob);
    });
    const sampler = new Sampler(row.length);
    const settings = { temperature, topK: 0, topP: 1, minP: 0 };
    const a = new Xoshiro128([5, 6, 7, 8]);
    const b = new Xoshiro128([5, 6, 7, 8]);
    for (let i = 0; i < 2000; i++) {
      const viaBlocks = sampler.sampleFromBlocks(row, temperature, blockProbs, blockSize, a);
      const direct = sampler.sample(row, settings, b, true);
      expect(viaBlocks.token).toBe(direct.token);
      expect(viaBlocks.logprob).toBeCloseTo(full[viaBlocks.token] as number, 5);
    }
    // Greedy: the argmax and its T = 1 logprob.
    const greedyBlocks = new Float32Array(blockProbs.length);
    logSoftmax(logits, 1).forEach((logprob, i) => {
      const block = Math.floor(i / blockSize);
      greedyBlocks[block] = (greedyBlocks[block] as number) + Math.exp(logprob);
    });
    const greedy = sampler.sampleFromBlocks(row, 0, greedyBlocks, blockSize, undefined);
    expect(greedy.token).toBe(0);
    expect(greedy.logprob).toBeCloseTo(logSoftmax(logits, 1)[0] as number, 5);
  });

  it('blockSizeFor picks a divisor near √vocab, or pads', () => {
    expect(blockSizeFor(151936)).toEqual({ blockSize: 128, padded: false });
    expect(blockSizeFor(32000)).toEqual({ blockSize: 160, padded: false });
    expect(blockSizeFor(50257)).toEqual({ blockSize: 1733, padded: false }); // 29 × 1733
    expect(blockSizeFor(49999)).toEqual({ blockSize: 512, padded: true }); // prime
  });

  it('throws NumericError on NaN logits', () => {
    const sampler = new Sampler(3);
    const bad = Float32Array.of(0.1, Number.NaN, 0.3);
    expect(() =>
      sampler.sample(bad, { temperature: 1, topK: 0, topP: 1, minP: 0 }, new Xoshiro128([1, 1, 1, 1]), true),
    ).toThrow(NumericError);
    expect(() => sampler.argmax(bad)).toThrow(/NaN logits/);
  });
});

describe('completionStream', () => {
  it('depends only on seed, prompt tokens and sample index', () => {
    const draw = (seed: number, prompt: number[], sample: number) => {
      const stream = completionStream(seed, prompt, sample);
      return [stream.nextUint32(), stream.nextUint32()];
    };
    expect(draw(5, [1, 2, 3], 0)).toEqual(draw(5, [1, 2, 3], 0));
    const variants = [
      draw(5, [1, 2, 3], 0),
      draw(6, [1, 2, 3], 0),
      draw(5, [1, 2, 4], 0),
      draw(5, [1, 2, 3], 1),
      draw(5, [3, 2, 1], 0),
      draw(2 ** 40 + 5, [1, 2, 3], 0),
    ];
    expect(new Set(variants.map((value) => value.join(','))).size).toBe(variants.length);
  });

  it('gives uniform floats in [0, 1)', () => {
    const stream = completionStream(1, [7], 0);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const value = stream.nextFloat();
      expect(value >= 0 && value < 1).toBe(true);
      sum += value;
    }
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
  });
});
