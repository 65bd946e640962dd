// @rlpt/backend-openai against a real OpenAI-compatible server: @rlpt/serve over @rlpt/backend-onnx with
// @rlpt/model's tiny model. What comes through HTTP must equal what the backend gives directly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import { createModelServer, type ModelServer } from '@rlpt/serve';
import { ApiCallError, type GenerateRequest, type InferenceBackendV1 } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIBackend, type OpenAIBackend } from './index.js';

const MODEL = 'tiny';
let dir: string;
let local: InferenceBackendV1;
let server: ModelServer;
let remote: OpenAIBackend;
let baseURL: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-openai-served-'));
  const model = await createTinyModel({ dir: join(dir, 'tiny') });
  const onnx = createOnnxBackend({ modelDir: model.dir });
  local = onnx;
  const { tokenizer } = await loadTokenizer(model.dir);
  server = createModelServer({
    backend: local,
    modelName: MODEL,
    apiKey: 'served-key',
    // As `rlpt serve model` wires it: /tokenize for text and chat, token spelling for logprobs.
    tokenize: (input) =>
      'messages' in input
        ? onnx.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
  });
  const { url } = await server.listen({ port: 0 });
  baseURL = `${url}/v1`;
  remote = createOpenAIBackend({ baseURL, model: MODEL, server: 'vllm', apiKey: 'served-key' });
});

afterAll(async () => {
  await remote?.close();
  await server?.close();
  await local?.close?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function largestGap(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let gap = 0;
  for (let index = 0; index < expected.length; index++)
    gap = Math.max(gap, Math.abs(actual[index]! - expected[index]!));
  return gap;
}

function expectSameResults(
  through: Awaited<ReturnType<InferenceBackendV1['generate']>>,
  direct: Awaited<ReturnType<InferenceBackendV1['generate']>>,
) {
  expect(through.results).toHaveLength(direct.results.length);
  through.results.forEach((result, promptIndex) => {
    const want = direct.results[promptIndex]!;
    expect(result.promptTokenIds).toEqual(want.promptTokenIds);
    expect(result.completions.map((completion) => completion.text)).toEqual(
      want.completions.map((completion) => completion.text),
    );
    expect(result.completions.map((completion) => completion.tokenIds)).toEqual(
      want.completions.map((completion) => completion.tokenIds),
    );
    // Logprobs agree to float32 rounding: the server may batch the prompts differently (padding changes
    // the last bit of a matmul), so compare with a tolerance rather than bit for bit.
    result.completions.forEach((completion, sample) => {
      const expected = want.completions[sample]!.logprobs!;
      expect(completion.logprobs).toHaveLength(expected.length);
      expect(largestGap(completion.logprobs!, expected)).toBeLessThan(1e-5);
    });
    expect(result.completions.map((completion) => completion.finishReason)).toEqual(
      want.completions.map((completion) => completion.finishReason),
    );
  });
  expect(through.usage).toEqual(direct.usage);
}

describe('createOpenAIBackend against rlpt serve (tiny ONNX model)', () => {
  it('greedy text, token ids, logprobs, prompt ids and usage equal the local backend, for every prompt kind', async () => {
    const request: GenerateRequest = {
      prompts: [
        'The capital of France is',
        { messages: [{ role: 'user', content: 'Hi there' }] },
        { tokenIds: [5, 6, 7, 8] },
      ],
      n: 2,
      maxTokens: 10,
      temperature: 0,
      logprobs: true,
    };
    const [through, direct] = [await remote.generate(request), await local.generate(request)];
    expectSameResults(through, direct);
    expect(through.warnings).toEqual([]);
  });

  it('a seeded sample is the same through HTTP as locally', async () => {
    const request: GenerateRequest = {
      prompts: ['Once upon a time'],
      n: 3,
      maxTokens: 12,
      temperature: 1,
      topP: 0.9,
      seed: 1234,
      logprobs: true,
    };
    expectSameResults(await remote.generate(request), await local.generate(request));
  });

  it('stop strings and stop token ids reach the model', async () => {
    const sampled = { prompts: ['abc'], maxTokens: 24, temperature: 1, seed: 7 };
    const free = (await local.generate(sampled)).results[0]!.completions[0]!;
    expect(free.text.length).toBeGreaterThanOrEqual(8);
    const stop = free.text.slice(5, 7);
    const stopped = (await remote.generate({ ...sampled, stop: [stop] })).results[0]!.completions[0]!;
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(stopped.finishReason).toBe('stop');
    const stopId = free.tokenIds![3]!;
    const byId = (await remote.generate({ ...sampled, stopTokenIds: [stopId] })).results[0]!.completions[0]!;
    expect(byId.finishReason).toBe('stop');
    expect(byId.tokenIds!.slice(0, free.tokenIds!.indexOf(stopId))).toEqual(
      free.tokenIds!.slice(0, free.tokenIds!.indexOf(stopId)),
    );
    expect(byId.tokenIds!.length).toBeLessThanOrEqual(free.tokenIds!.indexOf(stopId) + 1);
  });

  it('score through prompt_logprobs and /tokenize equals the local teacher-forced score', async () => {
    expect(remote.capabilities.score).toBe(true);
    const items = [
      { prompt: 'The capital of France is', completion: ' Paris. It is big.' },
      { prompt: { messages: [{ role: 'user', content: 'Name a city.' }] }, completion: 'Paris' },
      { prompt: { tokenIds: [10, 11, 12] }, completion: { tokenIds: [13, 14, 15, 16] } },
    ];
    const [through, direct] = [await remote.score!({ items }), await local.score!({ items })];
    expect(through.results.map((result) => result.tokenIds)).toEqual(
      direct.results.map((result) => result.tokenIds),
    );
    through.results.forEach((result, index) => {
      const want = direct.results[index]!.logprobs;
      expect(result.logprobs).toHaveLength(want.length);
      expect(largestGap(result.logprobs, want)).toBeLessThan(1e-4);
    });
  });

  it('a wrong key is a 401 ApiCallError that is not retried and does not show the key', async () => {
    const wrong = createOpenAIBackend({
      baseURL,
      model: MODEL,
      server: 'vllm',
      apiKey: 'not-the-key',
      maxRetries: 3,
    });
    const error = await wrong.generate({ prompts: ['x'], maxTokens: 2 }).catch((caught: unknown) => caught);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect((error as ApiCallError).statusCode).toBe(401);
    expect((error as ApiCallError).isRetryable).toBe(false);
    expect((error as Error).message).not.toContain('not-the-key');
  });

  it('an option the server rejects comes back as a 400 naming it', async () => {
    const error = await remote
      .generate({ prompts: ['x'], maxTokens: 2, providerOptions: { openai: { echo: true } } })
      .catch((caught: unknown) => caught);
    expect((error as ApiCallError).statusCode).toBe(400);
    expect((error as Error).message).toContain('echo is not supported');
  });
});
