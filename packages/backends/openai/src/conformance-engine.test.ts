// The shared InferenceBackendV1 suite on @rlpt/backend-openai talking HTTP to what `rlpt serve model`
// runs: @rlpt/serve with its decode engine (generation, logprobs, prompt logprobs for score), checked
// against an uncached onnxruntime forward and the ONNX backend called directly. Same model as
// conformance.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { runBackendConformance } from '@rlpt/conformance';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import { createDecodeEngine, createModelServer } from '@rlpt/serve';
import { createOpenAIBackend } from './index.js';

runBackendConformance('openai → rlpt serve model decode engine (tiny char model)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rlpt-openai-engine-conformance-'));
  const tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 11,
    std: 0.2,
    safetensors: false,
  });
  const chat = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  const reference = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  const { tokenizer } = await loadTokenizer(tiny.dir);
  const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });
  const engine = await createDecodeEngine({ modelDir: tiny.dir, decode, session: { threads: 1 } });
  const server = createModelServer({
    backend: chat,
    engine,
    modelName: 'tiny',
    tokenize: (input) =>
      'messages' in input
        ? chat.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
    detokenize: decode,
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
      await engine.close();
      await chat.close();
      await reference.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
