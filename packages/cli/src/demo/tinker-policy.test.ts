import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOnnxLearner } from '@rlpt/learner-onnx';
import { createTinyModel } from '@rlpt/model';
import type { InferenceBackendV1, LearnerV1, TokenBatch } from '@rlpt/spec';
import { beforeAll, expect, it } from 'vitest';
import { cliRoot, useTempDirs } from '../testing.js';
import { startTinkerDemo } from './tinker-policy.js';

const makeTempDir = useTempDirs();
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-demo-tinker-');
  modelDir = (await createTinyModel({ dir: join(dir, 'model'), seed: 4, std: 0.2 })).dir;
});

const adam = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 };
const batch: TokenBatch = {
  sequences: [
    { promptTokenIds: [5, 6, 7, 8], completionTokenIds: [9, 10, 11] },
    { promptTokenIds: [12, 13], completionTokenIds: [14, 15, 16, 17] },
  ],
};
const coefficients = [Float32Array.from([1, 1, 1]), Float32Array.from([-0.5, -0.5, -0.5, -0.5])];
const request = { prompts: ['The cat sat on', 'Numbers: 1 2 3'], n: 1, maxTokens: 10, temperature: 0 };

/** Two updates, then the greedy completions of the exported policy. */
async function trainAndSample(learner: LearnerV1, policyOf: (dir: string) => Promise<InferenceBackendV1>) {
  const norms: (number | undefined)[] = [];
  for (let step = 0; step < 2; step++) {
    await learner.forwardBackward(batch, coefficients);
    norms.push((await learner.optimStep({ learningRate: 0.05 })).gradNorm);
  }
  const policy = await policyOf(await learner.exportForInference(join(dir, `policy-${Math.random()}`)));
  const ids = (await policy.generate(request)).results.map((result) => result.completions[0]!.tokenIds);
  return { norms, ids };
}

it('trains and samples behind a real `rlpt serve tinker` exactly as in process', async () => {
  const local = await createOnnxLearner({ modelDir, threads: 1, adam, maxGradNorm: 1 });
  const inProcess = await trainAndSample(local, async (exported) =>
    createOnnxBackend({ modelDir: exported, threads: 1 }),
  );
  await local.close();
  const untrained = createOnnxBackend({ modelDir, threads: 1 });
  const before = (await untrained.generate(request)).results.map((result) => result.completions[0]!.tokenIds);
  await untrained.close?.();
  // The updates must change the greedy completions, or following the saved weights would prove nothing.
  expect(inProcess.ids).not.toEqual(before);

  const demo = await startTinkerDemo(modelDir, {
    threads: 1,
    adam,
    maxGradNorm: 1,
    dataDir: join(dir, 'server-data'),
    rlpt: { args: ['--import', 'tsx', '--conditions=@rlpt/source', 'src/bin.ts'], cwd: cliRoot },
  });
  try {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const learner = await demo.makeLearner();
    const overHttp = await trainAndSample(learner, async (exported) => {
      const policy = await demo.loadPolicy(exported);
      await policy.updateWeights?.(exported);
      return policy;
    });
    expect(demo.samplerUpdates()).toBe(1);
    expect(overHttp.norms).toEqual(inProcess.norms);
    expect(overHttp.ids).toEqual(inProcess.ids);
    // The demo closes its learner, then the demo closes every learner again: closing twice is harmless.
    await Promise.all([learner.close?.(), learner.close?.()]);
  } finally {
    await demo.close();
  }
}, 120_000);
