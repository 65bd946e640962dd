import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InvalidInputError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDemo } from './prepare-demo.js';
import { readSamples, type SampleSkip, sampleFiles } from './samples.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-samples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readSamples / sampleFiles', () => {
  it('reads back every sample prepare wrote, in shard order', async () => {
    const out = join(dir, 'demo');
    const { stats } = await prepareDemo({ out, trainDocuments: 30, heldOutDocuments: 6, seed: 3 });
    const train = await readSamples(await sampleFiles(out, 'train'));
    const validation = await readSamples(await sampleFiles(out, 'validation'));
    expect(train).toHaveLength(stats.samples.train);
    expect(validation).toHaveLength(stats.samples.validation);
    expect(train.filter((sample) => sample.task === 'msr')).toHaveLength(
      stats.samples.msr - validation.filter((sample) => sample.task === 'msr').length,
    );
    for (const sample of train) {
      expect(sample.prompt.length).toBeGreaterThan(0);
      expect(sample.reference.startsWith(sample.target)).toBe(true);
    }
  });

  it('skips and reports bad lines with file and line, reads gzip, and filters tasks', async () => {
    const folder = join(dir, 'hand');
    await mkdir(join(folder, 'samples'), { recursive: true });
    const good = (id: string, task = 'asr') =>
      JSON.stringify({ id, task, prompt: `p ${id}`, target: `t ${id}.`, reference: `t ${id}. more.` });
    await writeFile(
      join(folder, 'samples', 'train-00000.jsonl'),
      [good('a'), '{"prompt": "no target"}', 'not json', '[1]', '', good('b', 'next-token')].join('\n'),
    );
    await writeFile(
      join(folder, 'samples', 'train-00001.jsonl.gz'),
      gzipSync(`${good('c', 'msr')}\n${JSON.stringify({ prompt: 'p', target: 't', task: 'poem' })}\n`),
    );
    await writeFile(join(folder, 'samples', 'validation-00000.jsonl'), `${good('v')}\n`);
    const files = await sampleFiles(folder, 'train');
    expect(files.map((file) => file.split('/').pop())).toEqual(['train-00000.jsonl', 'train-00001.jsonl.gz']);
    const skipped: SampleSkip[] = [];
    const samples = await readSamples(files, { onSkip: (skip) => skipped.push(skip), tasks: ['asr', 'msr'] });
    expect(samples.map((sample) => [sample.id, sample.task])).toEqual([
      ['a', 'asr'],
      ['c', 'msr'],
    ]);
    expect(samples[0]).toEqual({
      id: 'a',
      task: 'asr',
      prompt: 'p a',
      context: '',
      target: 't a.',
      next: '',
      reference: 't a. more.',
    });
    expect(skipped.map((skip) => [skip.reason, skip.file.split('/').pop(), skip.line])).toEqual([
      ['missing-field', 'train-00000.jsonl', 2],
      ['malformed-json', 'train-00000.jsonl', 3],
      ['not-an-object', 'train-00000.jsonl', 4],
      ['bad-task', 'train-00000.jsonl', 6],
      ['bad-task', 'train-00001.jsonl.gz', 2],
    ]);
    expect(skipped[3]!.message).toContain(
      'train-00000.jsonl:6: task must be "asr" or "msr", got "next-token"',
    );
    // Every task by default; a limit stops early.
    expect((await readSamples(files)).map((sample) => sample.id)).toEqual(['a', 'b', 'c']);
    expect(await readSamples(files, { limit: 1 })).toHaveLength(1);
  });

  it('names the folder when it holds no samples of the split', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const error = await sampleFiles(empty, 'train').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(`${empty} has no samples/train-*.jsonl files`);
  });
});
