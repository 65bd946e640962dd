import { InvalidArgumentError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { countChars, countWords, DEFAULT_FILTER, filterSentences, sentenceFilterReason } from './filter.js';
import { splitSentences } from './split.js';

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

describe('countWords and countChars', () => {
  it('counts white-space separated tokens that contain a letter or digit', () => {
    expect(countWords('The cat sat.')).toBe(3);
    expect(countWords('= = Description = =')).toBe(1);
    expect(countWords('0 @.@ 7 kg')).toBe(3);
    expect(countWords("don't stop — ever")).toBe(3);
    expect(countWords('  ')).toBe(0);
    expect(countWords('Ελλάδα και Κύπρος')).toBe(3);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(countChars('abc')).toBe(3);
    expect(countChars('😀😀')).toBe(2);
    expect('😀😀'.length).toBe(4);
    expect(countChars('\ud800x')).toBe(2); // a lone surrogate is one code point
  });
});

describe('filterSentences', () => {
  it('applies the METHOD.md §7 defaults: at least 20 characters and 4 words', () => {
    expect(DEFAULT_FILTER).toMatchObject({ minChars: 20, minWords: 4 });
    const input =
      '= = Description = = \n\n Yes. It is. The lobster is blue and large. Supercalifragilistic expialidocious. A b c d e f.';
    const kept = filterSentences(splitSentences(input)).map((s) => s.text);
    expect(kept).toEqual(['The lobster is blue and large.']);
    // each dropped one fails a default limit, each kept one passes both
    for (const sentence of splitSentences(input)) {
      const passes = countChars(sentence.text) >= 20 && words(sentence.text) >= 4;
      expect(kept.includes(sentence.text)).toBe(passes);
    }
  });

  it('reports why a sentence is dropped', () => {
    expect(sentenceFilterReason('Too short.')).toBe('min-chars');
    expect(sentenceFilterReason('Supercalifragilistic expialidocious.')).toBe('min-words');
    expect(sentenceFilterReason('😀😀😀😀😀😀😀😀😀😀😀😀 a b c d')).toBe(undefined); // 20 code points
    expect(sentenceFilterReason('😀😀😀😀😀😀😀😀 a b')).toBe('min-chars'); // 20 UTF-16 units, 12 code points
    expect(sentenceFilterReason('A long enough sentence with words.', { maxChars: 10, minChars: 0 })).toBe(
      'max-chars',
    );
  });

  it('uses the injected tokenizer for token limits', () => {
    const countTokens = (text: string) => text.split(/\s+/).filter(Boolean).length * 2;
    const sentences = ['one two three four five six.', 'one two three four five six seven eight nine ten.'];
    expect(filterSentences(sentences, { minTokens: 14, countTokens })).toEqual([sentences[1]]);
    expect(filterSentences(sentences, { maxTokens: 14, countTokens })).toEqual([sentences[0]]);
    expect(sentenceFilterReason(sentences[0] as string, { minTokens: 14, countTokens })).toBe('min-tokens');
    expect(sentenceFilterReason(sentences[1] as string, { maxTokens: 14, countTokens })).toBe('max-tokens');
  });

  it('can be switched off limit by limit', () => {
    expect(filterSentences(['Yes.', 'No.'], { minChars: 0, minWords: 0 })).toEqual(['Yes.', 'No.']);
  });

  it('rejects invalid limits with errors that name the option', () => {
    const expectArgumentError = (fn: () => unknown, argument: string, message: RegExp) => {
      try {
        fn();
        expect.unreachable();
      } catch (error) {
        expect(InvalidArgumentError.isInstance(error)).toBe(true);
        expect((error as InvalidArgumentError).argument).toBe(argument);
        expect((error as Error).message).toMatch(message);
      }
    };
    expectArgumentError(() => filterSentences([], { minChars: -1 }), 'minChars', /≥ 0/);
    expectArgumentError(() => filterSentences([], { minWords: Number.NaN }), 'minWords', /got NaN/);
    expectArgumentError(
      () => filterSentences([], { minTokens: 5 }),
      'countTokens',
      /need a countTokens function/,
    );
    expectArgumentError(
      () => filterSentences([], { minChars: 50, maxChars: 10 }),
      'maxChars',
      /no sentence could pass/,
    );
    expectArgumentError(
      () => filterSentences(['a b c d e f g h i j k'], { minTokens: 1, countTokens: () => Number.NaN }),
      'countTokens',
      /returned NaN/,
    );
  });
});
