import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ChatMessage,
  InvalidArgumentError,
  type InferenceBackendV1,
  type Logger,
  type Prompt,
  type PromptResult,
  RlptError,
  silentLogger,
} from '@rlpt/spec';
import type * as z from 'zod';
import { type BatcherStats, MicroBatcher, QueueFullError, type SamplingSettings } from './batcher.js';
import type { DecodeEngine, EngineRequest, EngineStats } from './engine/engine.js';
import { type EngineRouteContext, engineChat, engineCompletions } from './engine-routes.js';
import {
  chatBody,
  chatChunks,
  completionsBody,
  completionsChunks,
  HttpError,
  type ResponseOptions,
  usageOf,
} from './format.js';
import {
  type ChatRequest,
  type CompletionsRequest,
  chatRequestSchema,
  completionsRequestSchema,
  describeIssues,
  detokenizeRequestSchema,
  updateWeightsRequestSchema,
  type TokenizeRequest,
  tokenizeRequestSchema,
} from './schemas.js';

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

interface Resolved {
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

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Creates an OpenAI-compatible HTTP server over any `InferenceBackendV1`: `GET /health`,
 * `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (streaming and not), with
 * micro-batching of concurrent requests into one `generate` call.
 *
 * @example
 * const server = createModelServer({ backend: createOnnxBackend({ modelDir: 'models/tiny' }) });
 * const { url } = await server.listen({ port: 8000 });
 * process.once('SIGTERM', () => server.close());
 */
export function createModelServer(options: ModelServerOptions): ModelServer {
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
  const batcher = new MicroBatcher(options.backend, batcherLimits);
  const created = Math.floor(Date.now() / 1000);
  let inFlightRequests = 0;
  let draining = false;
  let closePromise: Promise<void> | undefined;
  let requestIdleWaiters: (() => void)[] = [];

  const headersTimeoutMs = positiveInteger('headersTimeoutMs', options.headersTimeoutMs, 20_000);
  const httpServer = createServer(
    {
      // Node closes connections whose headers are late (and, as a backstop, whole requests that are late);
      // it checks every `connectionsCheckingInterval`, so keep that below the limit.
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + resolved.bodyTimeoutMs + 5_000,
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeoutMs / 4))),
    },
    (req, res) => {
      inFlightRequests++;
      res.on('close', () => {
        inFlightRequests--;
        if (inFlightRequests === 0) {
          for (const resolve of requestIdleWaiters) resolve();
          requestIdleWaiters = [];
        }
      });
      handle(req, res).catch((error: unknown) => {
        logger.error('unexpected error while handling a request', { error: String(error) });
        if (!res.headersSent) sendError(res, internalError(error));
        else res.end();
      });
    },
  );
  httpServer.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    res.on('finish', () => {
      logger.debug(`${method} ${path} ${res.statusCode} ${(performance.now() - started).toFixed(1)} ms`);
    });
    if (draining) {
      res.setHeader('connection', 'close');
      sendError(
        res,
        new HttpError({ status: 503, message: 'The server is shutting down.', code: 'shutting_down' }),
      );
      req.resume();
      return;
    }
    try {
      if (path === '/health') {
        requireMethod(method, ['GET', 'HEAD'], path);
        sendJson(res, 200, {
          status: 'ok',
          model: resolved.modelName,
          ...stats(),
        });
        return;
      }
      if (path === '/detokenize') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        const body = parse(detokenizeRequestSchema, await readJson(req), false);
        if (!resolved.detokenize) {
          throw new HttpError({
            status: 404,
            message: 'This server has no detokenizer (createModelServer({ detokenize })).',
            code: 'not_found',
          });
        }
        sendJson(res, 200, { prompt: resolved.detokenize(body.tokens) });
        return;
      }
      if (path === '/update_weights_from_disk') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        await updateWeightsRoute(await readJson(req), res);
        return;
      }
      if (path === '/get_weight_version') {
        authorize(req);
        requireMethod(method, ['GET'], path);
        sendJson(res, 200, { weight_version: weightVersion });
        return;
      }
      if (path === '/tokenize') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        await tokenizeRoute(parse(tokenizeRequestSchema, await readJson(req), false), res);
        return;
      }
      if (!path.startsWith('/v1/') && path !== '/v1') throw notFound(method, path);
      authorize(req);
      if (path === '/v1/models') {
        requireMethod(method, ['GET'], path);
        sendJson(res, 200, { object: 'list', data: [modelCard()] });
        return;
      }
      if (path.startsWith('/v1/models/')) {
        requireMethod(method, ['GET'], path);
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (id !== resolved.modelName) throw unknownModel(id);
        sendJson(res, 200, modelCard());
        return;
      }
      if (path === '/v1/completions') {
        requireMethod(method, ['POST'], path);
        const raw = await readJson(req);
        // vLLM's scoring call: echo with max_tokens 0 returns the prompt and its logprobs only.
        const echoOnly = isEchoOnly(raw) && resolved.engine !== undefined;
        if (echoOnly) delete (raw as Record<string, unknown>).max_tokens;
        const body = parse(completionsRequestSchema, raw);
        if (resolved.engine) await engineCompletionsRoute(resolved.engine, body, res, echoOnly);
        else await completions(body, res);
        return;
      }
      if (path === '/v1/chat/completions') {
        requireMethod(method, ['POST'], path);
        const body = parse(chatRequestSchema, await readJson(req));
        if (resolved.engine) await engineChatRoute(resolved.engine, body, res);
        else await chat(body, res);
        return;
      }
      throw notFound(method, path);
    } catch (error) {
      const httpError = error instanceof HttpError ? error : internalError(error);
      if (httpError.status >= 500) {
        logger.error(`${method} ${path} failed: ${httpError.message}`, { status: httpError.status });
      }
      if (res.headersSent) {
        // Mid-stream: report in-band like vLLM, then end the stream.
        writeEvent(res, httpError.toJSON());
        res.end('data: [DONE]\n\n');
        return;
      }
      if (res.destroyed) return;
      sendError(res, httpError);
      if (httpError.status === 408) {
        // The client is still sending: end the connection once the 408 is out.
        res.on('finish', () => req.socket.destroySoon());
      } else if (!req.complete) req.resume();
    }
  }

  function contextError(param: string, what: string, tokens: number, atLeast: boolean): HttpError {
    return new HttpError({
      status: 400,
      message: `This model's maximum context length is ${resolved.maxModelLength} tokens. However, the ${what} ${atLeast ? 'has at least' : 'has'} ${tokens} tokens. Please reduce the length of the ${what}.`,
      param,
      code: 'context_length_exceeded',
    });
  }

  function checkTokenCount(count: number, param: string, what: string): void {
    const limit = resolved.maxModelLength;
    if (limit !== undefined && count >= limit) throw contextError(param, what, count, false);
  }

  /**
   * Refuses texts (a prompt, or the contents of chat messages) that cannot fit the context, before the
   * backend tokenises them whole on the event loop: at once when they have more characters than the
   * context could hold (`maxCharsPerToken`); otherwise, when they have more UTF-8 bytes than the context
   * has positions (a byte-level tokenizer makes at most one token per byte), by counting tokens slice by
   * slice with a yield after each, stopping as soon as the count passes the limit.
   */
  async function checkPromptLength(texts: string[], param: string, what: string): Promise<void> {
    const limit = resolved.maxModelLength;
    if (limit === undefined) return;
    let characters = 0;
    for (const text of texts) characters += text.length;
    if (resolved.maxCharsPerToken !== undefined && characters > limit * resolved.maxCharsPerToken) {
      throw new HttpError({
        status: 400,
        message: `This model's maximum context length is ${limit} tokens. However, the ${what} has ${characters} characters, more than ${limit} tokens of at most ${resolved.maxCharsPerToken} characters can hold. Please reduce the length of the ${what}.`,
        param,
        code: 'context_length_exceeded',
      });
    }
    const tokenize = resolved.tokenize;
    // Up to 8 special tokens (BOS, chat markers…) on top of one token per byte.
    if (!tokenize || characters * 3 + 8 < limit) return;
    let bytes = 0;
    for (const text of texts) bytes += Buffer.byteLength(text);
    if (bytes + 8 < limit) return;
    let tokens = 0;
    let boundaries = 0;
    for (const text of texts) {
      for (const slice of textSlices(text, 8192)) {
        const ids = await tokenize({ prompt: slice, addSpecialTokens: false });
        tokens += ids.length;
        boundaries++;
        // A cut between slices can add a token the whole text would not have: allow one per cut.
        if (tokens - (boundaries - 1) >= limit) {
          throw contextError(param, what, tokens - (boundaries - 1), true);
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  function modelCard() {
    return {
      id: resolved.modelName,
      object: 'model',
      created,
      owned_by: 'rlpt',
      root: resolved.backend.modelId,
      // As vLLM and SGLang report it: clients (rlpt eval) fit max_tokens to it.
      ...(resolved.maxModelLength !== undefined ? { max_model_len: resolved.maxModelLength } : {}),
    };
  }

  function authorize(req: IncomingMessage): void {
    if (!resolved.apiKeyDigest) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Hash both sides so the comparison takes the same time whatever the lengths.
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), resolved.apiKeyDigest)) {
      throw new HttpError({
        status: 401,
        message: match
          ? 'Incorrect API key provided.'
          : 'Missing API key: send the header Authorization: Bearer <key> (the key the server was started with).',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
  }

  function readJson(req: IncomingMessage): Promise<unknown> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > resolved.maxBodyBytes) {
      return Promise.reject(tooLarge(declared));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const fail = (error: Error) => {
        failed = true;
        chunks.length = 0;
        clearTimeout(timer);
        reject(error);
      };
      // A client that trickles its body holds a socket until this deadline, nothing else.
      const timer = setTimeout(() => {
        if (failed) return;
        req.pause();
        logger.warn(`request body not complete after ${resolved.bodyTimeoutMs} ms (${size} bytes)`);
        fail(
          new HttpError({
            status: 408,
            message: `The request body did not arrive within ${resolved.bodyTimeoutMs} ms (${size} bytes received; bodyTimeoutMs / --body-timeout-ms). Send the body at once.`,
            code: 'request_timeout',
            headers: { connection: 'close' },
          }),
        );
      }, resolved.bodyTimeoutMs);
      req.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > resolved.maxBodyBytes) {
          fail(tooLarge(size));
          return;
        }
        chunks.push(chunk);
      });
      req.on('error', (error) => {
        if (!failed) fail(error);
      });
      req.on('close', () => {
        if (!failed && !req.complete) fail(new Error('the client closed the connection mid-body'));
      });
      req.on('end', () => {
        clearTimeout(timer);
        if (failed) return;
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve(JSON.parse(text));
        } catch (cause) {
          reject(
            new HttpError({
              status: 400,
              message: `The request body is not valid JSON (${(cause as Error).message}). Send Content-Type: application/json with a JSON object.`,
              code: 'invalid_json',
            }),
          );
        }
      });
    });
  }

  function tooLarge(size: number): HttpError {
    return new HttpError({
      status: 413,
      message: `The request body (${size} bytes or more) is larger than this server's limit of ${resolved.maxBodyBytes} bytes (maxBodyBytes / --max-body-bytes).`,
      code: 'request_too_large',
      headers: { connection: 'close' },
    });
  }

  function parse<T>(schema: z.ZodType<T>, body: unknown, modelRequired = true): T {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError({
        status: 400,
        message: 'The request body must be a JSON object.',
        code: 'invalid_body',
      });
    }
    const result = schema.safeParse(body);
    if (!result.success) {
      const problem = describeIssues(result.error);
      throw new HttpError({ status: 400, message: problem.message, param: problem.param });
    }
    const model = (result.data as { model?: string | null }).model;
    if ((modelRequired || model != null) && model !== resolved.modelName) throw unknownModel(String(model));
    return result.data;
  }

  function unknownModel(model: string): HttpError {
    return new HttpError({
      status: 404,
      message: `The model \`${model}\` does not exist. This server serves \`${resolved.modelName}\` (GET /v1/models).`,
      param: 'model',
      code: 'model_not_found',
    });
  }

  /** The sampling settings shared by both endpoints, with the checks both need. */
  function samplingSettings(
    body: CompletionsRequest | ChatRequest,
    maxTokens: number,
    logprobs: boolean,
    promptCount: number,
    onEngine = false,
  ): SamplingSettings {
    const unsupported = (param: string, message: string): never => {
      throw new HttpError({ status: 400, message, param, code: 'unsupported_parameter' });
    };
    if (body.skip_special_tokens === false)
      unsupported(
        'skip_special_tokens',
        'skip_special_tokens: false is not supported; special tokens are always skipped.',
      );
    if (!onEngine) backendOnlyChecks(body, unsupported);
    if (!onEngine && body.presence_penalty)
      unsupported(
        'presence_penalty',
        'presence_penalty is not supported by this server; send 0 or leave it out.',
      );
    if (!onEngine && body.frequency_penalty)
      unsupported(
        'frequency_penalty',
        'frequency_penalty is not supported by this server; send 0 or leave it out.',
      );
    if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
      unsupported('logit_bias', 'logit_bias is not supported by this server.');
    }
    if (maxTokens > resolved.maxTokens) {
      throw new HttpError({
        status: 400,
        message: `max_tokens is ${maxTokens}, more than this server allows (${resolved.maxTokens}; --max-tokens).`,
        param: 'max_tokens',
      });
    }
    const n = body.n ?? 1;
    if (n * promptCount > resolved.maxSequencesPerRequest) {
      throw new HttpError({
        status: 400,
        message: `n × prompts is ${n * promptCount}, more than this server allows per request (${resolved.maxSequencesPerRequest}).`,
        param: 'n',
      });
    }
    if (logprobs && !onEngine && !resolved.backend.capabilities.logprobs) {
      unsupported(
        'logprobs',
        `The backend of this server (${resolved.backend.provider}) does not return logprobs.`,
      );
    }
    if (body.temperature != null && body.temperature > resolved.maxTemperature) {
      throw new HttpError({
        status: 400,
        message: `temperature is ${body.temperature}; this server accepts 0 … ${resolved.maxTemperature} (0 = greedy; maxTemperature).`,
        param: 'temperature',
      });
    }
    const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
    if (stop && stop.length > resolved.maxStopStrings) {
      throw new HttpError({
        status: 400,
        message: `stop has ${stop.length} strings; this server accepts at most ${resolved.maxStopStrings} (maxStopStrings).`,
        param: 'stop',
      });
    }
    const longStop = stop?.findIndex((entry) => entry.length > resolved.maxStopLength) ?? -1;
    if (stop && longStop >= 0) {
      throw new HttpError({
        status: 400,
        message: `stop[${longStop}] is ${stop[longStop]!.length} characters long; this server accepts stop strings of at most ${resolved.maxStopLength} (maxStopLength).`,
        param: `stop.${longStop}`,
      });
    }
    if (body.stop_token_ids && body.stop_token_ids.length > 1024) {
      throw new HttpError({
        status: 400,
        message: `stop_token_ids has ${body.stop_token_ids.length} ids; this server accepts at most 1024.`,
        param: 'stop_token_ids',
      });
    }
    const settings: SamplingSettings = { n, maxTokens };
    // vLLM raises tiny temperatures to 0.01: dividing logits by less overflows to inf/NaN.
    if (body.temperature != null)
      settings.temperature = body.temperature > 0 ? Math.max(body.temperature, 0.01) : 0;
    if (body.top_p != null) settings.topP = body.top_p;
    if (body.top_k != null && body.top_k > 0) settings.topK = body.top_k;
    if (body.min_p != null && body.min_p > 0) settings.minP = body.min_p;
    if (body.seed != null) settings.seed = body.seed;
    if (stop && stop.length > 0) settings.stop = stop;
    if (body.stop_token_ids && body.stop_token_ids.length > 0) settings.stopTokenIds = body.stop_token_ids;
    if (logprobs) settings.logprobs = true;
    return settings;
  }

  async function runJob(prompts: Prompt[], settings: SamplingSettings, res: ServerResponse) {
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
    };
    res.on('close', onClose);
    try {
      return await batcher.submit(prompts, settings, gone.signal);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError({
          status: 429,
          message: `${error.message} Retry shortly (Retry-After), or start the server with a larger --max-queue.`,
          code: 'server_overloaded',
          headers: { 'retry-after': '1' },
        });
      }
      if (gone.signal.aborted)
        throw new HttpError({ status: 499, message: 'The client closed the connection.' });
      throw backendError(error);
    } finally {
      res.off('close', onClose);
    }
  }

  async function completions(body: CompletionsRequest, res: ServerResponse) {
    if (body.echo) {
      throw new HttpError({
        status: 400,
        message: 'echo is not supported by this server.',
        param: 'echo',
        code: 'unsupported_parameter',
      });
    }
    if (body.suffix) {
      throw new HttpError({
        status: 400,
        message: 'suffix is not supported by this server.',
        param: 'suffix',
        code: 'unsupported_parameter',
      });
    }
    if (body.best_of != null && body.best_of !== (body.n ?? 1)) {
      throw new HttpError({
        status: 400,
        message: 'best_of other than n is not supported by this server.',
        param: 'best_of',
        code: 'unsupported_parameter',
      });
    }
    if (body.logprobs != null && body.logprobs > 0) {
      throw new HttpError({
        status: 400,
        message: `logprobs: ${body.logprobs} asks for the top alternatives at each step; this server returns only the sampled token's logprob. Send logprobs: 0.`,
        param: 'logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && body.prompt_logprobs > 0) {
      throw new HttpError({
        status: 400,
        message: `prompt_logprobs: ${body.prompt_logprobs} asks for alternatives; this server returns only each prompt token's own logprob. Send prompt_logprobs: 0.`,
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && !(resolved.backend.capabilities.score && resolved.backend.score)) {
      throw new HttpError({
        status: 400,
        message: `prompt_logprobs needs teacher-forced scoring, which this server's backend (${resolved.backend.provider}) does not offer.`,
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && body.stream) {
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs cannot be combined with stream: true.',
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs_temperature != null && body.prompt_logprobs == null) {
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs_temperature needs prompt_logprobs: 0.',
        param: 'prompt_logprobs_temperature',
      });
    }
    const prompts = completionsPrompts(body.prompt);
    const logprobs = body.logprobs != null;
    const settings = samplingSettings(
      body,
      body.max_tokens ?? resolved.defaultCompletionsMaxTokens,
      logprobs,
      prompts.length,
    );
    for (const [index, prompt] of prompts.entries()) {
      const where = typeof body.prompt === 'string' || prompts.length === 1 ? 'prompt' : `prompt.${index}`;
      if (typeof prompt === 'string') await checkPromptLength([prompt], where, 'prompt');
      else if ('tokenIds' in prompt) checkTokenCount(prompt.tokenIds.length, where, 'prompt');
    }
    const options = responseOptions('cmpl', body, logprobs);
    const stream = beginStream(body.stream === true, res);
    try {
      const outcome = await runJob(prompts, settings, res);
      const usage = usageFor(outcome);
      if (stream) {
        finishStream(
          res,
          completionsChunks(outcome.results, body.stream_options?.include_usage ? usage : undefined, options),
        );
      } else {
        const reply = completionsBody(outcome.results, usage, options);
        if (body.prompt_logprobs != null) {
          const temperature = body.prompt_logprobs_temperature ?? undefined;
          const perPrompt = await promptLogprobs(outcome.results, temperature);
          const n = settings.n ?? 1;
          for (const choice of reply.choices) {
            const extra = choice as Record<string, unknown>;
            extra.prompt_logprobs = perPrompt[Math.floor(choice.index / n)];
            // Echoed so a client can tell this server from one that ignores the extension (vLLM).
            if (temperature !== undefined) extra.prompt_logprobs_temperature = temperature;
          }
        }
        sendJson(res, 200, reply);
      }
    } finally {
      stream?.stop();
    }
  }

  async function chat(body: ChatRequest, res: ServerResponse) {
    if (!resolved.backend.capabilities.chat) {
      throw new HttpError({
        status: 400,
        message: `The backend of this server (${resolved.backend.provider}) has no chat template; use /v1/completions.`,
        code: 'unsupported_endpoint',
      });
    }
    if (body.tools && body.tools.length > 0) {
      throw new HttpError({
        status: 400,
        message: 'tools are not supported by this server.',
        param: 'tools',
        code: 'unsupported_parameter',
      });
    }
    if (body.response_format && body.response_format.type !== 'text') {
      throw new HttpError({
        status: 400,
        message: `response_format ${body.response_format.type} is not supported by this server; only text.`,
        param: 'response_format',
        code: 'unsupported_parameter',
      });
    }
    if (body.top_logprobs) {
      throw new HttpError({
        status: 400,
        message: `top_logprobs: ${body.top_logprobs} asks for alternatives; this server returns only the sampled token's logprob. Send top_logprobs: 0 or leave it out.`,
        param: 'top_logprobs',
        code: 'unsupported_parameter',
      });
    }
    const messages: ChatMessage[] = body.messages.map((message) => ({
      role: message.role,
      content:
        typeof message.content === 'string'
          ? message.content
          : (message.content ?? []).map((part) => part.text).join(''),
    }));
    const logprobs = body.logprobs === true;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? resolved.maxTokens;
    const settings = samplingSettings(body, maxTokens, logprobs, 1);
    await checkPromptLength(
      messages.map((message) => message.content),
      'messages',
      'messages',
    );
    const options = responseOptions('chatcmpl', body, logprobs);
    const stream = beginStream(body.stream === true, res);
    try {
      const outcome = await runJob([{ messages }], settings, res);
      const usage = usageFor(outcome);
      const result = outcome.results[0]!;
      if (stream) {
        finishStream(
          res,
          chatChunks(result, body.stream_options?.include_usage ? usage : undefined, options),
        );
      } else {
        sendJson(res, 200, chatBody(result, usage, options));
      }
    } finally {
      stream?.stop();
    }
  }

  let weightVersion: string | null = null;

  /** Batching counters: the engine's when there is one (queued = waiting sequences). */
  function stats(): BatcherStats & { engine?: EngineStats } {
    if (!resolved.engine) return batcher.stats();
    const engine = resolved.engine.stats();
    return {
      queued: engine.waiting,
      runningBatches: engine.batches,
      batches: engine.prefills,
      requests: engine.requests,
      largestBatch: engine.largestBatch,
      engine,
    };
  }

  /** SGLang's `POST /update_weights_from_disk`: `{ success, message, num_paused_requests }`, 400 on failure. */
  async function updateWeightsRoute(raw: unknown, res: ServerResponse) {
    const body = parse(updateWeightsRequestSchema, raw, false);
    const engine = resolved.engine;
    const backendUpdate = resolved.backend.updateWeights?.bind(resolved.backend);
    if (!engine && !backendUpdate) {
      throw new HttpError({
        status: 404,
        message: `This server's backend (${resolved.backend.provider}) cannot load weights; /update_weights_from_disk is off.`,
        code: 'not_found',
      });
    }
    const started = performance.now();
    try {
      let message: string;
      if (engine) {
        const { version, runningOnOldWeights } = await engine.updateWeights(body.model_path);
        message = `Loaded ${body.model_path} as weights version ${version} in ${Math.round(performance.now() - started)} ms; ${runningOnOldWeights} running sequence(s) finish on the weights they started on, every request admitted from now on uses the new ones.`;
      } else {
        await backendUpdate!(body.model_path);
        message = `Loaded ${body.model_path} in ${Math.round(performance.now() - started)} ms.`;
      }
      if (body.weight_version != null) {
        weightVersion = body.weight_version;
        message += ` Weight version updated to ${body.weight_version}.`;
      }
      logger.info(message);
      sendJson(res, 200, { success: true, message, num_paused_requests: 0 });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn(`update_weights_from_disk ${body.model_path} failed: ${reason}`);
      sendJson(res, 400, {
        success: false,
        message: `Failed to load weights from ${body.model_path}: ${reason} The old weights stay in use.`,
        num_paused_requests: 0,
      });
    }
  }

  function engineContext(engine: DecodeEngine): EngineRouteContext {
    const decodeToken = resolved.decodeToken!;
    return {
      engine,
      spell: (tokenId, asIds) => (asIds ? `token_id:${tokenId}` : decodeToken(tokenId)),
      detokenize: (tokenIds) =>
        resolved.detokenize ? resolved.detokenize(tokenIds) : tokenIds.map(decodeToken).join(''),
      usage: (prompt, completion) => ({
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      }),
      beginStream: (res) => beginStream(true, res)!,
      writeEvent,
      sendJson,
      async run(request, res, onDelta) {
        if (engine.stats().waiting >= batcherLimits.maxQueued) {
          throw new HttpError({
            status: 429,
            message: `The server is overloaded: ${engine.stats().waiting} sequences are already waiting. Retry shortly (Retry-After), or start the server with a larger --max-queue.`,
            code: 'server_overloaded',
            headers: { 'retry-after': '1' },
          });
        }
        const gone = new AbortController();
        const onClose = () => {
          if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
        };
        res.on('close', onClose);
        try {
          return await engine.generate(request, { signal: gone.signal, ...(onDelta ? { onDelta } : {}) });
        } catch (error) {
          if (gone.signal.aborted)
            throw new HttpError({ status: 499, message: 'The client closed the connection.' });
          throw backendError(error);
        } finally {
          res.off('close', onClose);
        }
      },
    };
  }

  function engineRequest(
    body: CompletionsRequest | ChatRequest,
    settings: SamplingSettings,
    prompts: number[][],
    maxTokens: number,
    logprobs: boolean,
    topLogprobs: number,
  ): EngineRequest {
    return {
      prompts,
      n: settings.n ?? 1,
      maxTokens,
      sampling: {
        temperature: settings.temperature ?? 1,
        topP: settings.topP ?? 1,
        topK: settings.topK ?? 0,
        minP: settings.minP ?? 0,
        presencePenalty: body.presence_penalty ?? 0,
        frequencyPenalty: body.frequency_penalty ?? 0,
        repetitionPenalty: body.repetition_penalty ?? 1,
        minTokens: body.min_tokens ?? 0,
      },
      ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      stop: settings.stop ?? [],
      stopTokenIds: settings.stopTokenIds ?? [],
      ignoreEos: body.ignore_eos === true,
      logprobs,
      topLogprobs,
    };
  }

  function checkTokenIds(engine: DecodeEngine, ids: number[], where: string): void {
    const vocab = engine.vocabSize;
    const bad = vocab === undefined ? -1 : ids.findIndex((id) => id >= vocab);
    if (bad >= 0) {
      throw new HttpError({
        status: 400,
        message: `${where}[${bad}] is ${ids[bad]}, not a token id of this model (vocabulary 0 … ${(vocab as number) - 1}).`,
        param: where,
      });
    }
    checkTokenCount(ids.length, where, 'prompt');
  }

  async function engineCompletionsRoute(
    engine: DecodeEngine,
    body: CompletionsRequest,
    res: ServerResponse,
    echoOnly: boolean,
  ) {
    const refuse = (param: string, message: string): never => {
      throw new HttpError({ status: 400, message, param, code: 'unsupported_parameter' });
    };
    if (body.suffix) refuse('suffix', 'suffix is not supported by this server.');
    if (body.best_of != null && body.best_of !== (body.n ?? 1))
      refuse('best_of', 'best_of other than n is not supported by this server.');
    if (body.prompt_logprobs_temperature != null && body.prompt_logprobs == null)
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs_temperature needs prompt_logprobs.',
        param: 'prompt_logprobs_temperature',
      });
    if (body.prompt_logprobs != null && body.stream)
      refuse('prompt_logprobs', '`prompt_logprobs` are not available when `stream=True`.');
    if (body.stream_options && !body.stream)
      refuse('stream_options', 'Stream options can only be defined when `stream=True`.');
    const prompts = completionsPrompts(body.prompt);
    const logprobs = body.logprobs != null;
    const maxTokens = echoOnly ? 0 : (body.max_tokens ?? resolved.defaultCompletionsMaxTokens);
    const settings = samplingSettings(body, Math.max(1, maxTokens), logprobs, prompts.length, true);
    const ids: number[][] = [];
    const texts: string[] = [];
    const tokenize = resolved.tokenize!;
    for (const [index, prompt] of prompts.entries()) {
      const where = typeof body.prompt === 'string' || prompts.length === 1 ? 'prompt' : `prompt.${index}`;
      if (typeof prompt === 'string') {
        await checkPromptLength([prompt], where, 'prompt');
        const promptIds = await tokenize({ prompt, addSpecialTokens: body.add_special_tokens ?? true });
        checkTokenCount(promptIds.length, where, 'prompt');
        if (promptIds.length === 0)
          throw new HttpError({ status: 400, message: `${where} is empty.`, param: where });
        ids.push(promptIds);
        texts.push(prompt);
      } else if ('tokenIds' in prompt) {
        const promptIds = Array.from(prompt.tokenIds);
        checkTokenIds(engine, promptIds, where);
        ids.push(promptIds);
        texts.push(body.echo ? engineContext(engine).detokenize(promptIds) : '');
      }
    }
    const request = engineRequest(body, settings, ids, maxTokens, logprobs, body.logprobs ?? 0);
    const options = responseOptions('cmpl', body, logprobs);
    await engineCompletions(
      engineContext(engine),
      {
        request,
        promptTexts: texts,
        echo: body.echo === true,
        logprobs: body.logprobs ?? undefined,
        promptLogprobs: body.prompt_logprobs ?? undefined,
        promptLogprobsTemperature: body.prompt_logprobs_temperature ?? undefined,
        returnTokenIds: options.returnTokenIds,
        asIds: options.spelling.asIds,
        includeUsage: body.stream_options?.include_usage === true,
        stream: body.stream === true,
        id: options.id,
        created: options.created,
        model: options.model,
      },
      res,
    );
  }

  async function engineChatRoute(engine: DecodeEngine, body: ChatRequest, res: ServerResponse) {
    const refuse = (param: string, message: string): never => {
      throw new HttpError({ status: 400, message, param, code: 'unsupported_parameter' });
    };
    if (body.tools && body.tools.length > 0) refuse('tools', 'tools are not supported by this server.');
    if (body.response_format && body.response_format.type !== 'text')
      refuse(
        'response_format',
        `response_format ${body.response_format.type} is not supported by this server; only text.`,
      );
    if (body.top_logprobs && !body.logprobs)
      throw new HttpError({
        status: 400,
        message: 'when using `top_logprobs`, `logprobs` must be set to true.',
        param: 'top_logprobs',
      });
    if (body.prompt_logprobs != null && body.stream)
      refuse('prompt_logprobs', '`prompt_logprobs` are not available when `stream=True`.');
    if (body.stream_options && !body.stream)
      refuse('stream_options', 'Stream options can only be defined when `stream=True`.');
    const messages = body.messages.map(toChatMessage);
    const logprobs = body.logprobs === true;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? resolved.maxTokens;
    const settings = samplingSettings(body, maxTokens, logprobs, 1, true);
    await checkPromptLength(
      messages.map((message) => message.content),
      'messages',
      'messages',
    );
    const promptIds = await resolved.tokenize!({ messages });
    checkTokenCount(promptIds.length, 'messages', 'messages');
    const options = responseOptions('chatcmpl', body, logprobs);
    await engineChat(
      engineContext(engine),
      {
        request: engineRequest(
          body,
          settings,
          [promptIds],
          maxTokens,
          logprobs,
          logprobs ? (body.top_logprobs ?? 0) : 0,
        ),
        logprobs,
        topLogprobs: body.top_logprobs ?? 0,
        promptLogprobs: body.prompt_logprobs ?? undefined,
        returnTokenIds: options.returnTokenIds,
        asIds: options.spelling.asIds,
        includeUsage: body.stream_options?.include_usage === true,
        stream: body.stream === true,
        id: options.id,
        created: options.created,
        model: options.model,
      },
      res,
    );
  }

  async function tokenizeRoute(body: TokenizeRequest, res: ServerResponse) {
    if (!resolved.tokenize) {
      throw new HttpError({
        status: 404,
        message: 'This server has no tokenizer to offer: /tokenize is off (createModelServer({ tokenize })).',
        code: 'not_found',
      });
    }
    let tokens: number[];
    if ('messages' in body) {
      if (body.add_generation_prompt === false) {
        throw new HttpError({
          status: 400,
          message:
            'add_generation_prompt: false is not supported; chat prompts always end with the generation prompt.',
          param: 'add_generation_prompt',
          code: 'unsupported_parameter',
        });
      }
      const messages = body.messages.map(toChatMessage);
      await checkPromptLength(
        messages.map((message) => message.content),
        'messages',
        'messages',
      );
      tokens = await resolved.tokenize({ messages });
    } else {
      await checkPromptLength([body.prompt], 'prompt', 'prompt');
      tokens = await resolved.tokenize({
        prompt: body.prompt,
        addSpecialTokens: body.add_special_tokens ?? true,
      });
    }
    const decode = resolved.decodeToken;
    sendJson(res, 200, {
      count: tokens.length,
      max_model_len: resolved.maxModelLength ?? null,
      tokens,
      token_strs: body.return_token_strs && decode ? tokens.map((token) => decode(token)) : null,
    });
  }

  /**
   * vLLM's `prompt_logprobs: 0`: per prompt position, the logprob of the actual token (`null` at 0),
   * from the backend's teacher-forced `score`.
   */
  async function promptLogprobs(
    results: PromptResult[],
    temperature: number | undefined,
  ): Promise<(Record<string, unknown> | null)[][]> {
    const score = resolved.backend.score?.bind(resolved.backend);
    if (!score)
      throw new HttpError({ status: 400, message: 'prompt_logprobs needs a backend with score().' });
    const ids = results.map((result) => {
      if (!result.promptTokenIds) {
        throw new HttpError({
          status: 500,
          message: 'The backend returned no prompt token ids; prompt_logprobs needs them.',
        });
      }
      return result.promptTokenIds;
    });
    const scorable = ids.filter((promptIds) => promptIds.length > 1);
    const scored = scorable.length
      ? await score({
          ...(temperature === undefined ? {} : { temperature }),
          items: scorable.map((promptIds) => ({
            prompt: { tokenIds: promptIds.slice(0, 1) },
            completion: { tokenIds: promptIds.slice(1) },
          })),
        })
      : { results: [] };
    let next = 0;
    return ids.map((promptIds) => {
      if (promptIds.length <= 1) return promptIds.map(() => null);
      const item = scored.results[next++]!;
      return [
        null,
        ...promptIds.slice(1).map((tokenId, index) => ({
          [String(tokenId)]: {
            logprob: item.logprobs[index],
            rank: null,
            decoded_token: resolved.decodeToken ? resolved.decodeToken(tokenId) : null,
          },
        })),
      ];
    });
  }

  function responseOptions(
    prefix: string,
    body: CompletionsRequest | ChatRequest,
    logprobs: boolean,
  ): ResponseOptions {
    return {
      id: `${prefix}-${randomUUID().replaceAll('-', '')}`,
      created: Math.floor(Date.now() / 1000),
      model: resolved.modelName,
      logprobs,
      returnTokenIds: body.return_token_ids === true,
      spelling: { asIds: body.return_tokens_as_token_ids === true, decodeToken: resolved.decodeToken },
    };
  }

  function usageFor(outcome: Awaited<ReturnType<MicroBatcher['submit']>>) {
    // Token ids give exact per-request counts; without them only a batch of one can be attributed.
    const fallback =
      outcome.batchRequests === 1
        ? { prompt: outcome.batchUsage.promptTokens, completion: outcome.batchUsage.completionTokens }
        : undefined;
    return usageOf(outcome.results, fallback);
  }

  /** Sends SSE headers at once and keep-alive comments until the result is ready. */
  function beginStream(enabled: boolean, res: ServerResponse): { stop(): void } | undefined {
    if (!enabled) return undefined;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const timer = setInterval(() => res.write(': keep-alive\n\n'), resolved.keepAliveMs);
    return { stop: () => clearInterval(timer) };
  }

  function finishStream(res: ServerResponse, chunks: unknown[]): void {
    for (const chunk of chunks) writeEvent(res, chunk);
    res.end('data: [DONE]\n\n');
  }

  async function close(closeOptions: { timeoutMs?: number } = {}): Promise<void> {
    closePromise ??= (async () => {
      draining = true;
      const timeoutMs = closeOptions.timeoutMs ?? 30_000;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const requestsDone = new Promise<void>((resolve) => {
        if (inFlightRequests === 0) resolve();
        else requestIdleWaiters.push(resolve);
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([
        Promise.all([batcher.whenIdle(), requestsDone]).then(() => 'done' as const),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn(`shutdown: requests still running after ${timeoutMs} ms; closing their connections`);
      }
      httpServer.closeAllConnections();
      if (httpServer.listening) await closed;
      logger.info('server closed');
    })();
    return closePromise;
  }

  return {
    httpServer,
    modelName: resolved.modelName,
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      const port = listenOptions.port ?? 8000;
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          reject(
            new InvalidArgumentError({
              argument: 'port',
              cause: error,
              message:
                error.code === 'EADDRINUSE'
                  ? `Cannot listen on ${host}:${port}: the port is in use. Pick another with --port (0 picks a free one).`
                  : `Cannot listen on ${host}:${port}: ${error.message}`,
            }),
          );
        };
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shownHost}:${address.port}`;
      logger.debug(`serving ${resolved.modelName} at ${url}/v1`);
      return { url, host: address.address, port: address.port };
    },
    close,
    stats: () => ({ ...stats(), inFlightRequests, draining }),
  };
}

/**
 * Cuts `text` into slices of about `size` characters, each cut just before a space that follows a
 * non-space (where word-level pre-tokenizers split anyway), else at `size` (never inside a surrogate pair).
 */
function* textSlices(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    let cut = start + size;
    const floor = start + size / 2;
    while (cut > floor && !(text.charCodeAt(cut) === 32 && text.charCodeAt(cut - 1) !== 32)) cut--;
    if (cut <= floor) {
      cut = start + size;
      const code = text.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
    }
    yield text.slice(start, cut);
    start = cut;
  }
  yield text.slice(start);
}

function isEchoOnly(raw: unknown): boolean {
  const body = raw as { echo?: unknown; max_tokens?: unknown } | null;
  return typeof body === 'object' && body !== null && body.echo === true && body.max_tokens === 0;
}

/** vLLM extras only the engine serves: refused (when set to something other than their default) over a plain backend. */
function backendOnlyChecks(
  body: CompletionsRequest | ChatRequest,
  unsupported: (param: string, message: string) => never,
): void {
  const engineOnly = ' is served only by the engine of rlpt serve model (createModelServer({ engine })).';
  if (body.repetition_penalty != null && body.repetition_penalty !== 1)
    unsupported('repetition_penalty', `repetition_penalty${engineOnly}`);
  if (body.min_tokens) unsupported('min_tokens', `min_tokens${engineOnly}`);
  if (body.ignore_eos) unsupported('ignore_eos', `ignore_eos${engineOnly}`);
  if ('messages' in body && body.prompt_logprobs != null)
    unsupported('prompt_logprobs', `prompt_logprobs on chat${engineOnly}`);
}

function toChatMessage(message: ChatRequest['messages'][number]): ChatMessage {
  const content = message.content;
  return {
    role: message.role,
    content: typeof content === 'string' ? content : (content ?? []).map((part) => part.text).join(''),
  };
}

function completionsPrompts(prompt: CompletionsRequest['prompt']): Prompt[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === 'number') return [{ tokenIds: prompt as number[] }];
  return (prompt as (string | number[])[]).map((item) =>
    typeof item === 'string' ? item : { tokenIds: item },
  );
}

function requireMethod(method: string, allowed: string[], path: string): void {
  if (!allowed.includes(method)) {
    throw new HttpError({
      status: 405,
      message: `${method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
      code: 'method_not_allowed',
      headers: { allow: allowed.join(', ') },
    });
  }
}

function notFound(method: string, path: string): HttpError {
  return new HttpError({
    status: 404,
    message: `No route ${method} ${path}. Routes: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions, POST /tokenize, POST /detokenize, POST /update_weights_from_disk, GET /get_weight_version.`,
    code: 'not_found',
  });
}

function backendError(error: unknown): HttpError {
  if (RlptError.isInstance(error) && (error.code === 'invalid-argument' || error.code === 'unsupported')) {
    return new HttpError({ status: 400, message: error.message, code: error.code });
  }
  return internalError(error);
}

function internalError(error: unknown): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError({
    status: 500,
    message: `The model backend failed: ${message}`,
    code: 'internal_error',
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  sendJson(res, error.status, error.toJSON());
}

function writeEvent(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}
