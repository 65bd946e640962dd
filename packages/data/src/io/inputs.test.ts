import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { resolveInputs } from './inputs.js';

const { dir, cleanup } = tempDir('rlpt-inputs-');
afterAll(cleanup);

describe('resolveInputs', () => {
  mkdirSync(join(dir, 'corpus/wiki'), { recursive: true });
  mkdirSync(join(dir, 'corpus/books/.hidden'), { recursive: true });
  for (const file of [
    'corpus/wiki/b.txt',
    'corpus/wiki/a.txt',
    'corpus/books/c.jsonl.gz',
    'corpus/books/.hidden/x.txt',
    'corpus/.dot.txt',
  ]) {
    writeFileSync(join(dir, file), 'x');
  }

  it('expands folders recursively in sorted order, skipping hidden entries, with stable labels', async () => {
    const { files, issues } = await resolveInputs(['corpus'], { cwd: dir });
    expect(issues).toEqual([]);
    expect(files.map((file) => file.label)).toEqual(['books/c.jsonl.gz', 'wiki/a.txt', 'wiki/b.txt']);
    expect(files.every((file) => file.bytes === 1)).toBe(true);
    // The same files through an absolute path get the same labels.
    const again = await resolveInputs([join(dir, 'corpus')], { cwd: '/' });
    expect(again.files.map((file) => file.label)).toEqual(files.map((file) => file.label));
  });

  it('keeps pattern order, sorts within a pattern, and lists each file once', async () => {
    const { files } = await resolveInputs(
      ['corpus/wiki/*.txt', 'corpus/books/**/*.gz', 'corpus/wiki/a.txt'],
      { cwd: dir },
    );
    expect(files.map((file) => file.label)).toEqual(['wiki/a.txt', 'wiki/b.txt', 'books/c.jsonl.gz']);
  });

  it('labels a single file by its name', async () => {
    const { files } = await resolveInputs(['corpus/wiki/a.txt'], { cwd: dir });
    expect(files.map((file) => file.label)).toEqual(['a.txt']);
  });

  it('reports patterns that match nothing and paths that cannot be read', async () => {
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.txt'));
    const { files, issues } = await resolveInputs(['nothing/*.txt', 'missing.txt', 'corpus/wiki/a.txt'], {
      cwd: dir,
    });
    expect(files.map((file) => file.label)).toEqual(['a.txt']);
    expect(issues.map((issue) => [issue.reason, issue.file])).toEqual([
      ['no-match', 'nothing/*.txt'],
      ['unreadable-file', 'missing.txt'],
    ]);
    expect(issues[1]?.message).toContain('no such file');
    const dangling = await resolveInputs(['dangling.txt'], { cwd: dir });
    expect(dangling.issues.map((issue) => issue.reason)).toEqual(['unreadable-file']);
  });
});
