/**
 * The Tinker API as the official SDK drives it (rl-engines.md §4.3a): client config, a session with
 * heartbeats, futures polled through `retrieve_future` (string ids; `try_again` and HTTP 408 mean
 * pending; `{error, category}` and HTTP 400 `{detail}` mean failed), retries with full-jitter backoff,
 * and protobuf for forward_backward where the server asks for it.
 */
import { AbortError, ApiCallError, type Logger, silentLogger, TimeoutError } from '@rlpt/spec';
import { decodeForwardBackwardOutput, decodeSampleResponse, encodeForwardBackwardRequest } from './proto.js';
import {
  type ForwardBackwardOutput,
  type ForwardBackwardRequest,
  forwardBackwardOutputFromProto,
  forwardBackwardRequestToProto,
  PROTOBUF,
  type SampleResponse,
  sampleResponseFromProto,
} from './wire.js';

/** How a client reaches a Tinker server. */
export interface TinkerClientSettings {
  /** Server root, e.g. `http://127.0.0.1:8000` (SkyRL) or `https://tinker.thinkingmachines.dev/services/tinker-prod`. Default: `TINKER_BASE_URL`, else that hosted URL. */
  baseURL?: string;
  /** API key sent as `X-API-Key`. Default: the variable named by `apiKeyEnv`. Never logged. */
  apiKey?: string;
  /** Environment variable holding the API key. Default `TINKER_API_KEY`. */
  apiKeyEnv?: string;
  /** `auto` (default): protobuf for forward_backward when `client/config` says `proto_write_fwdbwd: true`; `json`; `protobuf`. */
  encoding?: 'auto' | 'json' | 'protobuf';
  /** Per HTTP attempt, ms. Default 60 000 (a `retrieve_future` long poll answers within ~30 s). */
  timeoutMs?: number;
  /** Retries of a failed attempt (408 on calls other than polls, 429, 5xx, network, timeout). Default 4. */
  maxRetries?: number;
  /** First backoff cap, ms (doubles per retry, full jitter). Default 500. */
  retryInitialDelayMs?: number;
  /** Largest backoff, ms. Default 10 000. */
  retryMaxDelayMs?: number;
  /** Give up on a future after this long, ms. Default 3 600 000. */
  futureTimeoutMs?: number;
  /** Heartbeat period, ms. Default 10 000 (the SDK's). */
  heartbeatMs?: number;
  /** Tags, user metadata and project id for `create_session`. */
  session?: { tags?: string[]; userMetadata?: Record<string, string>; projectId?: string };
  fetch?: typeof fetch;
  logger?: Logger;
}

/** The SDK version we present ourselves as: the protocol level this client speaks. */
export const SDK_VERSION = '0.25.0';
export const DEFAULT_BASE_URL = 'https://tinker.thinkingmachines.dev/services/tinker-prod';

type Body = { json: unknown } | { bytes: Uint8Array };

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function errorText(body: unknown, raw: string): string {
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    if (typeof record.error === 'string') return record.error;
    if (typeof record.detail === 'string') return record.detail;
    if (record.detail !== undefined) return JSON.stringify(record.detail);
    if (typeof record.message === 'string') return record.message;
  }
  return raw.length > 500 ? `${raw.slice(0, 500)}…` : raw;
}

/** A Tinker API connection: one session, its heartbeat, and typed calls. */
export class TinkerClient {
  readonly baseURL: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly logger: Logger;
  private readonly settings: Required<
    Pick<
      TinkerClientSettings,
      | 'timeoutMs'
      | 'maxRetries'
      | 'retryInitialDelayMs'
      | 'retryMaxDelayMs'
      | 'futureTimeoutMs'
      | 'heartbeatMs'
    >
  >;
  private readonly encoding: 'auto' | 'json' | 'protobuf';
  private serverConfig: Record<string, unknown> = {};
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private sessionId: string | undefined;
  private modelSeq = 0;
  private samplerSeq = 0;

  constructor(settings: TinkerClientSettings = {}) {
    this.baseURL = (settings.baseURL ?? process.env.TINKER_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.apiKey = settings.apiKey ?? process.env[settings.apiKeyEnv ?? 'TINKER_API_KEY'];
    this.fetchImpl = settings.fetch ?? fetch;
    this.logger = settings.logger ?? silentLogger;
    this.encoding = settings.encoding ?? 'auto';
    this.settings = {
      timeoutMs: settings.timeoutMs ?? 60_000,
      maxRetries: settings.maxRetries ?? 4,
      retryInitialDelayMs: settings.retryInitialDelayMs ?? 500,
      retryMaxDelayMs: settings.retryMaxDelayMs ?? 10_000,
      futureTimeoutMs: settings.futureTimeoutMs ?? 3_600_000,
      heartbeatMs: settings.heartbeatMs ?? 10_000,
    };
    this.sessionSettings = settings.session ?? {};
  }

  private readonly sessionSettings: NonNullable<TinkerClientSettings['session']>;

  /** Whether forward_backward travels as protobuf (and its results are asked for as protobuf). */
  get protobuf(): boolean {
    if (this.encoding === 'auto') return this.serverConfig.proto_write_fwdbwd === true;
    return this.encoding === 'protobuf';
  }

  /** `client/config` then `create_session`, and starts the heartbeat. Idempotent. */
  async connect(signal?: AbortSignal): Promise<string> {
    if (this.sessionId) return this.sessionId;
    this.serverConfig = ((await this.post(
      '/api/v1/client/config',
      { sdk_version: SDK_VERSION },
      { signal },
    )) ?? {}) as Record<string, unknown>;
    const session = (await this.post(
      '/api/v1/create_session',
      {
        type: 'create_session',
        tags: this.sessionSettings.tags ?? ['rlpt'],
        user_metadata: this.sessionSettings.userMetadata ?? {},
        sdk_version: SDK_VERSION,
        ...(this.sessionSettings.projectId ? { project_id: this.sessionSettings.projectId } : {}),
      },
      { signal },
    )) as { session_id?: unknown };
    if (typeof session?.session_id !== 'string') {
      throw new ApiCallError({
        url: `${this.baseURL}/api/v1/create_session`,
        isRetryable: false,
        message: `create_session at ${this.baseURL} answered without a string session_id; is this a Tinker API server?`,
      });
    }
    this.sessionId = session.session_id;
    this.heartbeat = setInterval(() => {
      this.post('/api/v1/session_heartbeat', { session_id: this.sessionId, type: 'session_heartbeat' }).catch(
        (error: unknown) => this.logger.warn(`tinker heartbeat failed: ${(error as Error).message}`),
      );
    }, this.settings.heartbeatMs);
    this.heartbeat.unref?.();
    return this.sessionId;
  }

  /** The session's next `model_seq_id` / `sampling_session_seq_id`. */
  nextModelSeq(): number {
    return this.modelSeq++;
  }
  nextSamplerSeq(): number {
    return this.samplerSeq++;
  }

  get session(): string {
    if (!this.sessionId) throw new Error('TinkerClient: call connect() first.');
    return this.sessionId;
  }

  /** Stops the heartbeat. */
  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** POSTs (JSON or protobuf) and returns the parsed JSON reply; retries retryable failures. */
  async post(
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; protobuf?: Uint8Array; extraHeaders?: Record<string, string> } = {},
  ): Promise<unknown> {
    const reply = await this.request(
      'POST',
      path,
      options.protobuf ? { bytes: options.protobuf } : { json: body },
      {
        ...options,
        acceptProtobuf: false,
      },
    );
    return reply.json;
  }

  async get(path: string, signal?: AbortSignal): Promise<unknown> {
    return (await this.request('GET', path, undefined, { signal, acceptProtobuf: false })).json;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    body: Body | undefined,
    options: {
      signal?: AbortSignal;
      acceptProtobuf: boolean;
      extraHeaders?: Record<string, string>;
      /** Return 408 replies instead of retrying them (polls: 408 means "still pending"). */
      pendingOn408?: boolean;
    },
  ): Promise<{ status: number; json?: unknown; bytes?: Uint8Array }> {
    const url = `${this.baseURL}${path}`;
    const headers: Record<string, string> = { ...options.extraHeaders };
    if (this.apiKey) headers['X-API-Key'] = this.apiKey;
    if (body && 'bytes' in body) headers['Content-Type'] = PROTOBUF;
    else if (body) headers['Content-Type'] = 'application/json';
    if (options.acceptProtobuf) headers.Accept = `${PROTOBUF}, application/json`;
    const payload = body ? ('bytes' in body ? body.bytes : JSON.stringify(body.json)) : undefined;
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw this.abortError(url, options.signal.reason);
      const controller = new AbortController();
      const onAbort = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.settings.timeoutMs);
      let failure: { retryable: boolean; message: string; status?: number; body?: string; cause?: unknown };
      try {
        const response = await this.fetchImpl(url, {
          method,
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
          signal: controller.signal,
        });
        const type = response.headers.get('content-type') ?? '';
        if (response.ok && type.startsWith(PROTOBUF)) {
          return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) };
        }
        const text = await response.text();
        let json: unknown;
        try {
          json = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        if (response.ok) {
          if (json === undefined && text.length > 0) {
            failure = {
              retryable: false,
              message: `invalid JSON in the reply`,
              status: response.status,
              body: text,
            };
          } else return { status: response.status, json };
        } else if (response.status === 408 && options.pendingOn408) {
          return { status: 408, json };
        } else {
          const status = response.status;
          failure = {
            retryable: status === 408 || status === 429 || status >= 500,
            message: `HTTP ${status}: ${this.redact(errorText(json, text))}`,
            status,
            body: this.redact(text.slice(0, 500)),
          };
        }
      } catch (cause) {
        if (options.signal?.aborted) throw this.abortError(url, options.signal.reason);
        failure = timedOut
          ? {
              retryable: true,
              message: `no response within ${this.settings.timeoutMs} ms`,
              cause: new TimeoutError({
                timeoutMs: this.settings.timeoutMs,
                message: `No response from ${url}.`,
              }),
            }
          : {
              retryable: true,
              message: `connection failed (${this.redact(String((cause as Error)?.cause ?? cause))})`,
              cause,
            };
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
      if (!failure.retryable || attempt >= this.settings.maxRetries) {
        throw new ApiCallError({
          url,
          isRetryable: failure.retryable,
          ...(failure.status !== undefined ? { statusCode: failure.status } : {}),
          ...(failure.body !== undefined ? { responseBody: failure.body } : {}),
          ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
          message: `${method} ${url} failed: ${failure.message} (${failure.retryable ? `retryable; gave up after ${attempt + 1} attempts` : 'not retryable'}).${failure.status === 401 || failure.status === 403 ? ' Check the API key (TINKER_API_KEY).' : ''}`,
        });
      }
      const cap = Math.min(this.settings.retryMaxDelayMs, this.settings.retryInitialDelayMs * 2 ** attempt);
      const delay = Math.floor(Math.random() * cap);
      this.logger.warn(`retrying ${method} ${url} in ${delay} ms: ${failure.message}`);
      try {
        await sleep(delay, options.signal);
      } catch (reason) {
        throw this.abortError(url, reason);
      }
    }
  }

  private redact(text: string): string {
    return this.apiKey ? text.split(this.apiKey).join('[redacted]') : text;
  }

  private abortError(url: string, reason: unknown): AbortError {
    return new AbortError({ message: `Request to ${url} was aborted.`, cause: reason });
  }

  /**
   * Waits for a future: polls `retrieve_future` (the first poll with `allow_metadata_only: true`, as the
   * SDK does) until it is done; `kind` says whether to ask for protobuf results.
   */
  async result(
    requestId: string,
    kind: 'forward_backward' | 'sample' | 'other',
    signal?: AbortSignal,
  ): Promise<unknown> {
    const acceptProtobuf = kind !== 'other' && this.protobuf;
    const deadline = Date.now() + this.settings.futureTimeoutMs;
    const url = `${this.baseURL}/api/v1/retrieve_future`;
    for (let poll = 0; ; poll++) {
      const reply = await this.request(
        'POST',
        '/api/v1/retrieve_future',
        { json: { request_id: requestId, allow_metadata_only: poll === 0 } },
        { acceptProtobuf, pendingOn408: true, ...(signal ? { signal } : {}) },
      );
      if (reply.bytes) {
        return kind === 'sample'
          ? sampleResponseFromProto(decodeSampleResponse(reply.bytes))
          : forwardBackwardOutputFromProto(decodeForwardBackwardOutput(reply.bytes));
      }
      const json = reply.json as Record<string, unknown> | undefined;
      const pending = reply.status === 408 || json?.type === 'try_again' || json?.status === 'pending';
      if (!pending) {
        if (json && typeof json.error === 'string') {
          throw new ApiCallError({
            url,
            isRetryable: json.category === 'server',
            responseBody: JSON.stringify(json).slice(0, 500),
            message: `Tinker request ${requestId} failed (${String(json.category ?? 'unknown')}): ${this.redact(json.error)}`,
          });
        }
        return json;
      }
      if (Date.now() > deadline) {
        throw new ApiCallError({
          url,
          isRetryable: true,
          cause: new TimeoutError({
            timeoutMs: this.settings.futureTimeoutMs,
            message: `future ${requestId}`,
          }),
          message: `Tinker request ${requestId} was still pending after ${this.settings.futureTimeoutMs} ms (queue_state ${String(json?.queue_state ?? 'unknown')}); raise futureTimeoutMs or check the server's capacity.`,
        });
      }
      // The server long-polls; a short pause only guards against a server that answers at once.
      await sleep(reply.status === 408 ? 0 : 20, signal).catch((reason: unknown) => {
        throw this.abortError(url, reason);
      });
    }
  }

  /** POSTs a mutating call and returns its future's request id (string, as the SDK requires). */
  async submit(
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; protobuf?: Uint8Array; extraHeaders?: Record<string, string> } = {},
  ): Promise<string> {
    const reply = (await this.post(path, body, options)) as { request_id?: unknown } | undefined;
    if (typeof reply?.request_id !== 'string') {
      throw new ApiCallError({
        url: `${this.baseURL}${path}`,
        isRetryable: false,
        message: `${path} answered without a string request_id (got ${JSON.stringify(reply)?.slice(0, 200)}); the server does not speak the Tinker futures protocol.`,
      });
    }
    return reply.request_id;
  }

  /** Submits a forward_backward (or forward: `forward_only`) in the negotiated encoding. */
  async submitForwardBackward(request: ForwardBackwardRequest, signal?: AbortSignal): Promise<string> {
    if (this.protobuf) {
      const bytes = encodeForwardBackwardRequest(forwardBackwardRequestToProto(request));
      return this.submit('/api/v1/forward_backward', undefined, {
        protobuf: bytes,
        ...(signal ? { signal } : {}),
      });
    }
    if (request.forward_only) {
      const { forward_backward_input, forward_only: _f, ...rest } = request;
      return this.submit(
        '/api/v1/forward',
        { ...rest, forward_input: forward_backward_input, type: 'forward' },
        signal ? { signal } : {},
      );
    }
    const { forward_only: _f, ...rest } = request;
    return this.submit(
      '/api/v1/forward_backward',
      { ...rest, type: 'forward_backward' },
      signal ? { signal } : {},
    );
  }

  async forwardBackwardResult(requestId: string, signal?: AbortSignal): Promise<ForwardBackwardOutput> {
    return (await this.result(requestId, 'forward_backward', signal)) as ForwardBackwardOutput;
  }

  async sampleResult(requestId: string, signal?: AbortSignal): Promise<SampleResponse> {
    return (await this.result(requestId, 'sample', signal)) as SampleResponse;
  }
}
