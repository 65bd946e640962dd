import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOnnxLearner, type OnnxLearner } from '@rlpt/learner-onnx';
import { createTinyModel, loadTextTokenizer } from '@rlpt/model';
import type { LearnerV1, TokenBatch } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documents } from './__fixtures__/tiny-run.js';
import { aggregateLogLikelihood, rlpItem, rlpReward } from './rlp.js';
import { Trainer } from './trainer.js';
import type { TokenizerLike } from './types.js';

let root: string;
let modelDir: string;
let tokenizer: TokenizerLike;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-trainer-rlp-'));
  const words = [...new Set(documents().flat().join(' ').split(' '))].sort();
  modelDir = join(root, 'model');
  await createTinyModel({
    dir: modelDir,
    tokenizer: { words, addedTokens: ['<think>', '</think>'] },
    hiddenSize: 32,
    layers: 1,
    heads: 2,
    kvHeads: 1,
    maxPositionEmbeddings: 128,
    seed: 5,
    std: 0.3,
  });
  tokenizer = await loadTextTokenizer(modelDir);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const items = documents()
  .slice(0, 4)
  .map((sentences, index) =>
    rlpItem({
      id: `doc${index}`,
      context: sentences.slice(0, 2).join(' '),
      reference: sentences.slice(2).join(' '),
    }),
  );

describe('RLP reward helpers', () => {
  it('aggregates by mean (default) or sum and subtracts the teacher', () => {
    expect(aggregateLogLikelihood([-1, -2, -3], 'sum')).toBe(-6);
    expect(aggregateLogLikelihood([-1, -2, -3], 'mean')).toBe(-2);
    expect(rlpReward([-1, -1], [-2, -4])).toBe(2); // mean: −1 − (−3)
    expect(rlpReward([-1, -1], [-2, -4], 'sum')).toBe(4);
    expect(() => rlpItem({ id: 'x', context: '', reference: 'y' })).toThrow(/needs a context/);
  });
});

describe('Trainer.rlp', () => {
  it('rewards each thought by log p_θ(x | context, thought) − log p_φ(x | context), computed independently here', {
    timeout: 120_000,
  }, async () => {
    const learner = await createOnnxLearner({ modelDir, threads: 1, ema: { decay: 0.5 } });
    // Record what reaches forwardBackward: the update must see the thought tokens only.
    const updates: TokenBatch[] = [];
    const spy: LearnerV1 & { teacherLogprobs: OnnxLearner['teacherLogprobs'] } = {
      specificationVersion: 'v1',
      logprobs: (batch) => learner.logprobs(batch),
      teacherLogprobs: (batch) => learner.teacherLogprobs(batch),
      forwardBackward: (batch, coefficients) => {
        updates.push(batch);
        return learner.forwardBackward(batch, coefficients);
      },
      optimStep: (options) => learner.optimStep(options),
      save: (dir) => learner.save(dir),
      load: (dir) => learner.load(dir),
      exportForInference: (dir) => learner.exportForInference(dir),
    };
    const runDir = join(root, 'run');
    const trainer = await Trainer.create({
      runDir,
      learner: spy,
      loadPolicy: async (dir) => createOnnxBackend({ modelDir: dir, threads: 1 }),
      tokenizer,
      seed: 2,
    });
    const summary = await trainer.rlp(items, {
      steps: 3,
      promptsPerStep: 2,
      thoughtsPerPrompt: 4,
      thoughtTokens: 5,
      learningRate: 0.05,
      samplesEvery: 1,
      temperature: 1.5,
    });
    await trainer.close();
    expect(summary.steps).toBe(3);
    const samples = (await readFile(join(runDir, 'samples', 'rlp-step-1.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as {
            promptTokenIds: number[];
            scoredThoughtTokenIds: number[];
            continuationTokenIds: number[];
            reward: number;
            cut: boolean;
          },
      );
    expect(samples).toHaveLength(8);
    // Step 1: θ = φ = the starting weights. Both terms from a fresh learner on the model folder.
    const fresh = await createOnnxLearner({ modelDir, threads: 1 });
    const open = tokenizer.encode('<think>');
    expect(open).toHaveLength(1);
    const withThought = await fresh.logprobs({
      sequences: samples.map((sample) => ({
        promptTokenIds: [...sample.promptTokenIds, ...sample.scoredThoughtTokenIds],
        completionTokenIds: sample.continuationTokenIds,
      })),
    });
    const without = await fresh.logprobs({
      sequences: samples.map((sample) => ({
        promptTokenIds: sample.promptTokenIds.slice(0, -open.length),
        completionTokenIds: sample.continuationTokenIds,
      })),
    });
    await fresh.close();
    samples.forEach((sample, index) => {
      const mean = (values: Float32Array) => values.reduce((sum, value) => sum + value, 0) / values.length;
      expect(sample.reward).toBeCloseTo(mean(withThought[index]!) - mean(without[index]!), 5);
      expect(sample.scoredThoughtTokenIds.at(-1)).toBe(tokenizer.encode('</think>')[0]);
    });
    expect(new Set(samples.map((sample) => sample.reward.toFixed(6))).size).toBeGreaterThan(1);
    // The update saw thoughts only: no continuation tokens, prompts ending with the open marker.
    expect(updates.length).toBeGreaterThan(0);
    for (const batch of updates) {
      for (const sequence of batch.sequences) {
        expect(Array.from(sequence.promptTokenIds).at(-1)).toBe(open[0]);
        expect(sequence.completionTokenIds.length).toBeLessThanOrEqual(5);
      }
    }
    const metrics = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(metrics.map((row) => row.step)).toEqual([1, 2, 3]);
    for (const key of [
      'reward.mean',
      'rlp.policyLogLikelihood',
      'rlp.teacherLogLikelihood',
      'thought.length',
    ])
      expect(metrics[0]).toHaveProperty(key);
    // The teacher followed each update.
    expect(learner.teacherUpdates).toBe(metrics.filter((row) => row.updated === 1).length);
    await learner.close();
  });

  it('needs a learner with an EMA teacher and at least two thoughts per context', async () => {
    const learner = await createOnnxLearner({ modelDir, threads: 1 });
    const trainer = await Trainer.create({
      runDir: join(root, 'no-teacher'),
      learner,
      loadPolicy: async (dir) => createOnnxBackend({ modelDir: dir, threads: 1 }),
      tokenizer,
    });
    const options = {
      steps: 1,
      promptsPerStep: 1,
      thoughtsPerPrompt: 2,
      thoughtTokens: 2,
      learningRate: 0.01,
    };
    await expect(trainer.rlp(items, options)).rejects.toThrow(/ema: \{ decay: 0.999 \}/);
    await expect(trainer.rlp(items, { ...options, thoughtsPerPrompt: 1 })).rejects.toThrow(/at least 2/);
    await trainer.close();
    await learner.close();
  });
});
