import { renderJudgePrompt } from '@rlpt/prompts';
import type { GenerateRequest, GenerateResult, InferenceBackendV1, RlptEvent } from '@rlpt/spec';
import { InvalidArgumentError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { backendFor } from '../test/helpers.js';
import { createJudgeCache } from './cache.js';
import { createGenerativeJudge } from './generative.js';
import { fenceText } from './harden.js';
import {
  type ScriptedJudgeServer,
  type ScriptedJudgeServerOptions,
  startScriptedJudgeServer,
} from './testing/index.js';

const reference =
  'The lighthouse keeper climbed the spiral stairs at dusk. He lit the great lamp and watched the ships. By midnight the fog had rolled in from the sea.';
const right = 'The lighthouse keeper climbed the spiral stairs at dusk.';
const wrong = 'Quarterly revenue from semiconductor exports grew sharply.';

const servers: ScriptedJudgeServer[] = [];
async function serve(options: ScriptedJudgeServerOptions = {}): Promise<ScriptedJudgeServer> {
  const server = await startScriptedJudgeServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Records each generate request's size, then forwards to the real backend. */
function counting(backend: InferenceBackendV1): InferenceBackendV1 & { batches: number[] } {
  const batches: number[] = [];
  return {
    ...backend,
    specificationVersion: 'v1',
    provider: backend.provider,
    modelId: backend.modelId,
    capabilities: backend.capabilities,
    batches,
    generate(request: GenerateRequest, options) {
      batches.push(request.prompts.length);
      return backend.generate(request, options);
    },
  };
}

describe('createGenerativeJudge', () => {
  it('sends the paper prompt with the fenced prediction, greedy, thinking off, 4096 tokens, as a chat message', async () => {
    const server = await serve();
    const seen: GenerateRequest[] = [];
    const backend = backendFor(server);
    const judge = createGenerativeJudge({
      backend: {
        ...backend,
        generate: (request, options) => {
          seen.push(request);
          return backend.generate(request, options);
        },
      },
    });
    const [verdict] = await judge.judge([{ prediction: `  ${right}\u200b `, reference }]);
    expect(verdict).toEqual({ score: 1, status: 'ok', raw: 'Score: 1' });
    expect(seen[0]).toMatchObject({
      maxTokens: 4096,
      temperature: 0,
      n: 1,
      providerOptions: { openai: { chat_template_kwargs: { enable_thinking: false } } },
    });
    expect(server.prompts[0]).toBe(
      renderJudgePrompt('prefix', { reference: fenceText(reference), predicted: fenceText(right) }),
    );
    expect(seen[0]?.prompts[0]).toEqual({ messages: [{ role: 'user', content: server.prompts[0] }] });
  });

  it('uses the strict template for strict items, a custom template, a system message, or raw text', async () => {
    const server = await serve();
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      template: { strict: 'Same meaning?\nReference:\n{reference}\nPredicted:\n{predicted}' },
      system: 'You are a careful grader.',
      fence: false,
    });
    await judge.judge([{ prediction: right, reference: right, mode: 'strict' }]);
    expect(server.prompts.at(-1)).toBe(`Same meaning?\nReference:\n${right}\nPredicted:\n${right}`);

    const text = createGenerativeJudge({
      backend: backendFor(server),
      promptFormat: 'text',
      mode: 'strict',
      fence: false,
    });
    const [verdict] = await text.judge([{ prediction: right, reference: right }]);
    expect(verdict?.score).toBe(1);
    expect(server.prompts.at(-1)).toBe(renderJudgePrompt('strict', { reference: right, predicted: right }));
  });

  it('groups the judge calls of a batch into generate requests of batchSize', async () => {
    const server = await serve();
    const backend = counting(backendFor(server));
    const judge = createGenerativeJudge({ backend, batchSize: 8, concurrency: 2 });
    const items = Array.from({ length: 20 }, (_, index) => ({
      prediction: `${right} (${index})`,
      reference,
    }));
    const verdicts = await judge.judge(items);
    expect(verdicts.every((verdict) => verdict.status === 'ok')).toBe(true);
    expect(backend.batches).toEqual([8, 8, 4]);
    expect(judge.stats()).toMatchObject({ items: 20, ok: 20, judgeCalls: 20, requests: 3 });
  });

  it('groups concurrent judge() calls (one sample per request, as OpenRLHF sends) into shared batches', async () => {
    const server = await serve();
    const backend = counting(backendFor(server));
    const judge = createGenerativeJudge({ backend, batchSize: 16 });
    await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        judge.judge([{ prediction: `${right} (${index})`, reference }]),
      ),
    );
    expect(backend.batches).toEqual([10]);
  });

  it('judges identical predictions once (in a batch, across calls via the cache)', async () => {
    const server = await serve();
    const judge = createGenerativeJudge({ backend: backendFor(server) });
    const group = [right, wrong, right, right, wrong, right, wrong, right].map((prediction) => ({
      prediction,
      reference,
    }));
    const first = await judge.judge(group);
    expect(first.map((verdict) => verdict.score)).toEqual([1, 0, 1, 1, 0, 1, 0, 1]);
    expect(server.prompts).toHaveLength(2);
    const second = await judge.judge(group);
    expect(second.map((verdict) => verdict.score)).toEqual([1, 0, 1, 1, 0, 1, 0, 1]);
    expect(second.every((verdict) => verdict.cached)).toBe(true);
    expect(server.prompts).toHaveLength(2);
    expect(judge.stats()).toMatchObject({ items: 16, judgeCalls: 2, deduplicated: 6, cacheHits: 8 });
  });

  it('shares a cache between judges only when their prompts match', async () => {
    const server = await serve();
    const cache = createJudgeCache();
    const a = createGenerativeJudge({ backend: backendFor(server), cache, name: 'judge' });
    const b = createGenerativeJudge({ backend: backendFor(server), cache, name: 'judge' });
    const c = createGenerativeJudge({
      backend: backendFor(server),
      cache,
      name: 'judge',
      system: 'Be strict.',
    });
    await a.judge([{ prediction: right, reference }]);
    expect((await b.judge([{ prediction: right, reference }]))[0]?.cached).toBe(true);
    expect((await c.judge([{ prediction: right, reference }]))[0]?.cached).toBeUndefined();
    expect(server.prompts).toHaveLength(2);
  });

  it('turns unparseable output into a failure, never a silent 0, and reports it', async () => {
    const server = await serve({
      model: (prompt) => (prompt.includes('zebra') ? 'Yes, it matches.' : 'Score: 0'),
    });
    const odd = 'The lighthouse keeper saw a zebra.';
    const events: RlptEvent[] = [];
    const warnings: string[] = [];
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      onEvent: (event) => events.push(event),
      logger: { debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} },
    });
    const verdicts = await judge.judge([
      { id: 's1', prediction: odd, reference },
      { id: 's2', prediction: 'A cat sat on the mat today.', reference },
    ]);
    expect(verdicts[0]).toEqual({
      score: 0,
      status: 'failed',
      reason: 'unparseable',
      raw: 'Yes, it matches.',
    });
    expect(verdicts[1]).toMatchObject({ score: 0, status: 'ok' });
    expect(events).toEqual([
      {
        type: 'judge-error',
        id: 's1',
        reason: 'unparseable',
        message: expect.stringContaining('"Yes, it matches."'),
      },
    ]);
    expect(warnings[0]).toMatch(/judge failure \(unparseable\)/);
    expect(judge.stats()).toMatchObject({ failed: 1, ok: 1, reasons: { unparseable: 1 } });
    // Failures are not cached: the next call asks again.
    await judge.judge([{ id: 's1', prediction: odd, reference }]);
    expect(server.prompts.filter((prompt) => prompt.includes('zebra'))).toHaveLength(2);
  });

  it("onFailure 'zero' scores failures 0 with status ok, still counted as failures", async () => {
    const server = await serve({ model: () => 'maybe' });
    const judge = createGenerativeJudge({ backend: backendFor(server), onFailure: 'zero' });
    const [verdict] = await judge.judge([{ prediction: right, reference }]);
    expect(verdict).toEqual({ score: 0, status: 'ok', reason: 'judge-failure:unparseable', raw: 'maybe' });
    expect(judge.stats()).toMatchObject({ failed: 1, ok: 0 });
  });

  it('retries retryable errors (503, then honours Retry-After on 429) and then succeeds', async () => {
    const server = await serve({
      fail: (index) =>
        index === 0 ? { status: 503 } : index === 1 ? { status: 429, retryAfterSeconds: 0 } : undefined,
    });
    const judge = createGenerativeJudge({ backend: backendFor(server), retries: 2, retryDelayMs: 5 });
    const [verdict] = await judge.judge([{ prediction: right, reference }]);
    expect(verdict).toMatchObject({ status: 'ok', score: 1 });
    expect(server.requests).toBe(3);
    expect(judge.stats()).toMatchObject({ retries: 2, requests: 3, ok: 1 });
  });

  it('fails with api-error once retries are spent, and does not retry a 400', async () => {
    const server = await serve({ fail: () => ({ status: 500 }) });
    const judge = createGenerativeJudge({ backend: backendFor(server), retries: 1, retryDelayMs: 1 });
    const [verdict] = await judge.judge([{ prediction: right, reference }]);
    expect(verdict).toMatchObject({ status: 'failed', score: 0, reason: 'api-error' });
    expect(server.requests).toBe(2);

    const bad = await serve({ fail: () => ({ status: 400 }) });
    const strict = createGenerativeJudge({ backend: backendFor(bad), retries: 3, retryDelayMs: 1 });
    expect((await strict.judge([{ prediction: right, reference }]))[0]?.reason).toBe('api-error');
    expect(bad.requests).toBe(1);
  });

  it('times out a hanging judge and retries it', async () => {
    const server = await serve({ fail: (index) => (index === 0 ? 'hang' : undefined) });
    const judge = createGenerativeJudge({
      backend: backendFor(server),
      timeoutMs: 150,
      retries: 1,
      retryDelayMs: 1,
    });
    const started = performance.now();
    const [verdict] = await judge.judge([{ prediction: right, reference }]);
    expect(verdict).toMatchObject({ status: 'ok', score: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(judge.stats()).toMatchObject({ retries: 1 });

    const stuck = await serve({ fail: () => 'hang' });
    const noRetry = createGenerativeJudge({ backend: backendFor(stuck), timeoutMs: 100, retries: 0 });
    expect((await noRetry.judge([{ prediction: right, reference }]))[0]).toMatchObject({
      status: 'failed',
      reason: 'timeout',
    });
  });

  it('rejects with AbortError when the caller aborts mid-flight, and keeps serving others', async () => {
    const server = await serve({ latencyMs: 300 });
    const judge = createGenerativeJudge({ backend: backendFor(server) });
    const controller = new AbortController();
    const aborted = judge.judge([{ prediction: right, reference }], { signal: controller.signal });
    const other = judge.judge([{ prediction: wrong, reference }]);
    setTimeout(() => controller.abort(), 20);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await expect(other).resolves.toMatchObject([{ status: 'ok', score: 0 }]);
  });

  it('after close(), pending calls fail and new calls are refused', async () => {
    const server = await serve({ latencyMs: 500 });
    const judge = createGenerativeJudge({ backend: backendFor(server), retries: 3 });
    const pending = judge.judge([{ prediction: right, reference }]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await judge.close();
    await expect(pending).resolves.toMatchObject([{ status: 'failed', reason: 'closed' }]);
    await expect(judge.judge([{ prediction: right, reference }])).rejects.toThrow(/is closed/);
    await judge.close();
  });

  it('reports a backend that returns the wrong number of results as a failure', async () => {
    const broken: InferenceBackendV1 = {
      specificationVersion: 'v1',
      provider: 'broken',
      modelId: 'm',
      capabilities: { logprobs: false, tokenIds: false, chat: false, seed: false, score: false },
      async generate(): Promise<GenerateResult> {
        return { results: [], usage: { promptTokens: 0, completionTokens: 0 }, warnings: [] };
      },
    };
    const judge = createGenerativeJudge({ backend: broken, retries: 0 });
    expect(judge.name).toBe('generative:broken:m');
    expect((await judge.judge([{ prediction: right, reference }]))[0]).toMatchObject({
      status: 'failed',
      reason: 'bad-backend-response',
    });
  });

  it('validates its options, naming the bad one', async () => {
    const server = await serve();
    const backend = backendFor(server);
    expect(() => createGenerativeJudge({} as never)).toThrow(/needs `backend`/);
    expect(() => createGenerativeJudge({ backend, maxTokens: 0 })).toThrow(
      /maxTokens must be an integer ≥ 1/,
    );
    expect(() => createGenerativeJudge({ backend, concurrency: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => createGenerativeJudge({ backend, onFailure: 'drop' as 'zero' })).toThrow(/onFailure/);
    expect(() => createGenerativeJudge({ backend, template: 'no placeholders' })).toThrow(
      /reference|predicted/,
    );
    expect(() => createGenerativeJudge({ backend, promptFormat: 'text', system: 'x' })).toThrow(
      /system message/,
    );
  });
});
