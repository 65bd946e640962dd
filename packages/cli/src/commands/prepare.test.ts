import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@rlpt/spec';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, useTempDirs } from '../testing.js';
import { flagsToOptions, readConfigFile } from './prepare.js';

const sharedData = resolve(fileURLToPath(new URL('../../../..', import.meta.url)), '../shared/data');
const hasSharedData = existsSync(join(sharedData, 'corpora'));

const { stdout, stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rlpt-cli-prepare-');
});

describe('rlpt prepare flags', () => {
  it('maps flags onto prepare options, over a config file', async () => {
    const config = join(dir, 'prepare.yaml');
    await writeFile(
      config,
      'out: from-file\nlambda: 0.25\nformats: [verl]\ndedup:\n  threshold: 0.7\n  shingleSize: 7\n',
    );
    const file = await readConfigFile(config);
    const options = flagsToOptions(
      ['corpus/', 'more/*.jsonl'],
      {
        out: 'from-flags',
        format: ['samples,openrlhf', 'verl'],
        workers: '2',
        minhashThreshold: '0.9',
        nearDedup: true,
        dedup: true,
        wikitext: 'on',
        benchmarks: ['a.jsonl', 'b.jsonl'],
        maxIssues: '5',
      },
      file,
    );
    expect(options).toMatchObject({
      inputs: ['corpus/', 'more/*.jsonl'],
      out: 'from-flags',
      lambda: 0.25,
      formats: ['samples', 'openrlhf', 'verl'],
      workers: 2,
      wikitext: true,
      benchmarks: ['a.jsonl', 'b.jsonl'],
      maxIssuesListed: 5,
      dedup: { threshold: 0.9, shingleSize: 7 },
    });
    expect(flagsToOptions([], { out: 'x', dedup: false }).dedup).toEqual({ exact: false, near: false });
  });

  it('reports every bad flag by its name', async () => {
    const code = await main([
      'prepare',
      join(dir, 'in.txt'),
      '--out',
      join(dir, 'out'),
      '--workers',
      'two',
      '--lambda',
      '-1',
      '--format',
      'csv',
      '--ngram',
      '0',
    ]);
    expect(code).toBe(2);
    const text = stderr.join('');
    for (const flag of ['--workers', '--lambda', '--format', '--ngram']) expect(text).toContain(flag);
  });

  it('requires --out', async () => {
    expect(await main(['prepare', 'corpus.txt'])).toBe(2);
    expect(stderr.join('')).toContain('--out: is required');
  });

  it('reports an unreadable config file', async () => {
    let error: unknown;
    try {
      await readConfigFile(join(dir, 'missing.yaml'));
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('missing.yaml');
  });
});

describe('rlpt prepare runs', () => {
  it('builds the demo corpus with --demo', async () => {
    const out = join(dir, 'demo');
    const code = await main([
      'prepare',
      '--demo',
      '--out',
      out,
      '--format',
      'samples,verl',
      '--train-documents',
      '200',
      '--held-out-documents',
      '50',
    ]);
    expect(code).toBe(0);
    expect(stdout.join('')).toContain('inferable targets');
    expect(existsSync(join(out, 'verl/train-00000.parquet'))).toBe(true);
    const vocabulary = JSON.parse(await readFile(join(out, 'vocab.json'), 'utf8')) as string[];
    expect(vocabulary).toContain('apples');
    const first = JSON.parse(
      (await readFile(join(out, 'samples/train-00000.jsonl'), 'utf8')).split('\n')[0]!,
    );
    expect(first.prompt).toContain('<|startofprediction|>');
    expect(first.flags).toEqual(['inferable']);
  });

  it.skipIf(!hasSharedData)(
    'prepares real text into verl and OpenRLHF files and prints a summary',
    async () => {
      const input = join(dir, 'input');
      await mkdir(input);
      const wiki = (await readFile(join(sharedData, 'corpora/wikitext-2/valid.txt'), 'utf8')).slice(
        0,
        40_000,
      );
      await writeFile(join(input, 'wiki.txt'), wiki);
      await writeFile(join(input, 'broken.jsonl'), '{"text": "fine but short."}\nnot json\n');
      const out = join(dir, 'out');
      const code = await main([
        'prepare',
        input,
        '--out',
        out,
        '--format',
        'verl,openrlhf',
        '--workers',
        '1',
        '--tokenizer',
        'whitespace',
        '--benchmarks',
        join(sharedData, 'benchmarks/gsm8k.jsonl'),
      ]);
      expect(code).toBe(0);
      const summary = stdout.join('');
      expect(summary).toContain('| read');
      expect(summary).toContain('malformed-json');
      expect(summary).toContain('gsm8k');
      expect(summary).toContain(join(out, 'verl/train-00000.parquet'));
      expect(stderr.join('')).toContain('broken.jsonl:2: malformed JSON');
      const stats = JSON.parse(await readFile(join(out, 'stats.json'), 'utf8'));
      expect(stats.samples.total).toBeGreaterThan(20);
      expect(existsSync(join(out, 'openrlhf/train-00000.jsonl'))).toBe(true);
      expect(existsSync(join(out, 'samples'))).toBe(false);
      // Running again into the same folder asks for --overwrite or --resume.
      expect(await main(['prepare', input, '--out', out, '--tokenizer', 'whitespace'])).toBe(1);
      expect(stderr.join('')).toContain('--overwrite');
    },
  );

  it.skipIf(!hasSharedData)(
    'bounds prompts with --max-prompt-tokens, drops markup targets with --drop-markup, and warns loudly',
    async () => {
      expect(flagsToOptions([], { out: 'x', maxPromptTokens: '2048', dropMarkup: true })).toMatchObject({
        maxPromptTokens: 2048,
        dropMarkup: true,
      });
      const input = join(dir, 'input');
      await mkdir(input);
      // The first WikiText-2 articles, as released: <unk> placeholders in many sentences.
      const wiki = (await readFile(join(sharedData, 'corpora/wikitext-2/valid.txt'), 'utf8')).slice(
        0,
        60_000,
      );
      await writeFile(join(input, 'wiki.txt'), wiki);
      const common = ['--workers', '0', '--tokenizer', 'whitespace'];
      const loose = join(dir, 'loose');
      expect(await main(['prepare', input, '--out', loose, ...common])).toBe(0);
      expect(stderr.join('')).toMatch(/WARNING: .*markup or placeholders.*--drop-markup/);
      expect(stderr.join('')).toMatch(/WARNING: prompts are up to \d+ tokens.*--max-prompt-tokens/);
      expect(stdout.join('')).toMatch(/bytes per input byte/);
      stdout.length = 0;
      stderr.length = 0;
      const out = join(dir, 'bounded');
      const code = await main([
        'prepare',
        input,
        '--out',
        out,
        ...common,
        '--max-prompt-tokens',
        '200',
        '--drop-markup',
      ]);
      expect(code).toBe(0);
      const summary = stdout.join('');
      expect(summary).toContain('fitted to --max-prompt-tokens 200');
      expect(summary).toMatch(/targets with markup +\| \d+ \(unk \d+/);
      const stats = JSON.parse(await readFile(join(out, 'stats.json'), 'utf8'));
      expect(stats.prompts.over['200'] ?? 0).toBe(0);
      expect(stats.markup.dropped).toBeGreaterThan(0);
      const samples = (await readFile(join(out, 'samples/train-00000.jsonl'), 'utf8'))
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { target: string; tokens: { prompt: number } });
      expect(samples.some((sample) => sample.target.includes('<unk>'))).toBe(false);
      expect(Math.max(...samples.map((sample) => sample.tokens.prompt))).toBeLessThanOrEqual(200);
    },
  );
});
