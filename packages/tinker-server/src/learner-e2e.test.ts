import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpoObjective, groupAdvantages, presets } from '@rlpt/grpo';
import { createOnnxLearner, type OnnxLearner } from '@rlpt/learner-onnx';
import {
  CHECKPOINT_FILE,
  createTinkerLearner,
  grpoToTinkerPpo,
  type TinkerCheckpoint,
  type TinkerLearner,
} from '@rlpt/learner-tinker';
import { createTinyModel, readCheckpointWeights, SeededRandom, type TinyModel } from '@rlpt/model';
import type { TokenBatch } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinkerServer, type TinkerServer } from './index.js';

let root: string;
let model: TinyModel;
const servers: TinkerServer[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-tinker-e2e-'));
  model = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    hiddenSize: 32,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 48,
    seed: 3,
    std: 0.2,
  });
});

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  for (const server of servers) await server.close();
  await rm(root, { recursive: true, force: true });
});

async function serve(protobuf: boolean): Promise<TinkerServer> {
  const server = await createTinkerServer({
    modelDir: model.dir,
    baseModel: 'tiny',
    protobuf,
    dataDir: join(root, `data-${servers.length}`),
  });
  servers.push(server);
  return server;
}

function makeBatch(seed: number): { batch: TokenBatch; coefficients: Float32Array[] } {
  const random = new SeededRandom(seed);
  const id = () => 4 + Math.floor(random.nextFloat() * (model.config.vocabSize - 4));
  const sequences = Array.from({ length: 4 }, (_, index) => ({
    promptTokenIds: Array.from({ length: 2 + ((index * 3) % 5) }, id),
    completionTokenIds: Array.from({ length: 3 + ((index * 5) % 7) }, id),
  }));
  const coefficients = sequences.map((sequence) =>
    Float32Array.from(sequence.completionTokenIds, () => random.nextNormal() * 0.1),
  );
  return { batch: { sequences }, coefficients };
}

async function onnxLearner(adam: { weightDecay: number }, maxGradNorm: number): Promise<OnnxLearner> {
  const learner = await createOnnxLearner({
    modelDir: model.dir,
    threads: 1,
    adam: { beta1: 0.9, beta2: 0.95, eps: 1e-12, weightDecay: adam.weightDecay },
    maxGradNorm,
  });
  closers.push(() => learner.close());
  return learner;
}

async function tinkerLearner(
  server: TinkerServer,
  options: Partial<Parameters<typeof createTinkerLearner>[0]> = {},
): Promise<TinkerLearner> {
  const learner = await createTinkerLearner({
    baseURL: server.url,
    baseModel: 'tiny',
    loraRank: 4,
    ...options,
  });
  closers.push(() => learner.close());
  return learner;
}

/** The server-side weights behind a TinkerLearner checkpoint. */
async function savedWeights(server: TinkerServer, dir: string): Promise<Map<string, Float32Array>> {
  const pointer = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as TinkerCheckpoint;
  const [, modelId, , name] = /^tinker:\/\/([^/]+)\/(weights)\/(.+)$/.exec(pointer.path) ?? [];
  const weights = await readCheckpointWeights(
    join(server.dataDir, modelId as string, 'weights', name as string),
  );
  return new Map([...weights].map(([key, value]) => [key, value.data as Float32Array]));
}

describe('@rlpt/learner-tinker over rlpt serve tinker equals @rlpt/learner-onnx in process', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`${encoding}: three steps give bit-identical objectives, logprobs and weights (threads 1, same arithmetic)`, async () => {
      const server = await serve(encoding === 'protobuf');
      const remote = await tinkerLearner(server);
      expect(remote.client.protobuf).toBe(encoding === 'protobuf');
      const local = await onnxLearner({ weightDecay: 0 }, Number.POSITIVE_INFINITY);
      for (let step = 0; step < 3; step++) {
        const { batch, coefficients } = makeBatch(step + 1);
        const [remoteOld, localOld] = [await remote.logprobs(batch), await local.logprobs(batch)];
        expect(remoteOld).toEqual(localOld);
        const remoteResult = await remote.forwardBackward(batch, coefficients);
        const localResult = await local.forwardBackward(batch, coefficients);
        // learner-onnx sums Σ c·logπ in float32 inside its graph; learner-tinker in float64 over the
        // returned float32 logprobs: they agree to float32 rounding of the sum.
        expect(Math.abs(remoteResult.objective - localResult.objective)).toBeLessThan(
          1e-5 * Math.max(1, Math.abs(localResult.objective)),
        );
        await remote.optimStep({ learningRate: 0.05 }); // pipelined: returns before the step runs
        await local.optimStep({ learningRate: 0.05 });
      }
      const dir = join(root, `ckpt-${encoding}`);
      await remote.save(dir);
      const remoteWeights = await savedWeights(server, dir);
      const localWeights = await local.weights();
      expect(remoteWeights.size).toBe(localWeights.size);
      for (const [name, value] of localWeights) expect(remoteWeights.get(name)).toEqual(value.data);
      expect(server.counts.get('/api/v1/forward_backward')).toBeGreaterThanOrEqual(
        encoding === 'protobuf' ? 6 : 3,
      );
    });
  }

  it('new Adam settings (clipping, weight decay) are honoured: the server replays the pending gradients', async () => {
    const server = await serve(false);
    const remote = await tinkerLearner(server, {
      gradClipNorm: 0.05,
      adam: { weightDecay: 0.1 },
      pipeline: false,
    });
    const local = await onnxLearner({ weightDecay: 0.1 }, 0.05);
    for (let step = 0; step < 2; step++) {
      const { batch, coefficients } = makeBatch(10 + step);
      await remote.forwardBackward(batch, coefficients);
      await local.forwardBackward(batch, coefficients);
      const [remoteStep, localStep] = [
        await remote.optimStep({ learningRate: 0.05 }),
        await local.optimStep({ learningRate: 0.05 }),
      ];
      expect(remoteStep.gradNorm).toBe(localStep.gradNorm);
    }
    const { batch } = makeBatch(20);
    expect(await remote.logprobs(batch)).toEqual(await local.logprobs(batch));
  });

  it("GRPO through Tinker's ppo loss matches grpoObjective coefficients on learner-onnx (float tolerance)", async () => {
    const server = await serve(false);
    const remote = await tinkerLearner(server);
    const local = await onnxLearner({ weightDecay: 0 }, Number.POSITIVE_INFINITY);
    const objective = presets.paper.objective;
    for (let step = 0; step < 3; step++) {
      const { batch } = makeBatch(30 + step);
      const oldLogprobs = await local.logprobs(batch);
      expect(await remote.logprobs(batch)).toEqual(oldLogprobs);
      const advantages = groupAdvantages([1, 0, 0, 1], 4, presets.paper.advantage);
      // Two updates per batch (PPO epochs): the second one is off-policy, so ratios ≠ 1 and clipping matters.
      for (let epoch = 0; epoch < 2; epoch++) {
        const logprobs = await local.logprobs(batch);
        const grpo = grpoObjective({ logprobs, oldLogprobs, advantages }, objective);
        const mapped = grpoToTinkerPpo({ logprobs, oldLogprobs, advantages }, objective);
        const { loss } = await remote.forwardBackwardPpo(batch, mapped);
        await local.forwardBackward(batch, grpo.coefficients);
        expect(Math.abs(loss - grpo.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(grpo.loss)));
        await remote.optimStep({ learningRate: 0.02 });
        await local.optimStep({ learningRate: 0.02 });
      }
    }
    const { batch } = makeBatch(40);
    const [remoteAfter, localAfter] = [await remote.logprobs(batch), await local.logprobs(batch)];
    // Coefficients differ by float32 rounding of w·A (wire) vs w·A·ρ (grpo); after 6 Adam steps the
    // logprobs agree to 1e-4.
    remoteAfter.forEach((values, index) => {
      values.forEach((value, t) => {
        expect(Math.abs(value - ((localAfter[index] as Float32Array)[t] as number))).toBeLessThan(1e-4);
      });
    });
  });

  it('save → load resumes bit-exactly; exportForInference writes a sampler pointer', async () => {
    const server = await serve(false);
    const remote = await tinkerLearner(server);
    const { batch, coefficients } = makeBatch(50);
    await remote.forwardBackward(batch, coefficients);
    await remote.optimStep({ learningRate: 0.05 });
    const dir = join(root, 'resume');
    await remote.save(dir);
    const resumed = await tinkerLearner(server);
    await resumed.load(dir);
    for (const learner of [remote, resumed]) {
      await learner.forwardBackward(batch, coefficients);
      await learner.optimStep({ learningRate: 0.05 });
    }
    expect(await resumed.logprobs(batch)).toEqual(await remote.logprobs(batch));
    const exported = await remote.exportForInference(join(root, 'policy'));
    const pointer = JSON.parse(await readFile(join(exported, 'tinker-sampler.json'), 'utf8')) as {
      modelPath: string;
    };
    expect(pointer.modelPath).toBe(remote.samplerPath);
    expect(pointer.modelPath).toMatch(/^tinker:\/\/model-[^/]+\/sampler_weights\//);
  });

  it('errors: a bad coefficient array is refused locally; an API key is required and never echoed', async () => {
    const server = await createTinkerServer({
      modelDir: model.dir,
      baseModel: 'tiny',
      apiKey: 'secret-key-123',
    });
    servers.push(server);
    await expect(
      createTinkerLearner({ baseURL: server.url, baseModel: 'tiny', apiKey: 'wrong-key-456', maxRetries: 0 }),
    ).rejects.toThrow(/HTTP 401.*Check the API key/);
    await expect(
      createTinkerLearner({ baseURL: server.url, baseModel: 'tiny', apiKey: 'wrong-key-456', maxRetries: 0 }),
    ).rejects.not.toThrow(/wrong-key-456/);
    process.env.RLPT_TEST_TINKER_KEY = 'secret-key-123';
    const learner = await tinkerLearner(server, { apiKeyEnv: 'RLPT_TEST_TINKER_KEY' });
    const { batch } = makeBatch(60);
    await expect(learner.forwardBackward(batch, [Float32Array.of(1)])).rejects.toThrow(
      /has 1 arrays for 4 sequences/,
    );
    await expect(
      createTinkerLearner({
        baseURL: server.url,
        baseModel: 'other',
        apiKeyEnv: 'RLPT_TEST_TINKER_KEY',
        maxRetries: 0,
      }),
    ).rejects.toThrow(/base_model "other" is not served here/);
  });
});
