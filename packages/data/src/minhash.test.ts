import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { corpus, hasSharedData } from '../test/helpers.js';
import { createRandom, hash64 } from './hash.js';
import {
  candidateProbability,
  DuplicateIndex,
  estimateJaccard,
  lshParameters,
  MinHasher,
  words,
} from './minhash.js';

function shingleSet(text: string, size: number): Set<string> {
  const tokens = words(text);
  const set = new Set<string>();
  for (let start = 0; start + size <= tokens.length; start++)
    set.add(tokens.slice(start, start + size).join(' '));
  return set;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let both = 0;
  for (const item of a) if (b.has(item)) both++;
  return both / (a.size + b.size - both);
}

/** A random word sequence and a copy with a share of its words replaced. */
function pair(seed: number, length: number, replaced: number): [string, string] {
  const random = createRandom(seed);
  const vocabulary = Array.from({ length: 2000 }, (_, index) => `w${index}`);
  const original = Array.from({ length }, () => vocabulary[Math.floor(random() * vocabulary.length)]!);
  const copy = original.map((word) => (random() < replaced ? `x${Math.floor(random() * 1e6)}` : word));
  return [original.join(' '), copy.join(' ')];
}

describe('MinHash', () => {
  it('estimates shingle Jaccard similarity within 3 standard errors (128 permutations)', () => {
    const hasher = new MinHasher({ permutations: 128, shingleSize: 5 });
    for (let seed = 0; seed < 40; seed++) {
      const [a, b] = pair(seed, 400, (seed % 10) / 40);
      const truth = jaccard(shingleSet(a, 5), shingleSet(b, 5));
      const estimate = estimateJaccard(hasher.signature(a)!, hasher.signature(b)!);
      const standardError = Math.sqrt((truth * (1 - truth)) / 128) + 1e-3;
      expect(Math.abs(estimate - truth)).toBeLessThan(3 * standardError + 0.02);
    }
  });

  it('gives identical signatures for identical texts and none for texts without words', () => {
    const hasher = new MinHasher();
    expect(hasher.signature('The cat sat on the mat today.')).toEqual(
      hasher.signature('the CAT sat, on the mat today'),
    );
    expect(hasher.signature('... !!! ---')).toBeUndefined();
    expect(hasher.signature('short')?.length).toBe(128);
  });

  it('chooses LSH bands whose S-curve crosses 50% near the threshold', () => {
    for (const threshold of [0.5, 0.7, 0.8, 0.9]) {
      const { bands, rows } = lshParameters(threshold, 128);
      expect(bands * rows).toBeLessThanOrEqual(128);
      expect(candidateProbability(threshold - 0.2, bands, rows)).toBeLessThan(0.25);
      expect(candidateProbability(Math.min(0.99, threshold + 0.1), bands, rows)).toBeGreaterThan(0.75);
    }
  });

  it('rejects more bands × rows than permutations', () => {
    expect(() => new MinHasher({ permutations: 16, bands: 5, rows: 4 })).toThrow(/exceeds permutations/);
  });
});

describe('DuplicateIndex', () => {
  it('keeps the first of exact and near duplicates, in corpus order', () => {
    const hasher = new MinHasher({ threshold: 0.8 });
    const index = new DuplicateIndex();
    const [original, nearCopy] = pair(1, 300, 0.01);
    const [, farCopy] = pair(1, 300, 0.5);
    const [unrelated] = pair(2, 300, 0);
    const check = (text: string) => index.check(hash64(text), hasher.bandKeys(hasher.signature(text)!));
    expect(check(original)).toBe('unique');
    expect(check(original)).toBe('exact');
    expect(check(nearCopy)).toBe('near');
    expect(check(farCopy)).toBe('unique');
    expect(check(unrelated)).toBe('unique');
  });

  it('round-trips through serialize for checkpoints', () => {
    const hasher = new MinHasher();
    const index = new DuplicateIndex();
    const texts = Array.from({ length: 50 }, (_, seed) => pair(seed + 100, 80, 0)[0]);
    for (const text of texts) index.check(hash64(text), hasher.bandKeys(hasher.signature(text)!));
    const parts = index.serializedParts();
    const joined = Buffer.concat(
      parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)),
    );
    expect(joined.equals(Buffer.from(index.serialize().buffer))).toBe(true);
    const restored = DuplicateIndex.deserialize(index.serialize());
    for (const text of texts) expect(restored.check(hash64(text), undefined)).toBe('exact');
    expect(restored.check(hash64('new text'), hasher.bandKeys(hasher.signature('new text here')!))).toBe(
      'unique',
    );
  });

  it.skipIf(!hasSharedData)(
    'finds no near duplicates among distinct WikiText-2 paragraphs, but finds edited copies',
    () => {
      const paragraphs = readFileSync(corpus.wikitextValid, 'utf8')
        .split('\n')
        .filter((line) => line.trim().split(' ').length > 60 && !line.trim().startsWith('='));
      const hasher = new MinHasher();
      const index = new DuplicateIndex();
      const verdicts = paragraphs.map((text) =>
        index.check(hash64(text), hasher.bandKeys(hasher.signature(text)!)),
      );
      expect(paragraphs.length).toBeGreaterThan(500);
      expect(verdicts.filter((verdict) => verdict !== 'unique')).toEqual([]);
      // Edited copies are caught as often as the LSH S-curve predicts for their true similarity.
      let caught = 0;
      let expected = 0;
      let variance = 0;
      for (const [number, text] of paragraphs.slice(0, 300).entries()) {
        const every = 20 + (number % 5) * 20;
        const edited = text
          .split(' ')
          .map((word, position) => (position % every === 7 ? `CHANGED${position}` : word))
          .join(' ');
        const probability = candidateProbability(
          jaccard(shingleSet(text, 5), shingleSet(edited, 5)),
          hasher.bands,
          hasher.rows,
        );
        expected += probability;
        variance += probability * (1 - probability);
        if (index.check(hash64(edited), hasher.bandKeys(hasher.signature(edited)!)) === 'near') caught++;
      }
      expect(expected).toBeGreaterThan(100);
      expect(Math.abs(caught - expected)).toBeLessThan(4 * Math.sqrt(variance) + 3);
    },
  );
});
