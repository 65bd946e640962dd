import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { wikitextArticles, wikitextParagraphs } from '../test/corpus.js';
import { corpus, hasSharedData, tempDir } from '../test/helpers.js';
import { type PrepareOptions, type PrepareStats, prepare } from './index.js';
import type { PreparedSample } from './process.js';
import { defaultTokenizerPath, loadTokenCounter } from './tokenizer.js';
import { dirname } from 'node:path';

const { dir, cleanup } = tempDir('rlpt-prepare-limits-');
afterAll(cleanup);

function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

function samplesOf(out: string, stats: PrepareStats): PreparedSample[] {
  return stats.outputs
    .filter((shard) => shard.format === 'samples')
    .flatMap((shard) => readJsonl<PreparedSample>(join(out, shard.file)));
}

const isRoot = process.getuid?.() === 0;

/**
 * Runs `prepare` in a child process. As root (CI) the child runs as `nobody`, so a `chmod 000` folder really
 * is unreadable to it (root reads everything); otherwise the permissions already apply to us.
 */
function prepareInChild(options: PrepareOptions): Promise<{ code: number | null; stderr: string }> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  const source = pathToFileURL(join(import.meta.dirname, 'index.ts')).href;
  writeFileSync(
    script,
    `import { prepare } from ${JSON.stringify(source)};\ntry { await prepare(${JSON.stringify(options)}); } catch (error) { console.error(error.message); process.exit(1); }\n`,
  );
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, '--conditions=@rlpt/source', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe.skipIf(!hasSharedData || process.platform === 'win32')(
  'unreadable inputs (needs ../shared/data)',
  () => {
    it('reads the rest of a folder with an unreadable subfolder, reports the subfolder, and fails only when nothing is read', async () => {
      chmodSync(dir, 0o755);
      const input = join(dir, 'locked-corpus');
      mkdirSync(join(input, 'good'), { recursive: true });
      mkdirSync(join(input, 'locked'), { recursive: true });
      const paragraphs = wikitextParagraphs(12, 60);
      const line = (id: string, text: string) => `${JSON.stringify({ id, text })}\n`;
      writeFileSync(
        join(input, 'good/a.jsonl'),
        paragraphs
          .slice(0, 6)
          .map((text, i) => line(`a${i}`, text))
          .join(''),
      );
      writeFileSync(
        join(input, 'locked/b.jsonl'),
        paragraphs
          .slice(6)
          .map((text, i) => line(`b${i}`, text))
          .join(''),
      );
      chmodSync(join(input, 'locked'), 0o000);
      try {
        const base = { tokenizer: 'whitespace', workers: 0, idField: 'id' };
        for (const [name, inputs] of [
          ['folder', [input]],
          ['glob', [join(input, '**/*.jsonl')]],
        ] as const) {
          const out = join(dir, `locked-out-${name}`);
          mkdirSync(out);
          chmodSync(out, 0o777);
          const { code, stderr } = await prepareInChild({ ...base, inputs: [...inputs], out });
          expect(code, stderr).toBe(0);
          const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8')) as PrepareStats;
          expect(stats.documents.read, name).toBe(6);
          expect(stats.inputs.unreadable.count, name).toBe(1);
          expect(stats.inputs.unreadable.list[0]?.file).toBe(join(input, 'locked'));
          expect(stats.inputs.unreadable.list[0]?.message).toContain('permission denied');
          expect(stats.issues['unreadable-directory']).toEqual({ skipped: 1, repaired: 0 });
          expect(stats.warnings.join('\n')).toContain(join(input, 'locked'));
          const issues = readJsonl<{ reason: string; file: string }>(join(out, 'issues.jsonl'));
          expect(issues.map((issue) => [issue.reason, issue.file])).toEqual([
            ['unreadable-directory', join(input, 'locked')],
          ]);
        }
        // Nothing readable at all: an error naming the folder, not an empty success.
        const out = join(dir, 'locked-out-none');
        mkdirSync(out);
        chmodSync(out, 0o777);
        const only = await prepareInChild({ ...base, inputs: [join(input, 'locked')], out });
        expect(only.code).not.toBe(0);
        expect(only.stderr).toContain(join(input, 'locked'));
        expect(only.stderr).toContain('permission denied');
      } finally {
        chmodSync(join(input, 'locked'), 0o755);
      }
    }, 120_000);

    it('fails when no document can be read at all, even though the files exist', async () => {
      const input = join(dir, 'all-bad');
      mkdirSync(input);
      writeFileSync(join(input, 'bad.jsonl'), 'not json\n{"body": "no text"}\n');
      await expect(
        prepare({ inputs: [input], out: join(dir, 'all-bad-out'), tokenizer: 'whitespace', workers: 0 }),
      ).rejects.toThrow(/no document could be read/);
    });
  },
);

describe.skipIf(!hasSharedData)('stale temp files', () => {
  it('removes the temp files a killed run left behind, reports their bytes, and keeps a live process’s', async () => {
    const input = join(dir, 'stale-in');
    mkdirSync(input);
    writeFileSync(join(input, 'wiki.txt'), wikitextArticles(corpus.wikitextValid, 1));
    const out = join(dir, 'stale-out');
    const options = { inputs: [input], out, tokenizer: 'whitespace', workers: 0 };
    const controller = new AbortController();
    controller.abort();
    await prepare(options, { signal: controller.signal }).catch(() => undefined);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      mkdirSync(join(out, 'verl'), { recursive: true });
      const stale = [
        [`verl/train-00000.parquet.tmp-${dead}`, 3_000_000],
        [`stats.json.tmp-${dead}`, 1000],
        [`.rlpt-prepare/state.json.tmp-${process.pid}`, 500],
        [`.rlpt-prepare/dedup-3.bin.tmp-${dead}`, 2000],
      ] as const;
      for (const [file, bytes] of stale) writeFileSync(join(out, file), Buffer.alloc(bytes, 1));
      const kept = join(out, `verl/train-00001.parquet.tmp-${live.pid}`);
      writeFileSync(kept, 'x');
      const notOurs = join(out, `notes.txt.tmp-${dead}`);
      writeFileSync(notOurs, 'user file');
      const { stats } = await prepare({ ...options, resume: true });
      for (const [file] of stale) expect(existsSync(join(out, file)), file).toBe(false);
      expect(existsSync(kept)).toBe(true);
      expect(existsSync(notOurs)).toBe(true);
      expect(stats.run.staleTempFiles).toEqual({ files: 4, bytes: 3_003_500 });
      expect(stats.samples.total).toBeGreaterThan(0);
      expect(statSync(join(out, 'stats.json')).size).toBeGreaterThan(0);
    } finally {
      live.kill();
    }
  });
});

describe.skipIf(!hasSharedData)('prompts that fit the engine (needs ../shared/data)', () => {
  it('bounds every rendered prompt — template, chat template and system message — by maxPromptTokens (real Qwen3 tokenizer)', async () => {
    const input = join(dir, 'fit-in');
    mkdirSync(input);
    writeFileSync(join(input, 'wiki.txt'), wikitextArticles(corpus.wikitextValid, 2));
    const limit = 384;
    const options: PrepareOptions = {
      inputs: [input],
      out: join(dir, 'fit-out'),
      workers: 0,
      tasks: 'both',
      contextTokens: 2048,
      maxPromptTokens: limit,
      chatTemplate: dirname(defaultTokenizerPath()),
      system: 'You predict the next sentence of encyclopedia articles.',
    };
    const { stats } = await prepare(options);
    const samples = samplesOf(join(dir, 'fit-out'), stats);
    expect(samples.length).toBeGreaterThan(100);
    expect(stats.prompts.maxTokens).toBe(limit);
    expect(stats.prompts.fitted).toBeGreaterThan(samples.length / 2);
    expect(stats.prompts.over[String(limit)] ?? 0).toBe(0);
    const counter = await loadTokenCounter('qwen3');
    let longest = 0;
    for (const sample of samples) {
      expect(sample.prompt).toContain('<|im_start|>system');
      const exact = counter.count(sample.prompt);
      longest = Math.max(longest, exact);
      expect(exact, sample.id).toBeLessThanOrEqual(limit);
      // Left-truncated: the context still ends with the sentence right before the target.
      expect(sample.prompt).toContain(sample.context.slice(-30));
    }
    // Close to the bound, not far below it (the margin is a few tokens per sentence).
    expect(longest).toBeGreaterThan(limit - 64);
    expect(stats.warnings.join('\n')).not.toMatch(/--max-prompt-tokens/);
  });
});

describe.skipIf(!hasSharedData)('markup in targets and output size (needs ../shared/data)', () => {
  it('counts targets with <unk>, @-@ and tags, warns, drops them on request, and reports output bytes per input byte', async () => {
    const input = join(dir, 'markup-in');
    mkdirSync(input);
    // WikiText paragraphs as JSONL records are not detokenised: their @-@ and <unk> stay.
    const records = wikitextParagraphs(30, 100).map((text, index) =>
      JSON.stringify({ id: `w${index}`, text }),
    );
    records.push(
      JSON.stringify({
        id: 'html',
        text: 'The first sentence is plain and long enough. The second one has a <b>bold</b> tag in the middle. The third sentence closes the short paragraph here. A fourth sentence ends it.',
      }),
    );
    writeFileSync(join(input, 'wiki.jsonl'), `${records.join('\n')}\n`);
    const base = {
      inputs: [input],
      tokenizer: 'whitespace',
      workers: 0,
      idField: 'id',
      formats: ['samples', 'openrlhf'] as ('samples' | 'openrlhf')[],
    };
    const kept = await prepare({ ...base, out: join(dir, 'markup-kept') });
    const all = samplesOf(join(dir, 'markup-kept'), kept.stats);
    const marked = all.filter((sample) => /<unk>|@[-,.]@|<\/?b>/.test(sample.target));
    expect(marked.length).toBeGreaterThan(0);
    expect(kept.stats.markup.targets).toBe(marked.length);
    expect(kept.stats.markup.kinds.unk).toBeGreaterThan(0);
    expect(kept.stats.markup.kinds.wikitext).toBeGreaterThan(0);
    expect(kept.stats.markup.kinds.html).toBe(1);
    expect(kept.stats.markup.targets / kept.stats.samples.total).toBeGreaterThan(0.05);
    expect(kept.stats.warnings.join('\n')).toMatch(/markup or placeholders.*--drop-markup/);
    const dropped = await prepare({ ...base, out: join(dir, 'markup-dropped'), dropMarkup: true });
    const left = samplesOf(join(dir, 'markup-dropped'), dropped.stats);
    expect(left.filter((sample) => /<unk>|@[-,.]@|<\/?b>/.test(sample.target))).toEqual([]);
    expect(dropped.stats.markup.dropped).toBe(marked.length);
    expect(left.length).toBe(all.length - marked.length);
    // Output size per input byte, in all and per format.
    const { size, outputs, inputs } = kept.stats;
    const bytes = outputs.reduce((sum, shard) => sum + shard.bytes, 0);
    expect(size.inputBytes).toBe(inputs.bytes);
    expect(size.outputBytes).toBe(bytes);
    expect(size.outputPerInputByte).toBeCloseTo(bytes / inputs.bytes, 2);
    expect(Object.keys(size.formats).sort()).toEqual(['openrlhf', 'samples']);
  });
});
