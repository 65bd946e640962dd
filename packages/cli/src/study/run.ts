import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, RlptError } from '@rlpt/spec';
import { writeJsonAtomic } from '@rlpt/trainer';
import { reportWorkerProgress, runWorkerProcess } from '../workers.js';

/** One unit of a study, run in its own process; `needs` names jobs whose results it reads. */
export interface StudyJob {
  name: string;
  seed: number;
  /** The arm (method, setting) this job trains, or `base` for a shared starting point. */
  arm: string;
  needs: string[];
}

export interface StudySettings {
  /** Study folder. */
  out: string;
  /** The seconds-long version CI runs (tiny corpus, a few steps). */
  smoke: boolean;
  seeds: number;
  resume: boolean;
}

export interface StudyJobContext extends StudySettings {
  /** This job's folder (`<out>/<job>`). */
  dir: string;
  /** Result of a job this one needs. */
  resultOf<T>(name: string): Promise<T>;
  onProgress(phase: string, done: number, total: number | undefined): void;
}

export interface StudyReport {
  /** Lines printed at the end of the run (the headline). */
  summary: string[];
}

/** A named, seeded experiment grid (`rlpt study <name>`). */
export interface StudyDefinition<Result = unknown> {
  name: string;
  /** One line for `rlpt study --help` and the report's title. */
  title: string;
  defaultSeeds: number;
  jobs(settings: StudySettings): StudyJob[];
  runJob(job: StudyJob, context: StudyJobContext): Promise<Result>;
  /** Writes `report.md` (and plots, `report.json`) into `settings.out` from every job's result. */
  report(
    results: Map<string, Result>,
    settings: StudySettings & { seconds: number; jobs: StudyJob[]; ran: string[] },
  ): Promise<StudyReport>;
}

export interface RunStudyOptions {
  out: string;
  smoke: boolean;
  seeds?: number;
  parallel?: number;
  resume?: boolean;
  overwrite?: boolean;
  onProgress?: (job: StudyJob, phase: string, done: number, total: number | undefined) => void;
  onLog?: (line: string) => void;
  /** Run jobs in this process instead of worker processes (tests). */
  inProcess?: boolean;
}

export interface StudyOutcome {
  summary: string[];
  reportPath: string;
  seconds: number;
  /** Jobs run now (the rest were read from an earlier run). */
  ran: string[];
}

/**
 * Runs a study's jobs — each in a worker process with one onnxruntime thread, up to `parallel` at once,
 * a job only after the jobs it needs — then writes the report. A finished job's `result.json` is kept, so
 * `resume` runs only what is missing (and each job resumes from its own checkpoints). A failed job does
 * not stop the others; the run then ends with an error naming every failed and skipped job.
 */
export async function runStudy<Result>(
  definition: StudyDefinition<Result>,
  options: RunStudyOptions,
): Promise<StudyOutcome> {
  const started = performance.now();
  const out = resolve(options.out);
  const seeds = options.seeds ?? (options.smoke ? 1 : definition.defaultSeeds);
  if (!Number.isInteger(seeds) || seeds < 1)
    throw new InvalidArgumentError({
      argument: 'seeds',
      message: `--seeds must be a positive integer; got ${seeds}.`,
    });
  const parallel = Math.max(1, options.parallel ?? Math.min(2, availableParallelism()));
  if (!Number.isInteger(parallel))
    throw new InvalidArgumentError({
      argument: 'parallel',
      message: `--parallel must be a positive integer; got ${options.parallel}.`,
    });
  const settings: StudySettings = { out, smoke: options.smoke, seeds, resume: options.resume ?? false };
  const marker = join(out, 'study.json');
  const earlier = await readJson<{ study: string; smoke: boolean; seeds: number }>(marker);
  if (earlier !== undefined) {
    if (!options.resume && !options.overwrite) {
      throw new InvalidArgumentError({
        argument: 'out',
        message: `${out} already holds a study (${earlier.study}). Pass --resume to continue (or re-report) it, --overwrite to start over, or choose another --out.`,
      });
    }
    if (
      options.resume &&
      (earlier.study !== definition.name || earlier.smoke !== options.smoke || earlier.seeds !== seeds)
    ) {
      throw new InvalidArgumentError({
        argument: 'resume',
        message: `${out} holds study ${earlier.study} (${earlier.smoke ? 'smoke, ' : ''}${earlier.seeds} seeds); resuming it as ${definition.name} (${options.smoke ? 'smoke, ' : ''}${seeds} seeds) would mix settings. Resume with the same flags, or --overwrite.`,
      });
    }
    if (!options.resume) await rm(out, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
  const jobs = definition.jobs(settings);
  await writeJsonAtomic(marker, { study: definition.name, smoke: options.smoke, seeds, jobs });

  const results = new Map<string, Result>();
  const failed = new Map<string, string>();
  const ran: string[] = [];
  for (const job of jobs) {
    const existing = options.resume ? await readJson<Result>(join(out, job.name, 'result.json')) : undefined;
    if (existing !== undefined) results.set(job.name, existing);
  }
  const pending = jobs.filter((job) => !results.has(job.name));
  const running = new Set<Promise<void>>();
  const run = async (job: StudyJob) => {
    try {
      if (options.inProcess) {
        results.set(
          job.name,
          await runStudyJob(definition, job, settings, (phase, done, total) =>
            options.onProgress?.(job, phase, done, total),
          ),
        );
      } else {
        await runWorkerProcess({
          name: job.name,
          args: ['study', definition.name, '--worker', JSON.stringify({ job, settings })],
          code: 'study-worker',
          hint: 'Re-run the same command with --resume to continue from its last checkpoint.',
          onProgress: (message) => options.onProgress?.(job, message.phase, message.done, message.total),
          ...(options.onLog ? { onLog: options.onLog } : {}),
        });
        const result = await readJson<Result>(join(out, job.name, 'result.json'));
        if (result === undefined) throw new Error(`${job.name} wrote no result.json`);
        results.set(job.name, result);
      }
      ran.push(job.name);
    } catch (error) {
      failed.set(job.name, (error as Error).message);
      options.onLog?.(`[${job.name}] failed: ${(error as Error).message}`);
    }
  };
  while (pending.length > 0 || running.size > 0) {
    // Jobs whose needs failed can never run: skip them (reported below), through chains of needs.
    for (let changed = true; changed; ) {
      changed = false;
      for (let index = pending.length - 1; index >= 0; index--) {
        const job = pending[index]!;
        const broken = job.needs.find((need) => failed.has(need));
        if (broken) {
          pending.splice(index, 1);
          failed.set(job.name, `skipped: ${broken} failed`);
          changed = true;
        }
      }
    }
    while (running.size < parallel) {
      const index = pending.findIndex((job) => job.needs.every((need) => results.has(need)));
      if (index < 0) break;
      const [job] = pending.splice(index, 1);
      const task: Promise<void> = run(job!).finally(() => running.delete(task));
      running.add(task);
    }
    if (running.size === 0) {
      if (pending.length > 0) {
        throw new RlptError({
          code: 'study-jobs',
          message: `Study ${definition.name}: jobs ${pending.map((job) => job.name).join(', ')} wait for jobs that do not exist.`,
        });
      }
      break;
    }
    await Promise.race(running);
  }
  if (failed.size > 0) {
    throw new RlptError({
      code: 'study-worker',
      message: `Study ${definition.name}: ${failed.size} of ${jobs.length} job(s) did not finish (${results.size} did; their results are kept in ${out}):\n${[
        ...failed,
      ]
        .map(([name, message]) => `  - ${name}: ${message.split('\n')[0]}`)
        .join('\n')}\nRe-run the same command with --resume to run only what is missing.`,
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const report = await definition.report(results, { ...settings, seconds, jobs, ran });
  return { summary: report.summary, reportPath: join(out, 'report.md'), seconds, ran };
}

async function runStudyJob<Result>(
  definition: StudyDefinition<Result>,
  job: StudyJob,
  settings: StudySettings,
  onProgress: (phase: string, done: number, total: number | undefined) => void,
): Promise<Result> {
  const dir = join(settings.out, job.name);
  await mkdir(dir, { recursive: true });
  const result = await definition.runJob(job, {
    ...settings,
    dir,
    onProgress,
    resultOf: async <T>(name: string) => {
      const value = await readJson<T>(join(settings.out, name, 'result.json'));
      if (value === undefined)
        throw new RlptError({
          code: 'study-jobs',
          message: `${job.name} needs ${name}, which has no result.json.`,
        });
      return value;
    },
  });
  await writeJsonAtomic(join(dir, 'result.json'), result);
  return result;
}

/** Entry point of a worker process (`rlpt study <name> --worker <json>`). */
export async function runStudyWorker(definition: StudyDefinition, specJson: string): Promise<void> {
  const { job, settings } = JSON.parse(specJson) as { job: StudyJob; settings: StudySettings };
  await runStudyJob(definition, job, settings, (phase, done, total) =>
    reportWorkerProgress({ phase, done, ...(total !== undefined ? { total } : {}) }),
  );
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Lists a study folder's job folders (for tests and cleanup). */
export async function jobFolders(out: string): Promise<string[]> {
  return (await readdir(out, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
}
