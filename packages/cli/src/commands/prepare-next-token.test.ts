// `rlpt prepare --tasks next-token --proxy openai:<rlpt serve model>`: RPT's samples with the difficulty
// filter on a real ONNX model from @rlpt/model's tiny-model factory, served by the real `rlpt serve model`
// binary (the onnx: backend returns no top logprobs; the served engine does, as vLLM does). Its char-level
// tokenizer is the policy's. Checked against the server's top logprobs fetched here with plain HTTP, then
// rewarded with `rlpt judge --judge rpt:<model folder>`.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTinyModel } from '@rlpt/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, killCliProcesses, startCli, useTempDirs, waitForStdout } from '../testing.js';
import { flagsToOptions } from './prepare.js';

const sharedData = resolve(fileURLToPath(new URL('../../../..', import.meta.url)), '../shared/data');
const hasSharedData = existsSync(join(sharedData, 'corpora'));
const { stdout, stderr } = captureOutput();
const makeTempDir = useTempDirs();

const readJsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);

interface Sample {
  id: string;
  task: string;
  context: string;
  target: string;
  reference: string;
}
interface Stats {
  samples: { total: number; nextToken: number };
  nextToken: {
    proxy: string;
    kept: number;
    skipped: { lowEntropy: number };
    shortDistributions: number;
    positions: { candidates: number };
    entropies: { min: number; max: number; count: number };
  };
}

describe('rlpt prepare --tasks next-token flags', () => {
  it('maps the next-token flags onto options.nextToken, over a config file', () => {
    const options = flagsToOptions(
      ['corpus/'],
      { out: 'o', tasks: 'next-token', minEntropy: '1.5', proxy: 'onnx:models/proxy', topLogprobs: '8' },
      { nextToken: { positionsPerDocument: 4, minEntropy: 0.5 } },
    );
    expect(options.nextToken).toEqual({
      positionsPerDocument: 4,
      minEntropy: 1.5,
      proxy: 'onnx:models/proxy',
      topLogprobs: 8,
    });
  });

  it('names the flag of a bad next-token option', async () => {
    const dir = await makeTempDir('rlpt-cli-next-token-flags-');
    const input = join(dir, 'a.txt');
    await writeFile(input, 'One document.\n');
    const code = await main([
      'prepare',
      input,
      '--out',
      join(dir, 'out'),
      '--tasks',
      'next-token',
      '--entropy',
      'exact',
      '--top-logprobs',
      '40',
    ]);
    expect(code).toBe(2);
  });
});

describe.skipIf(!hasSharedData)(
  'rlpt prepare --tasks next-token --proxy openai:… (tiny ONNX model served)',
  () => {
    let dir: string;
    let modelDir: string;
    let input: string;
    let url: string;
    afterAll(killCliProcesses);
    beforeAll(async () => {
      dir = await makeTempDir('rlpt-cli-next-token-');
      modelDir = (await createTinyModel({ dir: join(dir, 'tiny'), seed: 7 })).dir;
      const server = startCli(['serve', 'model', '--model', modelDir, '--port', '0']);
      url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)\/v1/);
      const paragraphs = readFileSync(join(sharedData, 'corpora/wikitext-2/test.txt'), 'utf8')
        .split('\n')
        .filter((line) => line.length > 600 && !line.trim().startsWith('='))
        .slice(0, 3)
        .map((line, index) => ({ id: `w${index}`, text: line.trim().slice(0, 700) }));
      input = join(dir, 'docs.jsonl');
      await writeFile(input, `${paragraphs.map((record) => JSON.stringify(record)).join('\n')}\n`);
    }, 60_000);

    it('keeps the positions the proxy finds hard, counts the rest, and the RPT judge rewards the true next tokens', async () => {
      const common = [
        'prepare',
        input,
        '--tasks',
        'next-token',
        '--tokenizer',
        modelDir,
        '--proxy',
        `openai:${url}/v1`,
        '--proxy-model',
        'tiny',
        '--proxy-server',
        'vllm',
        '--positions-per-document',
        '5',
        '--proxy-context-tokens',
        '4096',
        '--proxy-batch-size',
        '4',
        '--workers',
        '0',
        '--validation-fraction',
        '0',
        '--format',
        'samples,openrlhf',
        '--json',
      ];
      // First without a threshold, to see the entropies the proxy gives; then split them in the middle.
      expect(await main([...common, '--out', join(dir, 'all')]), stderr.join('')).toBe(0);
      const all = JSON.parse(readFileSync(join(dir, 'all', 'stats.json'), 'utf8')) as Stats;
      expect(all.nextToken).toMatchObject({
        proxy: `openai:${url}/v1`,
        kept: 15,
        skipped: { lowEntropy: 0 },
      });
      const { min, max } = all.nextToken.entropies;
      expect(max).toBeGreaterThan(min);
      const threshold = (min + max) / 2;
      stdout.length = 0;
      expect(
        await main([...common, '--out', join(dir, 'filtered'), '--min-entropy', String(threshold)]),
      ).toBe(0);
      const stats = JSON.parse(readFileSync(join(dir, 'filtered', 'stats.json'), 'utf8')) as Stats;
      expect(stats.nextToken.positions.candidates).toBe(15);
      expect(stats.nextToken.kept + stats.nextToken.skipped.lowEntropy).toBe(15);
      // Token ids as keys (--proxy-server vllm): every answer has the 16 alternatives asked for.
      expect(stats.nextToken.shortDistributions).toBe(0);
      expect(stats.nextToken.kept).toBeGreaterThan(0);
      expect(stats.nextToken.skipped.lowEntropy).toBeGreaterThan(0);
      expect(stats.samples).toMatchObject({ total: stats.nextToken.kept, nextToken: stats.nextToken.kept });
      const samples = readJsonl<Sample>(join(dir, 'filtered', 'samples/train-00000.jsonl'));
      expect(samples).toHaveLength(stats.nextToken.kept);

      // Independently: the server's top 16 after each kept context (plain HTTP, token ids as keys), and the
      // entropy bound by hand.
      for (const sample of samples) {
        const response = await fetch(`${url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'tiny',
            prompt: sample.context,
            max_tokens: 1,
            temperature: 1,
            seed: 0,
            logprobs: 16,
            return_tokens_as_token_ids: true,
          }),
        });
        const reply = (await response.json()) as {
          choices: { logprobs: { top_logprobs: Record<string, number>[] } }[];
        };
        // Like vLLM, the server adds the sampled token when it is not in the top 16: keep the 16 most likely.
        const top = Object.values(reply.choices[0]?.logprobs.top_logprobs[0] ?? {})
          .sort((a, b) => b - a)
          .slice(0, 16);
        expect(top).toHaveLength(16);
        const probabilities = top.map(Math.exp);
        const tail = Math.max(0, 1 - probabilities.reduce((sum, value) => sum + value, 0));
        const bound =
          -probabilities.reduce((sum, p, at) => sum + p * (top[at] as number), 0) - tail * Math.min(...top);
        expect(bound).toBeGreaterThanOrEqual(threshold - 1e-4);
      }

      // Without token ids, the server keys top logprobs by text: byte pieces that decode alike merge, the
      // answers come back short, and prepare says so.
      stderr.length = 0;
      const textKeyed = common.filter(
        (flag, at) => flag !== '--proxy-server' && common[at - 1] !== '--proxy-server',
      );
      expect(await main([...textKeyed, '--out', join(dir, 'text-keyed')])).toBe(0);
      const merged = JSON.parse(readFileSync(join(dir, 'text-keyed', 'stats.json'), 'utf8')) as Stats;
      expect(merged.nextToken.shortDistributions).toBeGreaterThan(0);
      expect(stderr.join('')).toMatch(/fewer than 16 top logprobs[\s\S]*--proxy-server vllm/);

      // The labels go to the RPT judge with the policy's (the model's) tokenizer: the true next token scores 1.
      const labels = readJsonl<{ input: string; label: string }>(
        join(dir, 'filtered', 'openrlhf/train-00000.jsonl'),
      );
      const predictions = join(dir, 'predictions.jsonl');
      await writeFile(
        predictions,
        `${labels
          .flatMap((line) => {
            const label = JSON.parse(line.label) as { target: string; reference: string; task: string };
            expect(label.task).toBe('next-token');
            return [
              { response: `<|startofprediction|>${label.target}<|endofprediction|>`, label: line.label },
              { prediction: `${label.reference}~`, label: line.label },
            ];
          })
          .map((line) => JSON.stringify(line))
          .join('\n')}\n`,
      );
      expect(await main(['judge', '--input', predictions, '--judge', `rpt:${modelDir}`])).toBe(0);
      const verdicts = readJsonl<{ score: number; reason?: string }>(join(dir, 'predictions.verdicts.jsonl'));
      expect(verdicts.map((verdict) => verdict.score)).toEqual(labels.flatMap(() => [1, 0]));
      expect(verdicts.filter((verdict) => verdict.reason === 'not-prefix')).toHaveLength(labels.length);
    }, 180_000);
  },
);
