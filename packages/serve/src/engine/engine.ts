/**
 * The serve engine: rlpt's own step-wise decode loop for `rlpt serve model`, with continuous batching.
 * Every decode step, finished and abandoned sequences leave the batch (their slots are free at once),
 * waiting sequences are prefilled and join it, and each request hears about its new tokens. Weights are
 * swapped between steps: sequences that started on the old weights finish on them (their KV cache was
 * computed with them); everything admitted after the update runs on the new ones.
 */
import { AbortError, type Logger, silentLogger } from '@rlpt/spec';
import {
  LogitsProcessor,
  type Picked,
  rawLogprobs,
  type SequenceSampling,
  type TokenChoice,
} from './sampling.js';
import {
  type DecoderSession,
  decodingConfig,
  type KvCache,
  openDecoderSession,
  readModelFolder,
} from '@rlpt/backend-onnx/decoder';

/** onnxruntime-node settings of the engine's decoder sessions. */
export interface SessionOptions {
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** In order of preference (default `['cpu']`); without CUDA's provider installed, CPU with a warning. */
  executionProviders?: ('cpu' | 'cuda')[];
}

/** What the engine reads from a model folder (tokenizer files are the caller's business). */
interface ModelFolder {
  /** The folder as given. */
  dir: string;
  config: Record<string, unknown>;
  eosIds: number[];
  padId: number;
  maxPositions: number;
}

/** Reads a model folder and opens its decoder (the one `@rlpt/backend-onnx` runs). */
async function openWeights(
  modelDir: string,
  options: SessionOptions | undefined,
  logger: Logger,
): Promise<{ folder: ModelFolder; session: DecoderSession }> {
  const info = await readModelFolder(modelDir, undefined, { tokenizerFiles: false });
  const session = await openDecoderSession(info, {
    ...(options?.threads ? { threads: options.threads } : {}),
    executionProviders: options?.executionProviders ?? ['cpu'],
    warn: (message) => logger.warn(message),
  });
  return { folder: { dir: modelDir, config: info.config, ...decodingConfig(info) }, session };
}

export interface EngineRequest {
  /** Prompt token ids (already tokenised). */
  prompts: number[][];
  n: number;
  maxTokens: number;
  sampling: SequenceSampling;
  seed?: number;
  stop: string[];
  stopTokenIds: number[];
  /** Keep going past end-of-sequence tokens (stop ids still stop). */
  ignoreEos: boolean;
  /** Record the sampled token's logprob. */
  logprobs: boolean;
  /** Alternatives per step (0 = none). */
  topLogprobs: number;
}

/** What one decode step added to one sequence. */
export interface SequenceDelta {
  /** prompt index × n + sample index. */
  index: number;
  tokenIds: number[];
  logprobs: number[];
  top: TokenChoice[][];
  /** Text completed by these tokens (UTF-8-safe; held back while it may start a stop string). */
  text: string;
  finishReason?: 'stop' | 'length' | 'abort';
  /** The stop string or stop token id that ended it (vLLM's `stop_reason`); null for EOS and length. */
  stopReason?: string | number | null;
}

export interface SequenceResult {
  index: number;
  promptIndex: number;
  tokenIds: number[];
  logprobs: number[];
  top: TokenChoice[][];
  text: string;
  finishReason: 'stop' | 'length' | 'abort';
  stopReason: string | number | null;
}

export interface EngineResult {
  sequences: SequenceResult[];
  /** The weights version every sequence of the request ran on. */
  weightsVersion: number;
}

export interface EngineOptions {
  modelDir: string;
  /** Decodes token ids to text (special tokens skipped). */
  decode: (tokenIds: number[]) => string;
  /** Most sequences decoded together. Default 32. */
  maxBatch?: number;
  /** How long an idle engine waits for more requests before it starts a batch, in ms. Default 5. */
  batchWindowMs?: number;
  session?: SessionOptions;
  logger?: Logger;
}

export interface EngineStats {
  /** Sequences waiting to be prefilled. */
  waiting: number;
  /** Sequences being decoded. */
  running: number;
  /** Batches being decoded (one per weights version in use). */
  batches: number;
  /** Decode steps so far. */
  steps: number;
  /** Prefill rounds (groups of sequences that joined the batch together) so far. */
  prefills: number;
  /** Requests admitted so far. */
  requests: number;
  /** Most sequences decoded together so far. */
  largestBatch: number;
  /** Weights in use for new requests. */
  weightsVersion: number;
  weightsPath: string;
}

interface Weights {
  session: DecoderSession;
  version: number;
  /** Batches still running on these weights. */
  users: number;
}

interface Job {
  request: EngineRequest;
  signal: AbortSignal | undefined;
  onDelta: ((deltas: SequenceDelta[]) => void) | undefined;
  rows: Row[];
  pendingDeltas: SequenceDelta[];
  weights: Weights | undefined;
  remaining: number;
  resolve(result: EngineResult): void;
  reject(error: unknown): void;
}

interface Row {
  job: Job;
  index: number;
  promptIndex: number;
  promptIds: number[];
  tokens: number[];
  logprobs: number[];
  top: TokenChoice[][];
  promptTokens: Set<number>;
  outputCounts: Map<number, number>;
  random: () => number;
  finish?: 'stop' | 'length' | 'abort';
  stopReason: string | number | null;
  /** Detokenisation: ids decoded so far and the text they gave. */
  textIds: number[];
  decodedText: string;
  prefixOffset: number;
  readOffset: number;
  /** Characters of `decodedText` already sent. */
  sent: number;
  /** Tokens already sent. */
  emitted: number;
  /** The finish was sent. */
  done: boolean;
  maxNew: number;
}

interface Batch {
  weights: Weights;
  rows: Row[];
  cache: KvCache;
}

function mulberry(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(...values: number[]): number {
  let hash = 2166136261;
  for (const value of values) {
    hash = Math.imul(hash ^ (value >>> 0), 16777619);
    hash = Math.imul(hash ^ Math.floor(value / 4294967296), 16777619);
  }
  return hash >>> 0;
}

export class DecodeEngine {
  readonly #options: Required<Pick<EngineOptions, 'maxBatch' | 'batchWindowMs'>> & EngineOptions;
  readonly #logger: Logger;
  #current: Weights;
  #folder: ModelFolder;
  #nextVersion = 1;
  readonly #waiting: Row[] = [];
  readonly #batches: Batch[] = [];
  readonly #tasks: (() => Promise<void>)[] = [];
  #loop: Promise<void> | undefined;
  #steps = 0;
  #prefills = 0;
  #requests = 0;
  #largestBatch = 0;
  #processor: LogitsProcessor | undefined;
  #closed = false;

  private constructor(options: EngineOptions, folder: ModelFolder, session: DecoderSession) {
    this.#options = { maxBatch: 32, batchWindowMs: 5, ...options };
    this.#logger = options.logger ?? silentLogger;
    this.#folder = folder;
    this.#current = { session, version: 0, users: 0 };
  }

  static async create(options: EngineOptions): Promise<DecodeEngine> {
    const { folder, session } = await openWeights(
      options.modelDir,
      options.session,
      options.logger ?? silentLogger,
    );
    return new DecodeEngine(options, folder, session);
  }

  get maxPositions(): number {
    return this.#folder.maxPositions;
  }

  /** config.json's `vocab_size`, when it has one. */
  get vocabSize(): number | undefined {
    const value = this.#folder.config.vocab_size;
    return typeof value === 'number' ? value : undefined;
  }

  get eosIds(): readonly number[] {
    return this.#folder.eosIds;
  }

  stats(): EngineStats {
    return {
      waiting: this.#waiting.length,
      running: this.#batches.reduce((sum, batch) => sum + batch.rows.length, 0),
      batches: this.#batches.length,
      steps: this.#steps,
      prefills: this.#prefills,
      requests: this.#requests,
      largestBatch: this.#largestBatch,
      weightsVersion: this.#current.version,
      weightsPath: this.#folder.dir,
    };
  }

  /**
   * Loads new weights from a model folder (same architecture and tokenizer). Resolves once they are in
   * use for every request admitted from now on; running sequences finish on the weights they started on.
   * Returns the number of sequences still running on older weights.
   */
  async updateWeights(modelDir: string): Promise<{ version: number; runningOnOldWeights: number }> {
    const { folder, session } = await openWeights(modelDir, this.#options.session, this.#logger);
    // The swap itself runs between decode steps, never while a step uses the old session.
    const runningOnOldWeights = await this.#task(async () => {
      const previous = this.#current;
      this.#current = { session, version: this.#nextVersion++, users: 0 };
      this.#folder = folder;
      if (previous.users === 0) await previous.session.release();
      return this.#batches.reduce((sum, batch) => sum + batch.rows.length, 0);
    });
    this.#logger.info(`weights version ${this.#current.version} loaded from ${modelDir}`, {
      runningOnOldWeights,
    });
    return { version: this.#current.version, runningOnOldWeights };
  }

  /**
   * Teacher-forced logprobs of each prompt token given the ones before it, under the current weights at
   * `temperature` (default 1: raw, as vLLM's prompt logprobs): entry 0 is null.
   */
  promptLogprobs(
    prompt: number[],
    topN: number,
    temperature = 1,
  ): Promise<({ logprob: number; rank: number; top: TokenChoice[] } | null)[]> {
    return this.#task(async () => {
      const { session } = this.#current;
      const out = await session.run({
        batch: 1,
        inputIds: prompt,
        sequence: prompt.length,
        attentionMask: new Array(prompt.length).fill(1),
        positionIds: prompt.map((_, index) => index),
        cache: session.emptyCache(1),
        keepLast: 0,
      });
      const V = out.vocabSize;
      const first = prompt.length - out.positions;
      return prompt.map((tokenId, position) => {
        const column = position - 1 - first;
        if (position === 0 || column < 0) return null;
        return rawLogprobs(out.logits.subarray(column * V, (column + 1) * V), tokenId, topN, temperature);
      });
    });
  }

  /** Generates for one request; `onDelta` hears each step's new tokens. */
  generate(
    request: EngineRequest,
    options: { signal?: AbortSignal; onDelta?: (deltas: SequenceDelta[]) => void } = {},
  ): Promise<EngineResult> {
    if (this.#closed) return Promise.reject(new Error('The engine is closed.'));
    return new Promise<EngineResult>((resolve, reject) => {
      const job: Job = {
        request,
        signal: options.signal,
        onDelta: options.onDelta,
        rows: [],
        pendingDeltas: [],
        weights: undefined,
        remaining: request.prompts.length * request.n,
        resolve,
        reject,
      };
      const seed = request.seed ?? Math.floor(Math.random() * 2 ** 32);
      for (const [promptIndex, promptIds] of request.prompts.entries()) {
        for (let sample = 0; sample < request.n; sample++) {
          job.rows.push({
            job,
            index: promptIndex * request.n + sample,
            promptIndex,
            promptIds,
            tokens: [],
            logprobs: [],
            top: [],
            promptTokens: request.sampling.repetitionPenalty !== 1 ? new Set(promptIds) : new Set(),
            outputCounts: new Map(),
            random: mulberry(mix(seed, promptIndex, sample)),
            stopReason: null,
            textIds: [],
            decodedText: '',
            prefixOffset: 0,
            readOffset: 0,
            sent: 0,
            emitted: 0,
            done: false,
            maxNew: Math.max(0, Math.min(request.maxTokens, this.#folder.maxPositions - promptIds.length)),
          });
        }
      }
      if (job.remaining === 0) {
        resolve({ sequences: [], weightsVersion: this.#current.version });
        return;
      }
      options.signal?.addEventListener(
        'abort',
        () => {
          for (const row of job.rows) if (row.finish === undefined) row.finish = 'abort';
          const queued = this.#waiting.filter((row) => row.job === job);
          for (const row of queued) this.#waiting.splice(this.#waiting.indexOf(row), 1);
          job.reject(new AbortError({ message: 'The client left.', cause: options.signal?.reason }));
        },
        { once: true },
      );
      this.#waiting.push(...job.rows);
      this.#wake();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#loop;
    await this.#current.session.release();
  }

  #task<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#tasks.push(() => work().then(resolve, reject));
      this.#wake();
    });
  }

  #wake(): void {
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
      if (this.#waiting.length > 0 || this.#tasks.length > 0) this.#wake();
    });
  }

  async #run(): Promise<void> {
    if (this.#batches.length === 0 && this.#options.batchWindowMs > 0 && this.#tasks.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, this.#options.batchWindowMs));
    }
    while (this.#waiting.length > 0 || this.#batches.length > 0 || this.#tasks.length > 0) {
      for (const task of this.#tasks.splice(0)) await task();
      try {
        await this.#admit();
        for (const batch of [...this.#batches]) await this.#step(batch);
      } catch (error) {
        this.#failAll(error);
      }
      // Let HTTP I/O (new requests, disconnects, stream writes) run between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #failAll(error: unknown): void {
    this.#logger.error(`decode step failed: ${error instanceof Error ? error.message : String(error)}`);
    const jobs = new Set<Job>();
    for (const batch of this.#batches.splice(0)) {
      for (const row of batch.rows) jobs.add(row.job);
      this.#release(batch.weights);
    }
    for (const row of this.#waiting.splice(0)) jobs.add(row.job);
    for (const job of jobs) job.reject(error);
  }

  #release(weights: Weights): void {
    weights.users--;
    if (weights.users === 0 && weights !== this.#current) void weights.session.release();
  }

  /** Prefills waiting sequences into the batch on the current weights, up to `maxBatch` in all. */
  async #admit(): Promise<void> {
    const running = this.#batches.reduce((sum, batch) => sum + batch.rows.length, 0);
    const room = this.#options.maxBatch - running;
    if (room <= 0 || this.#waiting.length === 0) return;
    const weights = this.#current;
    // A job's rows all run on one weights version: admit whole jobs that fit (or the first one alone).
    const admitted: Row[] = [];
    while (this.#waiting.length > 0) {
      const job = this.#waiting[0]!.job;
      const rows = this.#waiting.filter((row) => row.job === job);
      if (admitted.length > 0 && admitted.length + rows.length > room) break;
      if (job.weights !== undefined && job.weights !== weights) break;
      for (const row of rows) this.#waiting.splice(this.#waiting.indexOf(row), 1);
      job.weights = weights;
      this.#requests++;
      admitted.push(...rows.filter((row) => row.finish === undefined));
      if (admitted.length >= room) break;
    }
    const ready = admitted.filter((row) => {
      if (row.maxNew > 0) return true;
      this.#finish(row, 'length', null);
      return false;
    });
    this.#flush(admitted);
    if (ready.length === 0) return;
    const { session } = weights;
    this.#prefills++;
    // Prefill each distinct prompt once; n samples of it share its cache rows.
    const prompts: number[][] = [];
    const source = ready.map((row) => {
      let at = prompts.indexOf(row.promptIds);
      if (at < 0) at = prompts.push(row.promptIds) - 1;
      return at;
    });
    const length = Math.max(...prompts.map((ids) => ids.length));
    const inputIds: number[] = [];
    const mask: number[] = [];
    const positions: number[] = [];
    for (const ids of prompts) {
      const padding = length - ids.length;
      for (let column = 0; column < length; column++) {
        const pad = column < padding;
        inputIds.push(pad ? this.#folder.padId : (ids[column - padding] as number));
        mask.push(pad ? 0 : 1);
        positions.push(pad ? 1 : column - padding);
      }
    }
    const out = await session.run({
      batch: prompts.length,
      inputIds,
      sequence: length,
      attentionMask: mask,
      positionIds: positions,
      cache: session.emptyCache(prompts.length),
      keepLast: 1,
    });
    for (const [index, row] of ready.entries()) {
      const offset = ((source[index] as number) * out.positions + out.positions - 1) * out.vocabSize;
      this.#accept(row, this.#pick(out.logits.subarray(offset, offset + out.vocabSize), row, out.vocabSize));
    }
    let cache = session.reshape(out.cache, source, length);
    const existing = this.#batches.find((batch) => batch.weights === weights);
    if (existing) {
      const total = Math.max(existing.cache.length, cache.length);
      const grown = session.reshape(
        existing.cache,
        existing.rows.map((_, index) => index),
        total,
      );
      cache = session.concat(
        grown,
        session.reshape(
          cache,
          ready.map((_, index) => index),
          total,
        ),
      );
      existing.rows.push(...ready);
      existing.cache = cache;
      this.#largestBatch = Math.max(this.#largestBatch, existing.rows.length);
    } else {
      weights.users++;
      this.#batches.push({ weights, rows: ready, cache });
      this.#largestBatch = Math.max(this.#largestBatch, ready.length);
    }
    this.#flush(ready);
  }

  /** One decode step of a batch: drop finished rows, feed each row's last token, sample the next. */
  async #step(batch: Batch): Promise<void> {
    const live = batch.rows.filter((row) => row.finish === undefined);
    if (live.length === 0) {
      this.#batches.splice(this.#batches.indexOf(batch), 1);
      this.#release(batch.weights);
      return;
    }
    const { session } = batch.weights;
    if (live.length < batch.rows.length) {
      const keep = batch.rows.flatMap((row, index) => (row.finish === undefined ? [index] : []));
      const needed = Math.max(...live.map((row) => row.promptIds.length + row.tokens.length - 1));
      batch.cache = session.reshape(batch.cache, keep, needed);
      batch.rows = live;
    }
    const total = batch.cache.length + 1;
    const mask = new Uint8Array(live.length * total);
    for (const [index, row] of live.entries()) {
      const valid = row.promptIds.length + row.tokens.length;
      mask.fill(1, index * total + (total - valid), (index + 1) * total);
    }
    const out = await session.run({
      batch: live.length,
      inputIds: live.map((row) => row.tokens[row.tokens.length - 1] as number),
      sequence: 1,
      attentionMask: mask,
      positionIds: live.map((row) => row.promptIds.length + row.tokens.length - 1),
      cache: batch.cache,
      keepLast: 1,
    });
    batch.cache = out.cache;
    this.#steps++;
    for (const [index, row] of live.entries()) {
      if (row.finish !== undefined) continue;
      const offset = (index * out.positions + out.positions - 1) * out.vocabSize;
      this.#accept(row, this.#pick(out.logits.subarray(offset, offset + out.vocabSize), row, out.vocabSize));
    }
    this.#flush(live);
  }

  #pick(logits: Float32Array, row: Row, vocabSize: number): Picked {
    if (this.#processor?.vocabSize !== vocabSize) this.#processor = new LogitsProcessor(vocabSize);
    const request = row.job.request;
    const masked = [...this.#folder.eosIds, ...request.stopTokenIds];
    return this.#processor.pick(
      logits,
      request.sampling,
      { promptTokens: row.promptTokens, outputCounts: row.outputCounts, generated: row.tokens.length },
      masked,
      row.random,
      request.topLogprobs,
    );
  }

  #accept(row: Row, picked: Picked): void {
    const request = row.job.request;
    const tokenId = picked.tokenId;
    row.tokens.push(tokenId);
    row.outputCounts.set(tokenId, (row.outputCounts.get(tokenId) ?? 0) + 1);
    if (request.logprobs) row.logprobs.push(picked.logprob);
    if (request.topLogprobs > 0) row.top.push(picked.top);
    if (request.stopTokenIds.includes(tokenId)) {
      this.#finish(row, 'stop', tokenId);
      return;
    }
    if (!request.ignoreEos && this.#folder.eosIds.includes(tokenId)) {
      this.#finish(row, 'stop', null);
      return;
    }
    this.#detokenize(row, tokenId);
    if (request.stop.length > 0) {
      const text = row.decodedText;
      let earliest = -1;
      let matched = '';
      for (const stop of request.stop) {
        const at = text.indexOf(stop, Math.max(0, row.sent - stop.length));
        if (at >= 0 && (earliest < 0 || at < earliest)) {
          earliest = at;
          matched = stop;
        }
      }
      if (earliest >= 0) {
        row.decodedText = text.slice(0, earliest);
        this.#finish(row, 'stop', matched);
        return;
      }
    }
    if (row.tokens.length >= row.maxNew) this.#finish(row, 'length', null);
  }

  /** Incremental detokenisation (TGI/vLLM prefix window): new text only once its UTF-8 is complete. */
  #detokenize(row: Row, tokenId: number): void {
    row.textIds.push(tokenId);
    const decode = this.#options.decode;
    const prefix =
      row.readOffset > row.prefixOffset ? decode(row.textIds.slice(row.prefixOffset, row.readOffset)) : '';
    const full = decode(row.textIds.slice(row.prefixOffset));
    if (full.length > prefix.length && !full.endsWith('\uFFFD')) {
      row.decodedText += full.slice(prefix.length);
      row.prefixOffset = row.readOffset;
      row.readOffset = row.textIds.length;
    }
  }

  #finish(row: Row, reason: 'stop' | 'length' | 'abort', stopReason: string | number | null): void {
    if (row.finish !== undefined) return;
    row.finish = reason;
    row.stopReason = stopReason;
    if (reason === 'abort' || typeof stopReason === 'string') return;
    // The sequence is over: bytes held back as an incomplete UTF-8 tail are decoded as they are (U+FFFD).
    const decode = this.#options.decode;
    const prefix =
      row.readOffset > row.prefixOffset ? decode(row.textIds.slice(row.prefixOffset, row.readOffset)) : '';
    const full = row.textIds.length > row.prefixOffset ? decode(row.textIds.slice(row.prefixOffset)) : '';
    if (full.length > prefix.length) row.decodedText += full.slice(prefix.length);
    row.prefixOffset = row.readOffset = row.textIds.length;
  }

  /** Sends each job the tokens its rows gained since the last flush; settles jobs whose rows all ended. */
  #flush(rows: Row[]): void {
    const jobs = new Map<Job, SequenceDelta[]>();
    for (const row of rows) {
      const job = row.job;
      if (job.signal?.aborted) continue;
      const emitted = row.emitted;
      const finished = row.finish !== undefined && !row.done;
      if (row.tokens.length === emitted && !finished) continue;
      // While a stop string may still be forming, hold back as many characters as it could span.
      const holdBack =
        row.finish === undefined ? Math.max(0, ...job.request.stop.map((stop) => stop.length - 1)) : 0;
      const upTo = Math.max(row.sent, row.decodedText.length - holdBack);
      const delta: SequenceDelta = {
        index: row.index,
        tokenIds: row.tokens.slice(emitted),
        logprobs: row.logprobs.slice(emitted),
        top: row.top.slice(emitted),
        text: row.decodedText.slice(row.sent, upTo),
      };
      row.sent = upTo;
      row.emitted = row.tokens.length;
      if (finished) {
        row.done = true;
        delta.finishReason = row.finish as 'stop' | 'length' | 'abort';
        delta.stopReason = row.stopReason;
        job.remaining--;
      }
      const list = jobs.get(job) ?? [];
      jobs.set(job, list);
      list.push(delta);
    }
    for (const [job, deltas] of jobs) {
      try {
        job.onDelta?.(deltas);
      } catch (error) {
        this.#logger.warn(`a stream listener failed: ${String(error)}`);
      }
      if (job.remaining === 0) {
        job.resolve({
          weightsVersion: job.weights?.version ?? this.#current.version,
          sequences: job.rows.map((row) => ({
            index: row.index,
            promptIndex: row.promptIndex,
            tokenIds: row.tokens,
            logprobs: row.logprobs,
            top: row.top,
            text: row.decodedText,
            finishReason: row.finish ?? 'length',
            stopReason: row.stopReason,
          })),
        });
      }
    }
  }
}
