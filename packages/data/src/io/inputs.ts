import { readdir, realpath, stat } from 'node:fs/promises';
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

async function walk(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else files.push(path);
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
 * left out before labelling. A pattern that matches nothing, or a path that cannot be read, becomes an issue.
 */
export async function resolveInputs(
  patterns: string[],
  options: { cwd?: string; exclude?: string } = {},
): Promise<{ files: ResolvedInput[]; issues: InputIssue[] }> {
  const cwd = options.cwd ?? process.cwd();
  const issues: InputIssue[] = [];
  const found: string[] = [];
  for (const pattern of patterns) {
    const absolute = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
    if (isDynamicPattern(pattern)) {
      const matches = await glob(pattern, { cwd, absolute: true, onlyFiles: true, expandDirectories: false });
      matches.sort();
      if (matches.length === 0) {
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
        const files = await walk(absolute);
        if (files.length === 0) {
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
