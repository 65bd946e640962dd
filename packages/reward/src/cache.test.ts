import { describe, expect, it } from 'vitest';
import { createJudgeCache, hashTemplate } from './cache.js';

const key = (prediction: string, reference = 'reference text', mode: 'prefix' | 'strict' = 'prefix') => ({
  judge: 'j',
  template: 't',
  mode,
  reference,
  prediction,
});
const verdict = (score: number) => ({ score, status: 'ok' as const });

describe('judge cache', () => {
  it('keeps recently used verdicts and drops unused ones first (two generations)', () => {
    const cache = createJudgeCache({ maxEntries: 4 }); // generations of 2
    cache.set(key('a'), verdict(1));
    cache.set(key('b'), verdict(0)); // young is full: a, b become the old generation
    expect(cache.get(key('a'))?.score).toBe(1); // used: promoted back to young
    cache.set(key('c'), verdict(1)); // young (a, c) full: the old generation is dropped, b with it
    expect(cache.get(key('b'))).toBeUndefined();
    expect(cache.get(key('a'))?.score).toBe(1);
    expect(cache.get(key('c'))?.score).toBe(1);
    expect(cache.stats()).toEqual({ hits: 3, misses: 1, evictions: 1, size: 2, maxEntries: 4 });
  });

  it('keeps its size bounded under churn, counting each verdict once', () => {
    const cache = createJudgeCache({ maxEntries: 100 });
    for (let index = 0; index < 10_000; index++) {
      cache.set(key(String(index)), verdict(0));
      if (index % 3 === 0) cache.get(key(String(index - 1)));
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.get(key('9999'))).toBeDefined();
    expect(cache.get(key('5000'))).toBeUndefined();
    cache.set(key('9999'), verdict(1));
    expect(cache.get(key('9999'))?.score).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('replaces a verdict held in the old generation without holding it twice', () => {
    const cache = createJudgeCache({ maxEntries: 4 });
    cache.set(key('a'), verdict(0));
    cache.set(key('b'), verdict(0)); // rotate: a, b old
    cache.set(key('a'), verdict(1));
    expect(cache.size).toBe(2);
    expect(cache.get(key('a'))?.score).toBe(1);
  });

  it('keeps judge, template, mode, reference and prediction apart', () => {
    const cache = createJudgeCache();
    cache.set(key('bc', 'a'), verdict(1));
    expect(cache.get(key('c', 'ab'))).toBeUndefined();
    expect(cache.get(key('bc', 'a', 'strict'))).toBeUndefined();
    expect(cache.get({ ...key('bc', 'a'), judge: 'other' })).toBeUndefined();
    expect(cache.get({ ...key('bc', 'a'), template: 'u' })).toBeUndefined();
    expect(cache.get(key('bc', 'a'))?.score).toBe(1);
  });

  it('scopes share entries with get/set of the same parts', () => {
    const cache = createJudgeCache();
    const prefix = cache.scope('j', 't', 'prefix');
    prefix.set('reference text', 'p', verdict(1));
    expect(cache.get(key('p'))?.score).toBe(1);
    cache.set(key('q'), verdict(0));
    expect(prefix.get('reference text', 'q')?.score).toBe(0);
    expect(cache.scope('j', 't', 'strict').get('reference text', 'p')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, size: 2 });
  });

  it('hashes templates stably and distinctly', () => {
    expect(hashTemplate('Reference: {reference}')).toBe(hashTemplate('Reference: {reference}'));
    expect(hashTemplate('Reference: {reference}')).not.toBe(hashTemplate('Reference:  {reference}'));
    expect(hashTemplate('x')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects a bad size', () => {
    expect(() => createJudgeCache({ maxEntries: 1 })).toThrow(/cache\.maxEntries must be an integer ≥ 2/);
  });
});
