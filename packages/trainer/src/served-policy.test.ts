// A served policy that loads weights (`rlpt serve model`'s engine behind @rlpt/backend-openai) gets the
// learner's weights pushed after every update: what it samples is what the in-process backend samples
// from the same weights, so an `openai:` policy is on-policy.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { loadTokenizer } from '@rlpt/model';
import { createDecodeEngine, createModelServer } from '@rlpt/serve';
import type { InferenceBackendV1, JudgeV1 } from '@rlpt/spec';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTinyModel, rlItems, tinyLearner } from './__fixtures__/tiny-run.js';

/** Rewards predictions by their length parity: random weights get mixed rewards, so every step updates. */
const parityJudge: JudgeV1 = {
  specificationVersion: 'v1',
  name: 'parity',
  judge: async (items) => items.map((item) => ({ score: item.prediction.length % 2, status: 'ok' as const })),
};
import { Trainer } from './trainer.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-served-policy-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

it('pushes the learner weights to a served policy before each rollout and evaluation', {
  timeout: 120_000,
}, async () => {
  const { dir: modelDir, tokenizer } = await buildTinyModel(join(root, 'model'));
  const { tokenizer: hf } = await loadTokenizer(modelDir);
  const decode = (ids: number[]) => hf.decode(ids, { skip_special_tokens: true });
  const chat = createOnnxBackend({ modelDir, threads: 1 });
  const engine = await createDecodeEngine({ modelDir, decode, batchWindowMs: 1, session: { threads: 1 } });
  const server = createModelServer({
    backend: chat,
    engine,
    modelName: 'tiny',
    tokenize: (input) =>
      'messages' in input
        ? chat.tokenize({ messages: input.messages })
        : hf.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (id) => hf.decode([id], { skip_special_tokens: false }),
  });
  const { url } = await server.listen({ port: 0 });
  const remote = createOpenAIBackend({ baseURL: `${url}/v1`, model: 'tiny', server: 'vllm', maxRetries: 0 });
  const pushed: string[] = [];
  const served: InferenceBackendV1 = {
    specificationVersion: 'v1',
    provider: 'served',
    modelId: 'tiny',
    capabilities: remote.capabilities,
    generate: (request, options) => remote.generate(request, options),
    updateWeights: async (dir, options) => {
      pushed.push(dir);
      await remote.updateWeights(dir, options);
    },
  };
  const learner = await tinyLearner(modelDir);
  try {
    const trainer = await Trainer.create({
      runDir: join(root, 'run'),
      learner,
      loadPolicy: async () => served,
      tokenizer,
      seed: 5,
    });
    await trainer.rl(rlItems(), {
      steps: 2,
      promptsPerStep: 2,
      rolloutsPerPrompt: 4,
      maxTokens: 6,
      temperature: 1,
      learningRate: 3e-2,
      judge: parityJudge,
      extract: 'full',
    });
    // The starting weights, then the weights after step 1 (step 2's update is not rolled out from).
    expect(pushed.length).toBeGreaterThanOrEqual(2);
    expect(engine.stats().weightsVersion).toBe(pushed.length);
    // The server now serves the learner's latest weights: greedy samples equal the onnx backend's on them.
    const latest = await learner.exportForInference(join(root, 'latest'));
    await remote.updateWeights(latest);
    const local = createOnnxBackend({ modelDir: latest, threads: 1 });
    const prompt = { tokenIds: [tokenizer.bosTokenId ?? 0, ...tokenizer.encode('the cat')] };
    const request = { prompts: [prompt], maxTokens: 6, temperature: 0, logprobs: true };
    const [viaServer, direct] = await Promise.all([remote.generate(request), local.generate(request)]);
    expect(viaServer.results[0]!.completions[0]!.tokenIds).toEqual(
      direct.results[0]!.completions[0]!.tokenIds,
    );
    await local.close();
    await trainer.close();
  } finally {
    await learner.close();
    await server.close();
    await engine.close();
    await chat.close();
    await remote.close();
  }
});
