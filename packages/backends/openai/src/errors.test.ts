import { inspect } from 'node:util';
import { AbortError, ApiCallError, InvalidArgumentError, type Logger, TimeoutError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type ScriptedServer, startScriptedServer } from '../test/scripted-server.js';
import { createOpenAIBackend, type OpenAIBackendSettings } from './index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ok = () => ({ json: fixture('vllm/completions-token-strings.json') });
const request = { prompts: ['The capital of France is'], maxTokens: 2 };

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

function backendFor(settings: Partial<OpenAIBackendSettings> = {}) {
  return createOpenAIBackend({
    baseURL: server!.baseURL,
    model: 'm',
    retryInitialDelayMs: 5,
    retryMaxDelayMs: 20,
    ...settings,
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('HTTP errors', () => {
  it('a 400 fails at once: not retryable, names the URL, the status and what the server said', async () => {
    server = await startScriptedServer(() => ({ status: 400, json: fixture('vllm/error-400-legacy.json') }));
    const error = await failure(backendFor().generate(request));
    expect(ApiCallError.isInstance(error)).toBe(true);
    const apiError = error as ApiCallError;
    expect(server.requests).toHaveLength(1);
    expect(apiError.isRetryable).toBe(false);
    expect(apiError.statusCode).toBe(400);
    expect(apiError.url).toBe(`${server.baseURL}/completions`);
    expect(apiError.message).toContain(`POST ${server.baseURL}/completions`);
    expect(apiError.message).toContain('HTTP 400');
    expect(apiError.message).toContain('not retryable');
    expect(apiError.message).toContain("This model's maximum context length is 32768 tokens");
    expect(apiError.responseBody).toContain('BadRequestError');
  });

  it('reads the newer { error: { message } } shape and hints at baseURL on 404', async () => {
    server = await startScriptedServer(() => ({ status: 404, json: fixture('vllm/error-404-model.json') }));
    const error = (await failure(backendFor().generate(request))) as ApiCallError;
    expect(error.statusCode).toBe(404);
    expect(error.message).toContain('The model `Qwen/Qwen3-8B` does not exist.');
    expect(error.message).toContain('Check baseURL');
  });

  it("reads SGLang's error body", async () => {
    server = await startScriptedServer(() => ({ status: 400, json: fixture('sglang/error-400.json') }));
    const error = (await failure(backendFor({ server: 'sglang' }).generate(request))) as ApiCallError;
    expect(error.message).toContain('Requested token count exceeds the model');
  });

  it('retries 503 with backoff and succeeds, logging each retry', async () => {
    const logger = recordingLogger();
    server = await startScriptedServer((_, index) =>
      index < 2 ? { status: 503, json: { error: { message: 'engine busy' } } } : ok(),
    );
    const result = await backendFor({ logger }).generate(request);
    expect(server.requests).toHaveLength(3);
    expect(result.results[0]!.completions[0]!.text).toBe(' Paris.');
    expect(logger.lines.filter((line) => line.startsWith('warn retrying POST'))).toHaveLength(2);
  });

  it('gives up after maxRetries on a persistent 5xx, as a retryable ApiCallError', async () => {
    server = await startScriptedServer(() => ({ status: 502, body: 'Bad Gateway' }));
    const error = (await failure(backendFor({ maxRetries: 2 }).generate(request))) as ApiCallError;
    expect(server.requests).toHaveLength(3);
    expect(error.isRetryable).toBe(true);
    expect(error.statusCode).toBe(502);
    expect(error.message).toContain('retryable; gave up after 3 attempts');
    expect(error.message).toContain('Bad Gateway');
  });

  it('honours Retry-After in seconds on 429', async () => {
    server = await startScriptedServer((_, index) =>
      index === 0
        ? { status: 429, json: fixture('openai/error-429.json'), headers: { 'retry-after': '1' } }
        : ok(),
    );
    await backendFor().generate(request);
    expect(server.requests).toHaveLength(2);
    const waited = server.requests[1]!.receivedAt - server.requests[0]!.receivedAt;
    expect(waited).toBeGreaterThanOrEqual(990);
  });

  it('honours Retry-After as an HTTP date', async () => {
    server = await startScriptedServer((_, index) =>
      index === 0
        ? {
            status: 429,
            json: fixture('openai/error-429.json'),
            headers: { 'retry-after': new Date(Date.now() + 1500).toUTCString() },
          }
        : ok(),
    );
    await backendFor().generate(request);
    const waited = server.requests[1]!.receivedAt - server.requests[0]!.receivedAt;
    // HTTP dates have whole seconds, so the wait is between 0.5 s and 1.5 s.
    expect(waited).toBeGreaterThanOrEqual(450);
  });

  it('fails at once when Retry-After is longer than maxRetryAfterMs', async () => {
    server = await startScriptedServer(() => ({
      status: 429,
      json: fixture('openai/error-429.json'),
      headers: { 'retry-after': '3600' },
    }));
    const error = (await failure(backendFor({ maxRetryAfterMs: 60_000 }).generate(request))) as ApiCallError;
    expect(server.requests).toHaveLength(1);
    expect(error.statusCode).toBe(429);
    expect(error.retryAfterSeconds).toBe(3600);
    expect(error.message).toContain('asked to wait 3600 s');
    expect(error.message).toContain('Rate limit reached');
  });
});

describe('connection failures, timeouts and aborts', () => {
  it('retries a connection reset and succeeds', async () => {
    server = await startScriptedServer((_, index) => (index === 0 ? 'reset' : ok()));
    const result = await backendFor().generate(request);
    expect(server.requests).toHaveLength(2);
    expect(result.results[0]!.completions[0]!.text).toBe(' Paris.');
  });

  it('reports a connection reset that persists as a retryable ApiCallError without a status', async () => {
    server = await startScriptedServer(() => 'reset');
    const error = (await failure(backendFor({ maxRetries: 1 }).generate(request))) as ApiCallError;
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect(server.requests).toHaveLength(2);
    expect(error.statusCode).toBeUndefined();
    expect(error.isRetryable).toBe(true);
    expect(error.message).toMatch(/connection failed \(.+\)/);
    expect(error.message).toContain(server.baseURL);
  });

  it('reports a server that never answers as a timeout, after retrying it', async () => {
    server = await startScriptedServer(() => 'hang');
    const started = performance.now();
    const error = (await failure(
      backendFor({ timeoutMs: 150, maxRetries: 1 }).generate(request),
    )) as ApiCallError;
    expect(performance.now() - started).toBeLessThan(5000);
    expect(server.requests).toHaveLength(2);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(true);
    expect(TimeoutError.isInstance(error.cause)).toBe(true);
    expect(error.message).toContain('no complete response within 150 ms');
    await Promise.all(server.requests.map((seen) => seen.closedEarly));
  });

  it('aborts mid-request: rejects with AbortError and closes the connection', async () => {
    server = await startScriptedServer(() => 'hang');
    const controller = new AbortController();
    const pending = backendFor().generate(request, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(1);
    controller.abort();
    const error = await failure(pending);
    expect(AbortError.isInstance(error)).toBe(true);
    await server.requests[0]!.closedEarly;
  });

  it('aborts during a retry wait without sending another request', async () => {
    server = await startScriptedServer(() => ({
      status: 503,
      body: 'busy',
      headers: { 'retry-after': '30' },
    }));
    const controller = new AbortController();
    const pending = backendFor().generate(request, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(AbortError.isInstance(await failure(pending))).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('an already-aborted signal sends nothing', async () => {
    server = await startScriptedServer(ok);
    const error = await failure(backendFor().generate(request, { signal: AbortSignal.abort() }));
    expect(AbortError.isInstance(error)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('the first hard failure cancels the other requests of the call', async () => {
    server = await startScriptedServer((seen) =>
      (seen.body as { prompt: string }).prompt === 'bad'
        ? { status: 400, json: { error: { message: 'nope' } } }
        : 'hang',
    );
    const error = (await failure(
      backendFor().generate({ prompts: ['slow-1', 'bad', 'slow-2'], maxTokens: 1 }),
    )) as ApiCallError;
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/^prompts\[1\]: POST /);
    const slow = server.requests.filter((seen) => (seen.body as { prompt: string }).prompt !== 'bad');
    await Promise.all(slow.map((seen) => seen.closedEarly));
  });

  it('close() aborts requests in flight and refuses new ones', async () => {
    server = await startScriptedServer(() => 'hang');
    const backend = backendFor();
    const pending = backend.generate(request);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await backend.close();
    expect(AbortError.isInstance(await failure(pending))).toBe(true);
    expect(AbortError.isInstance(await failure(backend.generate(request)))).toBe(true);
  });
});

describe('malformed replies', () => {
  it('invalid JSON with 200 is not retried and shows the start of the body', async () => {
    server = await startScriptedServer(() => ({ body: '{"choices": [{"text": "Par' }));
    const error = (await failure(backendFor().generate(request))) as ApiCallError;
    expect(server.requests).toHaveLength(1);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(false);
    expect(error.statusCode).toBe(200);
    expect(error.message).toContain('not valid JSON');
    expect(error.message).toContain('{"choices": [{"text": "Par');
  });

  it('JSON without choices names the missing field', async () => {
    server = await startScriptedServer(() => ({ json: { object: 'list', data: [] } }));
    const error = (await failure(backendFor().generate(request))) as ApiCallError;
    expect(error.message).toContain('`choices` is missing or not an array');
  });

  it('a non-numeric logprob names the exact place', async () => {
    server = await startScriptedServer(() => ({
      json: {
        choices: [{ index: 0, text: 'a', logprobs: { token_logprobs: [-1, 'x'] }, finish_reason: 'stop' }],
      },
    }));
    const error = (await failure(backendFor().generate({ ...request, logprobs: true }))) as ApiCallError;
    expect(error.message).toContain('choices[0].logprobs.token_logprobs[1] is "x", not a number');
  });
});

describe('the API key', () => {
  const secret = 'sk-rlpt-test-0123456789abcdef';

  it('is sent as a bearer token, from the option or from the environment variable', async () => {
    server = await startScriptedServer(ok);
    await backendFor({ apiKey: secret }).generate(request);
    process.env.RLPT_TEST_OPENAI_KEY = `${secret}-env`;
    try {
      await backendFor({ apiKeyEnv: 'RLPT_TEST_OPENAI_KEY' }).generate(request);
    } finally {
      delete process.env.RLPT_TEST_OPENAI_KEY;
    }
    await backendFor({ apiKeyEnv: 'RLPT_TEST_UNSET_VARIABLE' }).generate(request);
    expect(server.requests.map((seen) => seen.headers.authorization)).toEqual([
      `Bearer ${secret}`,
      `Bearer ${secret}-env`,
      undefined,
    ]);
  });

  it('never appears in errors, their bodies or log lines, even when the server echoes it', async () => {
    const logger = recordingLogger();
    server = await startScriptedServer((seen, index) =>
      index === 0
        ? { status: 503, body: `upstream rejected ${seen.headers.authorization}` }
        : { status: 401, json: { error: { message: `invalid key ${seen.headers.authorization}` } } },
    );
    const backend = backendFor({ apiKey: secret, logger });
    const error = (await failure(backend.generate(request))) as ApiCallError;
    expect(error.statusCode).toBe(401);
    expect(error.message).toContain('[redacted]');
    expect(error.message).toContain('Check the API key');
    const everything = [
      error.message,
      error.responseBody,
      JSON.stringify(error),
      inspect(error, { depth: 5 }),
      ...logger.lines,
      JSON.stringify(backend),
      inspect(backend, { depth: 5 }),
    ].join('\n');
    expect(everything).not.toContain(secret);
    expect(logger.lines).toHaveLength(1);
  });
  it('treats a key passed as a header as a secret too', async () => {
    server = await startScriptedServer((seen) => ({
      status: 403,
      json: { error: { message: `bad key ${seen.headers['x-api-key']}` } },
    }));
    const error = (await failure(
      backendFor({ headers: { 'X-Api-Key': secret } }).generate(request),
    )) as ApiCallError;
    expect(server.requests[0]!.headers['x-api-key']).toBe(secret);
    expect(error.message).toContain('bad key [redacted]');
    expect(`${error.message}${error.responseBody}`).not.toContain(secret);
  });
});

describe('argument checks', () => {
  it('rejects bad settings with the setting named', () => {
    const bad: [Partial<OpenAIBackendSettings>, string][] = [
      [{ baseURL: 'localhost:8000' }, 'baseURL'],
      [{ baseURL: 'ftp://x/v1' }, 'baseURL'],
      [{ model: '' }, 'model'],
      [{ mode: 'text' as 'chat' }, 'mode'],
      [{ server: 'tgi' as 'vllm' }, 'server'],
      [{ concurrency: 0 }, 'concurrency'],
      [{ timeoutMs: 1.5 }, 'timeoutMs'],
      [{ maxRetries: -1 }, 'maxRetries'],
    ];
    for (const [settings, argument] of bad) {
      let caught: unknown;
      try {
        createOpenAIBackend({ baseURL: 'http://127.0.0.1:1/v1', model: 'm', ...settings });
      } catch (error) {
        caught = error;
      }
      expect(InvalidArgumentError.isInstance(caught), argument).toBe(true);
      expect((caught as InvalidArgumentError).argument).toBe(argument);
      expect((caught as Error).message).toContain(argument);
    }
  });

  it('rejects bad requests before sending anything', async () => {
    server = await startScriptedServer(ok);
    const backend = backendFor();
    for (const [bad, argument] of [
      [{ prompts: ['x'], maxTokens: 0 }, 'maxTokens'],
      [{ prompts: ['x'], maxTokens: 1, n: 0 }, 'n'],
      [{ prompts: ['x'], maxTokens: 1, topP: 0 }, 'topP'],
      [{ prompts: ['x', 42], maxTokens: 1 }, 'prompts[1]'],
      [{ prompts: ['x', ''], maxTokens: 1 }, 'prompts[1]'],
      [{ prompts: [{ tokenIds: [] }], maxTokens: 1 }, 'prompts[0]'],
    ] as const) {
      const error = await failure(backend.generate(bad as never));
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
    expect(server.requests).toHaveLength(0);
  });
});
