/**
 * Teacher-forced scoring on vLLM: the prompt and completion token ids go to `/v1/completions` as one
 * token-id prompt with `prompt_logprobs: 0` and `max_tokens: 1`; vLLM returns, per prompt position, the
 * logprob of the actual token (`choices[0].prompt_logprobs[i] = { "<id>": { logprob, rank,
 * decoded_token } }`, `null` at position 0). Text is tokenised with vLLM's `POST /tokenize` (at the
 * server root, beside `/v1`).
 */
import {
  InvalidArgumentError,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  UnsupportedFunctionalityError,
} from '@rlpt/spec';
import { type HttpSettings, postJson, unexpectedShape } from './http.js';

export interface ScoreContext {
  http: HttpSettings;
  baseURL: string;
  model: string;
  /** Runs one HTTP call under the backend's concurrency limit. */
  limit<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** vLLM serves `/tokenize` at the root: `http://host:8000/v1` → `http://host:8000/tokenize`. */
export function tokenizeURL(baseURL: string): string {
  return `${baseURL.replace(/\/v1$/, '')}/tokenize`;
}

async function tokenize(context: ScoreContext, body: Json, signal: AbortSignal): Promise<number[]> {
  const url = tokenizeURL(context.baseURL);
  const json = await context.limit(
    () => postJson(context.http, url, { model: context.model, ...body }, signal),
    signal,
  );
  const tokens = isObject(json) ? json.tokens : undefined;
  if (!Array.isArray(tokens) || !tokens.every((token) => Number.isInteger(token))) {
    throw unexpectedShape(
      url,
      '`tokens` is missing or not an array of token ids',
      json,
      context.http.secrets,
    );
  }
  return tokens as number[];
}

async function promptIds(context: ScoreContext, prompt: Prompt, signal: AbortSignal): Promise<number[]> {
  if (typeof prompt === 'string') return tokenize(context, { prompt, add_special_tokens: true }, signal);
  if ('messages' in prompt) {
    return tokenize(
      context,
      { messages: prompt.messages, add_generation_prompt: true, add_special_tokens: false },
      signal,
    );
  }
  return Array.from(prompt.tokenIds);
}

/** Reads the logprobs of `completionIds` from `prompt_logprobs`, which covers prompt + completion. */
export function completionLogprobs(
  json: unknown,
  url: string,
  promptLength: number,
  completionIds: number[],
  secrets: readonly string[],
): Float32Array {
  const fail = (problem: string) => unexpectedShape(url, problem, json, secrets);
  const choice = isObject(json) && Array.isArray(json.choices) ? json.choices[0] : undefined;
  if (!isObject(choice)) throw fail('`choices[0]` is missing');
  const entries = choice.prompt_logprobs;
  if (!Array.isArray(entries)) {
    throw fail(
      '`choices[0].prompt_logprobs` is missing: the server does not support prompt_logprobs (vLLM does)',
    );
  }
  if (entries.length !== promptLength + completionIds.length) {
    throw fail(
      `prompt_logprobs has ${entries.length} entries for ${promptLength} prompt + ${completionIds.length} completion tokens`,
    );
  }
  const logprobs = new Float32Array(completionIds.length);
  completionIds.forEach((tokenId, index) => {
    const position = promptLength + index;
    const entry = entries[position];
    const logprob = isObject(entry) ? (entry[String(tokenId)] as Json | undefined)?.logprob : undefined;
    if (typeof logprob !== 'number') {
      throw fail(`prompt_logprobs[${position}] has no logprob for token ${tokenId}`);
    }
    logprobs[index] = logprob;
  });
  return logprobs;
}

/**
 * vLLM's prompt_logprobs are the model's raw logprobs (temperature 1). `rlpt serve` accepts the extension
 * `prompt_logprobs_temperature` and echoes it on each choice; a server that does not echo it ignored it.
 */
function checkTemperatureEcho(json: unknown, url: string, temperature: number): void {
  const choice = isObject(json) && Array.isArray(json.choices) ? json.choices[0] : undefined;
  if (isObject(choice) && choice.prompt_logprobs_temperature === temperature) return;
  throw new UnsupportedFunctionalityError({
    functionality: 'score.temperature',
    message: `score: ${url} ignored prompt_logprobs_temperature (vLLM's prompt_logprobs are raw logprobs at temperature 1); score at temperature ${temperature} needs rlpt serve, or use temperature 1.`,
  });
}

/**
 * Reads the logprobs of `completionIds` from SGLang's native `/generate` reply with `return_logprob` and
 * `logprob_start_len: 0`: `meta_info.input_token_logprobs` is one `[logprob, token_id, text|null]` per
 * input position (the first one's logprob `null`).
 */
export function sglangCompletionLogprobs(
  json: unknown,
  url: string,
  promptLength: number,
  completionIds: number[],
  secrets: readonly string[],
): Float32Array {
  const fail = (problem: string) => unexpectedShape(url, problem, json, secrets);
  const reply = Array.isArray(json) ? json[0] : json;
  const meta = isObject(reply) ? reply.meta_info : undefined;
  const entries = isObject(meta) ? meta.input_token_logprobs : undefined;
  if (!Array.isArray(entries)) {
    throw fail(
      '`meta_info.input_token_logprobs` is missing: send return_logprob with logprob_start_len 0 (SGLang)',
    );
  }
  if (entries.length !== promptLength + completionIds.length) {
    throw fail(
      `input_token_logprobs has ${entries.length} entries for ${promptLength} prompt + ${completionIds.length} completion tokens`,
    );
  }
  const logprobs = new Float32Array(completionIds.length);
  completionIds.forEach((tokenId, index) => {
    const position = promptLength + index;
    const entry = entries[position];
    if (
      !Array.isArray(entry) ||
      typeof entry[0] !== 'number' ||
      (entry[1] !== undefined && entry[1] !== tokenId)
    ) {
      throw fail(`input_token_logprobs[${position}] is not [logprob, ${tokenId}, …]`);
    }
    logprobs[index] = entry[0];
  });
  return logprobs;
}

/**
 * Teacher-forced scoring on SGLang: its OpenAI routes have no `prompt_logprobs`, so each item goes to the
 * native `POST /generate` (server root) as `input_ids` with `return_logprob: true, logprob_start_len: 0`.
 * SGLang's input logprobs are taken at temperature 1; other temperatures are refused.
 */
export async function scoreOnSglang(
  context: ScoreContext,
  request: ScoreRequest,
  signal: AbortSignal,
): Promise<ScoreResult> {
  const url = `${context.baseURL.replace(/\/v1$/, '')}/generate`;
  const temperature = request.temperature ?? 1;
  if (temperature !== 1) {
    throw new UnsupportedFunctionalityError({
      functionality: 'score.temperature',
      message: `score: SGLang's input logprobs are at temperature 1; score at temperature ${temperature} needs rlpt serve model, or use temperature 1.`,
    });
  }
  const results = await Promise.all(
    request.items.map(async (item, index) => {
      const [prompt, completion] = await Promise.all([
        promptIds(context, item.prompt, signal),
        typeof item.completion === 'string'
          ? tokenize(context, { prompt: item.completion, add_special_tokens: false }, signal)
          : Promise.resolve(Array.from(item.completion.tokenIds)),
      ]);
      if (prompt.length === 0) {
        throw new InvalidArgumentError({
          argument: `items[${index}].prompt`,
          message: `score: items[${index}].prompt is empty; the first completion token needs a prompt to be conditioned on.`,
        });
      }
      if (completion.length === 0) return { tokenIds: [], logprobs: new Float32Array(0) };
      const body: Json = {
        input_ids: [...prompt, ...completion],
        sampling_params: { max_new_tokens: 1, temperature: 1 },
        return_logprob: true,
        logprob_start_len: 0,
      };
      const json = await context.limit(() => postJson(context.http, url, body, signal), signal);
      return {
        tokenIds: completion,
        logprobs: sglangCompletionLogprobs(json, url, prompt.length, completion, context.http.secrets),
      };
    }),
  );
  return { results };
}

export async function scoreOnVllm(
  context: ScoreContext,
  request: ScoreRequest,
  signal: AbortSignal,
): Promise<ScoreResult> {
  const url = `${context.baseURL}/completions`;
  const temperature = request.temperature ?? 1;
  const results = await Promise.all(
    request.items.map(async (item, index) => {
      const [prompt, completion] = await Promise.all([
        promptIds(context, item.prompt, signal),
        typeof item.completion === 'string'
          ? tokenize(context, { prompt: item.completion, add_special_tokens: false }, signal)
          : Promise.resolve(Array.from(item.completion.tokenIds)),
      ]);
      if (prompt.length === 0) {
        throw new InvalidArgumentError({
          argument: `items[${index}].prompt`,
          message: `score: items[${index}].prompt is empty; the first completion token needs a prompt to be conditioned on.`,
        });
      }
      if (completion.length === 0) return { tokenIds: [], logprobs: new Float32Array(0) };
      const body: Json = {
        model: context.model,
        prompt: [...prompt, ...completion],
        max_tokens: 1,
        temperature: 1,
        prompt_logprobs: 0,
      };
      if (temperature !== 1) body.prompt_logprobs_temperature = temperature;
      const json = await context.limit(() => postJson(context.http, url, body, signal), signal);
      if (temperature !== 1) checkTemperatureEcho(json, url, temperature);
      return {
        tokenIds: completion,
        logprobs: completionLogprobs(json, url, prompt.length, completion, context.http.secrets),
      };
    }),
  );
  return { results };
}
