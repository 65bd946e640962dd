/** `createModelServer`'s options, their validation, and the resolved settings the routes share. */
import type { Server } from 'node:http';
import {
  type ChatMessage,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Logger,
  silentLogger,
} from '@rlpt/spec';
import type { BatcherStats, MicroBatcher } from './batcher.js';
import type { DecodeEngine, EngineStats } from './engine/engine.js';
import { digest } from './http.js';
import type { RequestChecks } from './request-checks.js';

/** Options of {@link createModelServer}. Only `backend` is required. */
export interface ModelServerOptions {
  /** Any `InferenceBackendV1` (e.g. `createOnnxBackend`). The server does not close it. */
  backend: InferenceBackendV1;
  /**
   * rlpt's step-wise decode loop (`createDecodeEngine`; what `rlpt serve model` runs). With it,
   * completions and chat run on the engine — `logprobs: N` / `top_logprobs`, `echo`, `prompt_logprobs`,
   * penalties, `min_tokens`, `ignore_eos`, SSE sent step by step, `POST /update_weights_from_disk` — and
   * need `tokenize` and `decodeToken`. The server does not close it.
   */
  engine?: DecodeEngine;
  /** Decodes token ids for `POST /detokenize` (vLLM); without it the route answers 404. */
  detokenize?: (tokenIds: number[]) => string;
  /** The model name clients send and `/v1/models` lists. Default `backend.modelId`. */
  modelName?: string;
  /** When set, `/v1/*` requires `Authorization: Bearer <apiKey>` (compared in constant time). */
  apiKey?: string;
  /** Most sequences (prompts × n) merged into one `generate` call. 1 turns micro-batching off. Default 32. */
  maxBatch?: number;
  /** How long a request waits for others to batch with while the backend is idle, in ms. Default 5. */
  batchWindowMs?: number;
  /** `generate` calls running at once. Default 1 (one decode loop; more arrivals batch up meanwhile). */
  maxConcurrentBatches?: number;
  /** Requests allowed to wait for a batch; more are answered 429 with `Retry-After`. Default 1024. */
  maxQueuedRequests?: number;
  /** Largest request body in bytes; larger ones get 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Time limit for a client to send the request line and headers; then the connection is closed (Node's `headersTimeout`). Default 20 000 ms. */
  headersTimeoutMs?: number;
  /**
   * Time limit for a client to send the whole body, from its headers on; then 408 and the connection is
   * closed. Nothing is queued for a request before its body is complete. Default 30 000 ms.
   */
  bodyTimeoutMs?: number;
  /** Largest `max_tokens` accepted, and the default for chat requests. Default 2048. */
  maxTokens?: number;
  /** `max_tokens` of completions requests that set none (the OpenAI default). Default 16. */
  defaultCompletionsMaxTokens?: number;
  /** Largest `n` (× prompts) per request. Default 128. */
  maxSequencesPerRequest?: number;
  /**
   * Enables vLLM's `POST /tokenize` (text with or without special tokens, or chat messages with the
   * generation prompt), which `@rlpt/backend-openai`'s `score` uses. Without it the route answers 404.
   */
  tokenize?: (input: TokenizeInput) => Promise<number[]> | number[];
  /**
   * The model's context length (reported by `/tokenize` as `max_model_len`). With `tokenize`, prompts are
   * measured before they reach the backend — counted in slices that yield to the event loop, stopping as
   * soon as the limit is passed — and a prompt of `maxModelLength` tokens or more is refused with 400, so
   * a huge prompt never blocks the server while it is tokenised whole.
   */
  maxModelLength?: number;
  /**
   * The most characters one token of the tokenizer spans. With `maxModelLength`, a prompt longer than
   * `maxModelLength × maxCharsPerToken` characters is refused at once, without tokenising anything.
   */
  maxCharsPerToken?: number;
  /** Largest `temperature` accepted (OpenAI's range is [0, 2]); larger ones get 400. Default 2. */
  maxTemperature?: number;
  /** Most `stop` strings per request; more get 400. Default 64. */
  maxStopStrings?: number;
  /** Longest `stop` string, in characters; longer ones get 400. Default 1024. */
  maxStopLength?: number;
  /** Spells a token id as text in logprobs (`tokens`, `logprobs.content[].token`); without it, `token_id:<id>`. */
  decodeToken?: (tokenId: number) => string;
  /** SSE comment interval while a streamed request waits, in ms. Default 15 000. */
  keepAliveMs?: number;
  /** Request and lifecycle logs (`info`, `warn`, `debug`). Default: silent. */
  logger?: Logger;
}

/** What `tokenize` is asked to tokenise. */
export type TokenizeInput = { prompt: string; addSpecialTokens: boolean } | { messages: ChatMessage[] };

/** A running or ready-to-run server. */
export interface ModelServer {
  /** The underlying Node server (already has the request handler). */
  readonly httpServer: Server;
  /** The served model name. */
  readonly modelName: string;
  /** Starts listening. Default host `127.0.0.1`, port `8000` (0 picks a free port). */
  listen(options?: { host?: string; port?: number }): Promise<{ url: string; host: string; port: number }>;
  /**
   * Graceful shutdown: stops accepting connections, answers new requests on open connections with 503,
   * lets every queued and running request finish, then closes. After `timeoutMs` (default 30 000) it
   * closes the remaining connections.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Batching counters and requests in flight (and the engine's, when there is one). */
  stats(): BatcherStats & { inFlightRequests: number; draining: boolean; engine?: EngineStats };
}

/** The options after validation, defaults filled in: what every route reads. */
export interface Resolved {
  backend: InferenceBackendV1;
  engine: DecodeEngine | undefined;
  detokenize: ((tokenIds: number[]) => string) | undefined;
  modelName: string;
  apiKeyDigest: Buffer | undefined;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  maxTokens: number;
  defaultCompletionsMaxTokens: number;
  maxSequencesPerRequest: number;
  decodeToken: ((tokenId: number) => string) | undefined;
  tokenize: ModelServerOptions['tokenize'];
  maxModelLength: number | undefined;
  maxCharsPerToken: number | undefined;
  maxTemperature: number;
  maxStopStrings: number;
  maxStopLength: number;
  keepAliveMs: number;
  logger: Logger;
}

/** What the route modules share: the resolved options, the request checks and the micro-batcher. */
export interface RouteContext {
  resolved: Resolved;
  checks: RequestChecks;
  batcher: MicroBatcher;
  /** Requests (sequences, on the engine) allowed to wait; more are answered 429. */
  maxQueued: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError({
      argument: name,
      message: `createModelServer: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}.`,
    });
  }
  return value;
}

function positiveNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError({
      argument: name,
      message: `createModelServer: ${name} must be a finite number > 0, got ${JSON.stringify(value)}.`,
    });
  }
  return value;
}

/** Validates `options` (an `InvalidArgumentError` names the option at fault) and fills in the defaults. */
export function resolveServerOptions(options: ModelServerOptions) {
  if (!options?.backend || typeof options.backend.generate !== 'function') {
    throw new InvalidArgumentError({
      argument: 'backend',
      message: 'createModelServer: backend must be an InferenceBackendV1 (an object with generate()).',
    });
  }
  const logger = options.logger ?? silentLogger;
  if (options.engine && (!options.tokenize || !options.decodeToken)) {
    throw new InvalidArgumentError({
      argument: 'engine',
      message: 'createModelServer: an engine needs tokenize and decodeToken (prompts reach it as token ids).',
    });
  }
  const resolved: Resolved = {
    backend: options.backend,
    engine: options.engine,
    detokenize: options.detokenize,
    modelName: options.modelName ?? options.backend.modelId,
    apiKeyDigest: options.apiKey ? digest(options.apiKey) : undefined,
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, 4 * 1024 * 1024),
    bodyTimeoutMs: positiveInteger('bodyTimeoutMs', options.bodyTimeoutMs, 30_000),
    maxTokens: positiveInteger('maxTokens', options.maxTokens, 2048),
    defaultCompletionsMaxTokens: positiveInteger(
      'defaultCompletionsMaxTokens',
      options.defaultCompletionsMaxTokens,
      16,
    ),
    maxSequencesPerRequest: positiveInteger('maxSequencesPerRequest', options.maxSequencesPerRequest, 128),
    decodeToken: options.decodeToken,
    tokenize: options.tokenize,
    // An engine knows its context (max_position_embeddings): prompts that cannot fit are refused with 400.
    maxModelLength:
      options.maxModelLength === undefined
        ? options.engine && Number.isFinite(options.engine.maxPositions)
          ? options.engine.maxPositions
          : undefined
        : positiveInteger('maxModelLength', options.maxModelLength, 1),
    maxCharsPerToken:
      options.maxCharsPerToken === undefined
        ? undefined
        : positiveInteger('maxCharsPerToken', options.maxCharsPerToken, 1),
    maxTemperature: positiveNumber('maxTemperature', options.maxTemperature, 2),
    maxStopStrings: positiveInteger('maxStopStrings', options.maxStopStrings, 64),
    maxStopLength: positiveInteger('maxStopLength', options.maxStopLength, 1024),
    keepAliveMs: positiveInteger('keepAliveMs', options.keepAliveMs, 15_000),
    logger,
  };
  const batcherLimits = {
    maxBatch: positiveInteger('maxBatch', options.maxBatch, 32),
    windowMs: positiveInteger('batchWindowMs', options.batchWindowMs, 5, 0),
    maxConcurrentBatches: positiveInteger('maxConcurrentBatches', options.maxConcurrentBatches, 1),
    maxQueued: positiveInteger('maxQueuedRequests', options.maxQueuedRequests, 1024),
    logger,
  };
  const headersTimeoutMs = positiveInteger('headersTimeoutMs', options.headersTimeoutMs, 20_000);
  return { resolved, batcherLimits, headersTimeoutMs };
}
