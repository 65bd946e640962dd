import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinkerLearner } from '@rlpt/learner-tinker';
import { createTinyModel, type TinyModel } from '@rlpt/model';
import { InvalidArgumentError, ModelLoadError } from '@rlpt/spec';
import { createTinkerServer, type TinkerServer } from '@rlpt/tinker-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinkerBackend } from './index.js';

let root: string;
let model: TinyModel;
let server: TinkerServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-backend-tinker-'));
  model = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 2,
    std: 0.2,
    hiddenSize: 32,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 48,
  });
  server = await createTinkerServer({ modelDir: model.dir, baseModel: 'tiny' });
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('@rlpt/backend-tinker', () => {
  it("follows the sampler weights the learner last exported; sampled logprobs equal the learner's teacher-forced ones", async () => {
    const learner = await createTinkerLearner({ baseURL: server.url, baseModel: 'tiny' });
    const backend = createTinkerBackend({ baseURL: server.url, baseModel: 'tiny', tokenizerDir: model.dir });
    const prompt = { tokenIds: [1, 40, 41, 42] };
    const before = await backend.generate({
      prompts: [prompt],
      maxTokens: 6,
      temperature: 0,
      logprobs: true,
    });
    const completion = before.results[0]?.completions[0]?.tokenIds ?? [];
    // Train hard towards the greedy completion's first token being something else, so the policy moves.
    const batch = { sequences: [{ promptTokenIds: prompt.tokenIds, completionTokenIds: completion }] };
    for (let step = 0; step < 3; step++) {
      await learner.forwardBackward(batch, [Float32Array.from(completion, () => -1)]);
      await learner.optimStep({ learningRate: 0.05 });
    }
    const dir = await learner.exportForInference(join(root, 'policy'));
    await backend.updateWeights(dir);
    expect(backend.modelPath).toBe(learner.samplerPath);
    const after = await backend.generate({
      prompts: [prompt],
      n: 2,
      maxTokens: 6,
      temperature: 1,
      seed: 4,
      logprobs: true,
    });
    for (const sampled of after.results[0]?.completions ?? []) {
      const tokens = sampled.tokenIds ?? [];
      const [teacher] = await learner.logprobs({
        sequences: [{ promptTokenIds: prompt.tokenIds, completionTokenIds: tokens }],
      });
      expect(teacher).toHaveLength(tokens.length);
      teacher?.forEach((value, t) => {
        expect(Math.abs(value - (sampled.logprobs?.[t] as number))).toBeLessThan(1e-4);
      });
    }
    // The policy moved: the old greedy completion is now less likely under the sampler.
    const [oldUnderNew] = await learner.logprobs(batch);
    const oldSum = Array.from(before.results[0]?.completions[0]?.logprobs ?? []).reduce((a, b) => a + b, 0);
    expect(Array.from(oldUnderNew ?? []).reduce((a, b) => a + b, 0)).toBeLessThan(oldSum);
    // A tinker:// path works too.
    await backend.updateWeights(learner.samplerPath as string);
    await learner.close();
    await backend.close();
  });

  it('many prompts under one caller signal: no MaxListeners warning, and an abort stops them', async () => {
    const backend = createTinkerBackend({ baseURL: server.url, baseModel: 'tiny', tokenizerDir: model.dir });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const prompts = Array.from({ length: 16 }, (_, index) => `prompt ${index}`);
      const result = await backend.generate(
        { prompts, maxTokens: 2, temperature: 1, seed: 1 },
        { signal: controller.signal },
      );
      expect(result.results).toHaveLength(16);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
      controller.abort(new Error('stop'));
      await expect(
        backend.generate({ prompts, maxTokens: 2 }, { signal: controller.signal }),
      ).rejects.toThrow();
    } finally {
      process.off('warning', onWarning);
      await backend.close();
    }
  });

  it('clear errors: text without a tokenizer, a folder without a sampler pointer, a missing baseModel', async () => {
    const backend = createTinkerBackend({ baseURL: server.url, baseModel: 'tiny' });
    await expect(backend.generate({ prompts: ['hello'], maxTokens: 2 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(backend.generate({ prompts: ['hello'], maxTokens: 2 })).rejects.toThrow(
      /prompts\[0\] is text.*tokenizerDir/,
    );
    const ids = await backend.generate({ prompts: [{ tokenIds: [1, 40] }], maxTokens: 2, temperature: 0 });
    expect(ids.results[0]?.completions[0]?.tokenIds?.length).toBeGreaterThan(0);
    await expect(backend.updateWeights(root)).rejects.toThrow(ModelLoadError);
    expect(() => createTinkerBackend({ baseURL: server.url, baseModel: '' })).toThrow(
      /baseModel is required/,
    );
    const wrong = createTinkerBackend({ baseURL: server.url, baseModel: 'other', maxRetries: 0 });
    await expect(wrong.generate({ prompts: [{ tokenIds: [1] }], maxTokens: 1 })).rejects.toThrow(
      /base_model "other"|not "other"/,
    );
    await backend.close();
  });
});

describe('tinkerBackendProvider (registry spec tinker:URL)', () => {
  it('creates a working backend from tinker:URL with baseModel and tokenizerDir, and names a missing baseModel', async () => {
    const { tinkerBackendProvider } = await import('./index.js');
    const backend = await tinkerBackendProvider.create(server.url, {
      baseModel: 'tiny',
      tokenizerDir: model.dir,
    });
    const result = await backend.generate({ prompts: ['ab'], maxTokens: 3, temperature: 0 });
    expect(result.results[0]?.completions).toHaveLength(1);
    await backend.close?.();
    await expect(tinkerBackendProvider.create(server.url, {})).rejects.toThrow(/needs the base model name/);
  });
});
