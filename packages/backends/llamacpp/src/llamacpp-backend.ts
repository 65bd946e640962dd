import {
  AbortError,
  ApiCallError,
  type CallOptions,
  type Completion,
  checkPromptLength,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Logger,
  type Prompt,
  silentLogger,
  TimeoutError,
  throwIfAborted,
  unsupportedSettingWarnings,
  validateGenerateRequest,
} from '@rlpt/spec';

export interface LlamaCppBackendOptions {
  /** Server root, e.g. `http://127.0.0.1:8080` (no `/v1`). */
  baseURL: string;
  /** Model id reported as `modelId`. Default `llamacpp`. */
  model?: string;
  /** Context length (prompt + completion). Default: `default_generation_settings.n_ctx` of `GET /props`. */
  contextSize?: number;
  /** `/completion` requests in flight at once (match the server's `--parallel` slots). Default 4. */
  concurrency?: number;
  /** Per-request timeout in ms. Default 600 000. */
  timeoutMs?: number;
  /**
   * Reuse the KV cache of a common prefix (`cache_prompt`). Default false: llama.cpp warns that it can make
   * results nondeterministic, and RL needs greedy and seeded runs to repeat.
   */
  cachePrompt?: boolean;
  /** Extra headers (e.g. `Authorization: Bearer …` for `--api-key`). */
  headers?: Record<string, string>;
  /** Receives debug lines. Default silent. */
  logger?: Logger;
  /** `fetch` to use (tests, proxies). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** One `/completion` answer, the keys this backend reads (llama.cpp `to_json_non_oaicompat`). */
interface CompletionResponse {
  content: string;
  tokens?: number[];
  stop_type?: 'none' | 'eos' | 'limit' | 'word';
  completion_probabilities?: { id: number; bytes?: number[]; logprob: number }[];
}

const capabilities = { logprobs: true, tokenIds: true, chat: true, seed: true, score: false } as const;

function integerOption(name: string, value: number | undefined, fallback: number, minimum: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < minimum)
    throw new InvalidArgumentError({
      argument: name,
      message: `createLlamaCppBackend: ${name} must be an integer ≥ ${minimum}, got ${JSON.stringify(value)}.`,
    });
  return resolved;
}

/** At most `limit` tasks at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** Per-completion seeds: llama.cpp takes one uint32 seed per request; -1 asks for a random one. */
function seedFor(seed: number | undefined, index: number): number {
  if (seed === undefined) return -1;
  const modulus = 4_294_967_295n; // 0xFFFFFFFF itself means "random" to llama.cpp
  return Number((((BigInt(seed) * 1_000_003n + BigInt(index)) % modulus) + modulus) % modulus);
}

const utf8 = new TextDecoder();

/**
 * Creates an `InferenceBackendV1` over llama.cpp's `llama-server` native `/completion` API. Prompts are
 * tokenised with `/tokenize` (with BOS, as the server does for text), chat prompts rendered with
 * `/apply-template`; every completion is one `/completion` request with the token ids as prompt,
 * `return_tokens`, `n_probs: 1` and the sampler chain pinned (`top_k 0`, `top_p 1`, `min_p 0`,
 * `repeat_penalty 1` unless asked), so greedy and seeded runs repeat and logprobs are the model's.
 * Logprobs are raw: log softmax of the logits, whatever the temperature. Stop token ids are applied on
 * the client (the server has none). No teacher-forced `score` (the server does not expose prompt logprobs).
 */
export function createLlamaCppBackend(options: LlamaCppBackendOptions): InferenceBackendV1 {
  if (typeof options?.baseURL !== 'string' || !/^https?:\/\//.test(options.baseURL))
    throw new InvalidArgumentError({
      argument: 'baseURL',
      message: `createLlamaCppBackend: baseURL must be an http(s) URL such as http://127.0.0.1:8080, got ${JSON.stringify(options?.baseURL)}.`,
    });
  const baseURL = options.baseURL.replace(/\/+$/, '').replace(/\/v1$/, '');
  const concurrency = integerOption('concurrency', options.concurrency, 4, 1);
  const timeoutMs = integerOption('timeoutMs', options.timeoutMs, 600_000, 1);
  if (options.contextSize !== undefined) integerOption('contextSize', options.contextSize, 0, 2);
  const doFetch = options.fetch ?? globalThis.fetch;
  const logger = options.logger ?? silentLogger;
  const limit = limiter(concurrency);
  let contextSize: Promise<number> | undefined =
    options.contextSize === undefined ? undefined : Promise.resolve(options.contextSize);

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const url = `${baseURL}${path}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        method,
        headers: { 'content-type': 'application/json', ...options.headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: combined,
      });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw new AbortError({ cause: signal.reason });
      if (timeout.aborted)
        throw new TimeoutError({
          message: `llamacpp: ${method} ${url} took longer than ${timeoutMs} ms.`,
          timeoutMs,
          cause: error,
        });
      throw new ApiCallError({
        url,
        message: `llamacpp: ${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}. Is llama-server running there?`,
        cause: error,
      });
    }
    if (!response.ok) {
      // llama.cpp's error body: {"error":{"code","message","type"}}.
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { message?: string } };
        if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      } catch {}
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new ApiCallError({
        url,
        statusCode: response.status,
        responseBody: text,
        message: `llamacpp: ${method} ${url} answered ${response.status}: ${message}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      });
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new ApiCallError({
        url,
        statusCode: response.status,
        responseBody: text,
        message: `llamacpp: ${method} ${url} answered with invalid JSON: ${text.slice(0, 200)}`,
        cause: error,
        isRetryable: false,
      });
    }
  }

  function context(signal?: AbortSignal): Promise<number> {
    if (!contextSize) {
      contextSize = call<{ default_generation_settings?: { n_ctx?: number } }>(
        'GET',
        '/props',
        undefined,
        signal,
      ).then((props) => {
        const size = props.default_generation_settings?.n_ctx;
        if (!Number.isInteger(size) || (size as number) < 2)
          throw new ApiCallError({
            url: `${baseURL}/props`,
            message: `llamacpp: GET ${baseURL}/props has no default_generation_settings.n_ctx; pass contextSize.`,
            isRetryable: false,
          });
        return size as number;
      });
      contextSize.catch(() => {
        contextSize = undefined;
      });
    }
    return contextSize;
  }

  async function tokenize(prompt: Prompt, signal?: AbortSignal): Promise<number[]> {
    if (typeof prompt === 'object' && 'tokenIds' in prompt) return Array.from(prompt.tokenIds);
    let text = prompt as string;
    if (typeof prompt === 'object' && 'messages' in prompt) {
      text = (
        await call<{ prompt: string }>('POST', '/apply-template', { messages: prompt.messages }, signal)
      ).prompt;
    }
    // BOS as the server adds it to a text prompt; the ids are sent back as the prompt (no BOS added then).
    const result = await call<{ tokens: number[] }>(
      'POST',
      '/tokenize',
      { content: text, add_special: true, parse_special: true },
      signal,
    );
    return result.tokens;
  }

  async function complete(
    promptIds: number[],
    request: GenerateRequest,
    index: number,
    signal?: AbortSignal,
  ): Promise<Completion> {
    const temperature = request.temperature ?? 1;
    const body = {
      prompt: promptIds,
      n_predict: request.maxTokens,
      temperature,
      top_k: request.topK ?? 0,
      top_p: request.topP ?? 1,
      min_p: request.minP ?? 0,
      repeat_penalty: 1,
      seed: seedFor(request.seed, index),
      ...(request.stop?.length ? { stop: request.stop } : {}),
      n_probs: 1,
      return_tokens: true,
      cache_prompt: options.cachePrompt ?? false,
      stream: false,
      ...request.providerOptions,
    };
    const response = await limit(() => {
      throwIfAborted(signal);
      return call<CompletionResponse>('POST', '/completion', body, signal);
    });
    let tokens = response.tokens ?? [];
    const probabilities = response.completion_probabilities ?? [];
    let text = response.content;
    let finishReason: FinishReason = response.stop_type === 'limit' ? 'length' : 'stop';
    const byteOf = (position: number) => probabilities[position]?.bytes;
    const haveBytes =
      probabilities.length >= tokens.length && tokens.every((_, at) => byteOf(at) !== undefined);
    if (response.stop_type === 'word' && haveBytes) {
      // `tokens` may hold the tokens that spelled the stop word: keep the fewest that cover `content`.
      const want = new TextEncoder().encode(text).length;
      let bytes = 0;
      let keep = 0;
      while (keep < tokens.length && bytes < want) bytes += (byteOf(keep++) as number[]).length;
      tokens = tokens.slice(0, keep);
    }
    const stopAt = request.stopTokenIds?.length
      ? tokens.findIndex((id) => request.stopTokenIds?.includes(id))
      : -1;
    if (stopAt >= 0) {
      // The server has no stop token ids: cut at the first one and rebuild the text from token bytes.
      tokens = tokens.slice(0, stopAt);
      text = haveBytes
        ? utf8.decode(Uint8Array.from(tokens.flatMap((_, at) => byteOf(at) as number[])))
        : (await call<{ content: string }>('POST', '/detokenize', { tokens }, signal)).content;
      const cuts = (request.stop ?? []).map((stop) => text.indexOf(stop)).filter((at) => at >= 0);
      if (cuts.length > 0) text = text.slice(0, Math.min(...cuts));
      finishReason = 'stop';
    }
    const completion: Completion = { text, tokenIds: tokens, finishReason };
    if (request.logprobs) {
      if (probabilities.length < tokens.length)
        throw new ApiCallError({
          url: `${baseURL}/completion`,
          message: `llamacpp: asked for n_probs but got ${probabilities.length} completion_probabilities for ${tokens.length} tokens (a build before the logprob rework returns "probs"; upgrade llama-server).`,
          isRetryable: false,
        });
      completion.logprobs = Float32Array.from(tokens, (_, at) => probabilities[at]?.logprob as number);
    }
    return completion;
  }

  return {
    specificationVersion: 'v1',
    provider: 'llamacpp',
    modelId: options.model ?? 'llamacpp',
    capabilities,
    async generate(request: GenerateRequest, callOptions: CallOptions = {}): Promise<GenerateResult> {
      const { signal } = callOptions;
      validateGenerateRequest(request, { capabilities, label: 'llamacpp generate' });
      throwIfAborted(signal);
      const warnings = unsupportedSettingWarnings(request, capabilities);
      const maxContext = await context(signal);
      const prompts = await Promise.all(
        request.prompts.map((prompt) => limit(() => tokenize(prompt, signal))),
      );
      prompts.forEach((ids, index) => {
        if (ids.length === 0)
          throw new InvalidArgumentError({
            argument: `prompts[${index}]`,
            message: `llamacpp generate: prompts[${index}] is empty after tokenising; every prompt needs at least one token.`,
          });
        checkPromptLength(ids.length, index, maxContext, 'llamacpp generate');
      });
      const n = request.n ?? 1;
      logger.debug(`llamacpp: ${prompts.length} prompt(s) × ${n} completion(s)`, { baseURL });
      const results = await Promise.all(
        prompts.map(async (promptTokenIds) => ({
          promptTokenIds,
          completions: await Promise.all(
            Array.from({ length: n }, (_, index) => complete(promptTokenIds, request, index, signal)),
          ),
        })),
      );
      throwIfAborted(signal);
      return {
        results,
        usage: {
          promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0),
          completionTokens: results.reduce(
            (sum, entry) =>
              sum + entry.completions.reduce((total, c) => total + (c.tokenIds?.length ?? 0), 0),
            0,
          ),
        },
        warnings,
      };
    },
  };
}
