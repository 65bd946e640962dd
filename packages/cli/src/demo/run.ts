import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, RlptError } from '@rlpt/spec';
import { writeJsonAtomic } from '@rlpt/trainer';
import { reportWorkerProgress, runWorkerProcess } from '../workers.js';
import { type MetricComparison, writeDemoReport } from './report.js';
import { type DemoBudget, type DemoSeedResult, fullBudget, quickBudget, runDemoSeed } from './seed.js';

/** One unit of demo work, run in its own process. */
export interface DemoJob {
  seed: number;
  reward: 'prefix' | 'strict';
  control: boolean;
  /** Folder of this job under the demo folder. */
  name: string;
}

export interface DemoOptions {
  out: string;
  quick: boolean;
  /** Seeds of the prefix-reward runs. Default 3 (quick: 2). */
  seeds?: number;
  /** Jobs run at once (each with one onnxruntime thread). Default: cores, at most 2… */
  parallel?: number;
  resume?: boolean;
  /** Delete an earlier demo in `out` first. */
  overwrite?: boolean;
  /** Rollouts in process (`local`, default) or behind `rlpt serve model` with weights pushed every step (`served`). */
  policy?: 'local' | 'served' | 'tinker';
  /** Progress of a job: `done/total` of its current phase. */
  onProgress?: (job: DemoJob, phase: string, done: number, total: number | undefined) => void;
  onLog?: (line: string) => void;
}

export interface DemoOutcome {
  headline: MetricComparison;
  reportPath: string;
  seconds: number;
}

export function demoJobs(quick: boolean, seeds: number): DemoJob[] {
  const jobs: DemoJob[] = Array.from({ length: seeds }, (_, seed) => ({
    seed,
    reward: 'prefix' as const,
    control: !quick,
    name: `seed-${seed}`,
  }));
  if (!quick) jobs.push({ seed: 0, reward: 'strict', control: false, name: 'strict-seed-0' });
  return jobs;
}

/** Runs every demo job in worker processes, then writes the report. */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const started = performance.now();
  const out = resolve(options.out);
  const earlier = await readJson<unknown>(join(out, 'demo.json'));
  if (earlier !== undefined && !options.resume) {
    if (!options.overwrite) {
      throw new InvalidArgumentError({
        argument: 'out',
        message: `${out} already holds a demo. Pass --resume to continue (or re-report) it, --overwrite to start over, or choose another --out.`,
      });
    }
    for (const entry of await readdir(out)) {
      if (entry.startsWith('seed-') || entry.startsWith('strict-') || /\.(md|json|svg)$/.test(entry)) {
        await rm(join(out, entry), { recursive: true, force: true });
      }
    }
  }
  await mkdir(out, { recursive: true });
  const seeds = options.seeds ?? (options.quick ? 2 : 3);
  const jobs = demoJobs(options.quick, seeds);
  const parallel = Math.max(1, options.parallel ?? Math.min(2, availableParallelism()));
  const budget = options.quick ? quickBudget : fullBudget;
  const policy = options.policy ?? 'local';
  await writeJsonAtomic(join(out, 'demo.json'), { quick: options.quick, seeds, jobs, budget, policy });

  const results = new Map<string, DemoSeedResult>();
  const queue = [...jobs];
  const runNext = async (): Promise<void> => {
    const job = queue.shift();
    if (!job) return;
    const resultPath = join(out, job.name, 'result.json');
    const existing = options.resume ? await readJson<DemoSeedResult>(resultPath) : undefined;
    results.set(job.name, existing ?? (await runJobProcess(job, out, options)));
    await runNext();
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, runNext));

  const prefixResults = jobs.filter((job) => job.reward === 'prefix').map((job) => results.get(job.name)!);
  const strict = jobs.find((job) => job.reward === 'strict');
  const metrics = new Map<number, Record<string, unknown>[]>();
  for (const job of jobs.filter((entry) => entry.reward === 'prefix')) {
    metrics.set(job.seed, await readJsonLines(join(out, job.name, 'run', 'metrics.jsonl')));
  }
  const { fitScalingLaw } = await import('@rlpt/trainer');
  // The paper's x is RLPT training tokens; the cold start (x = 0) is outside the law's domain.
  const points = prefixResults.flatMap((result) =>
    result.curve.map(([tokens, value]) => [tokens / 1e6, value] as [number, number]),
  );
  let scaling: { a: number; b: number; c: number; r2: number; points: [number, number][] } | undefined;
  let scalingUnavailable: string | undefined;
  try {
    const fit = fitScalingLaw(
      points.map(([x]) => x),
      points.map(([, y]) => y),
      { maxA: 1 },
    );
    scaling = { a: fit.a, b: fit.b, c: fit.c, r2: fit.r2, points };
  } catch (error) {
    scalingUnavailable = (error as Error).message;
    options.onLog?.(`scaling-law fit skipped: ${scalingUnavailable}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const headline = await writeDemoReport({
    outDir: out,
    quick: options.quick,
    budget,
    results: prefixResults,
    ...(strict ? { strict: results.get(strict.name)! } : {}),
    metrics,
    seconds,
    ...(scaling ? { scaling } : {}),
    ...(scalingUnavailable ? { scalingUnavailable } : {}),
  });
  return { headline, reportPath: join(out, 'report.md'), seconds };
}

/** Runs one job as `rlpt demo --worker <json>` so seeds use separate cores. */
async function runJobProcess(job: DemoJob, out: string, options: DemoOptions): Promise<DemoSeedResult> {
  const spec = JSON.stringify({
    ...job,
    out,
    quick: options.quick,
    resume: options.resume ?? false,
    policy: options.policy ?? 'local',
  });
  await runWorkerProcess({
    name: job.name,
    args: ['demo', '--worker', spec],
    code: 'demo-worker',
    hint: 'Re-run with --resume to continue from its last checkpoint.',
    onProgress: (message) => options.onProgress?.(job, message.phase, message.done, message.total),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  const result = await readJson<DemoSeedResult>(join(out, job.name, 'result.json'));
  if (!result)
    throw new RlptError({ code: 'demo-worker', message: `Demo job ${job.name} wrote no result.json.` });
  return result;
}

/** Entry point of a worker process: runs one job and writes its result atomically. */
export async function runDemoWorker(specJson: string): Promise<void> {
  const spec = JSON.parse(specJson) as DemoJob & {
    out: string;
    quick: boolean;
    resume: boolean;
    policy?: 'local' | 'served' | 'tinker';
  };
  const budget: DemoBudget = spec.quick ? quickBudget : fullBudget;
  const dir = join(spec.out, spec.name);
  const result = await runDemoSeed({
    seed: spec.seed,
    outDir: dir,
    budget,
    reward: spec.reward,
    control: spec.control,
    threads: 1,
    resume: spec.resume,
    policy: spec.policy ?? 'local',
    onEvent: (event) => {
      if (event.type === 'progress') {
        reportWorkerProgress({
          phase: event.phase,
          done: event.done,
          ...(event.total !== undefined ? { total: event.total } : {}),
        });
      }
    },
  });
  await writeJsonAtomic(join(dir, 'result.json'), result);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  } catch {
    return [];
  }
}
