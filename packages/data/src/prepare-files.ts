// The output folder of a prepare run: atomic writes, stale temp files of killed runs, previous outputs.
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** The run's journal folder inside the output folder. */
export const workDirName = '.rlpt-prepare';

/** Writes a file atomically: temp file, fsync, rename. Several parts are written in order, without a copy. */
export function writeFileAtomic(path: string, data: string | Uint8Array | ArrayBufferView[]): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    for (const part of Array.isArray(data) ? data : [data]) {
      writeFileSync(
        fd,
        typeof part === 'string' ? part : new Uint8Array(part.buffer, part.byteOffset, part.byteLength),
      );
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/** Removes what a previous `prepare` wrote into `outDir` (and nothing else). */
export function removePreviousOutputs(outDir: string): void {
  for (const name of [workDirName, 'samples', 'verl', 'openrlhf', 'stats.json', 'issues.jsonl']) {
    rmSync(join(outDir, name), { recursive: true, force: true });
  }
}

const tempSuffix = /\.tmp-(\d+)$/;

/** True when a process with this id runs (or exists but belongs to someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the `*.tmp-<pid>` files a killed `prepare` left in `outDir` (atomic writes of shards, state,
 * checkpoints and stats that never got renamed). Only our own names are touched, and only when the process
 * that wrote them is gone — or is this one, which has written nothing yet (a pid reused after a restart).
 */
export function removeStaleTempFiles(outDir: string): { files: number; bytes: number; kept: string[] } {
  const removed = { files: 0, bytes: 0, kept: [] as string[] };
  const consider = (path: string, name: string, ours: RegExp) => {
    const match = tempSuffix.exec(name);
    if (!match || !ours.test(name.slice(0, match.index))) return;
    const pid = Number(match[1]);
    if (pid !== process.pid && processAlive(pid)) {
      removed.kept.push(path);
      return;
    }
    try {
      const info = statSync(path);
      if (!info.isFile()) return;
      rmSync(path, { force: true });
      removed.files++;
      removed.bytes += info.size;
    } catch {
      // Gone already.
    }
  };
  const list = (folder: string): string[] => {
    try {
      return readdirSync(folder);
    } catch {
      return [];
    }
  };
  for (const name of list(outDir)) consider(join(outDir, name), name, /^(stats\.json|issues\.jsonl)$/);
  for (const format of ['samples', 'verl', 'openrlhf']) {
    const folder = join(outDir, format);
    for (const name of list(folder))
      consider(join(folder, name), name, /^(train|validation)-\d+\.(jsonl|parquet)$/);
  }
  const walkWork = (folder: string) => {
    for (const entry of list(folder)) {
      const path = join(folder, entry);
      if (tempSuffix.test(entry)) consider(path, entry, /./);
      else if (!entry.includes('.')) walkWork(path);
    }
  };
  walkWork(join(outDir, workDirName));
  return removed;
}

export function readWords(path: string): Uint32Array {
  const bytes = readFileSync(path);
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
