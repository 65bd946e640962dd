// The reader of what `prepare` writes to samples/<split>-*.jsonl: the one place that parses rlpt's sample
// schema back (training, evaluation and tools read it through here).
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InvalidInputError } from '@rlpt/spec';
import { readLines } from './io/lines.js';
import type { PreparedSample, SampleTask } from './process.js';

/**
 * The fields of a prepared sample that training reads. Read back with defaults: `context` and `next` '' when
 * absent, `reference` the target, `task` asr.
 */
export type SampleRecord = Pick<
  PreparedSample,
  'id' | 'task' | 'prompt' | 'context' | 'target' | 'next' | 'reference'
>;

/** A line that was not read as a sample, and why. */
export interface SampleSkip {
  reason: 'malformed-json' | 'not-an-object' | 'missing-field' | 'bad-task' | 'unreadable' | string;
  message: string;
  file: string;
  line: number;
  /** `bad-task`: the task the line had. */
  task?: unknown;
}

export interface ReadSamplesOptions {
  /** Told about every skipped line (malformed JSON, missing fields, a task not in `tasks`). */
  onSkip?: (skip: SampleSkip) => void;
  /** Stop after this many samples. */
  limit?: number;
  /** Tasks to read; other tasks are skipped as `bad-task`. Default: asr, msr and next-token. */
  tasks?: readonly SampleTask[];
}

const allTasks: readonly SampleTask[] = ['asr', 'msr', 'next-token'];

/** `samples/<split>-*.jsonl(.gz)` of a prepare folder in shard order, or `[path]` for a file. */
export async function sampleFiles(path: string, split: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const dir = join(path, 'samples');
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((name) => name.startsWith(`${split}-`) && /\.jsonl(\.gz)?$/.test(name))
    .sort()
    .map((name) => join(dir, name));
  if (files.length === 0) {
    throw new InvalidInputError({
      reason: 'no-samples',
      message: `${path} has no samples/${split}-*.jsonl files. Is it an rlpt prepare output folder (rlpt prepare … --out ${path})?`,
      location: { file: dir },
    });
  }
  return files;
}

/**
 * Reads samples in rlpt's schema from JSONL files (gzip too), in order. A line that is not a sample —
 * malformed JSON, no string `prompt` or `target`, a task not asked for — is skipped and reported through
 * `onSkip` with its file and line; the rest are read.
 */
export async function readSamples(
  files: readonly string[],
  options: ReadSamplesOptions = {},
): Promise<SampleRecord[]> {
  const onSkip = options.onSkip ?? (() => {});
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const tasks = options.tasks ?? allTasks;
  const samples: SampleRecord[] = [];
  for (const file of files) {
    for await (const events of readLines(file)) {
      for (const event of events) {
        if (samples.length >= limit) return samples;
        if (event.kind === 'issue') {
          if (event.issue.action === 'skipped')
            onSkip({
              reason: event.issue.reason,
              message: event.issue.message,
              file,
              line: event.issue.line ?? 0,
            });
          continue;
        }
        const { text: raw, line } = event;
        if (!raw.trim()) continue;
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch (error) {
          onSkip({
            reason: 'malformed-json',
            message: `${file}:${line}: not valid JSON (${(error as Error).message})`,
            file,
            line,
          });
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          onSkip({ reason: 'not-an-object', message: `${file}:${line}: expected a JSON object`, file, line });
          continue;
        }
        const record = value as Record<string, unknown>;
        const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : undefined);
        const prompt = text('prompt');
        const target = text('target');
        if (!prompt || !target) {
          onSkip({
            reason: 'missing-field',
            message: `${file}:${line}: a sample needs string "prompt" and "target" fields`,
            file,
            line,
          });
          continue;
        }
        const task = (text('task') ?? 'asr') as SampleTask;
        if (!tasks.includes(task)) {
          onSkip({
            reason: 'bad-task',
            message: `${file}:${line}: task must be ${tasks.map((name) => `"${name}"`).join(' or ')}, got ${JSON.stringify(record.task)}`,
            file,
            line,
            task: record.task,
          });
          continue;
        }
        samples.push({
          id: text('id') ?? `${basename(file)}:${line}`,
          task,
          prompt,
          context: text('context') ?? '',
          target,
          next: text('next') ?? '',
          reference: text('reference') ?? target,
        });
      }
    }
  }
  return samples;
}
