// The RLPT loop of @rlpt/trainer run twice from the same weights and seed: once in process
// (@rlpt/learner-onnx + @rlpt/backend-onnx), once over HTTP (@rlpt/learner-tinker + @rlpt/backend-tinker
// against @rlpt/tinker-server). Same arithmetic on both sides (threads 1, the same Adam settings), so the
// step metrics and the held-out evaluation must be identical.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOnnxLearner } from '@rlpt/learner-onnx';
import { createTinkerLearner } from '@rlpt/learner-tinker';
import { createTinyModel, loadTokenizer, type TinyModel } from '@rlpt/model';
import type { JudgeItem, JudgeV1, LearnerV1 } from '@rlpt/spec';
import { createTinkerServer, type TinkerServer } from '@rlpt/tinker-server';
import { type RlItem, type TokenizerLike, Trainer } from '@rlpt/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinkerBackend } from './index.js';

let root: string;
let model: TinyModel;
let server: TinkerServer;
let tokenizer: TokenizerLike;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-tinker-trainer-'));
  model = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 3,
    std: 0.2,
    hiddenSize: 32,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 48,
  });
  server = await createTinkerServer({ modelDir: model.dir, baseModel: 'tiny', threads: 1 });
  const { tokenizer: loaded } = await loadTokenizer(model.dir);
  tokenizer = {
    encode: (text) => loaded.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => loaded.decode(Array.from(ids), { skip_special_tokens: true }),
    bosTokenId: loaded.token_to_id('<bos>') ?? undefined,
    eosTokenId: loaded.token_to_id('<eos>') ?? undefined,
  };
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

/** Rewards that depend on the text only (half the rollouts score 1), so groups have variance. */
const judge: JudgeV1 = {
  specificationVersion: 'v1',
  name: 'parity',
  async judge(items: JudgeItem[]) {
    return items.map((item) => ({
      score: [...item.prediction].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 2,
      status: 'ok' as const,
    }));
  },
};

const items = (prefix: string): RlItem[] =>
  ['The cat sat on', 'A small boat', 'Rain fell all', 'She opened the', 'Two birds flew', 'The old man'].map(
    (prompt, index) => ({
      id: `${prefix}-${index}`,
      prompt,
      task: 'asr',
      toJudgeItem: (prediction: string) => ({ id: `${prefix}-${index}`, prediction, reference: prompt }),
    }),
  );

async function run(
  name: string,
  learner: LearnerV1,
  loadPolicy: (dir: string) => Promise<import('@rlpt/spec').InferenceBackendV1>,
) {
  const runDir = join(root, name);
  const trainer = await Trainer.create({
    runDir,
    learner,
    loadPolicy,
    tokenizer,
    seed: 3,
    checkpointEvery: 100,
  });
  await trainer.rl(items('train'), {
    steps: 3,
    promptsPerStep: 3,
    rolloutsPerPrompt: 4,
    maxTokens: 8,
    temperature: 1,
    learningRate: 5e-3,
    judge,
    extract: 'full',
    samplesEvery: 0,
  });
  const evaluation = await trainer.evaluate(items('held-out'), {
    judge,
    n: 4,
    temperature: 1,
    maxTokens: 8,
    extract: 'full',
    name: 'held-out',
  });
  await trainer.close();
  const metrics = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { evaluation, metrics };
}

/** Metrics that are not timings. */
function numbers(row: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(row).filter(
      ([key, value]) => typeof value === 'number' && !/^seconds\.|(Seconds|Ms|PerSecond)$/.test(key),
    ),
  ) as Record<string, number>;
}

describe('the RLPT loop through rlpt serve tinker equals the in-process loop', () => {
  it('same seed, same weights: the same rollouts, rewards and held-out numbers', {
    timeout: 120_000,
  }, async () => {
    // learner-onnx's defaults (β2 0.999, ε 1e-8, weight decay 0.01 on matrices, clip 1), sent by learner-tinker;
    // pipeline: false so optimStep reports gradNorm (a pipelined step returns before the norm exists).
    const local = await createOnnxLearner({ modelDir: model.dir, threads: 1 });
    const inProcess = await run('in-process', local, async (dir) =>
      createOnnxBackend({ modelDir: dir, threads: 1 }),
    );
    const remote = await createTinkerLearner({
      baseURL: server.url,
      baseModel: 'tiny',
      adam: { beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
      gradClipNorm: 1,
      pipeline: false,
    });
    const overHttp = await run('tinker', remote, async () =>
      createTinkerBackend({ baseURL: server.url, baseModel: 'tiny', tokenizerDir: model.dir }),
    );
    expect(overHttp.metrics.length).toBe(inProcess.metrics.length);
    const updated = inProcess.metrics.filter((row) => row.updated === 1).length;
    expect(Object.keys(numbers(inProcess.metrics[0] as Record<string, unknown>))).toEqual(
      expect.arrayContaining(['reward.mean', 'grpo.policyLoss', 'gradNorm']),
    );
    expect(updated).toBeGreaterThan(0); // the steps did update the weights
    // Identical, not merely close: the same seeds give the same rollouts (backend-onnx seeds each
    // completion from (seed, prompt, j), so one asample per prompt equals one batched call), the server
    // runs the same learner-onnx arithmetic (threads 1), and learner-tinker's objective over the
    // returned float32 logprobs rounds to the same metrics.
    overHttp.metrics.forEach((row, index) => {
      expect(numbers(row), `${String(row.stage)} step ${String(row.step)}`).toEqual(
        numbers(inProcess.metrics[index] as Record<string, unknown>),
      );
    });
    expect(overHttp.evaluation).toEqual(inProcess.evaluation);
  });
});
