import type { GenerateRequest, InferenceBackendV1, Logger, Prompt, PromptResult, Usage } from '@rlpt/spec';

/** The sampling settings of one HTTP request: requests with equal settings can share a `generate` call. */
export type SamplingSettings = Omit<GenerateRequest, 'prompts' | 'providerOptions'>;

/** One HTTP request waiting for (or in) a batch. */
interface Job {
  id: number;
  prompts: Prompt[];
  settings: SamplingSettings;
  /** Jobs with equal keys may share a call; `solo:<id>` runs alone. */
  key: string;
  /** Sequences the decode loop holds for this job: prompts × n. */
  sequences: number;
  enqueuedAt: number;
  signal?: AbortSignal;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** What a job gets back: its prompts' results, and the batch it ran in (for logs and stats). */
export interface BatchOutcome {
  results: PromptResult[];
  /** Usage of the whole batch (split it by token ids when you can). */
  batchUsage: Usage;
  /** Requests that shared the `generate` call, this one included. */
  batchRequests: number;
  /** Prompts of the batch. */
  batchPrompts: number;
}

export interface MicroBatcherOptions {
  /** Most sequences (prompts × n) per `generate` call; 1 turns batching off. */
  maxBatch: number;
  /** How long the oldest waiting request may wait for company while the backend is idle, in ms. */
  windowMs: number;
  /** `generate` calls running at once. */
  maxConcurrentBatches: number;
  /** Requests allowed to wait; beyond this `submit` throws {@link QueueFullError}. */
  maxQueued: number;
  logger: Logger;
}

/** The queue is full: the server answers 429 with Retry-After. */
export class QueueFullError extends Error {
  constructor(readonly queued: number) {
    super(`The server is overloaded: ${queued} requests are already waiting.`);
    this.name = 'QueueFullError';
  }
}

/** Counters for `/health` and benchmarks. */
export interface BatcherStats {
  /** Requests waiting for a batch. */
  queued: number;
  /** `generate` calls running. */
  runningBatches: number;
  /** `generate` calls made so far. */
  batches: number;
  /** Requests served through them. */
  requests: number;
  /** Largest number of requests in one call. */
  largestBatch: number;
}

/** Requests with a seed never share a call: their samples must not depend on who else was batched. */
function keyOf(settings: SamplingSettings, id: number): string {
  if (settings.seed !== undefined) return `seeded:${id}`;
  return JSON.stringify([
    settings.n ?? 1,
    settings.maxTokens,
    settings.temperature ?? 1,
    settings.topP ?? 1,
    settings.topK ?? 0,
    settings.minP ?? 0,
    settings.stop ?? [],
    settings.stopTokenIds ?? [],
    settings.logprobs ?? false,
  ]);
}

/**
 * Micro-batching in front of an `InferenceBackendV1`: concurrent requests with the same sampling settings
 * are merged into one `generate` call, so the backend's decode loop advances them together. A request
 * waits at most `windowMs` for company while the backend is idle; while a batch runs, arrivals queue up
 * and go together as soon as it ends (up to `maxBatch` sequences). FIFO: the oldest request's group
 * always goes first.
 */
export class MicroBatcher {
  readonly #backend: InferenceBackendV1;
  readonly #options: MicroBatcherOptions;
  readonly #queue: Job[] = [];
  #running = 0;
  #nextId = 0;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];
  readonly #stats = { batches: 0, requests: 0, largestBatch: 0 };

  constructor(backend: InferenceBackendV1, options: MicroBatcherOptions) {
    this.#backend = backend;
    this.#options = options;
  }

  stats(): BatcherStats {
    return { queued: this.#queue.length, runningBatches: this.#running, ...this.#stats };
  }

  /** Queues one request; resolves with its results once its batch is done. */
  submit(prompts: Prompt[], settings: SamplingSettings, signal?: AbortSignal): Promise<BatchOutcome> {
    if (this.#queue.length >= this.#options.maxQueued) {
      return Promise.reject(new QueueFullError(this.#queue.length));
    }
    return new Promise<BatchOutcome>((resolve, reject) => {
      const id = this.#nextId++;
      const job: Job = {
        id,
        prompts,
        settings,
        key: keyOf(settings, id),
        sequences: prompts.length * (settings.n ?? 1),
        enqueuedAt: performance.now(),
        resolve,
        reject,
      };
      if (signal) {
        job.signal = signal;
        // A client that leaves while queued is dropped at once; one in a running batch rides along.
        signal.addEventListener(
          'abort',
          () => {
            const index = this.#queue.indexOf(job);
            if (index >= 0) {
              this.#queue.splice(index, 1);
              reject(signal.reason);
              this.#notifyIfIdle();
            }
          },
          { once: true },
        );
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIfIdle(): void {
    if (this.#queue.length === 0 && this.#running === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  #pump(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#running < this.#options.maxConcurrentBatches && this.#queue.length > 0) {
      const oldest = this.#queue[0]!;
      const group: Job[] = [];
      let sequences = 0;
      let moreWaiting = false;
      for (const job of this.#queue) {
        if (job.key !== oldest.key) continue;
        if (group.length > 0 && sequences + job.sequences > this.#options.maxBatch) {
          moreWaiting = true;
          break;
        }
        group.push(job);
        sequences += job.sequences;
      }
      const full = moreWaiting || sequences >= this.#options.maxBatch;
      const waited = performance.now() - oldest.enqueuedAt;
      if (!full && waited < this.#options.windowMs) {
        this.#timer = setTimeout(() => this.#pump(), Math.max(1, this.#options.windowMs - waited));
        return;
      }
      for (const job of group) this.#queue.splice(this.#queue.indexOf(job), 1);
      void this.#run(group);
    }
  }

  async #run(group: Job[]): Promise<void> {
    this.#running++;
    this.#stats.batches++;
    this.#stats.requests += group.length;
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, group.length);
    const settings = group[0]!.settings;
    const request: GenerateRequest = { ...settings, prompts: group.flatMap((job) => job.prompts) };
    // Abort the call only when every client in it has gone.
    const controller = new AbortController();
    const signals = group.map((job) => job.signal);
    if (signals.every((signal) => signal !== undefined)) {
      const onAbort = () => {
        if (signals.every((signal) => signal?.aborted)) controller.abort(new Error('every client left'));
      };
      for (const signal of signals) signal?.addEventListener('abort', onAbort, { once: true });
      onAbort();
    }
    try {
      const result = await this.#backend.generate(request, { signal: controller.signal });
      for (const warning of result.warnings) {
        this.#options.logger.warn(`backend warning: ${warning.message}`, { setting: warning.setting });
      }
      if (result.results.length !== request.prompts.length) {
        throw new Error(
          `The backend returned ${result.results.length} results for ${request.prompts.length} prompts.`,
        );
      }
      let offset = 0;
      for (const job of group) {
        job.resolve({
          results: result.results.slice(offset, offset + job.prompts.length),
          batchUsage: result.usage,
          batchRequests: group.length,
          batchPrompts: request.prompts.length,
        });
        offset += job.prompts.length;
      }
    } catch (error) {
      if (group.length > 1 && !controller.signal.aborted) {
        // One bad request (say, a prompt over the context) must not fail the others it was batched
        // with: run each alone, so only the culprit gets the error.
        this.#options.logger.warn(
          `a batch of ${group.length} requests failed (${error instanceof Error ? error.message : String(error)}); retrying them one by one`,
        );
        for (const job of group) job.key = `solo:${job.id}`;
        this.#queue.unshift(...group.filter((job) => !job.signal?.aborted));
        for (const job of group) if (job.signal?.aborted) job.reject(job.signal.reason);
      } else {
        for (const job of group) job.reject(error);
      }
    } finally {
      this.#running--;
      this.#pump();
      this.#notifyIfIdle();
    }
  }
}
