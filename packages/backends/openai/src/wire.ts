/**
 * Request bodies and response parsing for `/v1/completions` and `/v1/chat/completions`, in the shapes
 * OpenAI, vLLM (`vllm/entrypoints/openai/protocol.py`) and SGLang
 * (`sglang/srt/entrypoints/openai/protocol.py`) use.
 */
import type { ChatMessage, Completion, FinishReason, GenerateRequest, Warning } from '@rlpt/spec';

type TopLogprob = NonNullable<Completion['topLogprobs']>[number][number];
import { unexpectedShape } from './http.js';

/** Which dialect of the OpenAI API the server speaks: decides which extension fields rlpt sends. */
export type ServerKind = 'vllm' | 'sglang' | 'openai' | 'generic';

export interface ServerFeatures {
  /** Sends `top_k`, `min_p`, `stop_token_ids` (vLLM/SGLang sampling extensions). */
  samplingExtensions: 'always' | 'when-set' | 'never';
  /** Asks for generated token ids (vLLM `return_token_ids` + `return_tokens_as_token_ids`). */
  requestTokenIds: boolean;
  /** The `logprobs` value on `/v1/completions` (0 = the sampled token's logprob only). */
  completionsLogprobs: number;
}

export const SERVER_FEATURES: Record<ServerKind, ServerFeatures> = {
  vllm: { samplingExtensions: 'always', requestTokenIds: true, completionsLogprobs: 0 },
  sglang: { samplingExtensions: 'always', requestTokenIds: false, completionsLogprobs: 1 },
  openai: { samplingExtensions: 'never', requestTokenIds: false, completionsLogprobs: 1 },
  generic: { samplingExtensions: 'when-set', requestTokenIds: false, completionsLogprobs: 1 },
};

/** The body fields both endpoints share (sampling and limits). */
export function samplingBody(
  request: GenerateRequest,
  n: number,
  seed: number | undefined,
  features: ServerFeatures,
  warnings: Warning[],
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    n,
    max_tokens: request.maxTokens,
    temperature: request.temperature ?? 1,
    top_p: request.topP ?? 1,
  };
  if (seed !== undefined) body.seed = seed;
  if (request.stop !== undefined && request.stop.length > 0) body.stop = request.stop;

  const topK = request.topK !== undefined && request.topK > 0 ? request.topK : undefined;
  const minP = request.minP !== undefined && request.minP > 0 ? request.minP : undefined;
  const stopTokenIds = request.stopTokenIds?.length ? request.stopTokenIds : undefined;
  switch (features.samplingExtensions) {
    case 'always':
      // Explicit "disabled" values, so the server's generation_config defaults never apply silently.
      body.top_k = topK ?? -1;
      body.min_p = minP ?? 0;
      if (stopTokenIds) body.stop_token_ids = stopTokenIds;
      break;
    case 'when-set':
      if (topK !== undefined) body.top_k = topK;
      if (minP !== undefined) body.min_p = minP;
      if (stopTokenIds) body.stop_token_ids = stopTokenIds;
      break;
    case 'never':
      for (const [setting, value] of [
        ['topK', topK],
        ['minP', minP],
        ['stopTokenIds', stopTokenIds],
      ] as const) {
        if (value !== undefined) {
          warnings.push({
            type: 'unsupported-setting',
            setting,
            message: `${setting} is a vLLM/SGLang extension that server: 'openai' does not accept; it was not sent.`,
          });
        }
      }
      break;
  }
  return body;
}

/** One parsed choice. */
export interface ParsedChoice {
  index: number;
  text: string;
  tokenIds?: number[];
  logprobs?: Float32Array;
  /** Per token, the most likely alternatives, most likely first (when `top_logprobs` were asked for). */
  topLogprobs?: TopLogprob[][];
  finishReason: FinishReason;
  /** The server returned `null` for some logprob (counted as NaN). */
  nullLogprobs?: boolean;
  /** The server split out reasoning (`reasoning_content`) that `text` does not include. */
  separateReasoning?: boolean;
  /** That reasoning (`message.reasoning`, vLLM ≥ 0.11.1, or `message.reasoning_content`). */
  reasoning?: string;
}

export interface ParsedResponse {
  choices: ParsedChoice[];
  promptTokenIds?: number[];
  usage?: { promptTokens: number; completionTokens: number };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => Number.isInteger(item));
}

const TOKEN_ID_PREFIX = 'token_id:';

/** One alternative, with its id when spelled `token_id:<id>`; −9999 (vLLM's clamp of −∞) stays as sent. */
function alternative(token: string, logprob: number): TopLogprob {
  const entry: TopLogprob = { token, logprob };
  if (token.startsWith(TOKEN_ID_PREFIX)) {
    const id = Number(token.slice(TOKEN_ID_PREFIX.length));
    if (Number.isInteger(id)) entry.tokenId = id;
  }
  return entry;
}

/**
 * Completions' `top_logprobs` dicts (vLLM: the sampled token plus the top N, keyed by token string) as
 * lists of the N most likely, most likely first. A `null` entry (echoed first prompt token) is `[]`.
 */
function topFromDicts(
  dicts: unknown[],
  topN: number,
  where: string,
  fail: (problem: string) => Error,
): TopLogprob[][] {
  return dicts.map((dict, index) => {
    if (dict === null) return [];
    if (!isObject(dict)) throw fail(`${where}[${index}] is not an object`);
    const entries: TopLogprob[] = [];
    for (const [token, logprob] of Object.entries(dict)) {
      if (typeof logprob !== 'number')
        throw fail(`${where}[${index}][${JSON.stringify(token)}] is not a number`);
      entries.push(alternative(token, logprob));
    }
    return entries.sort((a, b) => b.logprob - a.logprob).slice(0, topN);
  });
}

/** Chat's `content[].top_logprobs` lists (`{ token, logprob, bytes }`), sorted most likely first. */
function topFromLists(
  content: Json[],
  topN: number,
  where: string,
  fail: (problem: string) => Error,
): TopLogprob[][] {
  return content.map((entry, index) => {
    const list = entry.top_logprobs;
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw fail(`${where}[${index}].top_logprobs is not an array`);
    return list
      .map((item, rank) => {
        if (!isObject(item) || typeof item.token !== 'string' || typeof item.logprob !== 'number') {
          throw fail(`${where}[${index}].top_logprobs[${rank}] is not { token, logprob }`);
        }
        return alternative(item.token, item.logprob);
      })
      .sort((a, b) => b.logprob - a.logprob)
      .slice(0, topN);
  });
}

/** vLLM's `return_tokens_as_token_ids` spells each token `token_id:<id>`; undefined if any is not. */
function tokenIdsFromTokenStrings(tokens: unknown[]): number[] | undefined {
  const ids: number[] = [];
  for (const token of tokens) {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_ID_PREFIX)) return undefined;
    const id = Number(token.slice(TOKEN_ID_PREFIX.length));
    if (!Number.isInteger(id)) return undefined;
    ids.push(id);
  }
  return ids;
}

export function mapFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'abort':
      return 'abort';
    case 'error':
      return 'error';
    default:
      // 'stop', 'eos', 'content_filter', 'tool_calls' and null all mean generation ended on its own.
      return 'stop';
  }
}

function toLogprobArray(
  values: unknown[],
  where: string,
  fail: (problem: string) => Error,
): {
  logprobs: Float32Array;
  hadNull: boolean;
} {
  const logprobs = new Float32Array(values.length);
  let hadNull = false;
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value === null) {
      logprobs[index] = Number.NaN;
      hadNull = true;
    } else if (typeof value === 'number') {
      logprobs[index] = value;
    } else {
      throw fail(`${where}[${index}] is ${JSON.stringify(value)}, not a number`);
    }
  }
  return { logprobs, hadNull };
}

function parseUsage(json: Json): ParsedResponse['usage'] {
  const usage = json.usage;
  if (!isObject(usage)) return undefined;
  const promptTokens = usage.prompt_tokens;
  const completionTokens = usage.completion_tokens;
  if (typeof promptTokens !== 'number' || typeof completionTokens !== 'number') return undefined;
  return { promptTokens, completionTokens };
}

function choicesOf(json: unknown, fail: (problem: string) => Error): Json[] {
  if (!isObject(json)) throw fail('the body is not a JSON object');
  const choices = json.choices;
  if (!Array.isArray(choices)) throw fail('`choices` is missing or not an array');
  return choices.map((choice, index) => {
    if (!isObject(choice)) throw fail(`choices[${index}] is not an object`);
    return choice;
  });
}

/** A choice's token ids: `token_ids` when the server sends them (vLLM), else read from `token_id:<n>` strings. */
function tokenIdsOf(choice: Json, tokenStrings: unknown[] | undefined): number[] | undefined {
  if (isIntArray(choice.token_ids)) return choice.token_ids;
  return tokenStrings ? tokenIdsFromTokenStrings(tokenStrings) : undefined;
}

/** The parsed reply: its choices, prompt token ids when sent, and usage when well-formed. */
function responseOf(
  choices: ParsedChoice[],
  promptTokenIds: number[] | undefined,
  json: unknown,
): ParsedResponse {
  const response: ParsedResponse = { choices };
  if (promptTokenIds) response.promptTokenIds = promptTokenIds;
  const usage = parseUsage(json as Json);
  if (usage) response.usage = usage;
  return response;
}

/** Parses a `/v1/completions` reply (OpenAI legacy shape; vLLM adds `token_ids`/`prompt_token_ids`). */
export function parseCompletionsResponse(
  json: unknown,
  url: string,
  wantLogprobs: boolean,
  secrets: readonly string[],
  topN = 0,
): ParsedResponse {
  const fail = (problem: string) => unexpectedShape(url, problem, json, secrets);
  const choices = choicesOf(json, fail);
  let promptTokenIds: number[] | undefined;
  const parsed = choices.map((choice, position): ParsedChoice => {
    const where = `choices[${position}]`;
    if (typeof choice.text !== 'string') throw fail(`${where}.text is not a string`);
    const result: ParsedChoice = {
      index: typeof choice.index === 'number' ? choice.index : position,
      text: choice.text,
      finishReason: mapFinishReason(choice.finish_reason),
    };
    if (isIntArray(choice.prompt_token_ids)) promptTokenIds ??= choice.prompt_token_ids;
    const logprobs = choice.logprobs;
    let tokenStrings: unknown[] | undefined;
    if (wantLogprobs && isObject(logprobs)) {
      if (!Array.isArray(logprobs.token_logprobs)) {
        throw fail(`${where}.logprobs.token_logprobs is missing or not an array`);
      }
      const { logprobs: values, hadNull } = toLogprobArray(
        logprobs.token_logprobs,
        `${where}.logprobs.token_logprobs`,
        fail,
      );
      result.logprobs = values;
      if (hadNull) result.nullLogprobs = true;
      if (Array.isArray(logprobs.tokens)) tokenStrings = logprobs.tokens;
      if (topN > 0) {
        if (!Array.isArray(logprobs.top_logprobs)) {
          throw fail(`${where}.logprobs.top_logprobs is missing or not an array (asked for ${topN})`);
        }
        result.topLogprobs = topFromDicts(
          logprobs.top_logprobs,
          topN,
          `${where}.logprobs.top_logprobs`,
          fail,
        );
      }
    }
    const tokenIds = tokenIdsOf(choice, tokenStrings);
    if (tokenIds) result.tokenIds = tokenIds;
    return result;
  });
  return responseOf(parsed, promptTokenIds, json);
}

/** Parses a `/v1/chat/completions` reply (`message.content`, `logprobs.content[].logprob`). */
export function parseChatResponse(
  json: unknown,
  url: string,
  wantLogprobs: boolean,
  secrets: readonly string[],
  topN = 0,
): ParsedResponse {
  const fail = (problem: string) => unexpectedShape(url, problem, json, secrets);
  const choices = choicesOf(json, fail);
  const parsed = choices.map((choice, position): ParsedChoice => {
    const where = `choices[${position}]`;
    const message = choice.message;
    if (!isObject(message)) throw fail(`${where}.message is not an object`);
    const content = message.content;
    if (content !== null && content !== undefined && typeof content !== 'string') {
      throw fail(`${where}.message.content is not a string`);
    }
    const result: ParsedChoice = {
      index: typeof choice.index === 'number' ? choice.index : position,
      text: content ?? '',
      finishReason: mapFinishReason(choice.finish_reason),
    };
    // vLLM renamed reasoning_content to reasoning (both in 0.11.1–0.15, reasoning only from 0.16);
    // SGLang and llama.cpp keep reasoning_content.
    const reasoning = message.reasoning ?? message.reasoning_content;
    if (typeof reasoning === 'string' && reasoning.length > 0) {
      result.separateReasoning = true;
      result.reasoning = reasoning;
    }
    const logprobs = choice.logprobs;
    let tokenStrings: unknown[] | undefined;
    if (wantLogprobs && isObject(logprobs)) {
      const content = logprobs.content;
      if (!Array.isArray(content)) throw fail(`${where}.logprobs.content is missing or not an array`);
      const values: unknown[] = [];
      tokenStrings = [];
      content.forEach((entry, index) => {
        if (!isObject(entry)) throw fail(`${where}.logprobs.content[${index}] is not an object`);
        values.push(entry.logprob);
        tokenStrings?.push(entry.token);
      });
      const { logprobs: array, hadNull } = toLogprobArray(
        values,
        `${where}.logprobs.content[].logprob`,
        fail,
      );
      result.logprobs = array;
      if (hadNull) result.nullLogprobs = true;
      if (topN > 0)
        result.topLogprobs = topFromLists(content as Json[], topN, `${where}.logprobs.content`, fail);
    }
    const tokenIds = tokenIdsOf(choice, tokenStrings);
    if (tokenIds) result.tokenIds = tokenIds;
    return result;
  });
  const promptTokenIds = (json as Json).prompt_token_ids;
  return responseOf(parsed, isIntArray(promptTokenIds) ? promptTokenIds : undefined, json);
}

/** A plain string prompt in chat mode becomes one user message. */
export function asMessages(prompt: string | { messages: ChatMessage[] }): ChatMessage[] {
  return typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt.messages;
}
