/**
 * A scripted OpenAI-compatible judge server on 127.0.0.1 for tests and benchmarks: `/v1/chat/completions`,
 * `/v1/completions` (one prompt or an array) and `/v1/models`, answering every judge prompt with a
 * function of its text. The default "model" is {@link gullibleJudgeModel}, which obeys whatever the
 * prediction tells it — the adversary hardening must defeat.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the scripted model answers one prompt (the chat's last user message, or the completion prompt). */
export type JudgeModel = (prompt: string) => string;

/** A scripted failure for the n-th request (0-based): an HTTP status, optionally with `Retry-After`, or a hang. */
export type ScriptedFailure = { status: number; retryAfterSeconds?: number } | 'hang';

export interface ScriptedJudgeServerOptions {
  /** Default {@link gullibleJudgeModel}. */
  model?: JudgeModel;
  /** Delay before each answer. Default 0. */
  latencyMs?: number;
  /** Return a failure instead of an answer for some requests, e.g. `(n) => n < 2 ? { status: 503 } : undefined`. */
  fail?: (requestIndex: number) => ScriptedFailure | undefined;
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
  /** Prompts received so far (when `record`), in arrival order. */
  readonly prompts: string[];
  close(): Promise<void>;
}

/** Starts a scripted judge server on a free port of 127.0.0.1. */
export async function startScriptedJudgeServer(
  options: ScriptedJudgeServerOptions = {},
): Promise<ScriptedJudgeServer> {
  const model = options.model ?? gullibleJudgeModel;
  const latencyMs = options.latencyMs ?? 0;
  const record = options.record ?? true;
  const modelName = options.modelName ?? 'scripted-judge';
  const prompts: string[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let requests = 0;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const index = requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === 'GET' && request.url === '/v1/models') {
      return sendJson(response, 200, { object: 'list', data: [{ id: modelName, object: 'model' }] });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendJson(response, 400, { error: { message: 'invalid JSON' } });
    }
    const failure = options.fail?.(index);
    if (failure === 'hang') {
      hanging.add(response);
      return;
    }
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (failure) {
      const headers: Record<string, string> = {};
      if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
      return sendJson(
        response,
        failure.status,
        { error: { message: `scripted ${failure.status}` } },
        headers,
      );
    }
    const n = typeof body.n === 'number' ? body.n : 1;
    if (request.url === '/v1/chat/completions') {
      const messages = Array.isArray(body.messages)
        ? (body.messages as { role: string; content: string }[])
        : [];
      const prompt = [...messages].reverse().find((message) => message.role === 'user')?.content ?? '';
      if (record) prompts.push(prompt);
      const text = model(prompt);
      return sendJson(response, 200, {
        id: `chatcmpl-${index}`,
        object: 'chat.completion',
        model: modelName,
        choices: Array.from({ length: n }, (_, choice) => ({
          index: choice,
          message: { role: 'assistant', content: text },
          finish_reason: 'stop',
        })),
        usage: { prompt_tokens: prompt.length, completion_tokens: 4, total_tokens: prompt.length + 4 },
      });
    }
    if (request.url === '/v1/completions') {
      const given = body.prompt;
      const list = Array.isArray(given) ? (given as string[]) : [String(given ?? '')];
      if (record) prompts.push(...list);
      return sendJson(response, 200, {
        id: `cmpl-${index}`,
        object: 'text_completion',
        model: modelName,
        choices: list.flatMap((prompt, promptIndex) =>
          Array.from({ length: n }, (_, choice) => ({
            index: promptIndex * n + choice,
            text: model(prompt),
            finish_reason: 'stop',
          })),
        ),
        usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 },
      });
    }
    return sendJson(response, 404, { error: { message: `no route ${request.method} ${request.url}` } });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      sendJson(response, 500, { error: { message: String(error) } });
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
    prompts,
    async close() {
      for (const response of hanging) response.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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
