import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@rlpt/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { type DemoDocument, demoVocabulary, prepareDemo } from './index.js';
import type { PreparedSample } from './process.js';

const { dir, cleanup } = tempDir('rlpt-demo-');
afterAll(cleanup);

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);

describe('prepareDemo', () => {
  it('writes the corpus, the vocabulary and inferable samples with the tiny prompts', async () => {
    const out = join(dir, 'demo');
    const { stats } = await prepareDemo({
      out,
      trainDocuments: 400,
      heldOutDocuments: 100,
      formats: ['samples', 'openrlhf'],
    });
    const train = readJsonl<DemoDocument>(join(out, 'corpus/train.jsonl'));
    const heldOut = readJsonl<DemoDocument>(join(out, 'corpus/heldout.jsonl'));
    expect(train).toHaveLength(400);
    expect(heldOut).toHaveLength(100);
    expect(JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8'))).toEqual(demoVocabulary);

    const samples = readJsonl<PreparedSample>(join(out, 'samples/train-00000.jsonl'));
    const validation = readJsonl<PreparedSample>(join(out, 'samples/validation-00000.jsonl'));
    expect(samples).toHaveLength(stats.samples.train);
    expect(validation).toHaveLength(stats.samples.validation);
    const byId = new Map(train.map((document) => [document.id, document]));
    for (const sample of samples) {
      const document = byId.get(sample.documentId)!;
      expect(document.sentences[sample.index]!.inferable).toBe(true);
      expect(sample.target).toBe(document.sentences[sample.index]!.text);
      expect(
        sample.prompt.startsWith(sample.task === 'asr' ? 'Predict the next sentence' : 'Fill in <MASK>'),
      ).toBe(true);
      if (sample.next === '') expect(sample.task).toBe('asr');
      expect(sample.flags).toEqual(['inferable']);
    }
    // Held-out contexts never start a training document.
    const prefixes = new Set(
      train.flatMap((document) =>
        document.sentences.map((_, end) =>
          document.sentences
            .slice(0, end + 1)
            .map((s) => s.text)
            .join(' '),
        ),
      ),
    );
    for (const sample of validation) expect(prefixes.has(sample.context)).toBe(false);
    const labels = readJsonl<{ input: string; label: string }>(join(out, 'openrlhf/train-00000.jsonl'));
    expect(JSON.parse(labels[0]!.label)).toEqual({
      reference: samples[0]!.reference,
      target: samples[0]!.target,
      task: samples[0]!.task,
      id: samples[0]!.id,
    });
    expect(stats.samples.asr + stats.samples.msr).toBe(stats.samples.total);
    expect(stats.samples.msr).toBeGreaterThan(0);
  });

  it('is deterministic by seed and refuses to overwrite without being asked', async () => {
    const first = join(dir, 'a');
    const second = join(dir, 'b');
    await prepareDemo({ out: first, trainDocuments: 50, heldOutDocuments: 20, seed: 3 });
    await prepareDemo({ out: second, trainDocuments: 50, heldOutDocuments: 20, seed: 3 });
    expect(
      readFileSync(join(first, 'samples/train-00000.jsonl')).equals(
        readFileSync(join(second, 'samples/train-00000.jsonl')),
      ),
    ).toBe(true);
    const error = await prepareDemo({ out: first, trainDocuments: 50, heldOutDocuments: 20 }).catch(
      (caught: unknown) => caught,
    );
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    await prepareDemo({
      out: first,
      trainDocuments: 50,
      heldOutDocuments: 20,
      seed: 4,
      overwrite: true,
      formats: ['verl'],
    });
    expect(existsSync(join(first, 'samples'))).toBe(false);
    expect(existsSync(join(first, 'verl/train-00000.parquet'))).toBe(true);
  });
});
