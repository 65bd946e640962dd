import { describe, expect, it } from 'vitest';
import { createJudgeCache, hashTemplate, judgeCacheKey } from './cache.js';

const key = (reference: string, prediction: string) =>
  judgeCacheKey({ judge: 'j', template: 't', mode: 'prefix', reference, prediction });

describe('judge cache', () => {
  it('evicts the least recently used entry first', () => {
    const cache = createJudgeCache({ maxEntries: 2 });
    cache.set('a', { score: 1, status: 'ok' });
    cache.set('b', { score: 0, status: 'ok' });
    expect(cache.get('a')?.score).toBe(1); // a is now the most recent
    cache.set('c', { score: 1, status: 'ok' });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.stats()).toEqual({ hits: 3, misses: 1, evictions: 1, size: 2, maxEntries: 2 });
  });

  it('keeps its size bounded under churn', () => {
    const cache = createJudgeCache({ maxEntries: 100 });
    for (let index = 0; index < 10_000; index++) cache.set(String(index), { score: 0, status: 'ok' });
    expect(cache.size).toBe(100);
    expect(cache.get('9999')).toBeDefined();
    expect(cache.get('9899')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('cannot confuse where the reference ends and the prediction begins', () => {
    expect(key('ab', 'c')).not.toBe(key('a', 'bc'));
    expect(key('a\u0000b', 'c')).not.toBe(key('a', 'b\u0000c'));
    expect(
      judgeCacheKey({ judge: 'j', template: 't', mode: 'strict', reference: 'a', prediction: 'b' }),
    ).not.toBe(key('a', 'b'));
  });

  it('hashes templates stably and distinctly', () => {
    expect(hashTemplate('Reference: {reference}')).toBe(hashTemplate('Reference: {reference}'));
    expect(hashTemplate('Reference: {reference}')).not.toBe(hashTemplate('Reference:  {reference}'));
    expect(hashTemplate('x')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects a bad size', () => {
    expect(() => createJudgeCache({ maxEntries: 0 })).toThrow(/cache\.maxEntries must be an integer ≥ 1/);
  });
});
