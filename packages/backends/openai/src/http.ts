import { AbortError, ApiCallError, type Logger, TimeoutError } from '@rlpt/spec';
import { backoffDelayMs, parseRetryAfterMs, sleep } from './retry.js';

/** How one backend talks HTTP: shared by every request it makes. */
export interface HttpSettings {
  fetch: typeof fetch;
  /** Every request's headers, content type and accept included (built once). */
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  maxRetryAfterMs: number;
  logger: Logger;
  /** Strings that must never appear in an error, a log line or a response snippet (the API key). */
  secrets: string[];
}

/**
 * Aborts `target` as soon as any source aborts, with that source's reason; returns a function that
 * detaches the listeners (call it when done, or long-lived sources collect them).
 */
export function forwardAbort(
  target: AbortController,
  sources: readonly (AbortSignal | undefined)[],
): () => void {
  const linked: [AbortSignal, () => void][] = [];
  for (const source of sources) {
    if (!source) continue;
    if (source.aborted) {
      target.abort(source.reason);
      break;
    }
    const onAbort = () => target.abort(source.reason);
    source.addEventListener('abort', onAbort, { once: true });
    linked.push([source, onAbort]);
  }
  return () => {
    for (const [source, onAbort] of linked) source.removeEventListener('abort', onAbort);
  };
}

/** Longest piece of a response body kept in an error message. */
const SNIPPET_CHARS = 500;

/** Replaces every secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join('[redacted]');
  }
  return result;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}… (${flat.length} chars)` : flat;
}

/**
 * The human part of an error body: OpenAI's `{ error: { message } }`, vLLM/SGLang's
 * `{ object: 'error', message }`, FastAPI's `{ detail }`, or the raw text.
 */
export function errorMessageFromBody(body: string): string {
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const error = json.error;
    if (
      typeof error === 'object' &&
      error !== null &&
      typeof (error as { message?: unknown }).message === 'string'
    ) {
      return (error as { message: string }).message;
    }
    if (typeof error === 'string') return error;
    if (typeof json.message === 'string') return json.message;
    if (typeof json.detail === 'string') return json.detail;
    if (json.detail !== undefined) return JSON.stringify(json.detail);
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body;
}

/** What kind of failure one attempt had. */
type AttemptFailure =
  | { kind: 'status'; status: number; statusText: string; body: string; retryAfterMs?: number }
  | { kind: 'timeout' }
  | { kind: 'network'; cause: unknown }
  | { kind: 'invalid-json'; status: number; body: string; cause: unknown };

function networkDetail(cause: unknown): string {
  const inner = (cause as { cause?: unknown })?.cause ?? cause;
  const code = (inner as { code?: unknown })?.code;
  const message = inner instanceof Error ? inner.message : String(inner);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * POSTs JSON and returns the parsed JSON reply, retrying 408/409/429/5xx, connection failures and
 * timeouts with full-jitter backoff (at least the server's `Retry-After`). Every failure is an
 * `ApiCallError` naming the URL, the status and whether it was retryable; caller aborts are `AbortError`.
 */
export async function postJson(
  http: HttpSettings,
  url: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const payload = JSON.stringify(body);
  const attempts = http.maxRetries + 1;
  const safeUrl = redact(url, http.secrets);
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortError(safeUrl, signal.reason);
    const failure = await attemptOnce(http, url, payload, signal);
    if (!('kind' in failure)) return failure.json;
    if (signal?.aborted) throw abortError(safeUrl, signal.reason);

    const retryable =
      failure.kind === 'timeout' ||
      failure.kind === 'network' ||
      (failure.kind === 'status' && isRetryableStatus(failure.status));
    const retryAfterMs = failure.kind === 'status' ? failure.retryAfterMs : undefined;
    const tooLongToWait = retryAfterMs !== undefined && retryAfterMs > http.maxRetryAfterMs;
    if (!retryable || attempt >= attempts || tooLongToWait) {
      throw toApiCallError(http, url, failure, { retryable, attempt, tooLongToWait });
    }
    const delay = Math.max(
      retryAfterMs ?? 0,
      backoffDelayMs(attempt - 1, {
        initialDelayMs: http.retryInitialDelayMs,
        maxDelayMs: http.retryMaxDelayMs,
      }),
    );
    http.logger.warn(`retrying POST ${safeUrl} in ${delay} ms`, {
      url: safeUrl,
      attempt,
      of: attempts,
      reason: describeFailure(failure, http.secrets),
      delayMs: delay,
    });
    try {
      await sleep(delay, signal);
    } catch (reason) {
      throw abortError(safeUrl, reason);
    }
  }
}

async function attemptOnce(
  http: HttpSettings,
  url: string,
  payload: string,
  signal: AbortSignal | undefined,
): Promise<{ json: unknown } | AttemptFailure> {
  // One controller per attempt, fed by the caller's signal and the timer (AbortSignal.any is costlier).
  const controller = new AbortController();
  const unlink = forwardAbort(controller, [signal]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, http.timeoutMs);
  try {
    const response = await http.fetch(url, {
      method: 'POST',
      headers: http.headers,
      body: payload,
      signal: controller.signal,
    });
    const text = await response.text();
    if (!response.ok) {
      const failure: AttemptFailure = {
        kind: 'status',
        status: response.status,
        statusText: response.statusText,
        body: text,
      };
      const retryAfterMs = parseRetryAfterMs(response.headers);
      if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
      return failure;
    }
    try {
      return { json: JSON.parse(text) };
    } catch (cause) {
      return { kind: 'invalid-json', status: response.status, body: text, cause };
    }
  } catch (cause) {
    if (timedOut && !signal?.aborted) return { kind: 'timeout' };
    if (signal?.aborted) return { kind: 'network', cause: signal.reason };
    return { kind: 'network', cause };
  } finally {
    clearTimeout(timer);
    unlink();
  }
}

function describeFailure(failure: AttemptFailure, secrets: readonly string[]): string {
  switch (failure.kind) {
    case 'status':
      return `HTTP ${failure.status}${failure.statusText ? ` ${failure.statusText}` : ''}`;
    case 'timeout':
      return 'timeout';
    case 'network':
      return `connection failed (${redact(networkDetail(failure.cause), secrets)})`;
    case 'invalid-json':
      return 'invalid JSON in the response';
  }
}

function toApiCallError(
  http: HttpSettings,
  url: string,
  failure: AttemptFailure,
  state: { retryable: boolean; attempt: number; tooLongToWait: boolean },
): ApiCallError {
  const safeUrl = redact(url, http.secrets);
  const tries = `${state.attempt} attempt${state.attempt === 1 ? '' : 's'}`;
  const retryNote = state.retryable ? `retryable; gave up after ${tries}` : `not retryable; ${tries}`;
  const where = `POST ${safeUrl}`;
  switch (failure.kind) {
    case 'status': {
      const body = redact(failure.body, http.secrets);
      const serverSaid = snippet(redact(errorMessageFromBody(failure.body), http.secrets));
      let hint = '';
      if (failure.status === 401 || failure.status === 403) {
        hint = ' Check the API key (the apiKey option or the apiKeyEnv variable).';
      } else if (failure.status === 404) {
        hint = ' Check baseURL (it usually ends in /v1) and the model name.';
      } else if (state.tooLongToWait) {
        hint = ` The server asked to wait ${Math.ceil((failure.retryAfterMs ?? 0) / 1000)} s (Retry-After), more than maxRetryAfterMs (${http.maxRetryAfterMs} ms).`;
      }
      const options: ConstructorParameters<typeof ApiCallError>[0] = {
        url: safeUrl,
        statusCode: failure.status,
        responseBody: snippet(body),
        isRetryable: state.retryable,
        message: `${where} failed: HTTP ${failure.status}${failure.statusText ? ` ${failure.statusText}` : ''} (${retryNote}). Server said: ${serverSaid || '(empty body)'}.${hint}`,
      };
      if (failure.retryAfterMs !== undefined) options.retryAfterSeconds = failure.retryAfterMs / 1000;
      return new ApiCallError(options);
    }
    case 'timeout':
      return new ApiCallError({
        url: safeUrl,
        isRetryable: true,
        cause: new TimeoutError({
          timeoutMs: http.timeoutMs,
          message: `No response from ${safeUrl} within ${http.timeoutMs} ms.`,
        }),
        message: `${where} failed: no complete response within ${http.timeoutMs} ms (${retryNote}). Raise timeoutMs for long generations, or check that the server is not stuck.`,
      });
    case 'network':
      return new ApiCallError({
        url: safeUrl,
        isRetryable: true,
        cause: failure.cause,
        message: `${where} failed: connection failed (${redact(networkDetail(failure.cause), http.secrets)}) (${retryNote}). Is the server running and reachable at this URL?`,
      });
    case 'invalid-json':
      return new ApiCallError({
        url: safeUrl,
        statusCode: failure.status,
        responseBody: snippet(redact(failure.body, http.secrets)),
        isRetryable: false,
        cause: failure.cause,
        message: `${where} failed: HTTP ${failure.status} but the body is not valid JSON (not retryable). Body starts: ${snippet(redact(failure.body, http.secrets)).slice(0, 200) || '(empty)'}. Is baseURL an OpenAI-compatible server?`,
      });
  }
}

function abortError(url: string, reason: unknown): AbortError {
  return new AbortError({ message: `The request to ${url} was aborted.`, cause: reason });
}

/** An `ApiCallError` for a 2xx reply whose JSON does not have the documented shape. */
export function unexpectedShape(
  url: string,
  problem: string,
  json: unknown,
  secrets: readonly string[],
): ApiCallError {
  const body = snippet(redact(JSON.stringify(json) ?? String(json), secrets));
  return new ApiCallError({
    url: redact(url, secrets),
    statusCode: 200,
    responseBody: body,
    isRetryable: false,
    message: `POST ${redact(url, secrets)} returned an unexpected response: ${problem} (not retryable). Body starts: ${body.slice(0, 200)}`,
  });
}
