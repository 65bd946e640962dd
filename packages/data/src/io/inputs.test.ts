import { mkdirSync, readdir, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { type ReaddirFunction, resolveInputs } from './inputs.js';

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

  /** A listing that fails with EACCES for one folder, as `chmod 000` does for anyone but root. */
  const denying =
    (denied: string): ReaddirFunction =>
    (path, options, callback) => {
      if (path.replace(/\/$/, '') === denied) {
        const error = Object.assign(new Error(`EACCES: permission denied, scandir '${path}'`), {
          code: 'EACCES',
        });
        callback(error, []);
        return;
      }
      readdir(path, options, callback as never);
    };

  it('reads the rest of a folder when one subfolder cannot be listed, and reports that subfolder', async () => {
    const denied = join(dir, 'corpus/books');
    const { files, issues } = await resolveInputs(['corpus'], { cwd: dir, readdir: denying(denied) });
    expect(files.map((file) => file.label)).toEqual(['a.txt', 'b.txt']);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ reason: 'unreadable-directory', action: 'skipped', file: denied });
    expect(issues[0]?.message).toContain('permission denied');
    expect(issues[0]?.message).toContain(`the rest of 'corpus' was read`);
  });

  it('reports a folder a glob cannot list instead of skipping it silently', async () => {
    const denied = join(dir, 'corpus/books');
    const { files, issues } = await resolveInputs(['corpus/**/*.{txt,gz}'], {
      cwd: dir,
      readdir: denying(denied),
    });
    expect(files.map((file) => file.label)).toEqual(['a.txt', 'b.txt']);
    expect(issues.map((issue) => [issue.reason, issue.file])).toEqual([['unreadable-directory', denied]]);
    // A folder the pattern cannot reach is not listed, so it is not reported either.
    const narrow = await resolveInputs(['corpus/wiki/*.txt'], { cwd: dir, readdir: denying(denied) });
    expect(narrow.issues).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')(
    'skips a FIFO with an issue instead of blocking on it',
    async () => {
      mkdirSync(join(dir, 'pipes'));
      writeFileSync(join(dir, 'pipes/ok.txt'), 'x');
      execFileSync('mkfifo', [join(dir, 'pipes/fifo.txt')]);
      const { files, issues } = await resolveInputs(['pipes'], { cwd: dir });
      expect(files.map((file) => file.label)).toEqual(['ok.txt']);
      expect(issues.map((issue) => [issue.reason, issue.file])).toEqual([
        ['unreadable-file', join(dir, 'pipes/fifo.txt')],
      ]);
    },
  );
});
