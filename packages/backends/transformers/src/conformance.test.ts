import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { type BackendConformanceSetup, runBackendConformance } from '@rlpt/conformance';
import { createTinyModel, type TinyModelOptions } from '@rlpt/model';
import { createTransformersBackend } from './backend.js';

// The shared InferenceBackendV1 suite, with @rlpt/backend-onnx on the same folder as the reference
// (greedy output identical across the two backends) and an uncached onnxruntime forward as ground truth.
// std 0.2: high-entropy sampling (~4.6 nats per token) with greedy outputs that depend on the context.
async function setup(name: string, options: Omit<TinyModelOptions, 'dir'>): Promise<BackendConformanceSetup> {
  const root = await mkdtemp(join(tmpdir(), `rlpt-transformers-conformance-${name}-`));
  const tiny = await createTinyModel({ dir: join(root, name), std: 0.2, safetensors: false, ...options });
  const backend = createTransformersBackend({ modelDir: tiny.dir, threads: 1 });
  const reference = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  return {
    backend,
    reference,
    referenceName: 'backend-onnx',
    modelDir: tiny.dir,
    teardown: async () => {
      await Promise.all([backend.close(), reference.close()]);
      await rm(root, { recursive: true, force: true });
    },
  };
}

runBackendConformance('transformers (tiny char model)', () => setup('char', { tokenizer: 'char', seed: 11 }));

// 151,936-way logits: transformers.js sorts the whole vocabulary for every sampled token (~30 ms per row
// and step here), so this run uses two prompts and short completions to stay fast.
runBackendConformance(
  'transformers (tiny-width Qwen3 vocabulary)',
  () => setup('qwen3', { tokenizer: 'qwen3', hiddenSize: 16, heads: 2, kvHeads: 1, layers: 1, seed: 5 }),
  { prompts: ['The capital of France is', 'a'], maxTokens: 4 },
);
