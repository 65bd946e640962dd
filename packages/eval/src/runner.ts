/**
 * The evaluation runner: any InferenceBackendV1, n samples per item, graded per benchmark, unbiased
 * pass@k, resumable per-item results, bounded concurrency, progress events, a results table.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { passAtK } from '@rlpt/grpo';
import type { ChatTemplate } from '@rlpt/prompts';
import {
  AbortError,
  type ChatMessage,
  ConfigError,
  type ConfigIssue,
  type EventHandler,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Logger,
  type Prompt,
  RlptError,
  silentLogger,
} from '@rlpt/spec';
import { type Benchmark, type BenchmarkItem, buildPrompt } from './benchmarks.js';
import { gradeItemResponse } from './grade-item.js';
import type { MathGradeOptions } from './math/grade.js';
import {
  type BenchmarkSummary,
  type ItemResult,
  JsonlAppender,
  type SampleResult,
  formatResultsMarkdown,
  readItemResults,
  summarize,
  writeFileAtomic,
} from './results.js';

/** The paper's sampling protocol (§6): n = 64, temperature 0.6, top-p 0.95, 32 768 max tokens. */
export const PAPER_PROTOCOL = Object.freeze({
  n: 64,
  temperature: 0.6,
  topP: 0.95,
  maxTokens: 32_768,
  ks: [1, 8],
});

/** Options of {@link runEval}; the defaults are the paper's protocol ({@link PAPER_PROTOCOL}). */
export interface RunEvalOptions {
  backend: InferenceBackendV1;
  /** Loaded benchmarks ({@link loadBenchmark}). */
  benchmarks: Benchmark[];
  /**
   * Run folder: `run.json`, `<benchmark>/results.jsonl`, `results.json`, `results.md`. Re-using it resumes:
   * the sampling settings (model, n, temperature, topP, maxTokens, seed) must then be the same as long as
   * the folder holds any sampled item; everything else (ks, benchmarks, limits, concurrency, batch size)
   * may change.
   */
  outDir: string;
  /** Delete an earlier run in `outDir` (a folder with `run.json`) and start over. Default false. */
  overwrite?: boolean;
  /** Samples per item. Default 64 (paper). */
  n?: number;
  /** Default 0.6 (paper). */
  temperature?: number;
  /** Default 0.95 (paper). */
  topP?: number;
  /** Default 32 768 (paper). */
  maxTokens?: number;
  /** Sampling seed passed to the backend. */
  seed?: number;
  /** pass@k values reported; a k above n is reported as n/a with the reason. Default [1, 8]. May change on resume. */
  ks?: number[];
  /** generate calls in flight at once. Default 4. */
  concurrency?: number;
  /** Prompts per generate call. Default 1. */
  batchSize?: number;
  /** Renders chat messages to text (e.g. `loadChatTemplate(modelDir)` from `@rlpt/prompts`). Default: send `{ messages }` and let the backend apply the model's template. */
  chatTemplate?: Pick<ChatTemplate, 'render'>;
  /** Stop strings passed to the backend. */
  stop?: string[];
  /** Keep completion texts in results.jsonl. Default true. */
  saveCompletions?: boolean;
  /** Extra attempts for retryable backend errors (rate limits, 5xx, timeouts). Default 2. */
  retries?: number;
  /** Stop the run after this many consecutive failed generate calls (a dead server, a wrong model name). Default 8. */
  maxConsecutiveErrors?: number;
  /** Math grading options (tolerance, percentage mode, fallback). */
  grading?: MathGradeOptions;
  /** fsync results.jsonl every this many items. Default 16. */
  fsyncEvery?: number;
  signal?: AbortSignal;
  onEvent?: EventHandler;
  logger?: Logger;
}

/** What {@link runEval} returns and writes to `results.json`. */
export interface EvalReport {
  model: string;
  provider: string;
  settings: RunSettings;
  benchmarks: BenchmarkSummary[];
  /** The Markdown written to `results.md`. */
  markdown: string;
  /** Items generated in this call (resumed items excluded). */
  generatedItems: number;
  /** Items skipped because an earlier run finished them. */
  resumedItems: number;
  finishedAt: string;
}

/** The settings that must match for a run folder to be resumed. */
export interface RunSettings {
  model: string;
  provider: string;
  n: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: number | null;
  ks: number[];
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1) {
    throw new InvalidArgumentError({
      argument: name,
      message: `runEval: ${name} must be a positive integer, got ${value}.`,
    });
  }
  return resolved;
}

function resolveSettings(options: RunEvalOptions): RunSettings {
  const n = positiveInteger('n', options.n, PAPER_PROTOCOL.n);
  const temperature = options.temperature ?? PAPER_PROTOCOL.temperature;
  const topP = options.topP ?? PAPER_PROTOCOL.topP;
  if (!(temperature >= 0) || !Number.isFinite(temperature))
    throw new InvalidArgumentError({
      argument: 'temperature',
      message: `runEval: temperature must be ≥ 0, got ${temperature}.`,
    });
  if (!(topP > 0 && topP <= 1))
    throw new InvalidArgumentError({
      argument: 'topP',
      message: `runEval: topP must be in (0, 1], got ${topP}.`,
    });
  const ks = [...new Set(options.ks ?? PAPER_PROTOCOL.ks)].sort((a, b) => a - b);
  for (const k of ks) positiveInteger('ks', k, 1);
  return {
    model: options.backend.modelId,
    provider: options.backend.provider,
    n,
    temperature,
    topP,
    maxTokens: positiveInteger('maxTokens', options.maxTokens, PAPER_PROTOCOL.maxTokens),
    seed: options.seed ?? null,
    ks,
  };
}

/** The settings that decide what the samples are: they may not change while a folder holds samples. */
export const SAMPLING_SETTINGS = ['model', 'n', 'temperature', 'topP', 'maxTokens', 'seed'] as const;

/** Items with samples in a run folder (backend errors have none and do not count). */
function sampledItems(outDir: string): number {
  let count = 0;
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = path.join(outDir, entry.name, 'results.jsonl');
    if (!existsSync(file)) continue;
    count += readItemResults(file).results.filter((result) => !result.error && result.n > 0).length;
  }
  return count;
}

/** `overwrite`: removes an earlier run; refuses a non-empty folder that is not an eval run folder. */
function clearRunFolder(outDir: string): void {
  if (!existsSync(outDir)) return;
  const entries = readdirSync(outDir);
  if (entries.length === 0) return;
  if (!entries.includes('run.json')) {
    throw new ConfigError({
      issues: [{ path: 'outDir', message: 'holds files but no run.json: not an rlpt eval run folder' }],
      source: outDir,
      message: `Refusing to overwrite ${outDir}: it holds files but no run.json, so it is not an rlpt eval run folder. Choose another output folder.`,
    });
  }
  rmSync(outDir, { recursive: true, force: true });
}

/**
 * Refuses to mix samples drawn under different settings in one run folder. A folder without any sampled
 * item (every call failed, e.g. max tokens above the server's limit) takes the new settings.
 */
function checkRunFolder(outDir: string, settings: RunSettings, emit: EventHandler): void {
  const file = path.join(outDir, 'run.json');
  let previous: RunSettings | null = null;
  try {
    previous = JSON.parse(readFileSync(file, 'utf8')) as RunSettings;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError({
        issues: [{ path: 'run.json', message: `unreadable (${(error as Error).message})` }],
        source: file,
      });
    }
  }
  const sampled = previous ? sampledItems(outDir) : 0;
  if (previous && sampled === 0) {
    const changed = SAMPLING_SETTINGS.filter(
      (key) => JSON.stringify(previous[key]) !== JSON.stringify(settings[key]),
    );
    if (changed.length > 0)
      emit({
        type: 'warning',
        message: `${file}: the earlier run in this folder has no sampled items, so it continues with the new ${changed.join(', ')}.`,
      });
  } else if (previous) {
    const issues: ConfigIssue[] = [];
    for (const key of SAMPLING_SETTINGS) {
      if (JSON.stringify(previous[key]) !== JSON.stringify(settings[key]))
        issues.push({
          path: key,
          message: `this folder was run with ${JSON.stringify(previous[key])}, now ${JSON.stringify(settings[key])}`,
        });
    }
    if (issues.length > 0) {
      throw new ConfigError({
        issues,
        source: file,
        message: `Cannot resume ${outDir}: its ${sampled} sampled items were drawn with other settings:\n${issues
          .map((issue) => `  - ${issue.path}: ${issue.message}`)
          .join(
            '\n',
          )}\nOn resume ${SAMPLING_SETTINGS.join(', ')} must stay the same (pass@k values, benchmarks, limits, concurrency and batch size may change). Resume with the same settings, use a new output folder, or start over with overwrite (rlpt eval --overwrite).`,
      });
    }
  }
  writeFileAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError({ cause: signal.reason }));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError({ cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs the benchmarks against a backend and writes the run folder. Resumes: items already in
 * `<out>/<benchmark>/results.jsonl` are skipped (items that failed on a backend error are retried). A
 * failing item is recorded with its error and the run goes on; `maxConsecutiveErrors` failures in a row
 * stop it.
 *
 * @throws ConfigError when `outDir` holds a run with other sampling settings.
 * @throws AbortError when `signal` aborts (finished items are kept).
 */
export async function runEval(options: RunEvalOptions): Promise<EvalReport> {
  const settings = resolveSettings(options);
  const concurrency = positiveInteger('concurrency', options.concurrency, 4);
  const batchSize = positiveInteger('batchSize', options.batchSize, 1);
  const retries = Math.max(0, options.retries ?? 2);
  const maxConsecutiveErrors = positiveInteger('maxConsecutiveErrors', options.maxConsecutiveErrors, 8);
  const saveCompletions = options.saveCompletions ?? true;
  const logger = options.logger ?? silentLogger;
  const emit: EventHandler = options.onEvent ?? (() => {});
  const { backend, signal } = options;

  if (options.overwrite) clearRunFolder(options.outDir);
  mkdirSync(options.outDir, { recursive: true });
  checkRunFolder(options.outDir, settings, emit);

  const render = (messages: ChatMessage[]): Prompt =>
    options.chatTemplate ? options.chatTemplate.render(messages) : { messages };

  let generatedItems = 0;
  let resumedItems = 0;
  let consecutiveErrors = 0;
  let fatal: unknown = null;
  const summaries: BenchmarkSummary[] = [];

  for (const benchmark of options.benchmarks) {
    if (signal?.aborted) throw new AbortError({ cause: signal.reason });
    const folder = path.join(options.outDir, benchmark.name);
    mkdirSync(folder, { recursive: true });
    const file = path.join(folder, 'results.jsonl');
    const previous = readItemResults(file);
    for (const line of previous.badLines) {
      emit({
        type: 'warning',
        message: `${file}:${line}: unreadable result line ignored (the item is run again).`,
      });
    }
    const done = new Set(previous.results.filter((result) => !result.error).map((result) => result.id));
    const todo = benchmark.items.filter((item) => !done.has(item.id));
    const finished = benchmark.items.length - todo.length;
    resumedItems += finished;
    const phase = `eval:${benchmark.name}`;
    emit({ type: 'progress', phase, done: finished, total: benchmark.items.length, unit: 'items' });
    logger.info(`${benchmark.title}: ${todo.length} items to run, ${finished} already done`, { file });

    const { appender, repairedBytes } = JsonlAppender.open(file, options.fsyncEvery ?? 16);
    if (repairedBytes > 0)
      emit({
        type: 'warning',
        message: `${file}: cut a torn last line (${repairedBytes} bytes) left by an interrupted run.`,
      });
    let completed = finished;

    const batches: BenchmarkItem[][] = [];
    for (let start = 0; start < todo.length; start += batchSize)
      batches.push(todo.slice(start, start + batchSize));
    let nextBatch = 0;

    const runBatch = async (batch: BenchmarkItem[]) => {
      const request: GenerateRequest = {
        prompts: batch.map((item) => render(buildPrompt(benchmark, item))),
        n: settings.n,
        maxTokens: settings.maxTokens,
        temperature: settings.temperature,
        topP: settings.topP,
        ...(settings.seed !== null ? { seed: settings.seed } : {}),
        ...(options.stop ? { stop: options.stop } : {}),
      };
      const started = performance.now();
      let result: GenerateResult | null = null;
      let failure: unknown = null;
      for (let attempt = 0; attempt <= retries; attempt++) {
        try {
          result = await backend.generate(request, signal ? { signal } : undefined);
          if (result.results.length !== batch.length) {
            throw new RlptError({
              message: `backend ${backend.provider} returned ${result.results.length} results for ${batch.length} prompts`,
              code: 'backend-contract',
            });
          }
          break;
        } catch (error) {
          result = null;
          failure = error;
          if (signal?.aborted || AbortError.isInstance(error)) throw new AbortError({ cause: error });
          const retryable = RlptError.isInstance(error) && error.isRetryable;
          if (!retryable || attempt === retries) break;
          await sleep(500 * 2 ** attempt, signal);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      for (const warning of result?.warnings ?? [])
        emit({ type: 'warning', message: `${backend.provider}: ${warning.message}` });
      if (!result) {
        consecutiveErrors++;
        const message = failure instanceof Error ? failure.message : String(failure);
        for (const item of batch) {
          appender.append({
            benchmark: benchmark.name,
            id: item.id,
            gold: item.answer,
            n: 0,
            correct: 0,
            unanswered: 0,
            truncated: 0,
            passAtK: {},
            samples: [],
            error: { reason: 'backend-error', message },
            seconds,
          } satisfies ItemResult);
          emit({
            type: 'skipped-input',
            reason: 'backend-error',
            message: `${benchmark.title} item ${item.id}: ${message}`,
            id: item.id,
          });
        }
        if (consecutiveErrors >= maxConsecutiveErrors) fatal ??= failure;
      } else {
        consecutiveErrors = 0;
        result.results.forEach((promptResult, index) => {
          const item = batch[index]!;
          appender.append(
            gradeItem(
              benchmark,
              item,
              promptResult.completions,
              settings,
              options.grading,
              saveCompletions,
              seconds,
            ),
          );
        });
        generatedItems += batch.length;
      }
      completed += batch.length;
      emit({ type: 'progress', phase, done: completed, total: benchmark.items.length, unit: 'items' });
    };

    const worker = async () => {
      while (nextBatch < batches.length && !fatal) {
        if (signal?.aborted) throw new AbortError({ cause: signal.reason });
        const batch = batches[nextBatch++]!;
        await runBatch(batch);
      }
    };
    try {
      const workers = Array.from({ length: Math.min(concurrency, batches.length) }, worker);
      const outcomes = await Promise.allSettled(workers);
      const rejected = outcomes.find(
        (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
      );
      if (rejected) throw rejected.reason;
    } finally {
      appender.close();
    }
    if (fatal) {
      throw new RlptError({
        message: `${benchmark.title}: stopped after ${maxConsecutiveErrors} failed generate calls in a row (${
          fatal instanceof Error ? fatal.message : String(fatal)
        }). Finished items are kept in ${file}; fix the backend and run the same command again to resume.`,
        code: 'eval-backend-failing',
        cause: fatal,
      });
    }
    const ids = new Set(benchmark.items.map((item) => item.id));
    const all = readItemResults(file).results.filter((result) => ids.has(result.id));
    summaries.push(
      summarize(
        {
          name: benchmark.name,
          title: benchmark.title,
          metric: benchmark.metric,
          total: benchmark.items.length,
          skippedRecords: benchmark.skipped,
        },
        all,
        settings.ks,
      ),
    );
  }

  const markdown = formatResultsMarkdown(settings.model, summaries, settings.ks);
  const report: EvalReport = {
    model: settings.model,
    provider: settings.provider,
    settings,
    benchmarks: summaries,
    markdown,
    generatedItems,
    resumedItems,
    finishedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(options.outDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(path.join(options.outDir, 'results.md'), markdown);
  return report;
}

/** Grades the completions of one item into its result line. */
export function gradeItem(
  benchmark: Pick<Benchmark, 'name' | 'grading'>,
  item: BenchmarkItem,
  completions: { text: string; finishReason: SampleResult['finishReason']; tokenIds?: number[] }[],
  settings: Pick<RunSettings, 'ks'>,
  grading: MathGradeOptions | undefined,
  saveCompletions: boolean,
  seconds?: number,
): ItemResult {
  const samples: SampleResult[] = completions.map((completion) => {
    const grade = gradeItemResponse(benchmark, item, completion.text, grading);
    const sample: SampleResult = {
      extracted: grade.extracted,
      correct: grade.correct,
      finishReason: completion.finishReason,
    };
    if (!grade.correct) {
      sample.failure =
        completion.finishReason === 'length'
          ? 'truncated'
          : grade.extracted === null
            ? 'no-answer'
            : 'wrong-answer';
    }
    if (saveCompletions) sample.text = completion.text;
    if (completion.tokenIds) sample.tokens = completion.tokenIds.length;
    return sample;
  });
  const n = samples.length;
  const correct = samples.filter((sample) => sample.correct).length;
  const passAt: Record<string, number> = {};
  if (n > 0) for (const k of settings.ks) if (k <= n) passAt[String(k)] = passAtK(n, correct, k);
  return {
    benchmark: benchmark.name,
    id: item.id,
    gold: item.answer,
    n,
    correct,
    unanswered: samples.filter((sample) => sample.extracted === null).length,
    truncated: samples.filter((sample) => sample.finishReason === 'length').length,
    passAtK: passAt,
    samples,
    ...(seconds !== undefined ? { seconds: Math.round(seconds * 1000) / 1000 } : {}),
  };
}
