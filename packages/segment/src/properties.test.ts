import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SegmentEngine, splitSentences } from './split.js';
import type { Sentence } from './types.js';

/** The invariants every split must satisfy, whatever the text. */
function checkInvariants(input: string, sentences: Sentence[]): void {
  let previousEnd = 0;
  for (const sentence of sentences) {
    // offsets round-trip, trimmed, non-empty
    expect(input.slice(sentence.start, sentence.end)).toBe(sentence.text);
    expect(sentence.text.length).toBeGreaterThan(0);
    expect(sentence.text.trim()).toBe(sentence.text);
    // ordered, non-overlapping, only white space in between
    expect(sentence.start).toBeGreaterThanOrEqual(previousEnd);
    expect(input.slice(previousEnd, sentence.start).trim()).toBe('');
    previousEnd = sentence.end;
  }
  expect(input.slice(previousEnd).trim()).toBe('');
}

/** Pieces that exercise every rule: abbreviations, quotes, lists, line breaks, surrogates, WikiText. */
const pieces = [
  'Hello',
  'world',
  'the',
  'He',
  'It',
  'I',
  'A',
  'b',
  'Mr.',
  'Dr.',
  'U.S.',
  'e.g.',
  'p.m.',
  'Inc.',
  'etc.',
  'No.',
  'J.',
  'R.',
  '3.14',
  '$5.50',
  '1,000',
  '2.0.1',
  '1.',
  '2.',
  '2)',
  'a.',
  'b.',
  'II.',
  '(a)',
  '.',
  '. ',
  '?',
  '!',
  '?!',
  '...',
  '…',
  '. . .',
  '. . . .',
  '"',
  "'",
  '“',
  '”',
  '‘',
  '’',
  '(',
  ')',
  '[',
  ']',
  '[...]',
  ' ',
  ' ',
  ' ',
  '\n',
  '\n\n',
  '\r\n',
  '\t',
  '\u00a0',
  '\u2029',
  '\u2028',
  '•',
  '⁃',
  '- ',
  ':',
  ',',
  ';',
  'jane.doe@example.com',
  'https://example.org/a.b',
  'www.x.com',
  ' @-@ ',
  ' @.@ ',
  ' @,@ ',
  ' = ',
  '= = H = =',
  '。',
  '！',
  '😀',
  '\ud800',
  'é',
  'Él',
  'ΑΒΓ.',
  'world.Today',
  '1,000.That',
  "Jr.'s",
];

const textArbitrary = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((parts) => parts.join('')),
  },
  {
    weight: 2,
    arbitrary: fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((parts) => parts.join(' ')),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.constantFrom('a', 'B', '.', ' ', '\n', '"', '(', ')', '1', '?'),
      maxLength: 80,
    }),
  },
);

describe.each<[SegmentEngine, number]>([
  ['scanner', 1500],
  ['sentence-splitter', 300],
])('properties of engine %s', (engine, numRuns) => {
  it('offsets round-trip, sentences are trimmed, ordered and cover all non-space text', () => {
    fc.assert(
      fc.property(textArbitrary, (input) => {
        checkInvariants(input, splitSentences(input, { engine }));
      }),
      { numRuns, seed: 20250919 },
    );
  });

  it('paragraphs are split independently of each other', () => {
    fc.assert(
      fc.property(fc.array(textArbitrary, { minLength: 1, maxLength: 4 }), (parts) => {
        const joined = parts.join('\n\n');
        const whole = splitSentences(joined, { engine });
        const separately: Sentence[] = [];
        let offset = 0;
        for (const part of parts) {
          for (const sentence of splitSentences(part, { engine })) {
            separately.push({
              text: sentence.text,
              start: sentence.start + offset,
              end: sentence.end + offset,
            });
          }
          offset += part.length + 2;
        }
        expect(whole).toEqual(separately);
      }),
      { numRuns: Math.ceil(numRuns / 3), seed: 7 },
    );
  });
});

describe('1 MB adversarial inputs complete and still split', () => {
  const megabyte = 1 << 20;
  const repeat = (unit: string) => unit.repeat(Math.ceil(megabyte / unit.length));

  it.each([
    ['unclosed double quotes', 'He said "hello. This is one. ', 2],
    ['unclosed brackets', 'Note (see below. It is one. ', 2],
    ['unclosed curly quotes and brackets', '“[( Alas. Yes! ', 2],
    ['abbreviations before real ends', 'Mr. Smith met Dr. Jones at 5 p.m. in the U.S. Then they left. ', 2],
    ['glued sentences', 'Hello world.Today is Tuesday.', 2],
  ])('%s', (_name, unit, perUnit) => {
    const input = repeat(unit);
    const sentences = splitSentences(input);
    expect(sentences.length).toBe((input.length / unit.length) * perUnit);
    checkInvariants(input.slice(0, 2000), splitSentences(input.slice(0, 2000)));
  });

  it.each([
    ['one giant token with periods', 'a.'],
    ['periods only', '.'],
    ['spaced periods', '. '],
    ['titles only', 'Mr. '],
    ['a glued e-mail-like token', 'ab@c.Cd'],
    ['ellipses', '... '],
    ['quotes only', '"'],
    ['closing brackets', ') '],
  ])('%s', (_name, unit) => {
    const input = repeat(unit);
    const sentences = splitSentences(input);
    expect(sentences.length).toBeGreaterThan(0);
    expect(sentences.length).toBeLessThanOrEqual(2);
    expect(sentences[0]?.start).toBe(0);
  });

  it('many lines, blank lines and list markers', () => {
    const lines = repeat('x\n');
    expect(splitSentences(lines).length).toBe(lines.length / 2);
    const paragraphs = repeat('Word.\n\n');
    expect(splitSentences(paragraphs).length).toBe(paragraphs.length / 7);
    const list = repeat('1. one 2. two 3. three\n');
    expect(splitSentences(list).length).toBe((list.length / 23) * 3);
    const spaces = `A${' '.repeat(megabyte)}. B.`;
    expect(splitSentences(spaces).map((s) => s.text.length)).toEqual([megabyte + 2, 2]);
  });

  it('the sentence-splitter engine survives an unclosed quote too', () => {
    const input = 'He said "hello. This is one. '.repeat(2000);
    expect(splitSentences(input, { engine: 'sentence-splitter' }).length).toBe(4000);
  });
});

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const corpora = `${repoRoot}../shared/data/corpora`;

describe.skipIf(!existsSync(corpora))('real corpora (../shared/data/corpora)', () => {
  it.each(['wikitext-2/valid.txt', 'tinyshakespeare/input.txt'])('%s: invariants hold on 200 KB', (file) => {
    const input = readFileSync(`${corpora}/${file}`, 'utf8').slice(0, 200_000);
    for (const engine of ['scanner', 'sentence-splitter'] as const) {
      const sentences = splitSentences(input, { engine });
      checkInvariants(input, sentences);
      expect(sentences.length).toBeGreaterThan(500);
    }
  });

  it.runIf(process.env.RLPT_LONG_TESTS === '1')(
    'long: invariants hold on every whole corpus, both engines',
    () => {
      for (const file of ['wikitext-2/valid.txt', 'wikitext-2/test.txt', 'tinyshakespeare/input.txt']) {
        const input = readFileSync(`${corpora}/${file}`, 'utf8');
        for (const engine of ['scanner', 'sentence-splitter'] as const)
          checkInvariants(input, splitSentences(input, { engine }));
      }
    },
  );

  it('WikiText: headings stand alone and sentences end at spaced periods', () => {
    const input = readFileSync(`${corpora}/wikitext-2/valid.txt`, 'utf8').slice(0, 3000);
    const sentences = splitSentences(input).map((s) => s.text);
    expect(sentences[0]).toBe('= Homarus gammarus =');
    expect(sentences).toContain('It is closely related to the American lobster , H. americanus .');
    expect(sentences).toContain('= = Description = =');
  });
});
