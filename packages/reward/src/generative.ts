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
import {
  type JudgeStats,
  type JudgeWithStats,
  countReason,
  emptyStats,
  recordFailure,
  snapshotStats,
} from './stats.js';
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
  /**
   * Maximum new tokens of the judge's answer, thoughts included. `Score: 1` is 3–5 tokens, but chat models
   * may think first (Qwen3, QwQ, DeepSeek-R1 distills, gpt-oss) when the server ignores `thinking: false`.
   * Default 4096 for chat prompts, 8 for raw-text prompts (a base model rambles on after its verdict).
   */
  maxTokens?: number;
  /**
   * Let a hybrid reasoning model think before its verdict. Default `false`: chat requests ask the chat
   * template to skip thinking (`chat_template_kwargs: {enable_thinking: false}` on OpenAI-compatible
   * servers — vLLM, SGLang, llama.cpp; `providerOptions.enableThinking: false` on local backends). Either
   * way the verdict is read after any `<think>…</think>` block, so a server that ignores the switch still works.
   */
  thinking?: boolean;
  /**
   * Extra JSON fields of every request body on OpenAI-compatible backends (`providerOptions.openai`),
   * merged over rlpt's own (a `chat_template_kwargs` object is merged key by key). E.g.
   * `{ "chat_template_kwargs": { "reasoning_effort": "low" } }` or `{ "top_k": 1 }`.
   */
  extraBody?: Record<string, unknown>;
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
  /**
   * Extra tries of one prompt after a retryable error (timeouts, 5xx, dropped connections, garbled replies).
   * A failed batch is first split: its prompts are retried one by one, without using a try, so one bad
   * request never fails the others. Rate limiting (429, or 503 with `Retry-After`) uses no try either: the
   * whole judge pauses for `Retry-After` and halves its concurrency, so a rate-limited judge slows down
   * instead of failing, within `maxRateLimitWaitMs`. Default 3.
   */
  retries?: number;
  /** First retry delay; doubles each try (with jitter), or the server's `Retry-After`. Default 500 ms. */
  retryDelayMs?: number;
  /** Longest total time one prompt may wait on rate limiting before it fails. Default 600 000 ms (10 min). */
  maxRateLimitWaitMs?: number;
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
  /** Failed tries so far (rate limiting and batch splits not counted). */
  attempt: number;
  /** Sent alone (after its batch failed), so its failure is its own. */
  solo: boolean;
  /** Time spent waiting on rate limits so far. */
  rateLimitWaitMs: number;
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
  const batchSize = assertInteger(options.batchSize ?? 16, 'batchSize', 1);
  const concurrency = assertInteger(options.concurrency ?? 8, 'concurrency', 1);
  const retries = assertInteger(options.retries ?? 3, 'retries', 0);
  const retryDelayMs = assertInteger(options.retryDelayMs ?? 500, 'retryDelayMs', 0);
  const maxRateLimitWaitMs = assertInteger(options.maxRateLimitWaitMs ?? 600_000, 'maxRateLimitWaitMs', 0);
  if (options.thinking !== undefined && typeof options.thinking !== 'boolean') {
    throw new InvalidArgumentError({
      argument: 'thinking',
      message: `thinking must be true or false; got ${JSON.stringify(options.thinking)}.`,
    });
  }
  const thinking = options.thinking ?? false;
  if (
    options.extraBody !== undefined &&
    (typeof options.extraBody !== 'object' || options.extraBody === null || Array.isArray(options.extraBody))
  ) {
    throw new InvalidArgumentError({
      argument: 'extraBody',
      message: `extraBody must be a JSON object; got ${JSON.stringify(options.extraBody)}.`,
    });
  }
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
  const maxTokens = assertInteger(options.maxTokens ?? (useChat ? 4096 : 8), 'maxTokens', 1);
  const providerOptions = thinkingProviderOptions(backend, useChat, thinking, options.extraBody);
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
      hashTemplate(
        JSON.stringify([
          templates[mode].text,
          options.system ?? '',
          fence,
          useChat,
          maxTokens,
          thinking,
          options.extraBody ?? null,
        ]),
      ),
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
  // Retry and rate-limit timers. They are not unref()ed: pending judge work keeps the process alive.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // Rate limiting: no request goes out before `pausedUntil`; the number of requests in flight adapts
  // (halved on each rate-limit answer, +1/limit on each success: AIMD) between 1 and `concurrency`.
  let pausedUntil = 0;
  let pauseTimer: ReturnType<typeof setTimeout> | undefined;
  let limit = concurrency;
  let rateLimitStreak = 0;
  // Each failure reason is printed once as a warning; later ones are counted (stats) and logged at debug.
  const warnedReasons = new Set<string>();

  const buildPrompt = (mode: JudgeMode, reference: string, prediction: string): Prompt => {
    const text = templates[mode].render({
      reference: fence ? fenceText(reference) : reference,
      predicted: fence ? fenceText(prediction) : prediction,
    });
    if (!useChat) return text;
    const messages = options.system === undefined ? [] : [{ role: 'system', content: options.system }];
    return { messages: [...messages, { role: 'user', content: text }] };
  };

  const later = (delayMs: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, delayMs);
    timers.add(timer);
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
    if (closed) return;
    const wait = pausedUntil - Date.now();
    if (wait > 0) {
      if (pauseTimer === undefined && queue.length > 0) {
        pauseTimer = setTimeout(() => {
          timers.delete(pauseTimer as ReturnType<typeof setTimeout>);
          pauseTimer = undefined;
          flush();
        }, wait);
        timers.add(pauseTimer);
      }
      return;
    }
    while (inFlight < Math.max(1, Math.floor(limit)) && queue.length > 0) {
      const batch: Task[] = [];
      while (batch.length < batchSize && queue.length > 0) {
        const next = queue[0] as Task;
        // A task whose batch failed goes alone, so that its failure is its own.
        if (batch.length > 0 && (next.solo || (batch[0] as Task).solo)) break;
        queue.shift();
        if (next.waiters > 0) batch.push(next);
        else settle(next, { kind: 'failed', reason: 'aborted', message: 'every caller aborted' });
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
          ...(providerOptions
            ? {
                providerOptions: mergeProviderOptions(
                  options.generateOptions?.providerOptions,
                  providerOptions,
                ),
              }
            : {}),
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
          isRetryable: true,
        });
      }
      rateLimitStreak = 0;
      limit = Math.min(concurrency, limit + 1 / limit);
      batch.forEach((task, index) => {
        settle(task, toOutcome(result.results[index]?.completions?.[0], maxTokens, thinking));
      });
    } catch (error) {
      handleFailure(batch, error, signal);
    } finally {
      clearTimeout(timer);
      requestControllers.delete(controller);
      inFlight--;
      // Items already queued go out at once: a slot freed by one request is never left idle for a tick.
      flush();
    }
  };

  const handleFailure = (batch: Task[], error: unknown, signal: AbortSignal) => {
    const failure = describeFailure(error, signal, closeController.signal, timeoutMs);
    const retryable = failure.retryable && !closed;
    const live = batch.filter((task) => task.waiters > 0);
    for (const task of batch) {
      if (!retryable || task.waiters === 0) {
        settle(task, { kind: 'failed', reason: failure.reason, message: failure.message });
      }
    }
    if (!retryable || live.length === 0) return;
    const rateLimited = isRateLimit(error);
    if (rateLimited) {
      stats.rateLimited++;
      rateLimitStreak++;
      limit = Math.max(1, limit / 2);
      const delay = retryDelay(error, rateLimitStreak - 1);
      pausedUntil = Math.max(pausedUntil, Date.now() + delay);
      logger.debug(
        `judge rate-limited (${failure.message}); pausing ${delay} ms, ${Math.floor(limit)} request(s) in flight at most`,
        { judge: name },
      );
      const requeue: Task[] = [];
      for (const task of live) {
        task.solo ||= live.length > 1;
        if (task.rateLimitWaitMs + delay > maxRateLimitWaitMs) {
          settle(task, {
            kind: 'failed',
            reason: 'rate-limited',
            message: `still rate-limited after waiting ${Math.round(task.rateLimitWaitMs / 1000)} s (maxRateLimitWaitMs ${maxRateLimitWaitMs}): ${failure.message}`,
          });
          continue;
        }
        task.rateLimitWaitMs += delay;
        stats.retries++;
        requeue.push(task);
      }
      queue.unshift(...requeue);
      return;
    }
    if (live.length > 1) {
      // Split: each prompt of the failed batch is retried alone, at once, without using one of its tries.
      for (const task of live) task.solo = true;
      stats.retries += live.length;
      logger.debug(
        `judge request failed (${failure.message}); retrying its ${live.length} prompts one by one`,
        { judge: name },
      );
      queue.unshift(...live);
      return;
    }
    const task = live[0] as Task;
    if (task.attempt >= retries) {
      settle(task, {
        kind: 'failed',
        reason: failure.reason,
        message: `${failure.message} (gave up after ${task.attempt + 1} tries)`,
      });
      return;
    }
    const delay = retryDelay(error, task.attempt);
    task.attempt++;
    stats.retries++;
    logger.debug(`judge request failed (${failure.message}); retrying in ${delay} ms`, { judge: name });
    later(delay, () => {
      if (closed) {
        settle(task, { kind: 'failed', reason: 'closed', message: 'the judge was closed' });
        return;
      }
      queue.unshift(task);
      flush();
    });
  };

  const retryDelay = (error: unknown, attempt: number): number => {
    if (ApiCallError.isInstance(error) && error.retryAfterSeconds !== undefined) {
      return Math.min(60_000, Math.max(0, error.retryAfterSeconds * 1000));
    }
    const base = Math.min(30_000, retryDelayMs * 2 ** attempt);
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
    recordFailure(stats, {
      reason: outcome.reason,
      message: outcome.message,
      raw: outcome.raw,
      id: item?.id,
    });
    if (warnedReasons.has(outcome.reason)) {
      logger.debug(`judge failure (${outcome.reason}): ${outcome.message}`, { judge: name, id: item?.id });
    } else {
      warnedReasons.add(outcome.reason);
      logger.warn(
        `judge failure (${outcome.reason}): ${outcome.message} — further '${outcome.reason}' failures are counted in the judge stats, not printed`,
        { judge: name, id: item?.id },
      );
    }
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
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
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
  return {
    namespace,
    reference,
    prediction,
    cache,
    prompt,
    waiters: 0,
    attempt: 0,
    solo: false,
    rateLimitWaitMs: 0,
    resolve,
    promise,
  };
}

/**
 * The request fields that turn a hybrid model's thinking off (or leave it on), plus the caller's extra
 * body, in the shape the backend reads: `providerOptions.openai` (request-body fields) for OpenAI-compatible
 * servers, `providerOptions.enableThinking` for local backends (onnx, transformers.js).
 */
function thinkingProviderOptions(
  backend: InferenceBackendV1,
  useChat: boolean,
  thinking: boolean,
  extraBody: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (backend.provider === 'openai') {
    // The strict OpenAI API rejects unknown fields; vLLM, SGLang and llama.cpp read chat_template_kwargs.
    const strictOpenAI = (backend as { server?: unknown }).server === 'openai';
    const body: Record<string, unknown> = {};
    if (useChat && !thinking && !strictOpenAI) body.chat_template_kwargs = { enable_thinking: false };
    for (const [key, value] of Object.entries(extraBody ?? {})) {
      body[key] =
        key === 'chat_template_kwargs' && isPlainObject(value) && isPlainObject(body[key])
          ? { ...(body[key] as Record<string, unknown>), ...value }
          : value;
    }
    return Object.keys(body).length > 0 ? { openai: body } : undefined;
  }
  if (extraBody !== undefined && Object.keys(extraBody).length > 0) {
    throw new InvalidArgumentError({
      argument: 'extraBody',
      message: `extraBody is sent to OpenAI-compatible servers only; backend ${backend.provider}:${backend.modelId} has no request body. Use generateOptions.providerOptions for it.`,
    });
  }
  return useChat && !thinking ? { enableThinking: false } : undefined;
}

function mergeProviderOptions(
  given: Record<string, unknown> | undefined,
  ours: Record<string, unknown>,
): Record<string, unknown> {
  if (!given) return ours;
  const merged: Record<string, unknown> = { ...ours, ...given };
  if (isPlainObject(ours.openai) && isPlainObject(given.openai)) {
    merged.openai = { ...ours.openai, ...given.openai };
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** 429, or 503 with a `Retry-After`: the server asks the client to slow down. */
function isRateLimit(error: unknown): boolean {
  if (!ApiCallError.isInstance(error)) return false;
  return error.statusCode === 429 || (error.statusCode === 503 && error.retryAfterSeconds !== undefined);
}

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

/**
 * Reads the verdict after the model's thoughts. Thoughts arrive three ways (see
 * shared/reference/inference-servers.md §2.3–2.4): split out by the server's reasoning parser (`text` is
 * then the content alone, empty or null when the budget ran out while thinking), inline as
 * `<think>…</think>` (no parser; or an old vLLM `qwen3` parser returning a cut-off thought as content), or
 * with only the closing `</think>` (templates that open the block in the prompt: Qwen3-Thinking-2507,
 * DeepSeek-R1). A `Score:` line inside the thoughts never counts.
 */
function toOutcome(
  completion: { text?: unknown; finishReason?: string; reasoning?: string } | undefined,
  maxTokens: number,
  thinking: boolean,
): Outcome {
  if (!completion || (typeof completion.text !== 'string' && completion.text !== null)) {
    return {
      kind: 'failed',
      reason: 'bad-backend-response',
      message: 'the backend returned no completion text',
    };
  }
  const raw = completion.text ?? '';
  if (completion.finishReason === 'error') {
    return {
      kind: 'failed',
      reason: 'backend-error',
      message: 'the backend reported an error for this prompt',
      raw,
    };
  }
  const close = raw.lastIndexOf(THINK_CLOSE);
  const openOnly = close < 0 && raw.includes(THINK_OPEN);
  const answer = close >= 0 ? raw.slice(close + THINK_CLOSE.length) : openOnly ? '' : raw;
  let score = parseVerdict(answer);
  // A parser that files the whole reply under reasoning although the model finished (vLLM's deepseek_r1
  // parser with enable_thinking=false: no </think> in the output, so content is null) — the verdict is there.
  if (
    score === undefined &&
    answer.trim() === '' &&
    completion.finishReason !== 'length' &&
    typeof completion.reasoning === 'string'
  ) {
    const reasoning = completion.reasoning;
    const end = reasoning.lastIndexOf(THINK_CLOSE);
    score = parseVerdict(end >= 0 ? reasoning.slice(end + THINK_CLOSE.length) : reasoning);
    if (score !== undefined) return { kind: 'ok', score, raw: reasoning };
  }
  if (score !== undefined) return { kind: 'ok', score, raw };
  if (completion.finishReason === 'length') {
    const where = openOnly || answer.trim() === '' ? ' while the model was still thinking' : '';
    return {
      kind: 'failed',
      reason: 'truncated',
      message: `the judge's output was cut at maxTokens=${maxTokens}${where}, before a "Score: 0|1" verdict: raise --judge-max-tokens (judge.maxTokens)${thinking ? '' : ', or check that the server honours chat_template_kwargs.enable_thinking=false (--judge-thinking off)'}. Output starts ${JSON.stringify(raw.slice(0, 120))}`,
      raw,
    };
  }
  return {
    kind: 'failed',
    reason: 'unparseable',
    message: `the judge's output has no "Score: 0" or "Score: 1" line${close >= 0 ? ' after its thoughts' : ''}: ${JSON.stringify(answer.slice(-200))}`,
    raw,
  };
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
    // A 2xx whose body is not a reply (garbled by a proxy, cut off) is worth another try, unlike a 4xx.
    const garbled = error.statusCode !== undefined && error.statusCode >= 200 && error.statusCode < 300;
    return {
      reason: garbled ? 'bad-backend-response' : 'api-error',
      message: `${error.url}${status}: ${message}`,
      retryable: error.isRetryable || garbled,
    };
  }
  if (RlptError.isInstance(error)) {
    return {
      reason: error.code === 'bad-backend-response' ? error.code : 'backend-error',
      message,
      retryable: error.isRetryable || error.code === 'bad-backend-response',
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
