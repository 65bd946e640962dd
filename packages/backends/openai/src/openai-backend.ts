import { setMaxListeners } from 'node:events';
import {
  AbortError,
  ApiCallError,
  type BackendCapabilities,
  type CallOptions,
  type Completion,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Logger,
  type Prompt,
  type PromptResult,
  type ScoreRequest,
  type ScoreResult,
  silentLogger,
  UnsupportedFunctionalityError,
  type Warning,
} from '@rlpt/spec';
import { forwardAbort, type HttpSettings, postJson, unexpectedShape } from './http.js';
import { ConcurrencyLimiter } from './limiter.js';
import { scoreOnSglang, scoreOnVllm } from './score.js';
import { updateWeightsFromDisk } from './weights.js';
import {
  asMessages,
  type ParsedChoice,
  type ParsedResponse,
  parseChatResponse,
  parseCompletionsResponse,
  SERVER_FEATURES,
  type ServerKind,
  samplingBody,
} from './wire.js';

/** Settings of {@link createOpenAIBackend}. Only `baseURL` and `model` are required. */
export interface OpenAIBackendSettings {
  /**
   * Base URL of the OpenAI-compatible API, including the version path, e.g. `http://127.0.0.1:8000/v1`
   * (vLLM, SGLang, `rlpt serve model`) or `https://api.openai.com/v1`. Requests go to
   * `${baseURL}/completions` and `${baseURL}/chat/completions`.
   */
  baseURL: string;
  /** Model name sent in every request (vLLM: the `--served-model-name`, default the model path). */
  model: string;
  /** API key sent as `Authorization: Bearer …`. Never logged and never put in an error. */
  apiKey?: string;
  /** Environment variable read for the API key when `apiKey` is absent. Default `OPENAI_API_KEY`. */
  apiKeyEnv?: string;
  /**
   * Where plain-string prompts go: `completions` (default; raw text, for base models and the RLPT
   * templates) or `chat` (sent as one user message). `{ messages }` prompts always use
   * `/chat/completions` and `{ tokenIds }` prompts always use `/completions`.
   */
  mode?: 'completions' | 'chat';
  /**
   * The server's dialect, which decides the extension fields sent. `vllm`: sends `top_k`, `min_p`,
   * `stop_token_ids` explicitly (so the model's generation_config defaults never apply silently) and asks
   * for token ids (`return_token_ids`, `return_tokens_as_token_ids`); use it for `rlpt serve model` too.
   * `sglang`: sends the same sampling extensions, no token-id fields. `openai`: strict OpenAI API, the
   * extensions become warnings. `generic` (default): extensions are sent only when set.
   */
  server?: ServerKind;
  /** Most requests in flight at once, across all `generate` calls of this backend. Default 32. */
  concurrency?: number;
  /** Retries after the first attempt on 408/409/429/5xx, connection failures and timeouts. Default 4. */
  maxRetries?: number;
  /** Backoff cap of the first retry in ms; doubles per retry, full jitter. Default 500. */
  retryInitialDelayMs?: number;
  /** Largest backoff delay in ms. Default 30 000. */
  retryMaxDelayMs?: number;
  /** A `Retry-After` longer than this (ms) fails at once instead of waiting. Default 120 000. */
  maxRetryAfterMs?: number;
  /** Time limit of each HTTP attempt in ms (headers and body). Default 600 000 (10 minutes). */
  timeoutMs?: number;
  /**
   * Largest `n` in one request; a larger `n` is split over several requests (with `seed + k` for the
   * k-th extra request when a seed is set). Default: no limit. Set 1 for servers that ignore `n`.
   */
  maxNPerRequest?: number;
  /** Extra JSON fields merged into every request body (after rlpt's own, so they win). */
  extraBody?: Record<string, unknown>;
  /** Extra HTTP headers on every request. */
  headers?: Record<string, string>;
  /** The fetch implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Receives retry notices (`warn`). Default: silent. */
  logger?: Logger;
}

/** The backend returned by {@link createOpenAIBackend}. */
export interface OpenAIBackend extends InferenceBackendV1 {
  readonly provider: 'openai';
  readonly baseURL: string;
  readonly server: ServerKind;
  readonly mode: 'completions' | 'chat';
  /**
   * Tells the server to load weights from a model folder it can read (SGLang's and `rlpt serve model`'s
   * `POST /update_weights_from_disk`). Resolves once requests made from then on use them. On a server
   * without the route (vLLM, OpenAI) it throws `UnsupportedFunctionalityError`.
   */
  updateWeights(modelDir: string, options?: CallOptions): Promise<void>;
  /** Aborts every request in flight; later calls throw. */
  close(): Promise<void>;
}

interface ResolvedSettings {
  baseURL: string;
  model: string;
  mode: 'completions' | 'chat';
  server: ServerKind;
  concurrency: number;
  maxNPerRequest: number;
  extraBody: Record<string, unknown>;
  http: HttpSettings;
}

const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'api-key']);

const SERVERS: readonly ServerKind[] = ['vllm', 'sglang', 'openai', 'generic'];

function integerSetting(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError({
      argument: name,
      message: `createOpenAIBackend: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}.`,
    });
  }
  return value;
}

function resolveSettings(settings: OpenAIBackendSettings): ResolvedSettings {
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidArgumentError({
      argument: 'settings',
      message: 'createOpenAIBackend needs a settings object with at least baseURL and model.',
    });
  }
  const { baseURL, model } = settings;
  let parsedURL: URL;
  try {
    parsedURL = new URL(baseURL);
  } catch (cause) {
    throw new InvalidArgumentError({
      argument: 'baseURL',
      cause,
      message: `createOpenAIBackend: baseURL must be an absolute http(s) URL such as http://127.0.0.1:8000/v1, got ${JSON.stringify(baseURL)}.`,
    });
  }
  if (parsedURL.protocol !== 'http:' && parsedURL.protocol !== 'https:') {
    throw new InvalidArgumentError({
      argument: 'baseURL',
      message: `createOpenAIBackend: baseURL must use http or https, got ${parsedURL.protocol} in ${JSON.stringify(baseURL)}.`,
    });
  }
  if (typeof model !== 'string' || model.length === 0) {
    throw new InvalidArgumentError({
      argument: 'model',
      message:
        'createOpenAIBackend: model must be a non-empty string (the name the server serves; `GET /v1/models` lists them).',
    });
  }
  const mode = settings.mode ?? 'completions';
  if (mode !== 'completions' && mode !== 'chat') {
    throw new InvalidArgumentError({
      argument: 'mode',
      message: `createOpenAIBackend: mode must be 'completions' or 'chat', got ${JSON.stringify(mode)}.`,
    });
  }
  const server = settings.server ?? 'generic';
  if (!SERVERS.includes(server)) {
    throw new InvalidArgumentError({
      argument: 'server',
      message: `createOpenAIBackend: server must be one of ${SERVERS.join(', ')}, got ${JSON.stringify(server)}.`,
    });
  }
  const apiKeyEnv = settings.apiKeyEnv ?? 'OPENAI_API_KEY';
  const apiKey = settings.apiKey ?? process.env[apiKeyEnv];
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const secrets: string[] = apiKey ? [apiKey] : [];
  for (const [name, value] of Object.entries(settings.headers ?? {})) {
    const lower = name.toLowerCase();
    // A key passed as a header is as secret as apiKey; apiKey wins over a hand-written Authorization.
    if (SECRET_HEADERS.has(lower)) secrets.push(value.replace(/^Bearer\s+/i, ''), value);
    if (lower === 'authorization' && apiKey) continue;
    headers[lower] = value;
  }
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const fetchImplementation = settings.fetch ?? globalThis.fetch;
  if (typeof fetchImplementation !== 'function') {
    throw new InvalidArgumentError({
      argument: 'fetch',
      message: 'createOpenAIBackend: no fetch implementation (pass settings.fetch on runtimes without one).',
    });
  }
  const maxRetryAfterMs = integerSetting('maxRetryAfterMs', settings.maxRetryAfterMs, 120_000, 0);
  return {
    baseURL: baseURL.replace(/\/+$/, ''),
    model,
    mode,
    server,
    concurrency: integerSetting('concurrency', settings.concurrency, 32, 1),
    maxNPerRequest: integerSetting('maxNPerRequest', settings.maxNPerRequest, Number.MAX_SAFE_INTEGER, 1),
    extraBody: { ...(settings.extraBody ?? {}) },
    http: {
      fetch: fetchImplementation,
      headers,
      timeoutMs: integerSetting('timeoutMs', settings.timeoutMs, 600_000, 1),
      maxRetries: integerSetting('maxRetries', settings.maxRetries, 4, 0),
      retryInitialDelayMs: integerSetting('retryInitialDelayMs', settings.retryInitialDelayMs, 500, 0),
      retryMaxDelayMs: integerSetting('retryMaxDelayMs', settings.retryMaxDelayMs, 30_000, 0),
      maxRetryAfterMs,
      logger: settings.logger ?? silentLogger,
      secrets,
    },
  };
}

function validateRequest(request: GenerateRequest): void {
  const fail = (argument: string, message: string): never => {
    throw new InvalidArgumentError({ argument, message: `generate: ${message}` });
  };
  if (typeof request !== 'object' || request === null) fail('request', 'request must be an object.');
  if (!Array.isArray(request.prompts)) fail('prompts', 'prompts must be an array.');
  if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
    fail('maxTokens', `maxTokens must be an integer ≥ 1, got ${JSON.stringify(request.maxTokens)}.`);
  }
  if (request.n !== undefined && (!Number.isInteger(request.n) || request.n < 1)) {
    fail('n', `n must be an integer ≥ 1, got ${JSON.stringify(request.n)}.`);
  }
  if (request.temperature !== undefined && !(request.temperature >= 0)) {
    fail('temperature', `temperature must be ≥ 0, got ${JSON.stringify(request.temperature)}.`);
  }
  if (request.topP !== undefined && !(request.topP > 0 && request.topP <= 1)) {
    fail('topP', `topP must be in (0, 1], got ${JSON.stringify(request.topP)}.`);
  }
  if (
    request.topLogprobs !== undefined &&
    !(Number.isInteger(request.topLogprobs) && request.topLogprobs >= 0 && request.topLogprobs <= 20)
  ) {
    fail(
      'topLogprobs',
      `topLogprobs must be an integer in 0 … 20 (OpenAI's limit), got ${JSON.stringify(request.topLogprobs)}.`,
    );
  }
  request.prompts.forEach((prompt, index) => {
    if (
      prompt === '' ||
      (typeof prompt === 'object' && prompt !== null && 'tokenIds' in prompt && prompt.tokenIds?.length === 0)
    ) {
      fail(`prompts[${index}]`, `prompts[${index}] is empty; every prompt needs at least one token.`);
    }
    if (typeof prompt === 'string') return;
    if (typeof prompt === 'object' && prompt !== null) {
      if ('messages' in prompt && Array.isArray(prompt.messages)) return;
      if ('tokenIds' in prompt && prompt.tokenIds !== undefined && typeof prompt.tokenIds.length === 'number')
        return;
    }
    fail(`prompts[${index}]`, `prompts[${index}] must be a string, { messages } or { tokenIds }.`);
  });
}

/** One HTTP request of a `generate` call: a prompt and a share of its `n`. */
interface RequestPlan {
  promptIndex: number;
  endpoint: 'completions' | 'chat';
  n: number;
  seed: number | undefined;
}

/**
 * Creates an `InferenceBackendV1` over an OpenAI-compatible server (vLLM, SGLang, `rlpt serve model`,
 * llama.cpp, Ollama, OpenAI). Each prompt is one request carrying its `n` (split by `maxNPerRequest`);
 * requests run under the concurrency limit with retries, timeouts and abort.
 *
 * @example
 * const backend = createOpenAIBackend({ baseURL: 'http://127.0.0.1:8000/v1', model: 'Qwen/Qwen3-4B-Base', server: 'vllm' });
 * const { results } = await backend.generate({ prompts: ['The capital of France is'], n: 8, maxTokens: 32, logprobs: true });
 */
export function createOpenAIBackend(settings: OpenAIBackendSettings): OpenAIBackend {
  const resolved = resolveSettings(settings);
  const features = SERVER_FEATURES[resolved.server];
  const limiter = new ConcurrencyLimiter(resolved.concurrency);
  const closing = new AbortController();
  // Each request in flight listens to it; Node warns past 10 listeners by default.
  setMaxListeners(0, closing.signal);
  const { http } = resolved;
  const capabilities: BackendCapabilities = {
    logprobs: true,
    tokenIds: features.requestTokenIds,
    chat: true,
    seed: true,
    score: resolved.server === 'vllm' || resolved.server === 'sglang',
  };

  const urlFor = (endpoint: 'completions' | 'chat') =>
    `${resolved.baseURL}/${endpoint === 'chat' ? 'chat/completions' : 'completions'}`;

  function buildBody(
    request: GenerateRequest,
    prompt: Prompt,
    plan: RequestPlan,
    warnings: Warning[],
  ): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: resolved.model,
      ...samplingBody(request, plan.n, plan.seed, features, warnings),
    };
    if (plan.endpoint === 'chat') {
      body.messages = asMessages(prompt as string | { messages: [] });
      if (request.logprobs) body.logprobs = true;
      if (request.logprobs && topN(request) > 0) body.top_logprobs = topN(request);
    } else {
      body.prompt =
        typeof prompt === 'string'
          ? prompt
          : Array.from((prompt as { tokenIds: ArrayLike<number> }).tokenIds);
      if (request.logprobs) body.logprobs = Math.max(features.completionsLogprobs, topN(request));
    }
    if (features.requestTokenIds) {
      body.return_token_ids = true;
      if (request.logprobs) body.return_tokens_as_token_ids = true;
    }
    Object.assign(body, resolved.extraBody);
    const perCall = request.providerOptions?.openai;
    if (perCall !== undefined && typeof perCall === 'object' && perCall !== null)
      Object.assign(body, perCall);
    return body;
  }

  async function runPlan(
    request: GenerateRequest,
    plan: RequestPlan,
    warnings: Warning[],
    signal: AbortSignal,
  ): Promise<ParsedResponse> {
    const prompt = request.prompts[plan.promptIndex] as Prompt;
    const url = urlFor(plan.endpoint);
    const body = buildBody(request, prompt, plan, warnings);
    const json = await limiter.run(() => postJson(http, url, body, signal), signal);
    const parse = plan.endpoint === 'chat' ? parseChatResponse : parseCompletionsResponse;
    return parse(json, url, request.logprobs === true, http.secrets, request.logprobs ? topN(request) : 0);
  }

  async function generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResult> {
    validateRequest(request);
    if (closing.signal.aborted) {
      throw new AbortError({ message: `The OpenAI backend for ${resolved.baseURL} is closed.` });
    }
    const warnings: Warning[] = [];
    const n = request.n ?? 1;
    const providerKeys = Object.keys(request.providerOptions ?? {});
    if (providerKeys.length > 0 && !providerKeys.includes('openai')) {
      warnings.push({
        type: 'other',
        setting: 'providerOptions',
        message: `providerOptions.${providerKeys.join(', providerOptions.')} ignored: this backend reads request-body fields from providerOptions.openai.`,
      });
    }

    const plans: RequestPlan[] = [];
    request.prompts.forEach((prompt, promptIndex) => {
      const endpoint: RequestPlan['endpoint'] =
        typeof prompt === 'object' && 'tokenIds' in prompt
          ? 'completions'
          : typeof prompt === 'object' && 'messages' in prompt
            ? 'chat'
            : resolved.mode;
      for (let offset = 0, part = 0; offset < n; offset += resolved.maxNPerRequest, part++) {
        const seed = request.seed === undefined ? undefined : request.seed + part;
        plans.push({ promptIndex, endpoint, n: Math.min(resolved.maxNPerRequest, n - offset), seed });
      }
    });

    // One fail-fast signal for the whole call: the caller's abort, close(), or the first hard failure.
    const { signal, failFast: callController, unlink } = callSignal(options, plans.length);

    const collected: { choices: ParsedChoice[]; promptTokenIds?: number[] }[] = request.prompts.map(() => ({
      choices: [],
    }));
    const usage = { promptTokens: 0, completionTokens: 0 };
    let usageMissing = false;
    let shortReplies = 0;
    let extraPart = Math.ceil(n / resolved.maxNPerRequest);

    const execute = async (plan: RequestPlan): Promise<void> => {
      const response = await runPlan(request, plan, warnings, signal);
      const slot = collected[plan.promptIndex]!;
      const choices = [...response.choices].sort((a, b) => a.index - b.index).slice(0, plan.n);
      slot.choices.push(...choices);
      if (response.promptTokenIds) slot.promptTokenIds ??= response.promptTokenIds;
      if (response.usage) {
        usage.promptTokens += response.usage.promptTokens;
        usage.completionTokens += response.usage.completionTokens;
      } else {
        usageMissing = true;
      }
      if (choices.length === 0) {
        throw unexpectedShape(
          urlFor(plan.endpoint),
          `no choices for prompt ${plan.promptIndex} (asked for n=${plan.n})`,
          response,
          http.secrets,
        );
      }
      if (choices.length < plan.n) {
        // The server ignored `n` (llama.cpp, Ollama): ask again for the rest.
        shortReplies++;
        const seed = request.seed === undefined ? undefined : request.seed + extraPart++;
        await execute({ ...plan, n: plan.n - choices.length, seed });
      }
    };

    try {
      await Promise.all(
        plans.map((plan) =>
          execute(plan).catch((error: unknown) => {
            callController?.abort(error);
            throw forPrompt(error, plan.promptIndex);
          }),
        ),
      );
    } catch (error) {
      if (options.signal?.aborted || closing.signal.aborted) {
        throw AbortError.isInstance(error)
          ? error
          : new AbortError({ message: `generate against ${resolved.baseURL} was aborted.`, cause: error });
      }
      throw error;
    } finally {
      unlink();
    }

    if (shortReplies > 0) {
      warnings.push({
        type: 'other',
        setting: 'n',
        message: `The server returned fewer than n choices ${shortReplies} time(s); the rest were requested separately. Set maxNPerRequest: 1 for this server to avoid the extra round trips.`,
      });
    }
    if (usageMissing) {
      warnings.push({
        type: 'other',
        message: 'The server sent no usage for some requests; usage counts only the rest.',
      });
    }

    let missingLogprobs = false;
    let nullLogprobs = false;
    let separateReasoning = false;
    const results: PromptResult[] = collected.map((slot, promptIndex) => {
      const prompt = request.prompts[promptIndex] as Prompt;
      const result: PromptResult = {
        completions: slot.choices.map((choice): Completion => {
          const completion: Completion = { text: choice.text, finishReason: choice.finishReason };
          if (choice.tokenIds) completion.tokenIds = choice.tokenIds;
          if (choice.logprobs) completion.logprobs = choice.logprobs;
          else if (request.logprobs) missingLogprobs = true;
          if (choice.topLogprobs) completion.topLogprobs = choice.topLogprobs;
          if (choice.nullLogprobs) nullLogprobs = true;
          if (choice.separateReasoning) separateReasoning = true;
          if (choice.reasoning !== undefined) completion.reasoning = choice.reasoning;
          return completion;
        }),
      };
      if (typeof prompt === 'object' && 'tokenIds' in prompt)
        result.promptTokenIds = Array.from(prompt.tokenIds);
      else if (slot.promptTokenIds) result.promptTokenIds = slot.promptTokenIds;
      return result;
    });
    if (missingLogprobs) {
      warnings.push({
        type: 'unsupported-setting',
        setting: 'logprobs',
        message: 'logprobs were requested but the server returned none for some completions.',
      });
    }
    if (nullLogprobs) {
      warnings.push({
        type: 'other',
        setting: 'logprobs',
        message: 'The server returned null logprobs; they read as NaN.',
      });
    }
    if (separateReasoning) {
      warnings.push({
        type: 'other',
        message:
          'The server split reasoning out of the reply (reasoning_content); text holds only the final content. Start the server without a reasoning parser to get the whole output.',
      });
    }
    return { results, usage, warnings: dedupe(warnings) };
  }

  /** Links the caller's signal, close() and a fail-fast controller into one signal for a call. */
  function callSignal(
    options: CallOptions,
    requests: number,
  ): { signal: AbortSignal; failFast: AbortController | undefined; unlink: () => void } {
    // A call of one request with no caller signal needs no controller of its own (the common case).
    if (requests === 1 && !options.signal)
      return { signal: closing.signal, failFast: undefined, unlink: () => {} };
    const failFast = new AbortController();
    // Every request of the call listens to this signal; Node warns past 10 listeners by default.
    setMaxListeners(0, failFast.signal);
    const unlink = forwardAbort(failFast, [closing.signal, options.signal]);
    return { signal: failFast.signal, failFast, unlink };
  }

  async function score(request: ScoreRequest, options: CallOptions = {}): Promise<ScoreResult> {
    if (resolved.server !== 'vllm' && resolved.server !== 'sglang') {
      throw new UnsupportedFunctionalityError({
        functionality: 'score',
        message: `score needs vLLM's prompt_logprobs (or SGLang's /generate input logprobs) and /tokenize; this backend is set to server: '${resolved.server}'.`,
      });
    }
    if (typeof request !== 'object' || request === null || !Array.isArray(request.items)) {
      throw new InvalidArgumentError({
        argument: 'items',
        message: 'score: request.items must be an array.',
      });
    }
    if (request.temperature !== undefined && !(request.temperature > 0)) {
      throw new InvalidArgumentError({
        argument: 'temperature',
        message: `score: temperature must be > 0, got ${JSON.stringify(request.temperature)}.`,
      });
    }
    if (closing.signal.aborted) {
      throw new AbortError({ message: `The OpenAI backend for ${resolved.baseURL} is closed.` });
    }
    const { signal, failFast, unlink } = callSignal(options, 2);
    const context = {
      http,
      baseURL: resolved.baseURL,
      model: resolved.model,
      limit: <T>(task: () => Promise<T>, taskSignal: AbortSignal) => limiter.run(task, taskSignal),
    };
    try {
      const scoreOn = resolved.server === 'sglang' ? scoreOnSglang : scoreOnVllm;
      return await scoreOn(context, request, signal).catch((error: unknown) => {
        failFast?.abort(error);
        throw error;
      });
    } catch (error) {
      if ((options.signal?.aborted || closing.signal.aborted) && !AbortError.isInstance(error)) {
        throw new AbortError({ message: `score against ${resolved.baseURL} was aborted.`, cause: error });
      }
      throw error;
    } finally {
      unlink();
    }
  }

  return {
    specificationVersion: 'v1',
    provider: 'openai',
    modelId: resolved.model,
    baseURL: resolved.baseURL,
    server: resolved.server,
    mode: resolved.mode,
    capabilities,
    generate,
    score,
    async updateWeights(modelDir: string, options: CallOptions = {}) {
      if (typeof modelDir !== 'string' || modelDir.length === 0) {
        throw new InvalidArgumentError({
          argument: 'modelDir',
          message: 'updateWeights: modelDir must be a model folder path the server can read.',
        });
      }
      if (closing.signal.aborted) {
        throw new AbortError({ message: `The OpenAI backend for ${resolved.baseURL} is closed.` });
      }
      const { signal, unlink } = callSignal(options, 2);
      try {
        const { message } = await updateWeightsFromDisk(http, resolved.baseURL, modelDir, signal);
        http.logger.info(`updateWeights: ${message || `loaded ${modelDir}`}`);
      } finally {
        unlink();
      }
    },
    async close() {
      closing.abort(new AbortError({ message: `The OpenAI backend for ${resolved.baseURL} was closed.` }));
    },
  };
}

function topN(request: GenerateRequest): number {
  return request.topLogprobs !== undefined && request.topLogprobs > 0 ? request.topLogprobs : 0;
}

/** Says which prompt a failed request was for: `prompts[3]: POST … failed: …`. */
function forPrompt(error: unknown, promptIndex: number): unknown {
  if (!ApiCallError.isInstance(error)) return error;
  const options: ConstructorParameters<typeof ApiCallError>[0] = {
    url: error.url,
    message: `prompts[${promptIndex}]: ${error.message}`,
    isRetryable: error.isRetryable,
    cause: error.cause ?? error,
  };
  if (error.statusCode !== undefined) options.statusCode = error.statusCode;
  if (error.responseBody !== undefined) options.responseBody = error.responseBody;
  if (error.retryAfterSeconds !== undefined) options.retryAfterSeconds = error.retryAfterSeconds;
  return new ApiCallError(options);
}

function dedupe(warnings: Warning[]): Warning[] {
  const seen = new Set<string>();
  return warnings.filter((warning) => {
    const key = `${warning.type}|${warning.setting ?? ''}|${warning.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
