// @rlpt/backend-openai against `createModelServer({ engine })` — what `rlpt serve model` runs — on
// @rlpt/model's tiny models: top logprobs, score through prompt logprobs, and live weight updates.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend, type OnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import { createDecodeEngine, createModelServer, type DecodeEngine, type ModelServer } from '@rlpt/serve';
import { ApiCallError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIBackend, type OpenAIBackend } from './index.js';

let dir: string;
let modelA: string;
let modelB: string;
let localA: OnnxBackend;
let localB: OnnxBackend;
let engine: DecodeEngine;
let server: ModelServer;
let remote: OpenAIBackend;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-openai-engine-'));
  modelA = (await createTinyModel({ dir: join(dir, 'a'), std: 0.5, seed: 3 })).dir;
  modelB = (await createTinyModel({ dir: join(dir, 'b'), std: 0.5, seed: 4 })).dir;
  localA = createOnnxBackend({ modelDir: modelA });
  localB = createOnnxBackend({ modelDir: modelB });
  const { tokenizer } = await loadTokenizer(modelA);
  const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });
  engine = await createDecodeEngine({ modelDir: modelA, decode, batchWindowMs: 2 });
  server = createModelServer({
    backend: localA,
    engine,
    modelName: 'tiny',
    tokenize: (input) =>
      'messages' in input
        ? localA.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
    detokenize: decode,
  });
  const { url } = await server.listen({ port: 0 });
  remote = createOpenAIBackend({ baseURL: `${url}/v1`, model: 'tiny', server: 'vllm', maxRetries: 0 });
});

afterAll(async () => {
  await remote?.close();
  await server?.close();
  await engine?.close();
  await localA?.close();
  await localB?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backend-openai over rlpt serve model', () => {
  it('reads token ids, logprobs and top logprobs (completions and chat)', async () => {
    const prompts = ['The capital of France is', { messages: [{ role: 'user', content: 'Hi' }] }];
    const through = await remote.generate({
      prompts,
      maxTokens: 6,
      temperature: 0,
      logprobs: true,
      topLogprobs: 3,
    });
    const direct = await localA.generate({ prompts, maxTokens: 6, temperature: 0, logprobs: true });
    for (const [index, result] of through.results.entries()) {
      const completion = result.completions[0]!;
      const expected = direct.results[index]!.completions[0]!;
      expect(completion.tokenIds).toEqual(expected.tokenIds);
      expect(completion.topLogprobs).toHaveLength(completion.tokenIds!.length);
      for (const [step, top] of completion.topLogprobs!.entries()) {
        expect(top).toHaveLength(3);
        // Greedy: the sampled token is the most likely one.
        expect(top[0]!.tokenId).toBe(completion.tokenIds![step]);
        expect(top[0]!.logprob).toBeCloseTo(expected.logprobs![step]!, 4);
        expect(top[1]!.logprob).toBeLessThanOrEqual(top[0]!.logprob);
      }
    }
  });

  it('score() through prompt logprobs equals the local teacher-forced score, at temperature 1 and 0.7', async () => {
    const items = [{ prompt: 'Once upon', completion: ' a time there was' }];
    for (const temperature of [1, 0.7]) {
      const through = await remote.score!({ items, temperature });
      const direct = await localA.score({ items, temperature });
      expect(through.results[0]!.tokenIds).toEqual(direct.results[0]!.tokenIds);
      for (const [index, value] of Array.from(direct.results[0]!.logprobs).entries()) {
        expect(through.results[0]!.logprobs[index]).toBeCloseTo(value, 4);
      }
    }
  });

  it('updateWeights() loads a new folder; later requests use it; a bad folder keeps the old weights', async () => {
    const prompt = 'Weights';
    const greedy = { prompts: [prompt], maxTokens: 8, temperature: 0 };
    const onB = await localB.generate(greedy);
    await remote.updateWeights(modelB);
    const after = await remote.generate(greedy);
    expect(after.results[0]!.completions[0]!.tokenIds).toEqual(onB.results[0]!.completions[0]!.tokenIds);
    const failed = await remote.updateWeights(join(dir, 'nope')).catch((error: unknown) => error);
    expect(ApiCallError.isInstance(failed)).toBe(true);
    const still = await remote.generate(greedy);
    expect(still.results[0]!.completions[0]!.tokenIds).toEqual(onB.results[0]!.completions[0]!.tokenIds);
    await remote.updateWeights(modelA);
  });
});
