/** OpenAI-format response bodies, stream chunks and errors, in the shapes vLLM returns. */
import type { Completion, FinishReason, PromptResult } from '@rlpt/spec';

/** An error the server answers with `{ error: { message, type, param, code } }`. */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  constructor(options: {
    status: number;
    message: string;
    type?: string;
    param?: string | null;
    code?: string | null;
    headers?: Record<string, string>;
  }) {
    super(options.message);
    this.name = 'HttpError';
    this.status = options.status;
    this.type = options.type ?? defaultType(options.status);
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** How token strings are spelled in logprobs. */
export interface TokenSpelling {
  /** vLLM's `return_tokens_as_token_ids`: `token_id:<id>`. */
  asIds: boolean;
  decodeToken: ((tokenId: number) => string) | undefined;
}

function spell(tokenId: number, spelling: TokenSpelling): string {
  if (spelling.asIds || !spelling.decodeToken) return `token_id:${tokenId}`;
  return spelling.decodeToken(tokenId);
}

function finishReason(reason: FinishReason): string {
  return reason;
}

/** `choices[].logprobs` of `/v1/completions` (OpenAI legacy shape, sampled token only). */
export function completionLogprobs(completion: Completion, spelling: TokenSpelling) {
  const logprobs = Array.from(completion.logprobs ?? []);
  const ids = completion.tokenIds ?? [];
  const tokens = logprobs.map((_, index) =>
    ids[index] === undefined ? '' : spell(ids[index] as number, spelling),
  );
  const textOffset: number[] = [];
  let offset = 0;
  for (const token of tokens) {
    textOffset.push(offset);
    offset += token.length;
  }
  return {
    text_offset: textOffset,
    token_logprobs: logprobs,
    tokens,
    top_logprobs: tokens.map((token, index) => ({ [token]: logprobs[index] })),
  };
}

/** `choices[].logprobs` of `/v1/chat/completions`. */
export function chatLogprobs(completion: Completion, spelling: TokenSpelling) {
  const logprobs = Array.from(completion.logprobs ?? []);
  const ids = completion.tokenIds ?? [];
  const encoder = new TextEncoder();
  return {
    content: logprobs.map((logprob, index) => {
      const token = ids[index] === undefined ? '' : spell(ids[index] as number, spelling);
      return { token, logprob, bytes: Array.from(encoder.encode(token)), top_logprobs: [] };
    }),
  };
}

export interface UsageCounts {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(
  results: PromptResult[],
  fallback?: { prompt: number; completion: number },
): UsageCounts {
  let prompt = 0;
  let completion = 0;
  let known = true;
  for (const result of results) {
    if (result.promptTokenIds) prompt += result.promptTokenIds.length;
    else known = false;
    for (const item of result.completions) {
      if (item.tokenIds) completion += item.tokenIds.length;
      else known = false;
    }
  }
  if (!known && fallback) {
    prompt = fallback.prompt;
    completion = fallback.completion;
  }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export interface ResponseOptions {
  id: string;
  created: number;
  model: string;
  logprobs: boolean;
  returnTokenIds: boolean;
  spelling: TokenSpelling;
}

/** The body of a non-streaming `/v1/completions` reply. Choice index = prompt index × n + sample index. */
export function completionsBody(results: PromptResult[], usage: UsageCounts, options: ResponseOptions) {
  const choices = results.flatMap((result, promptIndex) =>
    result.completions.map((completion, sampleIndex) => ({
      index: promptIndex * result.completions.length + sampleIndex,
      text: completion.text,
      logprobs: options.logprobs ? completionLogprobs(completion, options.spelling) : null,
      finish_reason: finishReason(completion.finishReason),
      stop_reason: null,
      ...(options.returnTokenIds
        ? { token_ids: completion.tokenIds ?? null, prompt_token_ids: result.promptTokenIds ?? null }
        : {}),
    })),
  );
  return {
    id: options.id,
    object: 'text_completion',
    created: options.created,
    model: options.model,
    choices,
    usage,
  };
}

/** The body of a non-streaming `/v1/chat/completions` reply. */
export function chatBody(result: PromptResult, usage: UsageCounts, options: ResponseOptions) {
  return {
    id: options.id,
    object: 'chat.completion',
    created: options.created,
    model: options.model,
    choices: result.completions.map((completion, index) => ({
      index,
      message: { role: 'assistant', content: completion.text },
      logprobs: options.logprobs ? chatLogprobs(completion, options.spelling) : null,
      finish_reason: finishReason(completion.finishReason),
      stop_reason: null,
      ...(options.returnTokenIds ? { token_ids: completion.tokenIds ?? null } : {}),
    })),
    usage,
    ...(options.returnTokenIds ? { prompt_token_ids: result.promptTokenIds ?? null } : {}),
  };
}

/**
 * Stream chunks of a `/v1/completions` reply. The backend returns whole completions, so each choice comes
 * as one text chunk (with its logprobs) followed by its finish chunk.
 */
export function completionsChunks(
  results: PromptResult[],
  usage: UsageCounts | undefined,
  options: ResponseOptions,
): unknown[] {
  const base = { id: options.id, object: 'text_completion', created: options.created, model: options.model };
  const chunks: unknown[] = [];
  results.forEach((result, promptIndex) => {
    result.completions.forEach((completion, sampleIndex) => {
      const index = promptIndex * result.completions.length + sampleIndex;
      chunks.push({
        ...base,
        choices: [
          {
            index,
            text: completion.text,
            logprobs: options.logprobs ? completionLogprobs(completion, options.spelling) : null,
            finish_reason: null,
            ...(options.returnTokenIds ? { token_ids: completion.tokenIds ?? null } : {}),
          },
        ],
      });
      chunks.push({
        ...base,
        choices: [
          {
            index,
            text: '',
            logprobs: null,
            finish_reason: finishReason(completion.finishReason),
            stop_reason: null,
          },
        ],
      });
    });
  });
  if (usage) chunks.push({ ...base, choices: [], usage });
  return chunks;
}

/** Stream chunks of a `/v1/chat/completions` reply: role, content (one chunk per choice), finish, usage. */
export function chatChunks(
  result: PromptResult,
  usage: UsageCounts | undefined,
  options: ResponseOptions,
): unknown[] {
  const base = {
    id: options.id,
    object: 'chat.completion.chunk',
    created: options.created,
    model: options.model,
  };
  const chunks: unknown[] = [];
  result.completions.forEach((completion, index) => {
    chunks.push({
      ...base,
      choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    chunks.push({
      ...base,
      choices: [
        {
          index,
          delta: { content: completion.text },
          logprobs: options.logprobs ? chatLogprobs(completion, options.spelling) : null,
          finish_reason: null,
          ...(options.returnTokenIds ? { token_ids: completion.tokenIds ?? null } : {}),
        },
      ],
    });
    chunks.push({
      ...base,
      choices: [
        {
          index,
          delta: {},
          logprobs: null,
          finish_reason: finishReason(completion.finishReason),
          stop_reason: null,
        },
      ],
    });
  });
  if (usage) chunks.push({ ...base, choices: [], usage });
  return chunks;
}
