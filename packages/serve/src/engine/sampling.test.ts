// Logits processing in vLLM's order, on hand-computable rows: golden values (tolerance 1e-9 in float64
// arithmetic on float32 inputs) and properties of the processed distribution.
import { describe, expect, it } from 'vitest';
import { LogitsProcessor, rawLogprobs, type SequenceSampling } from './sampling.js';

const plain: SequenceSampling = {
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  minTokens: 0,
};
const fresh = () => ({
  promptTokens: new Set<number>(),
  outputCounts: new Map<number, number>(),
  generated: 0,
});
const logSoftmax = (values: number[]) => {
  const max = Math.max(...values);
  const log = max + Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0));
  return values.map((value) => value - log);
};
const row = Float32Array.from([2, 1, 0.5, -1]);

describe('LogitsProcessor', () => {
  it('greedy: argmax, logprobs at temperature 1, top-N sorted', () => {
    const picked = new LogitsProcessor(4).pick(
      row,
      { ...plain, temperature: 0 },
      fresh(),
      [],
      Math.random,
      3,
    );
    const expected = logSoftmax([2, 1, 0.5, -1]);
    expect(picked.tokenId).toBe(0);
    expect(picked.logprob).toBeCloseTo(expected[0]!, 9);
    expect(picked.top.map((entry) => entry.tokenId)).toEqual([0, 1, 2]);
    expect(picked.top[2]!.logprob).toBeCloseTo(expected[2]!, 9);
  });

  it('temperature and top-k: logprobs of the filtered, scaled distribution; dropped tokens −∞', () => {
    const picked = new LogitsProcessor(4).pick(
      row,
      { ...plain, temperature: 0.5, topK: 2 },
      fresh(),
      [],
      () => 0.99,
      4,
    );
    const kept = logSoftmax([4, 2]);
    expect(picked.tokenId).toBe(1); // u = 0.99 falls in the second token's mass
    expect(picked.logprob).toBeCloseTo(kept[1]!, 9);
    expect(picked.top.map((entry) => entry.logprob).slice(2)).toEqual([-Infinity, -Infinity]);
    expect(Math.exp(picked.top[0]!.logprob) + Math.exp(picked.top[1]!.logprob)).toBeCloseTo(1, 12);
  });

  it('top-p keeps the smallest prefix reaching p; min-p drops tokens below p × the top probability', () => {
    const probabilities = logSoftmax([2, 1, 0.5, -1]).map(Math.exp);
    const topP = new LogitsProcessor(4).pick(
      row,
      { ...plain, topP: probabilities[0]! + 0.01 },
      fresh(),
      [],
      () => 0.5,
      4,
    );
    expect(topP.top.filter((entry) => entry.logprob > -Infinity)).toHaveLength(2);
    const minP = new LogitsProcessor(4).pick(row, { ...plain, minP: 0.3 }, fresh(), [], () => 0.5, 4);
    // p(1)/p(0) = e^-1 ≈ 0.37 stays; p(2)/p(0) = e^-1.5 ≈ 0.22 goes.
    expect(minP.top.filter((entry) => entry.logprob > -Infinity).map((entry) => entry.tokenId)).toEqual([
      0, 1,
    ]);
  });

  it('penalties as vLLM: repetition divides positive / multiplies negative logits; frequency and presence subtract', () => {
    const history = { promptTokens: new Set([3]), outputCounts: new Map([[0, 2]]), generated: 2 };
    const picked = new LogitsProcessor(4).pick(
      row,
      { ...plain, temperature: 0, repetitionPenalty: 2, frequencyPenalty: 0.25, presencePenalty: 0.5 },
      history,
      [],
      Math.random,
      4,
    );
    // token 0: 2 / 2 − 0.25 × 2 − 0.5 = 0; token 3: −1 × 2 = −2.
    const expected = logSoftmax([0, 1, 0.5, -2]);
    expect(picked.tokenId).toBe(1);
    const byId = new Map(picked.top.map((entry) => [entry.tokenId, entry.logprob]));
    for (const [id, value] of expected.entries()) expect(byId.get(id)).toBeCloseTo(value, 9);
  });

  it('min_tokens masks end-of-sequence ids until enough tokens were generated', () => {
    const processor = new LogitsProcessor(4);
    const early = processor.pick(
      row,
      { ...plain, temperature: 0, minTokens: 2 },
      { ...fresh(), generated: 1 },
      [0],
      Math.random,
      0,
    );
    expect(early.tokenId).toBe(1);
    const late = processor.pick(
      row,
      { ...plain, temperature: 0, minTokens: 2 },
      { ...fresh(), generated: 2 },
      [0],
      Math.random,
      0,
    );
    expect(late.tokenId).toBe(0);
  });

  it('property: sampled frequencies follow the processed distribution', () => {
    const processor = new LogitsProcessor(4);
    let state = 1;
    const random = () => {
      state = (state * 16807) % 2147483647;
      return state / 2147483647;
    };
    const counts = [0, 0, 0, 0];
    const draws = 20000;
    for (let draw = 0; draw < draws; draw++)
      counts[processor.pick(row, { ...plain, temperature: 0.8 }, fresh(), [], random, 0).tokenId]!++;
    const expected = logSoftmax([2 / 0.8, 1 / 0.8, 0.5 / 0.8, -1 / 0.8]).map(Math.exp);
    // 5 standard errors of a binomial proportion.
    for (const [id, p] of expected.entries())
      expect(Math.abs(counts[id]! / draws - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / draws));
  });
});

describe('rawLogprobs', () => {
  it('logprob, rank and top-N of a target at temperature 1 and 2', () => {
    const raw = rawLogprobs(row, 2, 2);
    expect(raw.logprob).toBeCloseTo(logSoftmax([2, 1, 0.5, -1])[2]!, 9);
    expect(raw.rank).toBe(3);
    expect(raw.top.map((entry) => entry.tokenId)).toEqual([0, 1]);
    expect(rawLogprobs(row, 2, 0, 2).logprob).toBeCloseTo(logSoftmax([1, 0.5, 0.25, -0.5])[2]!, 9);
  });
});
