import { InvalidArgumentError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { type GoldenCase, goldenRules, hardCases } from './__fixtures__/golden-rules.js';
import { splitParagraphs } from './paragraphs.js';
import { type SegmentEngine, splitSentences } from './split.js';

const engines: SegmentEngine[] = ['scanner', 'sentence-splitter'];

function texts(input: string, engine: SegmentEngine = 'scanner'): string[] {
  return splitSentences(input, { engine }).map((sentence) => sentence.text);
}

function expectedFor(testCase: GoldenCase, engine: SegmentEngine): string[] {
  return testCase.engineExpected?.[engine]?.expected ?? testCase.expected;
}

describe.each(engines)('splitSentences with engine %s', (engine) => {
  it.each(goldenRules.map((testCase) => [testCase.name, testCase] as const))(
    'golden rule %s',
    (_name, testCase) => {
      expect(texts(testCase.input, engine)).toEqual(expectedFor(testCase, engine));
    },
  );

  it.each(hardCases.map((testCase) => [testCase.name, testCase] as const))(
    'hard case: %s',
    (_name, testCase) => {
      expect(texts(testCase.input, engine)).toEqual(expectedFor(testCase, engine));
    },
  );

  it('returns offsets into the input', () => {
    const input = '  Hello there.  \n\n  Second paragraph here!  ';
    const sentences = splitSentences(input, { engine });
    expect(sentences).toEqual([
      { text: 'Hello there.', start: 2, end: 14 },
      { text: 'Second paragraph here!', start: 20, end: 42 },
    ]);
    for (const sentence of sentences) expect(input.slice(sentence.start, sentence.end)).toBe(sentence.text);
  });

  it('returns nothing for empty or blank text', () => {
    expect(splitSentences('', { engine })).toEqual([]);
    expect(splitSentences(' \n\t\r\n \u00a0 ', { engine })).toEqual([]);
  });

  it('keeps a text without final punctuation as one sentence', () => {
    expect(texts('no punctuation at all here', engine)).toEqual(['no punctuation at all here']);
  });

  it('ends sentences at blank lines, with CRLF and U+2029 paragraph separators too', () => {
    expect(texts('First part\r\n\r\nSecond part\u2029Third part', engine)).toEqual([
      'First part',
      'Second part',
      'Third part',
    ]);
  });

  it('splits full-width CJK terminators without spaces', () => {
    expect(texts('今日は晴れです。明日は雨です！本当？', engine)).toEqual([
      '今日は晴れです。',
      '明日は雨です！',
      '本当？',
    ]);
  });
});

describe('splitSentences options', () => {
  it('lineBreaks: split ends a sentence at every line break, join never does', () => {
    const input =
      'Shall I compare thee to a summer’s day\nThou art more lovely and more temperate\nRough winds do shake';
    expect(splitSentences(input, { lineBreaks: 'split' }).map((s) => s.text)).toEqual([
      'Shall I compare thee to a summer’s day',
      'Thou art more lovely and more temperate',
      'Rough winds do shake',
    ]);
    expect(
      splitSentences('Introduction\nThe study starts.', { lineBreaks: 'join' }).map((s) => s.text),
    ).toEqual(['Introduction\nThe study starts.']);
  });

  it('lineBreaks: auto keeps enjambed verse together once the paragraph flows', () => {
    const input =
      'O, know you yet, he doth it publicly,\nTake not the quarrel from his powerful arm;\nHe needs no indirect nor lawless course\nTo cut off those that have offended him.';
    expect(texts(input)).toEqual([input]);
  });

  it('lineBreaks: auto keeps wrapped prose together even without any final punctuation', () => {
    const input =
      'sir, we had but two in the house, which at that very\ndistant time stood, as it were, in a fruit-dish, a\ndish of some three-pence; your honours have seen\nsuch dishes,--';
    expect(texts(input)).toEqual([input]);
    // …while short lower-case lines without punctuation are a list (golden rule 42)
    expect(texts('apples\npears and plums\ncherries')).toEqual(['apples', 'pears and plums', 'cherries']);
  });

  it('lineBreaks: auto splits speaker labels and short title lines', () => {
    expect(texts('First Citizen:\nBefore we proceed any further, hear me speak.')).toEqual([
      'First Citizen:',
      'Before we proceed any further, hear me speak.',
    ]);
  });

  it('accepts extra abbreviations and titles', () => {
    const plain = splitSentences('He met Capt. Haddock. It went well. We saw Sgtmaj. Jones there.');
    expect(plain.map((s) => s.text)).toEqual([
      'He met Capt. Haddock.',
      'It went well.',
      'We saw Sgtmaj.',
      'Jones there.',
    ]);
    const withTitle = splitSentences('He met Capt. Haddock. It went well. We saw Sgtmaj. Jones there.', {
      titles: ['Sgtmaj.'],
    });
    expect(withTitle.map((s) => s.text)).toEqual([
      'He met Capt. Haddock.',
      'It went well.',
      'We saw Sgtmaj. Jones there.',
    ]);
    const fish = 'The fish is Salmo trutta subvar. Fario here. Subvar. The end.';
    expect(texts(fish)).toEqual(['The fish is Salmo trutta subvar.', 'Fario here.', 'Subvar.', 'The end.']);
    const withAbbreviation = splitSentences(fish, { abbreviations: ['subvar'] });
    expect(withAbbreviation.map((s) => s.text)).toEqual([
      'The fish is Salmo trutta subvar. Fario here.',
      'Subvar.',
      'The end.',
    ]);
  });

  it('rejects bad input and options with errors that name them', () => {
    expect(() => splitSentences(42 as unknown as string)).toThrow(/text must be a string; got number/);
    expect(() => splitSentences('x', { engine: 'punkt' as SegmentEngine })).toThrow(/options.engine must be/);
    expect(() => splitSentences('x', { lineBreaks: 'never' as 'join' })).toThrow(
      /options.lineBreaks must be/,
    );
    expect(() => splitSentences('x', { abbreviations: ['two words'] })).toThrow(
      /options.abbreviations entry/,
    );
    try {
      splitSentences('x', { titles: [7 as unknown as string] });
      expect.unreachable();
    } catch (error) {
      expect(InvalidArgumentError.isInstance(error)).toBe(true);
      expect((error as InvalidArgumentError).argument).toBe('titles');
    }
  });
});

describe('splitParagraphs', () => {
  it('splits at blank lines, including lines with only spaces, and keeps offsets', () => {
    const input = ' = Title = \n \n First paragraph\nstill first . \n \n\n Second . ';
    const paragraphs = splitParagraphs(input);
    expect(paragraphs.map((p) => p.text)).toEqual([
      '= Title =',
      'First paragraph\nstill first .',
      'Second .',
    ]);
    for (const paragraph of paragraphs)
      expect(input.slice(paragraph.start, paragraph.end)).toBe(paragraph.text);
  });
});
