import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createTinyModel } from '@rlpt/model';
import { ConfigError } from '@rlpt/spec';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cliRoot,
  defaultFlags,
  killCliProcesses,
  runCli,
  startCli,
  useTempDirs,
  waitForStdout,
} from '../testing.js';
import { type RawEvalFlags, parseEvalFlags } from './eval.js';

const shipped = resolve(cliRoot, '../../../shared/data/benchmarks');
const hasShipped = existsSync(shipped);
const makeTempDir = useTempDirs();
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-eval-');
  modelDir = (await createTinyModel({ dir: join(dir, 'tiny-model'), seed: 1 })).dir;
});
afterEach(killCliProcesses);

const defaults = () => defaultFlags('eval') as unknown as RawEvalFlags;

describe('rlpt eval flags', () => {
  it('defaults to the paper protocol', () => {
    const settings = parseEvalFlags({
      ...defaults(),
      backend: 'onnx:models/tiny',
      benchmarks: 'aime24, gsm8k,mmlu-pro=/data/mmlu_pro.parquet',
      dataDir: 'data',
      out: 'runs/x',
    });
    expect(settings).toMatchObject({
      n: 64,
      temperature: 0.6,
      topP: 0.95,
      maxTokens: 32768,
      maxTokensGiven: false,
      k: [1, 8],
      concurrency: 4,
      batchSize: 1,
      fallback: 'last-number',
      percentage: 'sign',
      saveCompletions: true,
      promptFormat: 'chat',
      shuffleSeed: 0,
    });
    expect(settings.benchmarks).toEqual([
      { name: 'aime24', path: undefined },
      { name: 'gsm8k', path: undefined },
      { name: 'mmlu-pro', path: '/data/mmlu_pro.parquet' },
    ]);
  });

  it('lists every bad flag in one ConfigError', () => {
    let error: unknown;
    try {
      parseEvalFlags({
        ...defaults(),
        backend: 'http://x',
        benchmarks: 'aime24',
        topP: '2',
        k: '1,zero',
        n: '0',
      });
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      '--backend',
      '--data-dir',
      '--k',
      '--n',
      '--out',
      '--top-p',
    ]);
  });

  it('an openai backend needs --model, and names without paths need --data-dir', () => {
    expect(() =>
      parseEvalFlags({
        ...defaults(),
        backend: 'openai:http://127.0.0.1:8000/v1',
        benchmarks: 'aime24',
        out: 'o',
      }),
    ).toThrow(/--model: is required with an openai: backend[\s\S]*--data-dir: is required unless/);
  });
});

const common = [
  '--benchmarks',
  'aime24,gsm8k,mmlu-stem',
  '--data-dir',
  shipped,
  '--n',
  '2',
  '--max-tokens',
  '8',
  '--limit',
  '2',
];

describe.skipIf(!hasShipped)('rlpt eval (the real binary) on a tiny ONNX model', () => {
  it('runs the shipped benchmarks with onnx:DIR and prints the table', { timeout: 90_000 }, async () => {
    const out = join(dir, 'run-onnx');
    const { output, exited } = startCli([
      'eval',
      '--backend',
      `onnx:${modelDir}`,
      '--out',
      out,
      '--prompt-format',
      'raw',
      ...common,
    ]);
    expect(await exited).toBe(0);
    expect(output.stdout).toContain('| Model');
    expect(output.stdout).toContain('AIME24 P@1');
    expect(output.stdout).toMatch(/6 items generated, 0 resumed/);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).settings).toMatchObject({
      n: 2,
      temperature: 0.6,
      topP: 0.95,
      maxTokens: 8,
    });
    expect(
      readFileSync(join(out, 'gsm8k', 'results.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
  });

  it('runs against `rlpt serve model` with openai:URL', { timeout: 90_000 }, async () => {
    const server = startCli(['serve', 'model', '--model', modelDir, '--port', '0']);
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+\/v1)/);
    const out = join(dir, 'run-openai');
    const { output, exited } = startCli([
      'eval',
      '--backend',
      `openai:${url}`,
      '--model',
      'tiny-model',
      '--out',
      out,
      ...common,
    ]);
    expect(await exited).toBe(0);
    expect(output.stdout).toContain('GSM8K P@1');
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).provider).toBe('openai');
  });

  it('the README command against `rlpt serve model`: the default max tokens is fitted to the served context', {
    timeout: 90_000,
  }, async () => {
    // A model with a 700-token context: the paper's 32768 default cannot be honoured.
    const small = (await createTinyModel({ dir: join(dir, 'tiny'), seed: 2, maxPositionEmbeddings: 700 }))
      .dir;
    const server = startCli(['serve', 'model', '--model', small, '--port', '0']);
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+\/v1)/);
    const models = (await (await fetch(`${url}/models`)).json()) as { data: { max_model_len?: number }[] };
    expect(models.data[0]!.max_model_len).toBe(700);
    const readme = ['eval', '--backend', `openai:${url}`, '--model', 'tiny', '--benchmarks', 'aime24,gsm8k'];
    const protocol = [
      '--data-dir',
      shipped,
      '--n',
      '2',
      '--temperature',
      '0.6',
      '--top-p',
      '0.95',
      '--limit',
      '1',
    ];
    // A --max-tokens given above the context is refused before anything is written.
    const refusedOut = join(dir, 'run-refused');
    const refused = startCli([...readme, ...protocol, '--max-tokens', '4096', '--out', refusedOut]);
    expect(await refused.exited).toBe(2);
    expect(refused.output.stderr).toMatch(
      /--max-tokens: is 4096, more than the model's context of 700 tokens/,
    );
    expect(existsSync(refusedOut)).toBe(false);
    // The default is lowered with a warning, and the run works.
    const out = join(dir, 'run-readme');
    const run = startCli([...readme, ...protocol, '--out', out]);
    expect(await run.exited).toBe(0);
    expect(run.output.stderr).toMatch(
      /warning: --max-tokens defaults to the paper's 32768, more than the model's context of 700 tokens .*using 700/,
    );
    expect(run.output.stdout).toMatch(/2 items generated/);
    expect(run.output.stdout).not.toMatch(/backend error/);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).settings.maxTokens).toBe(700);
    // pass@8 with n = 2 is shown as n/a with the reason.
    expect(run.output.stdout).toMatch(/AIME24 P@8 \|/);
    expect(run.output.stdout).toContain('pass@8: n/a (needs ≥ 8 samples per item; ran n = 2)');
  });

  it('--overwrite starts a run folder over; resuming with another --n names the way out', {
    timeout: 90_000,
  }, async () => {
    const out = join(dir, 'run-overwrite');
    const args = ['eval', '--backend', `onnx:${modelDir}`, '--out', out, '--prompt-format', 'raw'];
    const gsm = ['--benchmarks', 'gsm8k', '--data-dir', shipped, '--max-tokens', '4', '--limit', '1'];
    expect((await runCli([...args, ...gsm, '--n', '2'])).code).toBe(0);
    const changed = await runCli([...args, ...gsm, '--n', '3']);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/n: this folder was run with 2, now 3[\s\S]*--overwrite/);
    const over = await runCli([...args, ...gsm, '--n', '3', '--overwrite']);
    expect(over.code).toBe(0);
    expect(over.stdout).toMatch(/1 items generated, 0 resumed/);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).n).toBe(3);
  });

  it('exits 2 listing the bad flags, and 1 with a clear message for a missing benchmark file', {
    timeout: 60_000,
  }, async () => {
    const bad = startCli([
      'eval',
      '--backend',
      'nope',
      '--benchmarks',
      'aime24',
      '--out',
      join(dir, 'x'),
      '--prompt-format',
      'xml',
    ]);
    expect(await bad.exited).toBe(2);
    expect(bad.output.stderr).toContain('--backend: No backend provider for "nope". Known: onnx:models/tiny');
    expect(bad.output.stderr).toContain('--data-dir: is required unless');
    expect(bad.output.stderr).toContain("--prompt-format: must be 'chat' or 'raw'");
    const missing = startCli([
      'eval',
      '--backend',
      `onnx:${modelDir}`,
      '--benchmarks',
      'aime25',
      '--data-dir',
      shipped,
      '--out',
      join(dir, 'y'),
    ]);
    expect(await missing.exited).toBe(1);
    expect(missing.output.stderr).toMatch(/AIME25: no file found in .*benchmarks/);
  });
});
