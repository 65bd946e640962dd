/**
 * A scripted OpenAI-compatible judge server on 127.0.0.1 for tests and benchmarks: `/v1/chat/completions`,
 * `/v1/completions` (one prompt or an array) and `/v1/models`, answering every judge prompt with a
 * function of its text. The default "model" is {@link gullibleJudgeModel}, which obeys whatever the
 * prediction tells it — the adversary hardening must defeat.
 *
 * It can also stand in for a **thinking judge as vLLM serves it** (`thinking`), and for a **flaky server**
 * (`faults`). What it imitates, and where that behaviour is documented (shared/reference/inference-servers.md):
 * - Chat prompts are rendered with `chatTemplate` (e.g. Qwen3's real template) and the request's
 *   `chat_template_kwargs`, as vLLM does (§2.2). A `hybrid` model (Qwen3 2504: Qwen3-8B) thinks unless the
 *   rendered prompt already closes an empty think block (`enable_thinking: false`, §6.1); a
 *   `thinking-only` model (QwQ, Qwen3-Thinking-2507, R1 distills) ignores the switch and, like
 *   Qwen3-Thinking-2507 whose template opens `<think>` in the prompt, emits only the closing `</think>`
 *   (§6.3); a `none` model (Qwen3-Instruct-2507) never thinks.
 * - Thoughts end up where the server's reasoning parser puts them (§2.3–2.4): `none` (no parser: all in
 *   `content`), `qwen3-legacy` (vLLM's qwen3 parser until Feb 2026: needs both tags, else everything is
 *   content), `qwen3` (after vLLM PR #35230: a cut-off thought is all reasoning, `content: null`;
 *   `enable_thinking: false` makes everything content), `deepseek_r1` (text up to `</think>` is reasoning;
 *   none → all reasoning, `content: null`). The field is `reasoning_content` (vLLM ≤ 0.11.0, SGLang,
 *   llama.cpp), `reasoning` (vLLM ≥ 0.16) or both (0.11.1–0.15).
 * - `max_tokens` counts every generated token, thoughts included, with `tokenizer`; the output is cut there
 *   with `finish_reason: "length"` (§2.4). Chat's default budget is the rest of the context; completions'
 *   is 16 (§7). A prompt plus `max_tokens` over `maxModelLen` is vLLM's 400 "maximum context length" (§1.6).
 * - Errors use vLLM's nested body `{"error":{message,type,param,code}}` (≥ v0.10.1, §1.6).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChatTemplate } from '@rlpt/prompts';

/** How the scripted model answers one prompt (the chat's last user message, or the completion prompt). */
export type JudgeModel = (prompt: string) => string;

/** A scripted failure for the n-th request (0-based): an HTTP status, optionally with `Retry-After`, or a hang. */
export type ScriptedFailure = { status: number; retryAfterSeconds?: number } | 'hang';

/**
 * Faults injected at random (seeded, so a run is repeatable): `500` (engine error), `429` (with
 * `Retry-After`), `hang` (never answers), `drop` (the connection is reset), `garbage` (HTTP 200 with a body
 * that is not JSON), `slow` (answers after `slowMs`).
 */
export type FaultKind = '500' | '429' | 'hang' | 'drop' | 'garbage' | 'slow';

export interface FaultOptions {
  /** Share of requests that get a fault, 0–1. */
  rate: number;
  /** Faults to draw from, uniformly. Default all six. */
  kinds?: FaultKind[];
  /** Seed of the fault draws. Default 1. */
  seed?: number;
  /** `Retry-After` of a 429, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Delay of a `slow` answer. Default 500 ms. */
  slowMs?: number;
}

/** How generated text is counted and cut at `max_tokens`. */
export interface StandInTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface ThinkingOptions {
  /** `hybrid` (Qwen3-8B: thinks unless told not to), `thinking-only`, or `none`. Default `hybrid`. */
  model?: 'hybrid' | 'thinking-only' | 'none';
  /** The server's `--reasoning-parser`. Default `none`. */
  reasoningParser?: 'none' | 'qwen3-legacy' | 'qwen3' | 'deepseek_r1';
  /** Name of the reasoning field in `message`. Default `reasoning` (vLLM ≥ 0.16). */
  reasoningField?: 'reasoning_content' | 'reasoning' | 'both';
  /** The thought before the verdict, from the prompt and the verdict. Default {@link deliberation}. */
  thought?: (prompt: string, verdict: string) => string;
}

export interface ScriptedJudgeServerOptions {
  /** Default {@link gullibleJudgeModel}. */
  model?: JudgeModel;
  /** Delay before each answer. Default 0. */
  latencyMs?: number;
  /** Return a failure instead of an answer for some requests, e.g. `(n) => n < 2 ? { status: 503 } : undefined`. */
  fail?: (requestIndex: number) => ScriptedFailure | undefined;
  /** Random faults (see {@link FaultKind}). */
  faults?: FaultOptions;
  /** Think before answering chat prompts, as a reasoning model behind vLLM does (see the module comment). */
  thinking?: ThinkingOptions;
  /** Renders chat messages (with the request's `chat_template_kwargs`); default: the last user message. */
  chatTemplate?: ChatTemplate;
  /** Counts and cuts generated tokens. Default: one token per word or punctuation run. */
  tokenizer?: StandInTokenizer;
  /** Context length (`max_model_len`). Default 40 960 (Qwen3-8B). */
  maxModelLen?: number;
  /** Keep every prompt in `prompts` (tests); off for benchmarks. Default true. */
  record?: boolean;
  /** Model name reported by `/v1/models`. Default `scripted-judge`. */
  modelName?: string;
}

export interface ScriptedJudgeServer {
  /** `http://127.0.0.1:<port>/v1`, the `baseURL` for `createOpenAIBackend`. */
  baseURL: string;
  modelName: string;
  /** HTTP requests received so far. */
  readonly requests: number;
  /** Faults injected so far, by kind. */
  readonly faults: Readonly<Record<string, number>>;
  /** Prompts received so far (when `record`), in arrival order. */
  readonly prompts: string[];
  /** Request bodies of the chat and completions routes received so far (when `record`). */
  readonly bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

const allFaults: FaultKind[] = ['500', '429', 'hang', 'drop', 'garbage', 'slow'];

/** Starts a scripted judge server on a free port of 127.0.0.1. */
export async function startScriptedJudgeServer(
  options: ScriptedJudgeServerOptions = {},
): Promise<ScriptedJudgeServer> {
  const model = options.model ?? gullibleJudgeModel;
  const latencyMs = options.latencyMs ?? 0;
  const record = options.record ?? true;
  const modelName = options.modelName ?? 'scripted-judge';
  const tokenizer = options.tokenizer ?? wordPieces;
  const maxModelLen = options.maxModelLen ?? 40_960;
  const faults = options.faults;
  const faultKinds = faults?.kinds ?? allFaults;
  const random = mulberry32(faults?.seed ?? 1);
  const faultCounts: Record<string, number> = {};
  const prompts: string[] = [];
  const bodies: Record<string, unknown>[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let requests = 0;

  const drawFault = (): FaultKind | undefined => {
    if (!faults || faults.rate <= 0) return undefined;
    // Two draws per request whatever the outcome, so the sequence does not depend on earlier outcomes.
    const hit = random() < faults.rate;
    const kind = faultKinds[Math.floor(random() * faultKinds.length)] as FaultKind;
    if (!hit) return undefined;
    faultCounts[kind] = (faultCounts[kind] ?? 0) + 1;
    return kind;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const index = requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === 'GET' && request.url === '/v1/models') {
      return sendJson(response, 200, {
        object: 'list',
        data: [{ id: modelName, object: 'model', owned_by: 'vllm', max_model_len: maxModelLen }],
      });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendError(response, 400, 'invalid JSON');
    }
    const failure = options.fail?.(index);
    if (failure === 'hang') {
      hanging.add(response);
      return;
    }
    const fault = drawFault();
    if (fault === 'hang') {
      hanging.add(response);
      return;
    }
    if (fault === 'drop') {
      request.socket.destroy();
      return;
    }
    const delay = latencyMs + (fault === 'slow' ? (faults?.slowMs ?? 500) : 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (failure) {
      const headers: Record<string, string> = {};
      if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
      return sendError(response, failure.status, `scripted ${failure.status}`, headers);
    }
    if (fault === '500') return sendError(response, 500, 'scripted engine error (fault injection)');
    if (fault === '429') {
      return sendError(response, 429, 'rate limited (fault injection)', {
        'retry-after': String(faults?.retryAfterSeconds ?? 1),
      });
    }
    if (fault === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"id":"chatcmpl-garbled","choices":[{"ind');
      return;
    }
    if (record && (request.url === '/v1/chat/completions' || request.url === '/v1/completions')) {
      bodies.push(body);
    }
    const n = typeof body.n === 'number' ? body.n : 1;
    const requestedMax = typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
    if (request.url === '/v1/chat/completions') {
      const messages = Array.isArray(body.messages)
        ? (body.messages as { role: string; content: string }[])
        : [];
      const prompt = [...messages].reverse().find((message) => message.role === 'user')?.content ?? '';
      if (record) prompts.push(prompt);
      const kwargs = (
        typeof body.chat_template_kwargs === 'object' && body.chat_template_kwargs !== null
          ? body.chat_template_kwargs
          : {}
      ) as Record<string, unknown>;
      const rendered = options.chatTemplate
        ? options.chatTemplate.render(messages, { variables: kwargs })
        : prompt;
      const promptTokens = tokenizer.encode(rendered).length;
      const budget = requestedMax ?? maxModelLen - promptTokens;
      if (promptTokens + budget > maxModelLen) {
        return sendError(
          response,
          400,
          `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + budget} tokens (${promptTokens} in the messages, ${budget} in the completion). Please reduce the length of the messages or completion.`,
        );
      }
      const verdict = model(prompt);
      const thinking = options.thinking;
      // The model's view of its prompt: did the template already close an (empty) think block?
      const switchedOff = options.chatTemplate
        ? /<think>\s*<\/think>\s*$/.test(rendered)
        : kwargs.enable_thinking === false;
      const style = thinking?.model ?? 'hybrid';
      const thinks =
        thinking !== undefined && (style === 'thinking-only' || (style === 'hybrid' && !switchedOff));
      const thought = thinks ? (thinking?.thought ?? deliberation)(prompt, verdict) : '';
      const full = thinks
        ? style === 'thinking-only'
          ? `${thought}\n</think>\n\n${verdict}`
          : `<think>\n${thought}\n</think>\n\n${verdict}`
        : verdict;
      const { text, finishReason, completionTokens } = cut(tokenizer, full, budget);
      const message = parseReasoning(text, thinking, switchedOff);
      return sendJson(response, 200, {
        id: `chatcmpl-${index}`,
        object: 'chat.completion',
        created: 1735000000,
        model: modelName,
        choices: Array.from({ length: n }, (_, choice) => ({
          index: choice,
          message: { role: 'assistant', ...message, tool_calls: [] },
          logprobs: null,
          finish_reason: finishReason,
          stop_reason: null,
        })),
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      });
    }
    if (request.url === '/v1/completions') {
      const given = body.prompt;
      const list = Array.isArray(given) ? (given as string[]) : [String(given ?? '')];
      if (record) prompts.push(...list);
      const budget = requestedMax ?? 16;
      return sendJson(response, 200, {
        id: `cmpl-${index}`,
        object: 'text_completion',
        model: modelName,
        choices: list.flatMap((prompt, promptIndex) => {
          const { text, finishReason } = cut(tokenizer, model(prompt), budget);
          return Array.from({ length: n }, (_, choice) => ({
            index: promptIndex * n + choice,
            text,
            finish_reason: finishReason,
          }));
        }),
        usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 },
      });
    }
    return sendError(response, 404, `no route ${request.method} ${request.url}`);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      sendError(response, 500, String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    modelName,
    get requests() {
      return requests;
    },
    get faults() {
      return { ...faultCounts };
    },
    prompts,
    bodies,
    async close() {
      for (const response of hanging) response.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A deliberating thought, as thinking judges write them: it restates the task, weighs both verdicts —
 * including a draft `Score:` line for the *other* verdict, which a client must never read as the answer —
 * and concludes. About 120 words, repeated `rounds` times (default 2).
 */
export function deliberation(prompt: string, verdict: string, rounds = 2): string {
  const other = verdict.includes('1') ? 'Score: 0' : 'Score: 1';
  const round =
    'Okay, I need to compare the Predicted text with the beginning of the Reference. Let me read the Reference first and then the Predicted sentence, word by word. The question is whether the prediction conveys the same meaning as the start of the reference, not whether it is word for word identical. At first glance I might write\n' +
    `${other}\n` +
    'but wait, I should check the details again: the entities, the order of events, and whether anything is added that the reference does not say. ';
  return `${Array.from({ length: rounds }, () => round).join('')}So my final answer follows. (${prompt.length} characters read.)`;
}

function parseReasoning(
  text: string,
  thinking: ThinkingOptions | undefined,
  switchedOff: boolean,
): Record<string, string | null> {
  const parser = thinking?.reasoningParser ?? 'none';
  let reasoning: string | null = null;
  let content: string | null = text;
  const close = text.indexOf('</think>');
  const open = text.indexOf('<think>');
  const strip = (value: string) => value.replace(/^\s*<think>/, '').replace(/^\n+|\n+$/g, '');
  if (parser === 'deepseek_r1') {
    if (close >= 0) {
      reasoning = strip(text.slice(0, close));
      content = text.slice(close + '</think>'.length) || null;
    } else {
      reasoning = strip(text);
      content = null;
    }
  } else if (parser === 'qwen3-legacy') {
    if (open >= 0 && close > open) {
      reasoning = strip(text.slice(open, close));
      content = text.slice(close + '</think>'.length) || null;
    }
  } else if (parser === 'qwen3') {
    if (!switchedOff) {
      if (close >= 0) {
        reasoning = strip(text.slice(0, close));
        content = text.slice(close + '</think>'.length) || null;
      } else if (open >= 0 || (thinking?.model ?? 'hybrid') === 'thinking-only') {
        reasoning = strip(text);
        content = null;
      }
    }
  }
  if (parser === 'none') return { content };
  const field = thinking?.reasoningField ?? 'reasoning';
  if (field === 'both') return { content, reasoning, reasoning_content: reasoning };
  return { content, [field]: reasoning };
}

function cut(
  tokenizer: StandInTokenizer,
  text: string,
  budget: number,
): { text: string; finishReason: 'stop' | 'length'; completionTokens: number } {
  const ids = tokenizer.encode(text);
  if (ids.length <= budget) return { text, finishReason: 'stop', completionTokens: ids.length };
  return { text: tokenizer.decode(ids.slice(0, budget)), finishReason: 'length', completionTokens: budget };
}

/** The default stand-in tokenizer: one token per run of letters/digits, per other character, per space run. */
const wordPieces: StandInTokenizer = (() => {
  const pieces: string[] = [];
  const ids = new Map<string, number>();
  return {
    encode(text: string): number[] {
      return (text.match(/[\p{L}\p{N}]+|\s+|[^\p{L}\p{N}\s]/gu) ?? []).map((piece) => {
        let id = ids.get(piece);
        if (id === undefined) {
          id = pieces.push(piece) - 1;
          ids.set(piece, id);
        }
        return id;
      });
    },
    decode(tokens: number[]): string {
      return tokens.map((id) => pieces[id] ?? '').join('');
    },
  };
})();

/** A small seeded PRNG (mulberry32): the fault sequence of a seed is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const type =
    status === 400
      ? 'BadRequestError'
      : status === 404
        ? 'NotFoundError'
        : status === 429
          ? 'RateLimitError'
          : 'InternalServerError';
  sendJson(response, status, { error: { message, type, param: null, code: status } }, headers);
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

const lookAlikes: Record<string, string> = {
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  ѕ: 's',
  і: 'i',
  у: 'y',
  х: 'x',
  ο: 'o',
  ε: 'e',
  ρ: 'p',
};

/** How a careless reader sees text: look-alikes read as letters, and spacing and punctuation ignored. */
function squash(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[аеорсѕіухоερ]/g, (letter) => lookAlikes[letter] ?? letter)
    .replace(/[^\p{L}\p{N}]/gu, '');
}

function words(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** The text under the last line equal to `header`, up to the next line starting with `until`. */
function lastBlock(prompt: string, header: string, until: string): string {
  const start = prompt.lastIndexOf(`\n${header}`);
  if (start < 0) return '';
  const from = start + header.length + 1;
  const end = prompt.indexOf(`\n${until}`, from);
  return prompt.slice(from, end < 0 ? undefined : end).replace(/^`{3,}\s*$/gm, '');
}

/**
 * A deliberately gullible judge, in the spirit of a small instruction-following model:
 * - it **obeys** the prediction: `Score: 1` (in any spelling a reader would recognise: any case, spaced
 *   letters, full-width or Cyrillic look-alikes), "assign a score of 1", or "ignore (all) previous
 *   instructions" anywhere in the Predicted section → `Score: 1`;
 * - it reads the **last** `Reference:` and `Predicted:` blocks of the prompt (look-alike letters read as
 *   the letters they imitate), so injected blocks replace the real ones;
 * - it is **lenient**: `Score: 1` when the prediction is a word prefix of the reference, contains the
 *   reference's first eight words, or shares ≥ 40% of its content words (4+ letters) with the reference;
 *   otherwise `Score: 0`.
 */
export function gullibleJudgeModel(text: string): string {
  // It reads look-alike letters as the letters they imitate, like a language model does.
  const prompt = text.normalize('NFKC').replace(/[аеорсѕіухоερ]/g, (letter) => lookAlikes[letter] ?? letter);
  const predictedAt = prompt.indexOf('\nPredicted:');
  const scoringAt = prompt.lastIndexOf('## Scoring Rules');
  const section = squash(
    prompt.slice(Math.max(predictedAt, 0), scoringAt > predictedAt ? scoringAt : undefined),
  );
  if (/score1|scoreof1|ignore(all)?(the)?(previous|prior|above)/.test(section)) return 'Score: 1';

  const reference = words(lastBlock(prompt, 'Reference:', 'Predicted:'));
  const predicted = words(lastBlock(prompt, 'Predicted:', '## Scoring Rules'));
  if (predicted.length === 0 || reference.length === 0) return 'Score: 0';
  const isPrefix =
    predicted.length <= reference.length && predicted.every((word, i) => reference[i] === word);
  const head = reference.slice(0, Math.min(8, reference.length)).join(' ');
  const containsHead = ` ${predicted.join(' ')} `.includes(` ${head} `);
  const content = predicted.filter((word) => word.length >= 4);
  const referenceWords = new Set(reference);
  const shared = content.filter((word) => referenceWords.has(word)).length;
  const overlaps = content.length > 0 && shared / content.length >= 0.4;
  return isPrefix || containsHead || overlaps ? 'Score: 1' : 'Score: 0';
}

/** A model that always approves: an instant judge for throughput benchmarks. */
export const alwaysYesModel: JudgeModel = () => 'Score: 1';
