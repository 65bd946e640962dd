import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel } from '@rlpt/model';
import type { InferenceBackendV1 } from '@rlpt/spec';
import { beforeAll, expect, it } from 'vitest';
import { cliRoot, useTempDirs } from '../testing.js';
import { startServedPolicy } from './served-policy.js';

const makeTempDir = useTempDirs();
let first: string;
let second: string;

beforeAll(async () => {
  const dir = await makeTempDir('rlpt-demo-served-');
  first = (await createTinyModel({ dir: join(dir, 'first'), seed: 1 })).dir;
  second = (await createTinyModel({ dir: join(dir, 'second'), seed: 2 })).dir;
});

const request = {
  prompts: ['The cat sat on', 'Numbers: 1 2 3'],
  n: 1,
  maxTokens: 12,
  temperature: 0,
  logprobs: true,
};
// Greedy token ids and their logprobs (rounded: float32 over HTTP), which differ between random models
// even where their greedy tokens agree.
const greedyIds = async (backend: InferenceBackendV1) =>
  (await backend.generate(request)).results.map((result) =>
    result.completions.map((completion) => ({
      tokenIds: completion.tokenIds,
      logprobs: completion.logprobs?.map((value) => Math.round(value * 1e4) / 1e4),
    })),
  );
const local = async (modelDir: string) => {
  const backend = createOnnxBackend({ modelDir, threads: 1 });
  try {
    return await greedyIds(backend);
  } finally {
    await backend.close?.();
  }
};

it('serves the policy from a real `rlpt serve model` and follows the pushed weights', async () => {
  const [onFirst, onSecond] = [await local(first), await local(second)];
  // The two models must disagree, or following the push would prove nothing.
  expect(onSecond).not.toEqual(onFirst);
  const served = await startServedPolicy(first, {
    threads: 1,
    rlpt: { args: ['--import', 'tsx', '--conditions=@rlpt/source', 'src/bin.ts'], cwd: cliRoot },
  });
  try {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await greedyIds(served.backend)).toEqual(onFirst);
    await served.backend.updateWeights?.(second);
    expect(served.pushes()).toBe(1);
    expect(await greedyIds(served.backend)).toEqual(onSecond);
    const logprobs = (await served.backend.generate(request)).results[0]!.completions[0]!.logprobs;
    expect(logprobs?.length).toBeGreaterThan(0);
  } finally {
    await served.close();
  }
}, 120_000);

it('names the model folder when the server cannot start', async () => {
  await expect(
    startServedPolicy('/nonexistent/model', {
      threads: 1,
      rlpt: { args: ['--import', 'tsx', '--conditions=@rlpt/source', 'src/bin.ts'], cwd: cliRoot },
    }),
  ).rejects.toThrow(/\/nonexistent\/model/);
}, 60_000);
