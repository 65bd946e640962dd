// The shared InferenceBackendV1 suite, run on @rlpt/backend-openai talking HTTP to `rlpt serve`'s server
// (@rlpt/serve over @rlpt/backend-onnx) on a factory model: checked against an uncached onnxruntime
// forward (modelDir) and against the ONNX backend called directly (reference). Model settings as in
// @rlpt/backend-onnx's own conformance test (std 0.2: high-entropy, context-dependent greedy output).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { runBackendConformance } from '@rlpt/conformance';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import { createModelServer } from '@rlpt/serve';
import { createOpenAIBackend } from './index.js';

runBackendConformance('openai → rlpt serve (tiny char model)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-openai-conformance-'));
  const tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 11,
    std: 0.2,
    safetensors: false,
  });
  const served = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  const reference = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  const { tokenizer } = await loadTokenizer(tiny.dir);
  const server = createModelServer({
    backend: served,
    modelName: 'tiny',
    tokenize: (input) =>
      'messages' in input
        ? served.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
  });
  const { url } = await server.listen({ port: 0 });
  const backend = createOpenAIBackend({ baseURL: `${url}/v1`, model: 'tiny', server: 'vllm', maxRetries: 0 });
  return {
    backend,
    modelDir: tiny.dir,
    reference,
    teardown: async () => {
      await backend.close();
      await server.close();
      await served.close();
      await reference.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
