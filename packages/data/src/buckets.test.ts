import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { BucketStore, leafBucketFiles, sortBucketFile } from './buckets.js';
import { hash64Hex } from './hash.js';

const { dir, cleanup } = tempDir('rlpt-buckets-');
afterAll(cleanup);

/** Lines as the scan phase writes them: a fixed-width hex key, a tab, JSON. */
function lines(count: number, seed: string): { key: string; json: string }[] {
  return Array.from({ length: count }, (_, index) => ({
    key: `${hash64Hex(`${seed}:${index}`)}${index.toString(16).padStart(8, '0')}`,
    json: JSON.stringify({ id: `${seed}:${index}`, text: `sample ${index} é ✓ ${'x'.repeat(index % 50)}` }),
  }));
}

function fill(directory: string, records: { key: string; json: string }[], buckets: number): BucketStore {
  const store = new BucketStore(directory, buckets);
  for (const { key, json } of records) {
    const bucket = Math.floor((Number.parseInt(key.slice(0, 2), 16) * buckets) / 256);
    store.append('train', bucket, Buffer.from(`${key}\t${json}\n`));
  }
  store.flush();
  return store;
}

async function readAll(directory: string, buckets: number, maxBytes: number): Promise<string[]> {
  const out: string[] = [];
  for await (const leaf of leafBucketFiles(directory, 'train', buckets, maxBytes)) {
    out.push(...Buffer.from(sortBucketFile(leaf.file).samples).toString('utf8').split('\n').slice(0, -1));
    if (leaf.temporary) rmSync(leaf.file);
  }
  return out;
}

describe('shuffle buckets', () => {
  it('yields every record once, in global key order, also when buckets must be partitioned', async () => {
    const records = lines(5000, 'a');
    const expected = [...records].sort((x, y) => (x.key < y.key ? -1 : 1)).map((record) => record.json);
    for (const buckets of [1, 8, 64]) {
      for (const [name, maxBytes] of [
        ['whole', 1 << 30],
        ['partitioned', 4096],
      ] as const) {
        const directory = join(dir, `${name}-${buckets}`);
        mkdirSync(directory, { recursive: true });
        const store = fill(directory, records, buckets);
        store.close();
        expect(await readAll(directory, buckets, maxBytes), `${name}, ${buckets} buckets`).toEqual(expected);
        // Partition files are temporary: only bucket files remain.
        expect(readdirSync(directory).filter((name) => !/^train-\d{3}\.tsv$/.test(name))).toEqual([]);
      }
    }
  });

  it('encodes OpenRLHF lines of the sorted samples when asked', () => {
    const directory = join(dir, 'openrlhf');
    mkdirSync(directory, { recursive: true });
    const sample = { id: 'd:1', task: 'asr', prompt: 'P', reference: 'R', target: 'T' };
    const store = new BucketStore(directory, 1);
    store.append(
      'train',
      0,
      Buffer.from(`b\t${JSON.stringify({ ...sample, id: 'd:2' })}\na\t${JSON.stringify(sample)}\n`),
    );
    store.close();
    const sorted = sortBucketFile(join(directory, 'train-000.tsv'), {
      dataSource: 'rlpt',
      ability: 'x',
      inputKey: 'question',
      labelKey: 'answer',
    });
    const lines = Buffer.from(sorted.openrlhf!)
      .toString()
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.question)).toEqual(['P', 'P']);
    expect(lines.map((line) => JSON.parse(line.answer).id)).toEqual(['d:1', 'd:2']);
    expect([...sorted.openrlhfEnds!]).toEqual([
      Buffer.byteLength(`${JSON.stringify(lines[0])}\n`),
      sorted.openrlhf!.length,
    ]);
  });

  it('cuts bucket files back to their checkpointed sizes on resume', () => {
    const directory = join(dir, 'resume');
    mkdirSync(directory, { recursive: true });
    const first = fill(directory, lines(100, 'r'), 4);
    const sizes = first.sizes();
    first.close();
    // Appends after the checkpoint (a run that was then killed).
    const more = new BucketStore(directory, 4, sizes);
    for (const record of lines(50, 's'))
      more.append('train', 0, Buffer.from(`${record.key}\t${record.json}\n`));
    more.close();
    expect(readFileSync(join(directory, 'train-000.tsv')).length).toBeGreaterThan(sizes['train-000.tsv']!);
    // A file created after the checkpoint disappears; the others are cut back.
    writeFileSync(join(directory, 'validation-003.tsv'), 'late\tline\n');
    const resumed = new BucketStore(directory, 4, sizes);
    resumed.close();
    for (const [name, size] of Object.entries(sizes))
      expect(readFileSync(join(directory, name)).length).toBe(size);
    expect(existsSync(join(directory, 'validation-003.tsv'))).toBe(false);
  });
});
