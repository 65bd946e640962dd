import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackendConformance } from '@rlpt/conformance';
import { createTinyModel } from '@rlpt/model';
import { createOnnxBackend } from './backend.js';

// The shared InferenceBackendV1 suite on a factory model, checked against an uncached onnxruntime forward
// (greedy argmax, logprobs to 1e-4). The default init (std 0.02) keeps the model high-entropy, so the
// seed cases can tell samples apart. The cross-backend greedy case runs in @rlpt/backend-transformers.
runBackendConformance('onnx (tiny char model)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-onnx-conformance-'));
  const tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 11,
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
