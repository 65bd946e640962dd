/**
 * A stand-in for llama.cpp's `llama-server` (native API), on 127.0.0.1, with a tiny deterministic
 * byte-level "model". It answers with the request and response shapes of the real server as documented in
 * `../shared/reference/inference-servers.md` §5.1, which cites `ggml-org/llama.cpp@00dc805:tools/server/README.md`
 * ([L-readme]) and `server_task_result_cmpl_final::to_json_non_oaicompat` in `tools/server/server-task.cpp`
 * ([L-task]). Each behaviour below names its source; "assumed" marks what those sources do not settle.
 *
 * The model: token ids 0 = unused, 1 = BOS, 2 = EOS, 3 + b = byte b. Only printable ASCII bytes and EOS get
 * finite logits (so texts are always valid UTF-8); the logits of the next token are a hash of the last two
 * tokens, spread over [0, 3], which gives a high-entropy distribution that seeds and samples can be told
 * apart on. Every token costs `tokenDelayMs` of wall time, so a generation can be aborted mid-way.
 */
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const BOS = 1;
export const EOS = 2;
const vocabularySize = 3 + 256;

export interface StandInOptions {
  /** Context length, reported by `GET /props` as `default_generation_settings.n_ctx`. Default 256. */
  contextSize?: number;
  /** Wall time per generated token in ms. Default 1. */
  tokenDelayMs?: number;
  /** Model name in responses (`model`) and `/props` (`model_alias`). Default `tiny-bytes`. */
  model?: string;
  /** Answer every `/completion` with this HTTP status and llama.cpp's error body (fault injection). */
  failWith?: { status: number; message: string; type: string };
}

export interface StandIn {
  url: string;
  contextSize: number;
  /** Bodies of the `/completion` requests received, in order (for tests of the request mapping). */
  completionRequests: Record<string, unknown>[];
  /** Generations stopped because the client went away. */
  cancelled: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// The model

export function encode(text: string): number[] {
  return [...new TextEncoder().encode(text)].map((byte) => byte + 3);
}

export function tokenBytes(id: number): number[] {
  return id >= 3 && id < vocabularySize ? [id - 3] : [];
}

function decode(ids: readonly number[]): string {
  return new TextDecoder().decode(Uint8Array.from(ids.flatMap(tokenBytes)));
}

function pieceOf(id: number): string {
  if (id === BOS) return '<s>';
  if (id === EOS) return '</s>';
  return decode([id]);
}

function hash(a: number, b: number, c: number): number {
  let h = 2166136261;
  for (const value of [a, b, c]) h = Math.imul(h ^ value, 16777619) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

function logitsAfter(context: readonly number[]): Float64Array {
  const a = context.at(-2) ?? 0;
  const b = context.at(-1) ?? 0;
  const logits = new Float64Array(vocabularySize).fill(Number.NEGATIVE_INFINITY);
  for (let byte = 32; byte < 127; byte++) logits[byte + 3] = (hash(a, b, byte) / 2 ** 32) * 3;
  logits[EOS] = (hash(a, b, 999) / 2 ** 32) * 3 - 1.5;
  return logits;
}

function logSoftmax(logits: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits) max = Math.max(max, value);
  let total = 0;
  for (const value of logits) total += Math.exp(value - max);
  const log = Math.log(total) + max;
  return logits.map((value) => value - log);
}

/** mulberry32: the stand-in's RNG (llama.cpp uses std::mt19937 seeded with `seed`; only repeatability matters). */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), state | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
}

/**
 * llama.cpp's default sampler chain order [L-readme `samplers`: penalties, …, top_k, typ_p, top_p, min_p,
 * xtc, temperature], then a draw; temperature ≤ 0 is greedy (argmax after the penalties) [assumed from
 * the server's `temp <= 0` greedy path].
 */
function sampleNext(context: readonly number[], sampling: Sampling, draw: () => number): number {
  const logits = logitsAfter(context);
  if (sampling.repeatPenalty !== 1) {
    for (const id of new Set(context.slice(-sampling.repeatLastN))) {
      const value = logits[id] as number;
      logits[id] = value > 0 ? value / sampling.repeatPenalty : value * sampling.repeatPenalty;
    }
  }
  let candidates = [...logits.keys()].filter((id) => Number.isFinite(logits[id] as number));
  candidates.sort((x, y) => (logits[y] as number) - (logits[x] as number) || x - y);
  if (sampling.temperature <= 0) return candidates[0] as number;
  if (sampling.topK > 0) candidates = candidates.slice(0, sampling.topK);
  const weights = (ids: number[]) => {
    const top = logits[ids[0] as number] as number;
    return ids.map((id) => Math.exp((logits[id] as number) - top));
  };
  if (sampling.topP < 1) {
    const w = weights(candidates);
    const total = w.reduce((sum, value) => sum + value, 0);
    let kept = 0;
    let mass = 0;
    while (kept < candidates.length && mass < sampling.topP * total) mass += w[kept++] as number;
    candidates = candidates.slice(0, Math.max(1, kept));
  }
  if (sampling.minP > 0) {
    const w = weights(candidates);
    candidates = candidates.filter((_, index) => (w[index] as number) >= sampling.minP);
  }
  const top = logits[candidates[0] as number] as number;
  const scaled = candidates.map((id) => Math.exp(((logits[id] as number) - top) / sampling.temperature));
  let u = draw() * scaled.reduce((sum, value) => sum + value, 0);
  for (const [index, weight] of scaled.entries()) {
    u -= weight;
    if (u <= 0) return candidates[index] as number;
  }
  return candidates.at(-1) as number;
}

// ---------------------------------------------------------------------------------------------------
// HTTP

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
  ) {
    super(message);
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(text);
}

/** Error body `{"error":{"code","message","type"}}` [L-readme; inference-servers.md §0 "Error body"]. */
function sendError(response: ServerResponse, error: HttpError): void {
  send(response, error.status, { error: { code: error.status, message: error.message, type: error.type } });
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  throw new HttpError(400, 'Invalid JSON body', 'invalid_request_error');
}

function number(body: Record<string, unknown>, key: string, fallback: number): number {
  const value = body[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new HttpError(400, `"${key}" must be a number`, 'invalid_request_error');
  return value;
}

/** `prompt`: a string, a token array, or a mixed array [L-readme §5.1]; BOS only before a leading string. */
function promptIds(prompt: unknown, addBos: boolean): number[] {
  if (typeof prompt === 'string') return addBos ? [BOS, ...encode(prompt)] : encode(prompt);
  if (Array.isArray(prompt)) {
    const ids: number[] = [];
    for (const [index, part] of prompt.entries()) {
      if (typeof part === 'string') ids.push(...(index === 0 && addBos ? [BOS] : []), ...encode(part));
      else if (Number.isInteger(part) && part >= 0 && part < vocabularySize) ids.push(part);
      else
        throw new HttpError(400, `invalid token ${JSON.stringify(part)} in prompt`, 'invalid_request_error');
    }
    return ids;
  }
  throw new HttpError(400, '"prompt" must be a string or an array of tokens', 'invalid_request_error');
}

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const contextSize = options.contextSize ?? 256;
  const tokenDelayMs = options.tokenDelayMs ?? 1;
  const model = options.model ?? 'tiny-bytes';
  const completionRequests: Record<string, unknown>[] = [];
  const state = { cancelled: 0 };

  async function complete(body: Record<string, unknown>, gone: () => boolean): Promise<unknown> {
    const prompt = promptIds(body.prompt, true);
    if (prompt.length === 0) throw new HttpError(400, 'empty prompt', 'invalid_request_error');
    const nPredict = number(body, 'n_predict', -1);
    // [assumed] wording and type of the context overflow error (newer builds: exceed_context_size_error).
    if (prompt.length >= contextSize)
      throw new HttpError(
        400,
        `the request exceeds the available context size (${prompt.length} tokens, context ${contextSize}), try increasing it`,
        'exceed_context_size_error',
      );
    // Defaults from the README's option table [L-readme §5.1]: temperature 0.8, top_k 40, top_p 0.95,
    // min_p 0.05, repeat_penalty 1.1, repeat_last_n 64, seed -1 (random).
    const sampling: Sampling = {
      temperature: number(body, 'temperature', 0.8),
      topK: number(body, 'top_k', 40),
      topP: number(body, 'top_p', 0.95),
      minP: number(body, 'min_p', 0.05),
      repeatPenalty: number(body, 'repeat_penalty', 1.1),
      repeatLastN: number(body, 'repeat_last_n', 64),
    };
    const seed = number(body, 'seed', -1);
    const draw = rng(seed === -1 ? randomInt(2 ** 32) : seed);
    const nProbs = number(body, 'n_probs', 0);
    const stops = Array.isArray(body.stop) ? (body.stop as string[]) : [];
    const limit = Math.min(nPredict < 0 ? Number.POSITIVE_INFINITY : nPredict, contextSize - prompt.length);
    const tokens: number[] = [];
    const probabilities: unknown[] = [];
    let stopType: 'none' | 'eos' | 'limit' | 'word' = 'limit';
    let stoppingWord = '';
    let content = '';
    while (tokens.length < limit) {
      await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
      // [assumed] the server cancels a task whose HTTP connection closed.
      if (gone()) {
        state.cancelled++;
        return undefined;
      }
      const context = [...prompt, ...tokens];
      const next = sampleNext(context, sampling, draw);
      if (next === EOS) {
        // [assumed] the end-of-generation token is not part of `tokens` or `content`.
        stopType = 'eos';
        break;
      }
      tokens.push(next);
      if (nProbs > 0) {
        // `completion_probabilities`: {id, token, bytes, logprob, top_logprobs} per generated token; without
        // post_sampling_probs a plain softmax of the logits, ignoring the sampler settings [L-readme §5.1].
        const log = logSoftmax(logitsAfter(context));
        const order = [...log.keys()].sort((x, y) => (log[y] as number) - (log[x] as number) || x - y);
        const entry = (id: number) => ({
          id,
          token: pieceOf(id),
          bytes: tokenBytes(id),
          logprob: log[id] as number,
        });
        probabilities.push({ ...entry(next), top_logprobs: order.slice(0, nProbs).map(entry) });
      }
      content = decode(tokens);
      // Stop words end generation; `content` ends before the word, `stop_type: "word"`, `stopping_word`
      // [L-task]. [assumed] `tokens` and `completion_probabilities` keep the tokens that spelled the word.
      const hits = stops.map((stop) => ({ stop, at: content.indexOf(stop) })).filter((hit) => hit.at >= 0);
      if (hits.length > 0) {
        const first = hits.reduce((best, hit) => (hit.at < best.at ? hit : best));
        content = content.slice(0, first.at);
        stopType = 'word';
        stoppingWord = first.stop;
        break;
      }
    }
    if (stopType !== 'word') content = decode(tokens);
    // Response keys [L-task `to_json_non_oaicompat`]; `tokens` only with `return_tokens: true` [L-readme].
    return {
      content,
      tokens: body.return_tokens === true ? tokens : [],
      id_slot: 0,
      stop: true,
      model,
      tokens_predicted: tokens.length,
      tokens_evaluated: prompt.length,
      generation_settings: { n_ctx: contextSize, temperature: sampling.temperature, seed },
      prompt: decode(prompt),
      has_new_line: content.includes('\n'),
      truncated: false,
      stop_type: stopType,
      stopping_word: stoppingWord,
      tokens_cached: 0,
      ...(nProbs > 0 ? { completion_probabilities: probabilities } : {}),
      timings: { prompt_n: prompt.length, predicted_n: tokens.length },
    };
  }

  const server = createServer((request, response) => {
    let closed = false;
    response.on('close', () => {
      closed = true;
    });
    const route = `${request.method} ${request.url}`;
    const handle = async (): Promise<void> => {
      if (route === 'GET /health') return send(response, 200, { status: 'ok' });
      // `/props` [L-readme §5.1 "Other native endpoints"]; [assumed] n_ctx under default_generation_settings.
      if (route === 'GET /props')
        return send(response, 200, {
          default_generation_settings: { n_ctx: contextSize },
          total_slots: 4,
          model_alias: model,
          chat_template: '{role}: {content}\n',
        });
      if (request.method !== 'POST') throw new HttpError(404, 'File Not Found', 'not_found_error');
      const body = await readJson(request);
      if (request.url === '/tokenize') {
        // {"content","add_special":false,…} → {"tokens":[id]} [L-readme §5.1].
        if (typeof body.content !== 'string')
          throw new HttpError(400, '"content" must be provided', 'invalid_request_error');
        const ids = body.add_special === true ? [BOS, ...encode(body.content)] : encode(body.content);
        return send(response, 200, {
          tokens: body.with_pieces === true ? ids.map((id) => ({ id, piece: pieceOf(id) })) : ids,
        });
      }
      if (request.url === '/detokenize') {
        const ids = Array.isArray(body.tokens) ? (body.tokens as number[]) : [];
        return send(response, 200, { content: decode(ids) });
      }
      if (request.url === '/apply-template') {
        // {"messages"} → {"prompt"} [L-readme §5.1]; the template here is the stand-in's own.
        if (!Array.isArray(body.messages))
          throw new HttpError(400, '"messages" must be an array', 'invalid_request_error');
        const messages = body.messages as { role: string; content: string }[];
        const prompt = `${messages.map((message) => `${message.role}: ${message.content}\n`).join('')}assistant:`;
        return send(response, 200, { prompt });
      }
      if (request.url === '/completion') {
        completionRequests.push(body);
        if (options.failWith)
          throw new HttpError(options.failWith.status, options.failWith.message, options.failWith.type);
        if (body.stream === true)
          throw new HttpError(400, 'the stand-in does not stream', 'invalid_request_error');
        const result = await complete(body, () => closed);
        if (result !== undefined && !closed) send(response, 200, result);
        return;
      }
      throw new HttpError(404, 'File Not Found', 'not_found_error');
    };
    handle().catch((error: unknown) => {
      if (closed) return;
      sendError(
        response,
        error instanceof HttpError ? error : new HttpError(500, String(error), 'server_error'),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    contextSize,
    completionRequests,
    get cancelled() {
      return state.cancelled;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
