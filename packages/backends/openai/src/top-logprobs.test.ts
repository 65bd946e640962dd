// Top logprobs and live weight updates against fixtures in the servers' documented shapes, served by a
// real HTTP server on 127.0.0.1.
import { ApiCallError, UnsupportedFunctionalityError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type ScriptedServer, startScriptedServer } from '../test/scripted-server.js';
import { createOpenAIBackend } from './index.js';

let server: ScriptedServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('top logprobs', () => {
  it('vLLM completions logprobs: 2 — dicts become the top 2, most likely first, with token ids', async () => {
    server = await startScriptedServer(() => ({ json: fixture('vllm/completions-logprobs-2.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const { results } = await backend.generate({
      prompts: ['The capital of France is'],
      maxTokens: 2,
      logprobs: true,
      topLogprobs: 2,
    });
    expect(server.requests[0]!.body).toMatchObject({ logprobs: 2, return_tokens_as_token_ids: true });
    const completion = results[0]!.completions[0]!;
    expect(completion.tokenIds).toEqual([12095, 13]);
    expect(Array.from(completion.logprobs!)).toEqual([Math.fround(-0.03), Math.fround(-2.4)]);
    expect(completion.topLogprobs).toEqual([
      [
        { token: 'token_id:12095', tokenId: 12095, logprob: -0.03 },
        { token: 'token_id:279', tokenId: 279, logprob: -3.9 },
      ],
      // The sampled token (−2.4) was outside the top 2: vLLM's dict has 3 keys; the top 2 are kept.
      [
        { token: 'token_id:11', tokenId: 11, logprob: -0.4 },
        { token: 'token_id:0', tokenId: 0, logprob: -1.3 },
      ],
    ]);
    expect(results[0]!.promptTokenIds).toEqual([785, 6722, 315, 9625, 374]);
  });

  it('vLLM echo + prompt_logprobs reply parses; the null first entry becomes []', async () => {
    server = await startScriptedServer(() => ({ json: fixture('vllm/completions-top-logprobs.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm' });
    const { results, warnings } = await backend.generate({
      prompts: ['Hello world'],
      maxTokens: 1,
      logprobs: true,
      topLogprobs: 1,
      providerOptions: { openai: { echo: true } },
    });
    const completion = results[0]!.completions[0]!;
    expect(completion.text).toBe('Hello world!');
    expect(completion.topLogprobs).toEqual([
      [],
      [{ token: ',', logprob: -1.2 }],
      [{ token: '!', logprob: -1.02 }],
    ]);
    expect(Number.isNaN(completion.logprobs![0]!)).toBe(true);
    expect(warnings.map((warning) => warning.message).join(' ')).toContain('null logprobs');
  });

  it('vLLM chat top_logprobs: lists sorted most likely first', async () => {
    server = await startScriptedServer(() => ({ json: fixture('vllm/chat-top-logprobs.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const { results } = await backend.generate({
      prompts: [{ messages: [{ role: 'user', content: '2+2?' }] }],
      maxTokens: 4,
      logprobs: true,
      topLogprobs: 2,
    });
    expect(server.requests[0]!.body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    const top = results[0]!.completions[0]!.topLogprobs!;
    expect(top[0]!.map((entry) => entry.token)).toEqual(['4', 'Four']);
    expect(top[1]!.map((entry) => entry.token)).toEqual(['<|im_end|>', '.']);
  });

  it('refuses topLogprobs outside 0 … 20 before sending anything', async () => {
    server = await startScriptedServer(() => ({ json: {} }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm' });
    await expect(
      backend.generate({ prompts: ['x'], maxTokens: 1, logprobs: true, topLogprobs: 21 }),
    ).rejects.toThrow(/topLogprobs must be an integer in 0 … 20/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('updateWeights (SGLang /update_weights_from_disk)', () => {
  it('posts model_path to the server root and resolves on success: true', async () => {
    server = await startScriptedServer(() => ({ json: fixture('sglang/update-weights-ok.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'sglang' });
    await backend.updateWeights('/ckpt/step-3');
    expect(server.requests[0]!.path).toBe('/update_weights_from_disk');
    expect(server.requests[0]!.body).toEqual({ model_path: '/ckpt/step-3' });
  });

  it('a 400 success: false reply is an ApiCallError with the server message; 404 is unsupported', async () => {
    server = await startScriptedServer((request) =>
      request.path === '/update_weights_from_disk'
        ? { status: 400, json: fixture('sglang/update-weights-failed.json') }
        : { status: 404, json: { error: { message: 'Not Found' } } },
    );
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', maxRetries: 0 });
    const failed = await backend.updateWeights('/ckpt/step-3').catch((error: unknown) => error);
    expect(ApiCallError.isInstance(failed)).toBe(true);
    expect((failed as ApiCallError).statusCode).toBe(400);
    expect(String((failed as Error).message)).toContain('repository not found');
    const elsewhere = createOpenAIBackend({ baseURL: `${server.url}/other/v1`, model: 'm', maxRetries: 0 });
    const missing = await elsewhere.updateWeights('/ckpt').catch((error: unknown) => error);
    expect(UnsupportedFunctionalityError.isInstance(missing)).toBe(true);
    expect(String((missing as Error).message)).toContain('vLLM cannot from a path');
  });
});
