/** Reading a run's `metrics.jsonl` for reports and fits. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, InvalidInputError } from '@rlpt/spec';

/** One metrics line: `stage` (`''` when absent), `step` (0 when absent) and the other fields as they are. */
export type MetricsRow = Record<string, unknown> & { stage: string; step: number };

export interface MetricsFile {
  /** The file read. */
  path: string;
  rows: MetricsRow[];
  /** Lines that were not JSON objects (e.g. a line torn by a crash), by 1-based line number. */
  skippedLines: number[];
}

/** `metrics.jsonl` of a run directory, or the file itself. */
export async function metricsPath(fileOrRunDir: string): Promise<string> {
  const info = await stat(fileOrRunDir).catch(() => undefined);
  if (!info) {
    throw new InvalidArgumentError({
      argument: 'metrics',
      message: `${fileOrRunDir} does not exist: give a run directory (rlpt train --run-dir) or its metrics.jsonl.`,
    });
  }
  return info.isDirectory() ? join(fileOrRunDir, 'metrics.jsonl') : fileOrRunDir;
}

/** Reads metrics lines; unparsable lines are skipped and listed (a crash can tear the last line). */
export async function readMetricsFile(fileOrRunDir: string): Promise<MetricsFile> {
  const path = await metricsPath(fileOrRunDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new InvalidInputError({
      reason: 'unreadable',
      message: `Cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}. Is it a run directory written by rlpt train?`,
      location: { file: path },
      cause,
    });
  }
  const rows: MetricsRow[] = [];
  const skippedLines: number[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error();
      // Lines from elsewhere (e.g. benchmark results per checkpoint) may have no stage: ''.
      rows.push({ ...value, stage: String(value.stage ?? ''), step: Number(value.step ?? 0) } as MetricsRow);
    } catch {
      skippedLines.push(index + 1);
    }
  });
  return { path, rows, skippedLines };
}

/** A numeric field of a row, or NaN. */
export function numberOf(row: Record<string, unknown>, field: string): number {
  const value = row[field];
  return typeof value === 'number' ? value : Number.NaN;
}

/** Matches a stage name against a pattern where `*` stands for any text (`eval:*`, `rlpt`). */
export function stageMatches(stage: string, pattern: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(stage);
}
