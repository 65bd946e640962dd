// The shared InferenceBackendV1 suite, run on @rlpt/backend-tinker talking HTTP to `rlpt serve tinker`'s
// server (@rlpt/tinker-server over @rlpt/backend-onnx) on a factory model: checked against an uncached
// onnxruntime forward (modelDir) and against the ONNX backend called directly (reference).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { runBackendConformance } from '@rlpt/conformance';
import { createTinyModel } from '@rlpt/model';
import { createTinkerServer } from '@rlpt/tinker-server';
import { createTinkerBackend } from './index.js';

runBackendConformance('tinker → rlpt serve tinker (tiny char model)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-tinker-conformance-'));
  const tiny = await createTinyModel({ dir: join(root, 'tiny'), tokenizer: 'char', seed: 11, std: 0.2 });
  const server = await createTinkerServer({ modelDir: tiny.dir, baseModel: 'tiny', pollTimeoutMs: 5000 });
  const reference = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  const backend = createTinkerBackend({
    baseURL: server.url,
    baseModel: 'tiny',
    tokenizerDir: tiny.dir,
    maxRetries: 0,
  });
  return {
    backend,
    modelDir: tiny.dir,
    reference,
    teardown: async () => {
      await backend.close();
      await reference.close?.();
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
