import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AbortError, ConfigError, InvalidArgumentError } from '@rlpt/spec';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchmarkQuestion, buildBadCorpus, buildCleanCorpus, readTree } from '../test/corpus.js';
import { corpus, hasSharedData, tempDir } from '../test/helpers.js';
import { type PrepareOptions, type PrepareStats, prepare } from './index.js';
import type { PreparedSample } from './process.js';
import { words } from './minhash.js';
import { loadTokenCounter } from './tokenizer.js';

const { dir, cleanup } = tempDir('rlpt-prepare-');
afterAll(cleanup);

function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Output files minus the run section of stats.json (timing and worker count differ by design). */
function outputs(out: string): Map<string, Buffer> {
  const tree = readTree(out, (path) => path === '.rlpt-prepare');
  const stats = JSON.parse(tree.get('stats.json')!.toString()) as Partial<PrepareStats>;
  delete stats.run;
  tree.set('stats.json', Buffer.from(JSON.stringify(stats)));
  return tree;
}

function expectSameOutputs(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [path, bytes] of expected) expect(actual.get(path)?.equals(bytes), `${path} differs`).toBe(true);
}

describe.skipIf(!hasSharedData)('prepare on real corpora (needs ../shared/data)', () => {
  let input: string;
  let base: PrepareOptions;
  let reference: Map<string, Buffer>;
  let referenceStats: PrepareStats;
  let fast: PrepareOptions;
  let fastReference: Map<string, Buffer>;

  beforeAll(async () => {
    input = buildCleanCorpus(dir);
    base = {
      inputs: [input],
      out: '',
      formats: ['samples', 'verl', 'openrlhf'],
      benchmarks: [join(corpus.benchmarks, 'gsm8k.jsonl'), join(corpus.benchmarks, 'aime24.jsonl')],
      idField: 'id',
      chunkDocuments: 3,
      shardSize: 150,
      validationFraction: 0.2,
      contextTokens: 512,
    };
    const result = await prepare({ ...base, out: join(dir, 'w1'), workers: 1 });
    referenceStats = result.stats;
    reference = outputs(join(dir, 'w1'));
    // Resume tests do not depend on the tokenizer: a whitespace counter keeps them fast.
    fast = { ...base, tokenizer: 'whitespace' };
    await prepare({ ...fast, out: join(dir, 'fast'), workers: 0 });
    fastReference = outputs(join(dir, 'fast'));
  });

  it('writes byte-identical outputs with 0, 1 and 2 workers, and with buckets sorted in parts', async () => {
    for (const workers of [0, 2]) {
      await prepare({ ...base, out: join(dir, `w${workers}`), workers });
      expectSameOutputs(outputs(join(dir, `w${workers}`)), reference);
    }
    await prepare({ ...base, out: join(dir, 'small-buckets'), workers: 2, maxBucketBytes: 16_384 });
    expectSameOutputs(outputs(join(dir, 'small-buckets')), reference);
    expect(referenceStats.samples.total).toBeGreaterThan(300);
    expect(reference.has('verl/train-00001.parquet')).toBe(true);
  });

  it('removes exact and near duplicates and contaminated documents, with a per-benchmark report', () => {
    const stats = referenceStats;
    expect(stats.documents.skipped).toMatchObject({
      exactDuplicate: 1,
      nearDuplicate: 1,
      contaminated: 1,
      empty: 0,
    });
    const [gsm8k, aime] = stats.contamination.benchmarks;
    expect(gsm8k).toMatchObject({ name: 'gsm8k', records: 1319, documents: 1 });
    expect(gsm8k?.examples[0]?.id).toBe('leak');
    expect(words(benchmarkQuestion('gsm8k')).join(' ')).toContain(gsm8k!.examples[0]!.ngram);
    expect(aime).toMatchObject({ name: 'aime24', documents: 0 });
    const ids = new Set(
      readJsonl<PreparedSample>(join(dir, 'w1/samples/train-00000.jsonl')).map((sample) => sample.documentId),
    );
    for (const dropped of ['exact-copy', 'near-copy', 'leak']) expect(ids.has(dropped)).toBe(false);
    expect(stats.documents.read).toBe(stats.documents.kept + 3);
    expect(stats.issues).toEqual({});
  });

  it('splits by document, assigns ASR/MSR by λ, and shuffles deterministically', () => {
    const samples = referenceStats.outputs
      .filter((shard) => shard.format === 'samples')
      .flatMap((shard) => readJsonl<PreparedSample>(join(dir, 'w1', shard.file)));
    expect(referenceStats.outputs.filter((shard) => shard.format === 'samples').length).toBeGreaterThan(2);
    expect(samples).toHaveLength(referenceStats.samples.total);
    const splitOf = new Map<string, string>();
    for (const sample of samples) {
      expect(splitOf.get(sample.documentId) ?? sample.split).toBe(sample.split);
      splitOf.set(sample.documentId, sample.split);
      expect(sample.id).toBe(`${sample.documentId}:${sample.index}`);
      expect(sample.prompt).toContain(sample.context.slice(-40));
      if (sample.task === 'msr') expect(sample.prompt).toContain(sample.next);
      expect(sample.reference.startsWith(sample.target)).toBe(true);
    }
    expect(new Set(splitOf.values())).toEqual(new Set(['train', 'validation']));
    // λ = 0.5 → MSR share 1/3; binomial sd over n samples is sqrt(2/9/n).
    const msr = samples.filter((sample) => sample.task === 'msr').length / samples.length;
    expect(Math.abs(msr - 1 / 3)).toBeLessThan(4 * Math.sqrt(2 / 9 / samples.length));
    // Shuffled: consecutive samples rarely come from the same document in order.
    const train = samples.filter((sample) => sample.split === 'train');
    const inOrder = train.filter(
      (sample, index) =>
        index > 0 &&
        train[index - 1]!.documentId === sample.documentId &&
        train[index - 1]!.index + 1 === sample.index,
    ).length;
    expect(inOrder).toBeLessThan(train.length / 20);
  });

  it('writes verl Parquet with the exact nested schema, and it round-trips', async () => {
    const bytes = readFileSync(join(dir, 'w1/verl/train-00000.parquet'));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const metadata = parquetMetadata(buffer);
    const describe = (node: ReturnType<typeof parquetSchema>): unknown => ({
      name: node.element.name,
      ...(node.element.type ? { type: node.element.type } : {}),
      ...(node.element.converted_type ? { converted: node.element.converted_type } : {}),
      ...(node.element.repetition_type ? { repetition: node.element.repetition_type } : {}),
      ...(node.children.length > 0 ? { children: node.children.map(describe) } : {}),
    });
    const utf8 = (name: string) => ({ name, type: 'BYTE_ARRAY', converted: 'UTF8', repetition: 'OPTIONAL' });
    expect(describe(parquetSchema(metadata))).toEqual({
      name: 'root',
      children: [
        utf8('data_source'),
        {
          name: 'prompt',
          converted: 'LIST',
          repetition: 'OPTIONAL',
          children: [
            {
              name: 'list',
              repetition: 'REPEATED',
              children: [
                { name: 'element', repetition: 'OPTIONAL', children: [utf8('role'), utf8('content')] },
              ],
            },
          ],
        },
        utf8('ability'),
        { name: 'reward_model', repetition: 'OPTIONAL', children: [utf8('style'), utf8('ground_truth')] },
        {
          name: 'extra_info',
          repetition: 'OPTIONAL',
          children: [
            { name: 'index', type: 'INT64', repetition: 'OPTIONAL' },
            utf8('split'),
            utf8('id'),
            utf8('task'),
            utf8('reference'),
            utf8('target'),
            utf8('next'),
            utf8('source'),
            utf8('document_id'),
            { name: 'context_truncated', type: 'BOOLEAN', repetition: 'OPTIONAL' },
          ],
        },
      ],
    });
    const rows = (await parquetReadObjects({ file: buffer })) as {
      data_source: string;
      prompt: { role: string; content: string }[];
      ability: string;
      reward_model: { style: string; ground_truth: string };
      extra_info: Record<string, unknown>;
    }[];
    const samples = readJsonl<PreparedSample>(join(dir, 'w1/samples/train-00000.jsonl'));
    expect(rows).toHaveLength(samples.length);
    for (const [index, row] of rows.entries()) {
      const sample = samples[index]!;
      expect(row.data_source).toBe('rlpt');
      expect(row.ability).toBe('next-segment-reasoning');
      expect(row.prompt).toEqual([{ role: 'user', content: sample.prompt }]);
      expect(row.reward_model.style).toBe('model');
      expect(JSON.parse(row.reward_model.ground_truth)).toEqual({
        reference: sample.reference,
        target: sample.target,
        task: sample.task,
        id: sample.id,
      });
      expect(row.extra_info).toMatchObject({
        index: BigInt(index),
        id: sample.id,
        task: sample.task,
        split: 'train',
      });
    }
  });

  it('writes OpenRLHF JSONL with the prompt under input and a JSON reference label', () => {
    const lines = readJsonl<Record<string, string>>(join(dir, 'w1/openrlhf/train-00000.jsonl'));
    const samples = readJsonl<PreparedSample>(join(dir, 'w1/samples/train-00000.jsonl'));
    expect(lines).toHaveLength(samples.length);
    for (const [index, line] of lines.entries()) {
      const sample = samples[index]!;
      expect(Object.keys(line)).toEqual(['input', 'label', 'id', 'task']);
      expect(line.input).toBe(sample.prompt);
      expect(JSON.parse(line.label!)).toEqual({
        reference: sample.reference,
        target: sample.target,
        task: sample.task,
        id: sample.id,
      });
    }
  });

  it('estimates prompt tokens within a few tokens of the exact Qwen3 count', async () => {
    const counter = await loadTokenCounter('qwen3');
    const samples = readJsonl<PreparedSample>(join(dir, 'w1/samples/train-00000.jsonl')).slice(0, 60);
    for (const sample of samples) {
      const exact = counter.count(sample.prompt);
      const boundaries = sample.contextSegments + (sample.task === 'msr' ? 2 : 1);
      expect(Math.abs(sample.tokens.prompt - exact), sample.id).toBeLessThanOrEqual(boundaries + 2);
      expect(sample.tokens.context).toBeLessThanOrEqual(512);
    }
  });

  it('resumes after being killed mid-run and finishes without losing or duplicating samples', async () => {
    const out = join(dir, 'killed');
    const script = join(dir, 'child.mts');
    const source = pathToFileURL(join(import.meta.dirname, 'index.ts')).href;
    writeFileSync(
      script,
      `import { prepare } from ${JSON.stringify(source)};\nawait prepare(${JSON.stringify({ ...fast, out, workers: 1, checkpointSeconds: 0.001, chunkDocuments: 1 })});\n`,
    );
    // One process (not the tsx CLI, which runs the script in a child): SIGKILL must hit the one doing the work.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', tsx, '--conditions=@rlpt/source', script], {
      stdio: 'ignore',
    });
    const statePath = join(out, '.rlpt-prepare/state.json');
    let killedAt: { phase: string; chunksCommitted: number } | undefined;
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let attempt = 0; attempt < 3000 && !killedAt; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (!existsSync(statePath)) continue;
      try {
        const state = JSON.parse(readFileSync(statePath, 'utf8')) as {
          phase: string;
          chunksCommitted: number;
        };
        if (state.phase === 'scan' && state.chunksCommitted >= 4) {
          child.kill('SIGKILL');
          killedAt = state;
        }
      } catch {
        // state.json is replaced atomically; a read can race with the rename on some systems.
      }
    }
    await exited;
    expect(killedAt, 'the child finished before it could be killed').toBeDefined();
    expect(existsSync(join(out, 'stats.json'))).toBe(false);
    const killedOptions = { ...fast, out, checkpointSeconds: 0.001, chunkDocuments: 1 };
    await expect(prepare({ ...killedOptions, workers: 2 })).rejects.toThrow(
      /unfinished prepare run.*--resume/,
    );
    const resumed = await prepare({ ...killedOptions, workers: 2, resume: true });
    expect(resumed.stats.run.resumed).toBe(true);
    expectSameOutputs(outputs(out), fastReference);
  }, 120_000);

  it('checkpoints on abort and resumes to the same result', async () => {
    const out = join(dir, 'aborted');
    const controller = new AbortController();
    const options = { ...fast, out, workers: 1, chunkDocuments: 1 };
    const error = await prepare(options, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'progress' && event.phase === 'documents' && event.done >= 5) controller.abort();
      },
    }).catch((caught: unknown) => caught);
    expect(AbortError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/resume/);
    await prepare({ ...options, resume: true });
    expectSameOutputs(outputs(out), fastReference);
  });

  it('resumes a crash while writing shards without rewriting the finished ones', async () => {
    const out = join(dir, 'crashed');
    const error = await prepare(
      { ...fast, out, workers: 1 },
      {
        onEvent: (event) => {
          if (event.type === 'progress' && event.phase === 'write' && event.done >= 160)
            throw new Error('simulated crash');
        },
      },
    ).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('simulated crash');
    const state = JSON.parse(readFileSync(join(out, '.rlpt-prepare/state.json'), 'utf8')) as {
      phase: string;
      shards: { file: string }[];
    };
    expect(state.phase).toBe('finalize');
    expect(state.shards.length).toBeGreaterThan(0);
    const finished = state.shards.map(
      (shard) => [shard.file, statSync(join(out, shard.file)).mtimeMs] as const,
    );
    await prepare({ ...fast, out, workers: 1, resume: true });
    for (const [file, mtime] of finished) expect(statSync(join(out, file)).mtimeMs).toBe(mtime);
    expectSameOutputs(outputs(out), fastReference);
  });

  it('refuses to resume with changed options, and to overwrite without being asked', async () => {
    await expect(prepare({ ...base, out: join(dir, 'w1'), workers: 1 })).rejects.toThrow(
      /already holds a finished prepare run/,
    );
    const out = join(dir, 'changed');
    const controller = new AbortController();
    controller.abort();
    await prepare({ ...fast, out, workers: 0 }, { signal: controller.signal }).catch(() => undefined);
    const error = await prepare({ ...fast, out, workers: 0, resume: true, seed: 7 }).catch(
      (caught: unknown) => caught,
    );
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/options or input files changed/);
    const fresh = await prepare({ ...fast, out, workers: 0, overwrite: true });
    expect(fresh.stats.samples.total).toBe(
      JSON.parse(fastReference.get('stats.json')!.toString()).samples.total,
    );
  });
});

describe.skipIf(!hasSharedData)('bad input (needs ../shared/data)', () => {
  it('counts and reports every kind of bad input with file:line, and keeps the good documents', async () => {
    const input = buildBadCorpus(dir);
    const events: { reason: string; file?: string; line?: number }[] = [];
    const { stats } = await prepare(
      {
        inputs: [input],
        out: join(dir, 'bad-out'),
        workers: 2,
        tokenizer: 'whitespace',
        idField: 'id',
        maxLineBytes: 1 << 20,
        validationFraction: 0,
      },
      { onEvent: (event) => event.type === 'skipped-input' && events.push(event) },
    );
    const issues = readJsonl<{
      reason: string;
      action: string;
      file?: string;
      line?: number;
      message: string;
    }>(join(dir, 'bad-out/issues.jsonl'));
    const found = (reason: string) =>
      issues.filter((issue) => issue.reason === reason).map((issue) => `${issue.file}:${issue.line ?? ''}`);
    expect(found('malformed-json')).toEqual(['malformed.jsonl:2']);
    expect(found('missing-field')).toEqual(['malformed.jsonl:4']);
    expect(found('empty-document')).toEqual(['malformed.jsonl:5']);
    expect(found('invalid-utf8')).toEqual(['bytes.jsonl:2']);
    expect(found('nul-bytes')).toEqual(['bytes.jsonl:3']);
    expect(found('line-too-long')).toEqual(['huge.jsonl:2']);
    expect(found('truncated-gzip')).toHaveLength(1);
    expect(found('truncated-gzip')[0]).toMatch(/^truncated\.txt\.gz:\d+$/);
    expect(found('unreadable-file')).toEqual(['unreadable.txt:']);
    expect(stats.issues).toMatchObject({
      'malformed-json': { skipped: 1, repaired: 0 },
      'missing-field': { skipped: 1, repaired: 0 },
      'empty-document': { skipped: 1, repaired: 0 },
      'invalid-utf8': { skipped: 0, repaired: 1 },
      'nul-bytes': { skipped: 0, repaired: 1 },
      'line-too-long': { skipped: 1, repaired: 0 },
      'truncated-gzip': { skipped: 1, repaired: 0 },
      'unreadable-file': { skipped: 1, repaired: 0 },
    });
    expect(events).toHaveLength(issues.length);
    for (const issue of issues) expect(issue.message).toContain(issue.file ?? '');
    // The good documents around each bad record all produced samples.
    const documents = new Set(
      readJsonl<PreparedSample>(join(dir, 'bad-out/samples/train-00000.jsonl')).map((s) => s.documentId),
    );
    for (const id of ['m1', 'm3', 'u1', 'u2', 'u3', 'h1', 'h3']) expect(documents.has(id), id).toBe(true);
    expect([...documents].some((id) => id.startsWith('truncated.txt.gz:'))).toBe(true);
    expect(stats.normalization.nulBytes).toBe(0);
  });

  it('does not read its own output when the output folder is inside the inputs', async () => {
    const input = join(dir, 'self');
    buildCleanCorpus(input, { articles: 1, shakespeareLines: 60, paragraphs: 8 });
    const options = { inputs: [input], out: join(input, 'prepared'), tokenizer: 'whitespace', workers: 1 };
    const first = await prepare(options);
    const second = await prepare({ ...options, overwrite: true });
    expect(second.stats.documents.read).toBe(first.stats.documents.read);
    expect(second.stats.inputs.list.map((file) => file.file)).toEqual(
      first.stats.inputs.list.map((file) => file.file),
    );
    expect(second.stats.inputs.list.some((file) => file.file.includes('prepared'))).toBe(false);
  });

  it('lists every invalid option at once', async () => {
    const error = await prepare({
      inputs: [],
      out: '',
      workers: -1,
      lambda: 0,
      formats: ['csv'],
    } as unknown as PrepareOptions).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      'formats.0',
      'inputs',
      'lambda',
      'out',
      'workers',
    ]);
  });

  it('says clearly when nothing can be read', async () => {
    await expect(prepare({ inputs: [join(dir, 'nothing-*.txt')], out: join(dir, 'none') })).rejects.toThrow(
      /no input files: no file matches/,
    );
  });
});

describe.skipIf(!hasSharedData || !process.env.RLPT_LONG_TESTS)('whole corpora (RLPT_LONG_TESTS=1)', () => {
  it('turns ../shared/data/corpora into verl Parquet and OpenRLHF JSONL with a stats report', async () => {
    const out = join(dir, 'corpora');
    const { stats } = await prepare({
      inputs: [join(corpus.benchmarks, '../corpora')],
      out,
      formats: ['samples', 'verl', 'openrlhf'],
      benchmarks: [join(corpus.benchmarks, '*.jsonl')],
    });
    expect(stats.inputs.files).toBe(3);
    expect(stats.documents.read).toBeGreaterThan(300);
    expect(stats.samples.total).toBeGreaterThan(20_000);
    expect(stats.samples.msr / stats.samples.total).toBeCloseTo(1 / 3, 1);
    expect(stats.contamination.benchmarks.map((benchmark) => benchmark.name)).toEqual([
      'aime24',
      'amc23',
      'gsm8k',
      'minerva_math',
      'mmlu_stem',
      'olympiadbench',
    ]);
    for (const format of ['samples', 'verl', 'openrlhf'] as const) {
      const rows = stats.outputs
        .filter((shard) => shard.format === format)
        .reduce((sum, shard) => sum + shard.rows, 0);
      expect(rows, format).toBe(stats.samples.total);
    }
    const bytes = readFileSync(join(out, 'verl/validation-00000.parquet'));
    const rows = await parquetReadObjects({
      file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    });
    expect(rows).toHaveLength(stats.samples.validation);
  }, 900_000);
});
