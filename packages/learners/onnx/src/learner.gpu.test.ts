// Runs only where onnxruntime-node has its CUDA provider (never in CI: `*.gpu.test.ts` is excluded by the
// shared vitest config; run with `pnpm vitest run src/learner.gpu.test.ts` on a GPU machine after installing
// onnxruntime-node's GPU binaries).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel, SeededRandom, type TinyModel } from '@rlpt/model';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxLearner } from './index.js';

const hasCuda = ort.listSupportedBackends().some((backend) => backend.name === 'cuda');

describe.skipIf(!hasCuda)('OnnxLearner on the CUDA execution provider', () => {
  let root: string;
  let model: TinyModel;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rlpt-learner-onnx-gpu-'));
    model = await createTinyModel({ dir: join(root, 'tiny'), tokenizer: 'char', seed: 2, std: 0.2 });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('matches the CPU learner on logprobs and after two steps', async () => {
    const random = new SeededRandom(1);
    const id = () => 4 + Math.floor(random.nextFloat() * 90);
    const sequences = Array.from({ length: 6 }, (_, i) => ({
      promptTokenIds: Array.from({ length: 3 + i }, id),
      completionTokenIds: Array.from({ length: 5 + i }, id),
    }));
    const coefficients = sequences.map((s) =>
      Float32Array.from(s.completionTokenIds, () => random.nextNormal() * 0.1),
    );
    const cpu = await createOnnxLearner({ modelDir: model.dir, threads: 2 });
    const gpu = await createOnnxLearner({ modelDir: model.dir, executionProviders: ['cuda', 'cpu'] });
    for (const learner of [cpu, gpu]) {
      for (let step = 0; step < 2; step++) {
        await learner.forwardBackward({ sequences }, coefficients);
        await learner.optimStep({ learningRate: 0.01 });
      }
    }
    const [a, b] = [await cpu.logprobs({ sequences }), await gpu.logprobs({ sequences })];
    for (const [i, row] of a.entries()) {
      for (let j = 0; j < row.length; j++)
        expect(Math.abs((row[j] as number) - (b[i]?.[j] as number))).toBeLessThan(1e-3);
    }
    await cpu.close();
    await gpu.close();
  });
});
