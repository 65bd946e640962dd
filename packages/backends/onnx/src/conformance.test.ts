import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackendConformance } from '@rlpt/conformance';
import { createTinyModel } from '@rlpt/model';
import { createOnnxBackend } from './backend.js';

// The shared InferenceBackendV1 suite on a factory model, checked against an uncached onnxruntime forward
// (greedy argmax, logprobs to 1e-4). std 0.2 keeps the model high-entropy (~4.6 nats per token, so the seed
// cases can tell samples apart) while its greedy output still depends on the whole context (with the
// default 0.02 a tied-embedding model just repeats the last token). The cross-backend greedy case runs in
// @rlpt/backend-transformers, which depends on this package.
runBackendConformance('onnx (tiny char model)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-onnx-conformance-'));
  const tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 11,
    std: 0.2,
    safetensors: false,
  });
  const backend = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  return {
    backend,
    modelDir: tiny.dir,
    teardown: async () => {
      await backend.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
