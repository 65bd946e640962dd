import { InvalidArgumentError } from '@rlpt/spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  containsPredictionTag,
  extractPrediction,
  PREDICTION_END,
  PREDICTION_START,
  wrapPrediction,
} from './extract.js';

const S = PREDICTION_START;
const E = PREDICTION_END;

describe('extractPrediction', () => {
  it('takes the trimmed text of a single pair after reasoning', () => {
    const output = `Let me think. The cat was hungry.\n${S}\n  The cat ate the fish.  \n${E}`;
    expect(extractPrediction(output)).toEqual({ status: 'ok', text: 'The cat ate the fish.', pairs: 1 });
  });

  it('lets the last complete pair win', () => {
    const output = `${S}first${E} more thought ${S} second ${E} trailing words`;
    expect(extractPrediction(output)).toEqual({ status: 'ok', text: 'second', pairs: 2 });
  });

  it('keeps the last complete pair when a later answer is cut off', () => {
    const output = `${S}complete answer${E} on second thought ${S} a truncated sec`;
    expect(extractPrediction(output)).toEqual({ status: 'ok', text: 'complete answer', pairs: 1 });
  });

  it('reports an output with only an opening tag as unterminated, with the partial text', () => {
    expect(extractPrediction(`reasoning ${S} The answer is`)).toEqual({
      status: 'unterminated',
      text: '',
      pairs: 0,
      partial: 'The answer is',
    });
    expect(extractPrediction(S).status).toBe('unterminated');
  });

  it('reports missing tags, and ignores an end tag without an opening tag', () => {
    expect(extractPrediction('just some text')).toEqual({ status: 'missing', text: '', pairs: 0 });
    expect(extractPrediction('')).toEqual({ status: 'missing', text: '', pairs: 0 });
    expect(extractPrediction(`an answer ${E}`)).toEqual({ status: 'missing', text: '', pairs: 0 });
    expect(extractPrediction(`${E} stray then ${S}ok${E}`)).toMatchObject({ status: 'ok', text: 'ok' });
    // A second end tag after a pair has no opening tag of its own: the pair stands.
    expect(extractPrediction(`${S}ok${E} more ${E}`)).toEqual({ status: 'ok', text: 'ok', pairs: 1 });
  });

  it('reports a pair around whitespace only as empty, even after a good pair', () => {
    expect(extractPrediction(`${S} \n\t ${E}`)).toEqual({ status: 'empty', text: '', pairs: 1 });
    expect(extractPrediction(`${S}${E}`).status).toBe('empty');
    expect(extractPrediction(`${S}good${E} ${S}   ${E}`)).toEqual({ status: 'empty', text: '', pairs: 2 });
  });

  it('tolerates case and whitespace inside the tag markers', () => {
    const variants: [string, string][] = [
      ['<| StartOfPrediction |>', '<| EndOfPrediction |>'],
      ['<|STARTOFPREDICTION|>', '<|endofprediction|>'],
      ['< |start of prediction| >', '<|end of prediction|>'],
      ['<|\n startofprediction\n|>', '<|\tendofprediction\t|>'],
    ];
    for (const [open, close] of variants) {
      expect(extractPrediction(`x ${open} The sky is blue. ${close} y`)).toMatchObject({
        status: 'ok',
        text: 'The sky is blue.',
      });
    }
  });

  it('does not accept look-alike tags', () => {
    for (const tag of [
      '<startofprediction>',
      '|startofprediction|',
      '<|start_of_prediction|>',
      '<|prediction|>',
    ]) {
      expect(extractPrediction(`${tag} text ${E}`).status).toBe('missing');
    }
  });

  it('pairs an end tag with the nearest opening tag', () => {
    expect(extractPrediction(`${S} draft ${S} final ${E}`)).toMatchObject({ status: 'ok', text: 'final' });
  });

  it('keeps the inner text exactly except for surrounding whitespace', () => {
    const inner = 'Line one.\n\n  Line {two} <b>three</b>';
    expect(extractPrediction(`${S}\n${inner}\n${E}`).text).toBe(inner);
  });

  it('reads an output whose prompt was prefilled with the opening tag (opened: true)', () => {
    expect(extractPrediction(` The dog barked. ${E}`, { opened: true })).toEqual({
      status: 'ok',
      text: 'The dog barked.',
      pairs: 1,
    });
    expect(extractPrediction(' The dog bar', { opened: true })).toMatchObject({
      status: 'unterminated',
      partial: 'The dog bar',
    });
    expect(extractPrediction(`a${E} then ${S}b${E}`, { opened: true })).toMatchObject({
      text: 'b',
      pairs: 2,
    });
    expect(extractPrediction(` The dog barked. ${E}`).status).toBe('missing');
  });

  it('rejects a non-string output with an InvalidArgumentError', () => {
    expect(() => extractPrediction(undefined as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => extractPrediction(42 as unknown as string)).toThrow(/string; got number/);
  });

  it('handles adversarial inputs in linear time (a quadratic scan would hit the test timeout)', () => {
    const size = 400_000;
    const manyOpenings = `<| start of prediction ${' '.repeat(8)}`.repeat(size / 30);
    expect(extractPrediction(manyOpenings).status).toBe('missing');
    const manyStarts = `${S} x `.repeat(size / 25);
    expect(extractPrediction(manyStarts)).toMatchObject({ status: 'unterminated', partial: 'x' });
    const manyPairs = `${S}a${E}`.repeat(size / 40);
    expect(extractPrediction(manyPairs)).toMatchObject({ status: 'ok', text: 'a', pairs: size / 40 });
    const longSpaces = `<|${' '.repeat(size)}startofprediction`;
    expect(extractPrediction(longSpaces).status).toBe('missing');
  });
});

describe('extractPrediction properties', () => {
  // Alphabets rich in tag fragments, so random strings often contain (partial) tags.
  const fragments = [
    S,
    E,
    '<|',
    '|>',
    '<',
    '|',
    '>',
    'start',
    'end',
    'of',
    'prediction',
    ' ',
    '\n',
    'a',
    'Z',
    '{x}',
  ];
  const tagHeavy = fc.array(fc.constantFrom(...fragments), { maxLength: 40 }).map((parts) => parts.join(''));
  const anyText = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), tagHeavy);

  it('never throws, and returns a consistent result for any string', () => {
    fc.assert(
      fc.property(anyText, (output) => {
        const result = extractPrediction(output);
        expect(['ok', 'missing', 'empty', 'unterminated']).toContain(result.status);
        expect(result.text).toBe(result.text.trim());
        expect(result.status === 'ok').toBe(result.text.length > 0);
        expect(result.pairs > 0).toBe(result.status === 'ok' || result.status === 'empty');
        if (result.status === 'ok') expect(output).toContain(result.text);
        expect(containsPredictionTag(result.text)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips: wrapping any tag-free text extracts its trimmed form', () => {
    const tagFree = anyText.filter((text) => !containsPredictionTag(text));
    fc.assert(
      fc.property(tagFree, tagFree, (before, inner) => {
        const result = extractPrediction(`${before}${wrapPrediction(inner)}`);
        const expected = inner.trim();
        expect(result.text).toBe(expected);
        expect(result.status).toBe(expected ? 'ok' : 'empty');
      }),
      { numRuns: 2000 },
    );
  });

  it('with opened: true, any tag-free text before an end tag is the prediction', () => {
    const tagFree = anyText.filter((text) => !containsPredictionTag(text));
    fc.assert(
      fc.property(tagFree, tagFree, (inner, after) => {
        const result = extractPrediction(`${inner}${E}${after}`, { opened: true });
        expect(result.text).toBe(inner.trim());
        expect(result.pairs).toBe(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('a complete pair followed by any text without an end tag still yields the pair', () => {
    const noEnd = anyText.filter((text) => !/<\s*\|\s*end\s*of\s*prediction\s*\|\s*>/i.test(text));
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), noEnd, (inner, tail) => {
        fc.pre(inner.trim().length > 0 && !containsPredictionTag(inner));
        expect(extractPrediction(`${wrapPrediction(inner)}${tail}`).text).toBe(inner.trim());
      }),
      { numRuns: 1000 },
    );
  });
});

describe('wrapPrediction and containsPredictionTag', () => {
  it('wraps in the literal tags', () => {
    expect(wrapPrediction('Hi.')).toBe('<|startofprediction|>Hi.<|endofprediction|>');
  });

  it('detects tags however they are spelled, and is stable across calls', () => {
    expect(containsPredictionTag('a <| EndOfPrediction |> b')).toBe(true);
    expect(containsPredictionTag('a <| EndOfPrediction |> b')).toBe(true);
    expect(containsPredictionTag('no tags <| here |>')).toBe(false);
  });
});
