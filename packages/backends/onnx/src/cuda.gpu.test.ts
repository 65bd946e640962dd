// Runs only on a machine with a GPU and onnxruntime-node's CUDA provider (never in CI):
//   RLPT_GPU_TESTS=1 pnpm --filter @rlpt/backend-onnx exec vitest run src/cuda.gpu.test.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@rlpt/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from './backend.js';
import { cudaProviderInstalled } from './session.js';

const cuda = await cudaProviderInstalled();
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-onnx-cuda-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.skipIf(!cuda.installed)(`CUDA execution provider (${cuda.where})`, () => {
  it('decodes on CUDA with the same greedy tokens and close logprobs as on CPU', async () => {
    const tiny = await createTinyModel({ dir: join(root, 'tiny'), std: 0.3, seed: 5, safetensors: false });
    const gpu = createOnnxBackend({ modelDir: tiny.dir, executionProviders: ['cuda', 'cpu'] });
    const cpu = createOnnxBackend({ modelDir: tiny.dir });
    const request = { prompts: ['hello there', 'a'], n: 2, maxTokens: 24, temperature: 0, logprobs: true };
    const [onGpu, onCpu] = [await gpu.generate(request), await cpu.generate(request)];
    expect(gpu.executionProvider).toBe('cuda');
    expect(onGpu.warnings).toEqual([]);
    for (const [p, entry] of onGpu.results.entries()) {
      for (const [j, completion] of entry.completions.entries()) {
        const other = onCpu.results[p]?.completions[j];
        expect(completion.tokenIds).toEqual(other?.tokenIds);
        for (const [t, value] of (completion.logprobs ?? []).entries()) {
          expect(Math.abs(value - (other?.logprobs?.[t] as number))).toBeLessThan(1e-3);
        }
      }
    }
    await gpu.close();
    await cpu.close();
  });

  it('samples reproducibly on CUDA and scores teacher-forced', async () => {
    const tiny = await createTinyModel({
      dir: join(root, 'qwen3'),
      tokenizer: 'qwen3',
      hiddenSize: 64,
      layers: 2,
      safetensors: false,
    });
    const gpu = createOnnxBackend({ modelDir: tiny.dir, executionProviders: ['cuda'] });
    const request = { prompts: ['The cat'], n: 4, maxTokens: 16, seed: 3, logprobs: true };
    const a = await gpu.generate(request);
    const b = await gpu.generate(request);
    expect(a.results[0]?.completions.map((c) => c.tokenIds)).toEqual(
      b.results[0]?.completions.map((c) => c.tokenIds),
    );
    const completion = a.results[0]?.completions[0];
    const scored = await gpu.score({
      items: [
        {
          prompt: { tokenIds: a.results[0]?.promptTokenIds ?? [] },
          completion: { tokenIds: completion?.tokenIds ?? [] },
        },
      ],
    });
    for (const [t, value] of (scored.results[0]?.logprobs ?? []).entries()) {
      expect(Math.abs(value - (completion?.logprobs?.[t] as number))).toBeLessThan(1e-3);
    }
    await gpu.close();
  });
});
