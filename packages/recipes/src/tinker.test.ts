// `learner: tinker:URL` + `policy: tinker:URL`: the same rlpt train run (cold-start SFT with cross_entropy,
// RLPT with GRPO, held-out evaluation) once in process and once over HTTP against @rlpt/tinker-server
// (what `rlpt serve tinker` serves); the judge is a part composed in code. The server runs the same learner-onnx arithmetic (one thread) and the
// tinker learner sends learner-onnx's Adam settings, so the metrics and the evaluation must be identical
// (the SFT loss to float32 precision: see below).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDemo } from '@rlpt/data';
import { ConfigError, type JudgeV1 } from '@rlpt/spec';
import { createTinkerServer, type TinkerServer } from '@rlpt/tinker-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from './config.js';
import { runTraining } from './run.js';

let root: string;
let modelDir: string;
let data: string;
let server: TinkerServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-recipes-tinker-'));
  data = join(root, 'data');
  await prepareDemo({ out: data, trainDocuments: 40, heldOutDocuments: 8, seed: 2 });
  // A word-level tiny model over the data's words (what model.init builds), written by a one-step run.
  const seedRun = join(root, 'seed-run');
  await runTraining(
    await resolveTrainConfig(
      {
        runDir: seedRun,
        threads: 1,
        model: { init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, seed: 5 } },
        data: { path: data },
        stages: [{ type: 'pretrain', steps: 1, batchSize: 1 }],
      },
      { source: 'test' },
    ),
  );
  modelDir = join(seedRun, 'init-model');
  server = await createTinkerServer({ modelDir, baseModel: 'tiny', threads: 1 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

const raw = (runDir: string, remote: boolean): Record<string, unknown> => ({
  runDir,
  seed: 4,
  threads: 1,
  model: { dir: modelDir },
  ...(remote
    ? { learner: { backend: `tinker:${server.url}`, baseModel: 'tiny' }, policy: `tinker:${server.url}` }
    : {}),
  judge: { tolerance: 0.5, minWords: 1 },
  data: { path: data },
  stages: [
    { type: 'sft', steps: 12, batchSize: 8, learningRate: 1e-2, schedule: 'constant' },
    {
      type: 'rlpt',
      steps: 2,
      promptsPerStep: 2,
      rolloutsPerPrompt: 4,
      maxTokens: 12,
      learningRate: 5e-3,
      samplesEvery: 0,
    },
  ],
  eval: { items: 3, n: 2, maxTokens: 12, every: 0 },
});

/** A reward that depends on the text only (about half the predictions score 1), so GRPO groups have variance. */
const parity: JudgeV1 = {
  specificationVersion: 'v1',
  name: 'parity',
  async judge(items) {
    return items.map((item) => ({ score: item.prediction.length % 2, status: 'ok' as const }));
  },
};

/** metrics.jsonl rows without timings. */
async function metrics(runDir: string) {
  return (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) =>
      Object.fromEntries(
        Object.entries(JSON.parse(line) as Record<string, unknown>).filter(
          ([key, value]) => typeof value !== 'number' || !/^seconds($|\.)|(Seconds|Ms|PerSecond)$/.test(key),
        ),
      ),
    );
}

describe('rlpt train with learner and policy tinker:URL', () => {
  it('trains over the Tinker API with the same metrics and held-out numbers as in process', {
    timeout: 240_000,
  }, async () => {
    const lines: string[] = [];
    const local = await runTraining(
      await resolveTrainConfig(raw(join(root, 'local'), false), { source: 'test' }),
      {
        parts: { judge: parity },
      },
    );
    const remote = await runTraining(
      await resolveTrainConfig(raw(join(root, 'remote'), true), { source: 'test' }),
      { parts: { judge: parity }, onInfo: (line) => lines.push(line) },
    );
    expect(lines.join('\n')).toContain(`learner: tinker:${server.url} (tiny)`);
    expect(lines.join('\n')).toContain('save_weights_for_sampler');
    const [a, b] = [await metrics(local.runDir), await metrics(remote.runDir)];
    expect(a.map((row) => row.stage)).toEqual([...Array(12).fill('sft'), 'rlpt', 'rlpt', 'eval:final']);
    expect(a.some((row) => row.stage === 'rlpt' && row.updated === 1)).toBe(true); // RL updates too
    // Identical weights all the way (the same grad norms, rollouts, rewards and GRPO metrics), except the
    // SFT loss: in process it is the ONNX graph's float32 mean, over Tinker the learner averages the float32
    // per-token logprobs the server returns in float64 — equal to float32 precision.
    const withoutLoss = (rows: Record<string, unknown>[]) => rows.map(({ loss: _loss, ...rest }) => rest);
    expect(withoutLoss(b)).toEqual(withoutLoss(a));
    b.forEach((row, index) => {
      if (row.loss === undefined) {
        expect(a[index]!.loss).toBeUndefined();
        return;
      }
      const [remoteLoss, localLoss] = [row.loss as number, a[index]!.loss as number];
      expect(Math.abs(remoteLoss - localLoss)).toBeLessThanOrEqual(1e-6 * Math.abs(localLoss));
    });
    expect(remote.evaluations).toEqual(local.evaluations);
  });

  it('refuses a tinker learner without a base model, with an onnx policy or with model.init', async () => {
    const bad = {
      ...raw(join(root, 'bad'), true),
      learner: `tinker:${server.url}`,
      policy: 'onnx',
      model: { init: {} },
    };
    const error = await resolveTrainConfig(bad, { source: 'test' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    expect(text).toContain('learner.baseModel: is required with a tinker learner');
    expect(text).toContain('model.init: cannot be used with a tinker learner');
    expect(text).toContain('policy: must be tinker:<server URL> with a tinker learner');
    const policyOnly = await resolveTrainConfig(
      { ...raw(join(root, 'bad2'), false), policy: `tinker:${server.url}` },
      { source: 'test' },
    ).catch((caught: unknown) => caught);
    expect((policyOnly as ConfigError).issues.map((issue) => issue.message).join('\n')).toContain(
      'set learner to tinker:<server URL> too',
    );
  });
});
