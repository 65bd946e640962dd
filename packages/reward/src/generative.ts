import type { PresetName, PromptPreset, PromptTemplate } from '@rlpt/prompts';
import { compileTemplate, getPreset } from '@rlpt/prompts';
import type {
  GenerateRequest,
  InferenceBackendV1,
  JudgeItem,
  JudgeMode,
  JudgeVerdict,
  Prompt,
} from '@rlpt/spec';
import {
  AbortError,
  ApiCallError,
  InvalidArgumentError,
  RlptError,
  TimeoutError,
  silentLogger,
} from '@rlpt/spec';
import {
  type JudgeCache,
  type JudgeCacheScope,
  type JudgeCacheOptions,
  KeyedStore,
  createJudgeCache,
  hashTemplate,
} from './cache.js';
import { type JudgeObservability, assertInteger, assertMode, checkItem, failedVerdict } from './common.js';
import { type HardeningOptions, fenceText, hardenPrediction, resolveHardeningOptions } from './harden.js';
import { type JudgeStats, type JudgeWithStats, countReason, emptyStats, snapshotStats } from './stats.js';
import { parseVerdict } from './verdict.js';

/** What a final judge failure becomes (see the README's "Judge failures"). */
export type JudgeFailurePolicy = 'exclude' | 'zero';

export interface GenerativeJudgeOptions extends JudgeObservability {
  /** The judge model: any `InferenceBackendV1` (OpenAI-compatible server, local ONNX model, …). */
  backend: InferenceBackendV1;
  /** Default mode for items without their own. Default `prefix` (the paper's reward). */
  mode?: JudgeMode;
  /** Built-in prompt preset (`paper`, `tiny`) or your own from `definePreset`. Default `paper`. */
  preset?: PresetName | PromptPreset;
  /**
   * Replace the preset's judge prompt: one template (used for the judge's `mode`) or one per mode. Must
   * contain `{reference}` and `{predicted}`.
   */
  template?: string | PromptTemplate | { prefix?: string | PromptTemplate; strict?: string | PromptTemplate };
  /** Judge name in caches and logs. Default `generative:<provider>:<modelId>`. */
  name?: string;
  /** Maximum new tokens of the judge's answer (`Score: 1` is 3–5 tokens). Default 8. */
  maxTokens?: number;
  /**
   * `chat`: send the prompt as one user message (the backend applies the model's chat template).
   * `text`: send the raw prompt (base models). `auto` (default): `chat` when the backend supports it.
   */
  promptFormat?: 'auto' | 'chat' | 'text';
  /** System message before the judge prompt (chat format only). */
  system?: string;
  /** Fence the prediction and reference in code fences inside the prompt (see hardening). Default true. */
  fence?: boolean;
  /** Prompts per `generate` request: judge calls of one `judge()` batch — and of concurrent ones — are grouped. Default 16. */
  batchSize?: number;
  /** `generate` requests in flight at once. Default 8. */
  concurrency?: number;
  /** Extra tries after a retryable error (timeouts, 429, 5xx, connection errors). Default 2. */
  retries?: number;
  /** First retry delay; doubles each try (with jitter), or the server's `Retry-After`. Default 500 ms. */
  retryDelayMs?: number;
  /** Time limit of one `generate` request. Default 60 000 ms. */
  timeoutMs?: number;
  /** What a judge failure becomes once retries are spent. Default `exclude`. */
  onFailure?: JudgeFailurePolicy;
  /** A verdict cache (shared or own), options for an own one (default: 100 000 entries), or `false`. */
  cache?: JudgeCache | JudgeCacheOptions | false;
  /** Hardening rules applied before any judge call, or `false` (not recommended: see the README). */
  hardening?: HardeningOptions | false;
  /** Extra fields of each `generate` request (e.g. `stop`, `seed`, `providerOptions`). Greedy decoding is always used. */
  generateOptions?: Omit<Partial<GenerateRequest>, 'prompts' | 'maxTokens' | 'temperature' | 'n'>;
}

type Outcome =
  | { kind: 'ok'; score: 0 | 1; raw: string }
  | { kind: 'failed'; reason: string; message: string; raw?: string };

interface Task {
  namespace: string;
  reference: string;
  prediction: string;
  cache: JudgeCacheScope | undefined;
  prompt: Prompt;
  /** Callers still waiting for this task. */
  waiters: number;
  attempt: number;
  resolve(outcome: Outcome): void;
  promise: Promise<Outcome>;
}

const modes: JudgeMode[] = ['prefix', 'strict'];

/**
 * A generative reward model (GRM) judge over any inference backend: the paper's judge prompt, greedy
 * decoding, the verdict parsed from the last `Score: 0|1` line. Unparseable output is a judge failure
 * (status `failed`), never a silent 0. Judge calls from all items of a batch — and from concurrent
 * `judge()` calls — are de-duplicated, cached and grouped into batched `generate` requests.
 */
export function createGenerativeJudge(options: GenerativeJudgeOptions): JudgeWithStats {
  const { backend } = options;
  if (!backend || typeof backend.generate !== 'function') {
    throw new InvalidArgumentError({
      argument: 'backend',
      message: 'createGenerativeJudge needs `backend`: an InferenceBackendV1 (e.g. createOpenAIBackend(…)).',
    });
  }
  const defaultMode = assertMode(options.mode ?? 'prefix', 'mode');
  const maxTokens = assertInteger(options.maxTokens ?? 8, 'maxTokens', 1);
  const batchSize = assertInteger(options.batchSize ?? 16, 'batchSize', 1);
  const concurrency = assertInteger(options.concurrency ?? 8, 'concurrency', 1);
  const retries = assertInteger(options.retries ?? 2, 'retries', 0);
  const retryDelayMs = assertInteger(options.retryDelayMs ?? 500, 'retryDelayMs', 0);
  const timeoutMs = assertInteger(options.timeoutMs ?? 60_000, 'timeoutMs', 1);
  const onFailure = options.onFailure ?? 'exclude';
  if (onFailure !== 'exclude' && onFailure !== 'zero') {
    throw new InvalidArgumentError({
      argument: 'onFailure',
      message: `onFailure must be 'exclude' or 'zero'; got ${JSON.stringify(onFailure)}.`,
    });
  }
  const promptFormat = options.promptFormat ?? 'auto';
  if (promptFormat !== 'auto' && promptFormat !== 'chat' && promptFormat !== 'text') {
    throw new InvalidArgumentError({
      argument: 'promptFormat',
      message: `promptFormat must be 'auto', 'chat' or 'text'; got ${JSON.stringify(promptFormat)}.`,
    });
  }
  const useChat = promptFormat === 'chat' || (promptFormat === 'auto' && backend.capabilities?.chat === true);
  if (options.system !== undefined && !useChat) {
    throw new InvalidArgumentError({
      argument: 'system',
      message: `A system message needs the chat prompt format, but backend ${backend.provider}:${backend.modelId} does not support chat prompts (or promptFormat is 'text').`,
    });
  }
  const fence = options.fence ?? true;
  const templates = resolveTemplates(options, defaultMode);
  const namespaces = Object.fromEntries(
    modes.map((mode) => [
      mode,
      hashTemplate(JSON.stringify([templates[mode].text, options.system ?? '', fence, useChat, maxTokens])),
    ]),
  ) as Record<JudgeMode, string>;
  const taskNamespaces: Record<JudgeMode, string> = {
    prefix: `${namespaces.prefix}:prefix`,
    strict: `${namespaces.strict}:strict`,
  };
  const hardening = options.hardening === false ? undefined : resolveHardeningOptions(options.hardening);
  const cache =
    options.cache === false
      ? undefined
      : options.cache && 'get' in options.cache
        ? options.cache
        : createJudgeCache(options.cache ?? {});
  const name = options.name ?? `generative:${backend.provider}:${backend.modelId}`;
  const cacheScopes: Record<JudgeMode, JudgeCacheScope | undefined> = {
    prefix: cache?.scope(name, namespaces.prefix, 'prefix'),
    strict: cache?.scope(name, namespaces.strict, 'strict'),
  };
  const logger = options.logger ?? silentLogger;

  let stats: JudgeStats = emptyStats();
  // Judge calls queued or in flight, by (namespace, reference, prediction): identical items share one.
  const tasks = new KeyedStore<Task>();
  const queue: Task[] = [];
  let inFlight = 0;
  let flushScheduled = false;
  let closed = false;
  const closeController = new AbortController();
  const requestControllers = new Set<AbortController>();

  const buildPrompt = (mode: JudgeMode, reference: string, prediction: string): Prompt => {
    const text = templates[mode].render({
      reference: fence ? fenceText(reference) : reference,
      predicted: fence ? fenceText(prediction) : prediction,
    });
    if (!useChat) return text;
    const messages = options.system === undefined ? [] : [{ role: 'system', content: options.system }];
    return { messages: [...messages, { role: 'user', content: text }] };
  };

  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    // setImmediate lets every item of the current judge() calls join the queue before batches are cut.
    setImmediate(() => {
      flushScheduled = false;
      flush();
    });
  };

  const flush = () => {
    while (inFlight < concurrency && queue.length > 0) {
      const batch: Task[] = [];
      while (batch.length < batchSize && queue.length > 0) {
        const task = queue.shift() as Task;
        if (task.waiters > 0) batch.push(task);
        else settle(task, { kind: 'failed', reason: 'aborted', message: 'every caller aborted' });
      }
      if (batch.length > 0) void runBatch(batch);
    }
  };

  const settle = (task: Task, outcome: Outcome) => {
    tasks.delete(task.namespace, task.reference, task.prediction);
    if (outcome.kind === 'ok') {
      task.cache?.set(task.reference, task.prediction, {
        score: outcome.score,
        status: 'ok',
        raw: outcome.raw,
      });
    }
    task.resolve(outcome);
  };

  const runBatch = async (batch: Task[]) => {
    inFlight++;
    stats.requests++;
    stats.judgeCalls += batch.length;
    // One controller per request, aborted by the timer or by close() (cheaper than AbortSignal.any).
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new TimeoutError({ message: `no answer within ${timeoutMs} ms`, timeoutMs })),
      timeoutMs,
    );
    requestControllers.add(controller);
    const { signal } = controller;
    try {
      const result = await backend.generate(
        {
          ...options.generateOptions,
          prompts: batch.map((task) => task.prompt),
          maxTokens,
          temperature: 0,
          n: 1,
        },
        { signal },
      );
      if (!Array.isArray(result?.results) || result.results.length !== batch.length) {
        throw new RlptError({
          code: 'bad-backend-response',
          message: `Backend ${backend.provider}:${backend.modelId} returned ${result?.results?.length ?? 'no'} results for ${batch.length} prompts.`,
        });
      }
      batch.forEach((task, index) => {
        settle(task, toOutcome(result.results[index]?.completions?.[0]));
      });
    } catch (error) {
      const failure = describeFailure(error, signal, closeController.signal, timeoutMs);
      const retryable = failure.retryable && !closed;
      const retrying = batch.filter((task) => retryable && task.attempt < retries && task.waiters > 0);
      for (const task of batch) {
        if (!retrying.includes(task))
          settle(task, { kind: 'failed', reason: failure.reason, message: failure.message });
      }
      if (retrying.length > 0) {
        stats.retries++;
        const delay = retryDelay(error, retrying[0]?.attempt ?? 0);
        logger.debug(
          `judge request failed (${failure.message}); retrying ${retrying.length} prompt(s) in ${delay} ms`,
          {
            judge: name,
          },
        );
        setTimeout(() => {
          for (const task of retrying) {
            task.attempt++;
            if (closed) {
              settle(task, { kind: 'failed', reason: 'closed', message: 'the judge was closed' });
              continue;
            }
            queue.unshift(task);
          }
          scheduleFlush();
        }, delay).unref?.();
      }
    } finally {
      clearTimeout(timer);
      requestControllers.delete(controller);
      inFlight--;
      // Items already queued go out at once: a slot freed by one request is never left idle for a tick.
      flush();
    }
  };

  const retryDelay = (error: unknown, attempt: number): number => {
    if (ApiCallError.isInstance(error) && error.retryAfterSeconds !== undefined) {
      return Math.min(30_000, Math.max(0, error.retryAfterSeconds * 1000));
    }
    const base = retryDelayMs * 2 ** attempt;
    return Math.round(base * (0.75 + Math.random() * 0.5));
  };

  const toVerdict = (outcome: Outcome, cached: boolean): JudgeVerdict => {
    if (outcome.kind === 'ok') {
      return cached
        ? { score: outcome.score, status: 'ok', raw: outcome.raw, cached: true }
        : { score: outcome.score, status: 'ok', raw: outcome.raw };
    }
    if (onFailure === 'zero') {
      const verdict: JudgeVerdict = { score: 0, status: 'ok', reason: `judge-failure:${outcome.reason}` };
      if (outcome.raw !== undefined) verdict.raw = outcome.raw;
      return verdict;
    }
    return failedVerdict(outcome.reason, outcome.raw);
  };

  const recordOutcome = (outcome: Outcome, item: JudgeItem | undefined) => {
    if (outcome.kind === 'ok') {
      stats.ok++;
      if (outcome.score > 0) stats.positives++;
      return;
    }
    stats.failed++;
    countReason(stats, outcome.reason);
    if (outcome.reason === 'aborted') return;
    logger.warn(`judge failure (${outcome.reason}): ${outcome.message}`, { judge: name, id: item?.id });
    options.onEvent?.({
      type: 'judge-error',
      id: item?.id,
      reason: outcome.reason,
      message: outcome.message,
    });
  };

  const judge: JudgeWithStats['judge'] = async (items, callOptions) => {
    const signal = callOptions?.signal;
    if (signal?.aborted) throw new AbortError({ cause: signal.reason });
    if (closed) {
      throw new RlptError({ code: 'closed', message: `Judge ${name} is closed; create a new one.` });
    }
    const verdicts: JudgeVerdict[] = new Array(items.length);
    const waits: Promise<void>[] = [];
    const attached: Task[] = [];
    for (let index = 0; index < items.length; index++) {
      // Every 256 items, let the requests already queued go out (and other callers run) while the rest
      // of a large batch is prepared.
      if (index > 0 && index % 256 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        if (signal?.aborted || closed) {
          for (const task of attached) task.waiters--;
          if (closed) throw new RlptError({ code: 'closed', message: `Judge ${name} was closed.` });
          throw new AbortError({ cause: signal?.reason });
        }
      }
      const item = items[index] as JudgeItem;
      stats.items++;
      const checked = checkItem(item, index, defaultMode);
      if ('reason' in checked) {
        const outcome: Outcome = { kind: 'failed', reason: checked.reason, message: checked.message };
        recordOutcome(outcome, item);
        verdicts[index] = toVerdict(outcome, false);
        continue;
      }
      let prediction = item.prediction;
      if (hardening) {
        const result = hardenPrediction(item, hardening);
        if (result.action === 'skip') {
          stats.skipped++;
          countReason(stats, result.reason);
          logger.debug(`prediction skipped: ${result.reason} (${result.detail})`, {
            judge: name,
            id: item.id,
          });
          verdicts[index] = { score: 0, status: 'skipped', reason: result.reason };
          continue;
        }
        prediction = result.prediction;
      }
      const hit = cacheScopes[checked.mode]?.get(item.reference, prediction);
      if (hit) {
        stats.cacheHits++;
        const outcome: Outcome = { kind: 'ok', score: hit.score > 0 ? 1 : 0, raw: hit.raw ?? '' };
        recordOutcome(outcome, item);
        verdicts[index] = toVerdict(outcome, true);
        continue;
      }
      const namespace = taskNamespaces[checked.mode];
      let task = tasks.get(namespace, item.reference, prediction);
      if (task) stats.deduplicated++;
      else {
        task = createTask(
          namespace,
          item.reference,
          prediction,
          cacheScopes[checked.mode],
          buildPrompt(checked.mode, item.reference, prediction),
        );
        tasks.set(namespace, item.reference, prediction, task);
        queue.push(task);
        scheduleFlush();
      }
      task.waiters++;
      attached.push(task);
      waits.push(
        task.promise.then((outcome) => {
          recordOutcome(outcome, item);
          verdicts[index] = toVerdict(outcome, false);
        }),
      );
    }
    if (waits.length === 0) return verdicts;
    scheduleFlush();
    if (!signal) {
      await Promise.all(waits);
      return verdicts;
    }
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        for (const task of attached) task.waiters--;
        reject(new AbortError({ cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([Promise.all(waits), aborted]);
      return verdicts;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    specificationVersion: 'v1',
    name,
    judge,
    stats: () => snapshotStats(stats),
    resetStats() {
      stats = emptyStats();
    },
    async close() {
      if (closed) return;
      closed = true;
      closeController.abort(new AbortError({ message: `Judge ${name} was closed.` }));
      for (const controller of requestControllers) controller.abort(closeController.signal.reason);
      for (const task of queue.splice(0)) {
        settle(task, { kind: 'failed', reason: 'closed', message: 'the judge was closed' });
      }
    },
  };
}

function createTask(
  namespace: string,
  reference: string,
  prediction: string,
  cache: JudgeCacheScope | undefined,
  prompt: Prompt,
): Task {
  let resolve!: (outcome: Outcome) => void;
  const promise = new Promise<Outcome>((done) => {
    resolve = done;
  });
  return { namespace, reference, prediction, cache, prompt, waiters: 0, attempt: 0, resolve, promise };
}

function toOutcome(completion: { text?: unknown; finishReason?: string } | undefined): Outcome {
  if (!completion || typeof completion.text !== 'string') {
    return {
      kind: 'failed',
      reason: 'bad-backend-response',
      message: 'the backend returned no completion text',
    };
  }
  const raw = completion.text;
  if (completion.finishReason === 'error') {
    return {
      kind: 'failed',
      reason: 'backend-error',
      message: 'the backend reported an error for this prompt',
      raw,
    };
  }
  const score = parseVerdict(raw);
  if (score === undefined) {
    return {
      kind: 'failed',
      reason: 'unparseable',
      message: `the judge's output has no "Score: 0" or "Score: 1" line: ${JSON.stringify(raw.slice(0, 200))}${completion.finishReason === 'length' ? ' (cut at maxTokens)' : ''}`,
      raw,
    };
  }
  return { kind: 'ok', score, raw };
}

function describeFailure(
  error: unknown,
  signal: AbortSignal,
  closeSignal: AbortSignal,
  timeoutMs: number,
): { reason: string; message: string; retryable: boolean } {
  const message = error instanceof Error ? error.message : String(error);
  if (closeSignal.aborted) return { reason: 'closed', message: 'the judge was closed', retryable: false };
  if (TimeoutError.isInstance(error) || (signal.aborted && !closeSignal.aborted)) {
    return { reason: 'timeout', message: `no answer within ${timeoutMs} ms`, retryable: true };
  }
  if (ApiCallError.isInstance(error)) {
    const status = error.statusCode === undefined ? '' : ` (HTTP ${error.statusCode})`;
    return {
      reason: 'api-error',
      message: `${error.url}${status}: ${message}`,
      retryable: error.isRetryable,
    };
  }
  if (RlptError.isInstance(error)) {
    return {
      reason: error.code === 'bad-backend-response' ? error.code : 'backend-error',
      message,
      retryable: error.isRetryable,
    };
  }
  // Unknown errors (e.g. a fetch TypeError from a dropped connection) are worth one more try.
  return { reason: 'backend-error', message, retryable: true };
}

function resolveTemplates(
  options: GenerativeJudgeOptions,
  defaultMode: JudgeMode,
): Record<JudgeMode, PromptTemplate> {
  const preset = getPreset(options.preset ?? 'paper');
  const given = options.template;
  const perMode: { prefix?: string | PromptTemplate; strict?: string | PromptTemplate } =
    given === undefined
      ? {}
      : typeof given === 'string' || 'render' in given
        ? { [defaultMode]: given }
        : given;
  const compile = (mode: JudgeMode): PromptTemplate => {
    const kind = mode === 'prefix' ? 'grmPrefix' : 'grmStrict';
    const template = perMode[mode];
    if (template === undefined)
      return compileTemplate(preset[kind], { kind, name: `${preset.name}/${kind}` });
    if (typeof template === 'string') return compileTemplate(template, { kind, name: `template.${mode}` });
    return compileTemplate(template.text, { kind, name: template.name });
  };
  return { prefix: compile('prefix'), strict: compile('strict') };
}
