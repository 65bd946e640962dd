import { type Dirent, readdir as readdirCallback } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { InputFile } from './documents.js';
import type { InputIssue } from './issues.js';
import { describeFsError } from './lines.js';

/** A resolved input file with its size (for progress and resume checks). */
export interface ResolvedInput extends InputFile {
  bytes: number;
  mtimeMs: number;
}

/**
 * The directory listing `resolveInputs` uses: `node:fs`'s callback `readdir` by default. A seam for tests that
 * need a listing to fail (tests run as root in CI, and root can list a `chmod 000` folder).
 */
export type ReaddirFunction = (
  path: string,
  options: { withFileTypes: true },
  callback: (error: NodeJS.ErrnoException | null, entries: Dirent[]) => void,
) => void;

const defaultReaddir: ReaddirFunction = (path, options, callback) =>
  readdirCallback(
    path,
    options,
    callback as (error: NodeJS.ErrnoException | null, entries: Dirent[]) => void,
  );

function listDirectory(readdir: ReaddirFunction, directory: string): Promise<Dirent[]> {
  return new Promise((resolve, reject) =>
    readdir(directory, { withFileTypes: true }, (error, entries) =>
      error ? reject(error) : resolve(entries),
    ),
  );
}

function unreadableFolder(path: string, error: unknown, input: string): InputIssue {
  return {
    reason: 'unreadable-directory',
    action: 'skipped',
    file: path,
    message: `cannot read folder '${path}' (input '${input}'): ${describeFsError(error)}; the files in it were skipped and the rest of '${input}' was read. Fix its permissions and re-run.`,
  };
}

/** Files under `directory` in sorted order; folders that cannot be listed become issues, the rest is read. */
async function walk(
  directory: string,
  input: string,
  readdir: ReaddirFunction,
  issues: InputIssue[],
): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await listDirectory(readdir, directory);
  } catch (error) {
    issues.push(unreadableFolder(directory, error, input));
    return [];
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path, input, readdir, issues)));
    else if (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()) {
      // Reading a FIFO would block the run; a device or socket is no corpus.
      issues.push({
        reason: 'unreadable-file',
        action: 'skipped',
        file: path,
        message: `'${path}' (input '${input}') is not a regular file (a FIFO, socket or device); it was skipped.`,
      });
    } else files.push(path);
  }
  return files;
}

function commonDirectory(paths: string[]): string {
  if (paths.length === 0) return '';
  let common = dirname(paths[0] ?? '');
  for (const path of paths) {
    while (common !== dirname(common) && !(path === common || path.startsWith(common + sep))) {
      common = dirname(common);
    }
  }
  return common;
}

/**
 * Expands files, directories (recursively, hidden entries skipped) and glob patterns into a deterministic
 * list: patterns in the order given, files sorted within each, each file once. Labels are the paths
 * relative to the files' common folder (`/data/wiki/a.txt` + `/data/books/b.txt` → `wiki/a.txt`,
 * `books/b.txt`), so ids do not depend on the working directory. Files inside `exclude` (a folder) are
 * left out before labelling. A pattern that matches nothing, a path that cannot be read, and each folder that
 * cannot be listed (inside a given folder or under a glob) become issues; everything else is still read.
 */
export async function resolveInputs(
  patterns: string[],
  options: { cwd?: string; exclude?: string; readdir?: ReaddirFunction } = {},
): Promise<{ files: ResolvedInput[]; issues: InputIssue[] }> {
  const cwd = options.cwd ?? process.cwd();
  const readdir = options.readdir ?? defaultReaddir;
  const issues: InputIssue[] = [];
  const found: string[] = [];
  for (const pattern of patterns) {
    const absolute = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
    if (isDynamicPattern(pattern)) {
      // The glob crawler skips folders it cannot list without a word: list through a wrapper that records them.
      const unreadable: InputIssue[] = [];
      const recordingReaddir: ReaddirFunction = (path, readdirOptions, callback) =>
        readdir(path, readdirOptions, (error, entries) => {
          // A folder that does not exist simply matches nothing; one that cannot be listed is reported.
          if (error && error.code !== 'ENOENT' && error.code !== 'ENOTDIR')
            unreadable.push(unreadableFolder(resolve(cwd, path).replace(/\/$/, ''), error, pattern));
          callback(error, entries);
        });
      const matches = await glob(pattern, {
        cwd,
        absolute: true,
        onlyFiles: true,
        expandDirectories: false,
        fs: { readdir: recordingReaddir as never },
      });
      matches.sort();
      unreadable.sort((a, b) => ((a.file ?? '') < (b.file ?? '') ? -1 : 1));
      issues.push(...unreadable);
      if (matches.length === 0 && unreadable.length === 0) {
        issues.push({
          reason: 'no-match',
          action: 'skipped',
          file: pattern,
          message: `no file matches '${pattern}' (relative to ${cwd}).`,
        });
      }
      found.push(...matches.map((match) => resolve(match)));
      continue;
    }
    try {
      const info = await stat(absolute);
      if (info.isDirectory()) {
        const before = issues.length;
        const files = await walk(absolute, pattern, readdir, issues);
        if (files.length === 0 && issues.length === before) {
          issues.push({
            reason: 'no-match',
            action: 'skipped',
            file: pattern,
            message: `directory '${pattern}' contains no files.`,
          });
        }
        found.push(...files);
      } else {
        found.push(absolute);
      }
    } catch (error) {
      issues.push({
        reason: 'unreadable-file',
        action: 'skipped',
        file: pattern,
        message: `cannot read '${pattern}': ${describeFsError(error)}; it was skipped. Check the path.`,
      });
    }
  }
  const seen = new Set<string>();
  const unique: { path: string; bytes: number; mtimeMs: number }[] = [];
  const excluded = options.exclude ? resolve(cwd, options.exclude) + sep : undefined;
  for (const path of found) {
    if (excluded && resolve(path).startsWith(excluded)) continue;
    let key = path;
    let bytes = 0;
    let mtimeMs = 0;
    try {
      key = await realpath(path);
      const info = await stat(path);
      bytes = info.size;
      mtimeMs = info.mtimeMs;
    } catch {
      // Unreadable files stay in the list: reading them reports the problem with the file name.
    }
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push({ path, bytes, mtimeMs });
  }
  const base =
    unique.length === 1 ? dirname(unique[0]?.path ?? '') : commonDirectory(unique.map((f) => f.path));
  const files = unique.map(({ path, bytes, mtimeMs }) => ({
    path,
    label: relative(base, path).split(sep).join('/') || path,
    bytes,
    mtimeMs,
  }));
  return { files, issues };
}
