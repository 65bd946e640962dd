import { InvalidArgumentError, type RlptEvent } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { createJudgeCache } from './cache.js';
import { createLexicalJudge, lexicalMatch } from './lexical.js';
import { normalizeWords } from './text.js';

const reference =
  'In 1969 the Apollo 11 crew landed on the Moon. Neil Armstrong stepped out first. Buzz Aldrin followed twenty minutes later.';

const match = (
  prediction: string,
  mode: 'prefix' | 'strict' = 'prefix',
  tolerance = 0.2,
  exactNumbers = true,
) =>
  lexicalMatch(normalizeWords(prediction), normalizeWords(mode === 'prefix' ? reference : prediction), mode, {
    tolerance,
    exactNumbers,
  });

describe('lexicalMatch (golden values)', () => {
  it('counts word edits against the best reference prefix', () => {
    expect(match('In 1969 the Apollo 11 crew landed on the Moon.')).toEqual({
      edits: 0,
      allowed: 2,
      words: 10,
      referenceWords: 10,
    });
    // one substitution (crew → astronauts)
    expect(match('In 1969 the Apollo 11 astronauts landed on the Moon').edits).toBe(1);
    // one deletion (the) and one insertion (safely)
    expect(match('In 1969 Apollo 11 crew landed safely on the Moon').edits).toBe(2);
    // a prefix of the prefix is a prefix
    expect(match('In 1969 the Apollo').edits).toBe(0);
  });

  it('compares numbers exactly: a wrong or missing number can never be edited away', () => {
    expect(match('In 1968 the Apollo 11 crew landed on the Moon').edits).toBe(Number.POSITIVE_INFINITY);
    expect(match('In the Apollo 11 crew landed on the Moon').edits).toBe(Number.POSITIVE_INFINITY);
    expect(match('In 1969 the Apollo 11 crew landed on the Moon', 'prefix', 0.2, false).edits).toBe(0);
    expect(
      lexicalMatch(['in', '1968', 'the'], ['in', '1969', 'the'], 'prefix', {
        tolerance: 1,
        exactNumbers: false,
      }).edits,
    ).toBe(1);
  });

  it('normalises case, punctuation, accents and full-width forms', () => {
    expect(normalizeWords('Ｈｅｌｌｏ, Café — “WORLD”!')).toEqual(['hello', 'cafe', 'world']);
    expect(normalizeWords('3.14 and 1,000 people')).toEqual(['3.14', 'and', '1,000', 'people']);
  });

  it('strict mode aligns with the whole target', () => {
    const target = ['the', 'vote', 'was', 'postponed'];
    expect(
      lexicalMatch(['the', 'vote', 'was', 'postponed'], target, 'strict', {
        tolerance: 0,
        exactNumbers: true,
      }).edits,
    ).toBe(0);
    expect(
      lexicalMatch(['the', 'vote', 'was'], target, 'strict', { tolerance: 0, exactNumbers: true }).edits,
    ).toBe(1);
  });
});

describe('lexicalMatch (properties)', () => {
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const vocabulary = ['the', 'a', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', '7', '42'];
  const sentence = (length: number) =>
    Array.from({ length }, () => vocabulary[Math.floor(random() * vocabulary.length)] as string);

  it('every prefix of the reference matches with 0 edits; edits are symmetric in strict mode; bounded by lengths', () => {
    for (let trial = 0; trial < 300; trial++) {
      const words = sentence(3 + Math.floor(random() * 20));
      const cut = 1 + Math.floor(random() * words.length);
      const options = { tolerance: 0.2, exactNumbers: false };
      expect(lexicalMatch(words.slice(0, cut), words, 'prefix', options).edits).toBe(0);
      const other = sentence(1 + Math.floor(random() * 20));
      const forward = lexicalMatch(words, other, 'strict', { tolerance: 1, exactNumbers: false }).edits;
      const backward = lexicalMatch(other, words, 'strict', { tolerance: 1, exactNumbers: false }).edits;
      expect(forward).toBe(backward);
      expect(forward).toBeLessThanOrEqual(Math.max(words.length, other.length));
      expect(forward).toBeGreaterThanOrEqual(Math.abs(words.length - other.length));
    }
  });

  it('prefix edits never exceed strict edits against the same reference', () => {
    for (let trial = 0; trial < 300; trial++) {
      const prediction = sentence(1 + Math.floor(random() * 12));
      const target = sentence(1 + Math.floor(random() * 12));
      const options = { tolerance: 1, exactNumbers: false };
      expect(lexicalMatch(prediction, target, 'prefix', options).edits).toBeLessThanOrEqual(
        lexicalMatch(prediction, target, 'strict', options).edits,
      );
    }
  });
});

describe('createLexicalJudge', () => {
  it('scores prefix matches 1 within the tolerance and 0 beyond it', async () => {
    const judge = createLexicalJudge();
    const verdicts = await judge.judge([
      { id: 'exact', prediction: 'In 1969 the Apollo 11 crew landed on the Moon.', reference },
      { id: 'one-edit', prediction: 'In 1969 the Apollo 11 astronauts landed on the Moon.', reference },
      { id: 'paraphrase', prediction: 'Humans first walked on the Moon in July 1969.', reference },
      { id: 'wrong-year', prediction: 'In 1970 the Apollo 11 crew landed on the Moon.', reference },
    ]);
    expect(verdicts.map((verdict) => verdict.score)).toEqual([1, 1, 0, 0]);
    expect(verdicts[0]).toMatchObject({ status: 'ok', raw: 'edits=0 allowed=2 words=10 referenceWords=10' });
  });

  it('tolerance 0 demands an exact normalised match', async () => {
    const judge = createLexicalJudge({ tolerance: 0 });
    const [exact, near] = await judge.judge([
      { prediction: 'in 1969, THE Apollo 11 crew', reference },
      { prediction: 'In 1969 the Apollo 11 team', reference },
    ]);
    expect(exact?.score).toBe(1);
    expect(near?.score).toBe(0);
  });

  it('strict mode needs the whole target', async () => {
    const judge = createLexicalJudge({ mode: 'strict', tolerance: 0.1 });
    const target = 'Neil Armstrong stepped out first.';
    const verdicts = await judge.judge([
      { prediction: 'Neil Armstrong stepped out first', reference: target },
      { prediction: 'Neil Armstrong stepped out', reference: target },
      { prediction: 'Neil Armstrong stepped out', reference: target, mode: 'prefix' },
    ]);
    expect(verdicts.map((verdict) => verdict.score)).toEqual([1, 0, 1]);
  });

  it('prefix mode with a target requires covering the whole target, not a fragment of it', async () => {
    const target = 'In 1969 the Apollo 11 crew landed on the Moon.';
    const judge = createLexicalJudge({ tolerance: 0 });
    const verdicts = await judge.judge([
      { id: 'fragment', prediction: 'In 1969 the Apollo 11 crew', reference, target },
      { id: 'whole', prediction: target, reference, target },
      { id: 'beyond', prediction: `${target} Neil Armstrong stepped out`, reference, target },
      { id: 'no-target', prediction: 'In 1969 the Apollo 11 crew', reference },
    ]);
    expect(verdicts.map((verdict) => verdict.score)).toEqual([0, 1, 1, 1]);
    expect(verdicts[0]?.reason).toBe('partial-target');
    // Tolerance applies to coverage too: one missing word of ten is allowed at 0.2.
    const tolerant = createLexicalJudge({ tolerance: 0.2 });
    const [almost] = await tolerant.judge([
      { prediction: 'In 1969 the Apollo 11 crew landed on the', reference, target },
    ]);
    expect(almost?.score).toBe(1);
    const off = createLexicalJudge({ tolerance: 0, coverTarget: false });
    const [fragment] = await off.judge([{ prediction: 'In 1969 the Apollo 11 crew', reference, target }]);
    expect(fragment?.score).toBe(1);
  });

  it('graded scoring gives 1 − edits/words, 0 on a number mismatch', async () => {
    const judge = createLexicalJudge({ scoring: 'graded' });
    const verdicts = await judge.judge([
      { prediction: 'In 1969 the Apollo 11 astronauts landed on the Moon', reference },
      { prediction: 'In 1970 the Apollo 11 crew landed on the Moon', reference },
    ]);
    expect(verdicts[0]?.score).toBeCloseTo(0.9, 10);
    expect(verdicts[1]?.score).toBe(0);
  });

  it('skips trivial predictions and reports bad items as failed, with events', async () => {
    const events: RlptEvent[] = [];
    const judge = createLexicalJudge({ onEvent: (event) => events.push(event) });
    const verdicts = await judge.judge([
      { prediction: 'In 1969', reference },
      { id: 'no-ref', prediction: 'In 1969 the Apollo', reference: '  ' },
    ]);
    expect(verdicts).toEqual([
      { score: 0, status: 'skipped', reason: 'too-short' },
      { score: 0, status: 'failed', reason: 'empty-reference' },
    ]);
    expect(events).toEqual([
      {
        type: 'judge-error',
        id: 'no-ref',
        reason: 'empty-reference',
        message: expect.stringContaining('item 1 (id no-ref)'),
      },
    ]);
    expect(judge.stats()).toMatchObject({
      items: 2,
      skipped: 1,
      failed: 1,
      reasons: { 'too-short': 1, 'empty-reference': 1 },
    });
    judge.resetStats();
    expect(judge.stats().items).toBe(0);
  });

  it('uses a cache when given one, keyed by its settings', async () => {
    const cache = createJudgeCache({ maxEntries: 10 });
    const loose = createLexicalJudge({ cache, tolerance: 0.5 });
    const tight = createLexicalJudge({ cache, tolerance: 0 });
    const item = { prediction: 'In 1969 the Apollo 11 team landed', reference };
    expect((await loose.judge([item]))[0]).toMatchObject({ score: 1 });
    expect((await loose.judge([item]))[0]).toMatchObject({ score: 1, cached: true });
    expect((await tight.judge([item]))[0]).toEqual(expect.objectContaining({ score: 0 }));
    expect((await tight.judge([item]))[0]?.cached).toBe(true);
    expect(loose.stats().cacheHits).toBe(1);
  });

  it('rejects bad options with the option named', () => {
    expect(() => createLexicalJudge({ tolerance: 2 })).toThrow(/tolerance must be a number in \[0, 1\]/);
    expect(() => createLexicalJudge({ mode: 'fuzzy' as 'prefix' })).toThrow(InvalidArgumentError);
    expect(() => createLexicalJudge({ scoring: 'soft' as 'binary' })).toThrow(/scoring/);
  });
});
