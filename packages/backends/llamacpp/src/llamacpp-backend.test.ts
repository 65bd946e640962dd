import { ConformanceFailure, prepareBackendConformance, runBackendConformanceCase } from '@rlpt/conformance';
import { ApiCallError, InvalidArgumentError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandIn, startStandIn } from '../test/stand-in.js';
import { createLlamaCppBackend } from './index.js';

let server: StandIn;
beforeAll(async () => {
  server = await startStandIn({ contextSize: 128, tokenDelayMs: 0 });
});
afterAll(async () => {
  await server.close();
});

describe('createLlamaCppBackend', () => {
  it('sends token ids with the sampler chain pinned and one seed per completion', async () => {
    const backend = createLlamaCppBackend({ baseURL: `${server.url}/` });
    const before = server.completionRequests.length;
    const result = await backend.generate({ prompts: ['Hi'], maxTokens: 3, n: 2, seed: 5, stop: ['x'] });
    const bodies = server.completionRequests.slice(before);
    expect(bodies).toHaveLength(2);
    // BOS (1) + the bytes of "Hi" (+3), as /tokenize with add_special gives them.
    expect(result.results[0]?.promptTokenIds).toEqual([1, 72 + 3, 105 + 3]);
    for (const body of bodies) {
      expect(body).toMatchObject({
        prompt: [1, 75, 108],
        n_predict: 3,
        temperature: 1,
        top_k: 0,
        top_p: 1,
        min_p: 0,
        repeat_penalty: 1,
        stop: ['x'],
        n_probs: 1,
        return_tokens: true,
        cache_prompt: false,
      });
    }
    expect(bodies.map((body) => body.seed)).toEqual([5_000_015, 5_000_016]);
    expect(result.usage.promptTokens).toBe(3);
  });

  it('turns the server error body into an ApiCallError with status, URL and message', async () => {
    const failing = await startStandIn({
      failWith: { status: 503, message: 'Loading model', type: 'unavailable_error' },
    });
    try {
      const backend = createLlamaCppBackend({ baseURL: failing.url });
      const error = await backend
        .generate({ prompts: ['Hi'], maxTokens: 2 })
        .catch((caught: unknown) => caught);
      expect(ApiCallError.isInstance(error)).toBe(true);
      const apiError = error as ApiCallError;
      expect(apiError.statusCode).toBe(503);
      expect(apiError.isRetryable).toBe(true);
      expect(apiError.url).toBe(`${failing.url}/completion`);
      expect(apiError.message).toMatch(/answered 503: Loading model/);
    } finally {
      await failing.close();
    }
  });

  it('names the URL when no server listens, and rejects a bad baseURL', async () => {
    const gone = await startStandIn();
    const url = gone.url;
    await gone.close();
    const error = await createLlamaCppBackend({ baseURL: url })
      .generate({ prompts: ['Hi'], maxTokens: 2 })
      .catch((caught: unknown) => caught);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${url}/props`);
    expect(() => createLlamaCppBackend({ baseURL: 'localhost:8080' })).toThrow(InvalidArgumentError);
  });

  it('cuts at a stop token id on the client and keeps text, tokens and logprobs aligned', async () => {
    const backend = createLlamaCppBackend({ baseURL: server.url, contextSize: 128 });
    const full = await backend.generate({ prompts: ['Once'], maxTokens: 8, temperature: 0, logprobs: true });
    const ids = full.results[0]?.completions[0]?.tokenIds ?? [];
    expect(ids.length).toBe(8);
    const stop = ids[4] as number;
    const cut = await backend.generate({
      prompts: ['Once'],
      maxTokens: 8,
      temperature: 0,
      logprobs: true,
      stopTokenIds: [stop],
    });
    const completion = cut.results[0]?.completions[0];
    const at = ids.indexOf(stop);
    expect(completion?.tokenIds).toEqual(ids.slice(0, at));
    expect(completion?.finishReason).toBe('stop');
    expect(completion?.text).toBe(String.fromCharCode(...ids.slice(0, at).map((id) => id - 3)));
    expect(Array.from(completion?.logprobs ?? [])).toEqual(
      Array.from(full.results[0]?.completions[0]?.logprobs ?? []).slice(0, at),
    );
  });
});

describe('the published conformance suite catches a broken llama.cpp backend', () => {
  type Generate = ReturnType<typeof createLlamaCppBackend>['generate'];
  type Mutation = (generate: Generate) => Generate;
  const shiftLogprobs = (result: Awaited<ReturnType<Generate>>) => {
    for (const entry of result.results)
      for (const completion of entry.completions)
        if (completion.logprobs)
          completion.logprobs = completion.logprobs.map((_, at, all) => all[at + 1] ?? -1);
    return result;
  };
  // Mistakes a contributor makes first. Each must fail at least one listed case of the published suite.
  // (Not caught without an ONNX copy: the server's default top_k 40 / min_p 0.05 / repeat_penalty 1.1
  // left on; only `sampling-distribution` with `modelDir` sees those. The guide says so.)
  const mutations: [string, Mutation, string[]][] = [
    [
      'one fixed seed for every request',
      (g) => (r, o) => g({ ...r, providerOptions: { seed: 42 } }, o),
      ['seed-varies', 'n'],
    ],
    [
      'temperature 0 not sent (server default 0.8)',
      (g) => (r, o) => g({ ...r, providerOptions: { temperature: 0.8 } }, o),
      ['greedy-repeatable'],
    ],
    ['stop token ids dropped', (g) => (r, o) => g({ ...r, stopTokenIds: undefined }, o), ['stop-token-ids']],
    [
      'logprobs shifted by one token',
      (g) => async (r, o) => shiftLogprobs(await g(r, o)),
      ['logprobs-self-consistent'],
    ],
  ];
  it.each(mutations)('%s', async (_, mutate, ids) => {
    const broken = createLlamaCppBackend({ baseURL: server.url, contextSize: 128 });
    const backend = { ...broken, generate: mutate(broken.generate) };
    const prepared = await prepareBackendConformance(
      'mutated llamacpp',
      { backend, maxContextTokens: 128 },
      { logprobTemperature: 'raw' },
    );
    const failures: string[] = [];
    for (const id of ids) {
      const outcome = await runBackendConformanceCase(prepared, id).catch((error: unknown) => error);
      if (outcome instanceof ConformanceFailure) failures.push(id);
    }
    expect(failures.length, `cases ${ids.join(', ')} all passed`).toBeGreaterThan(0);
  });
});
