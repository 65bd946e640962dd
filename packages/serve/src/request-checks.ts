/**
 * Reading and checking a request before any route runs it: the API key, the body (size, deadline, JSON),
 * the schema and model name, the context length, and the sampling settings within the server's limits.
 */
import type * as z from 'zod';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ChatMessage, Prompt } from '@rlpt/spec';
import type { SamplingSettings } from './batcher.js';
import { HttpError, type ResponseOptions } from './format.js';
import { type ChatRequest, type CompletionsRequest, describeIssues } from './schemas.js';
import { digest } from './http.js';
import type { Resolved } from './server-options.js';

/** The checks and parsing every route applies, bound to the server's resolved limits. */
export type RequestChecks = ReturnType<typeof createRequestChecks>;

/** Binds the request checks to `resolved` (limits, model name, API key, tokenizer). */
export function createRequestChecks(resolved: Resolved) {
  const logger = resolved.logger;

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

  return {
    authorize,
    readJson,
    parse,
    unknownModel,
    checkTokenCount,
    checkPromptLength,
    samplingSettings,
    responseOptions,
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

export function isEchoOnly(raw: unknown): boolean {
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

export function toChatMessage(message: ChatRequest['messages'][number]): ChatMessage {
  const content = message.content;
  return {
    role: message.role,
    content: typeof content === 'string' ? content : (content ?? []).map((part) => part.text).join(''),
  };
}

export function completionsPrompts(prompt: CompletionsRequest['prompt']): Prompt[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === 'number') return [{ tokenIds: prompt as number[] }];
  return (prompt as (string | number[])[]).map((item) =>
    typeof item === 'string' ? item : { tokenIds: item },
  );
}
