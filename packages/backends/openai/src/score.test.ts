import { ApiCallError, type InvalidArgumentError, UnsupportedFunctionalityError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type ScriptedServer, startScriptedServer } from '../test/scripted-server.js';
import { createOpenAIBackend } from './index.js';
import { tokenizeURL } from './score.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const scored = () => ({ json: fixture('vllm/completions-prompt-logprobs.json') });
const promptIds = [785, 6722, 315, 9625, 374];
const completionIds = [12095, 13];

describe('score on vLLM (prompt_logprobs)', () => {
  it('sends prompt + completion ids as one prompt and reads the completion positions', async () => {
    server = await startScriptedServer(scored);
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'Qwen/Qwen3-0.6B-Base',
      server: 'vllm',
    });
    expect(backend.capabilities.score).toBe(true);
    const result = await backend.score!({
      items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: completionIds } }],
    });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.path).toBe('/v1/completions');
    expect(server.requests[0]!.body).toEqual({
      model: 'Qwen/Qwen3-0.6B-Base',
      prompt: [...promptIds, ...completionIds],
      max_tokens: 1,
      temperature: 1,
      prompt_logprobs: 0,
    });
    expect(result.results).toEqual([
      { tokenIds: completionIds, logprobs: Float32Array.from([-0.0312, -0.4821]) },
    ]);
  });

  it('tokenises text prompts, chat prompts and text completions with /tokenize at the server root', async () => {
    server = await startScriptedServer((request) => {
      if (request.path === '/tokenize') {
        const body = request.body as { prompt?: string; messages?: unknown };
        if (body.prompt === ' Paris.')
          return { json: { count: 2, max_model_len: 32768, tokens: completionIds } };
        return { json: fixture('vllm/tokenize.json') };
      }
      return scored();
    });
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const messages = [{ role: 'user', content: 'The capital of France is' }];
    const result = await backend.score!({
      items: [
        { prompt: 'The capital of France is', completion: ' Paris.' },
        { prompt: { messages }, completion: { tokenIds: completionIds } },
      ],
    });
    const tokenizeBodies = server.requests
      .filter((request) => request.path === '/tokenize')
      .map((request) => request.body);
    expect(tokenizeBodies).toEqual(
      expect.arrayContaining([
        { model: 'm', prompt: 'The capital of France is', add_special_tokens: true },
        { model: 'm', prompt: ' Paris.', add_special_tokens: false },
        { model: 'm', messages, add_generation_prompt: true, add_special_tokens: false },
      ]),
    );
    expect(tokenizeBodies).toHaveLength(3);
    for (const item of result.results) expect(item.logprobs).toEqual(Float32Array.from([-0.0312, -0.4821]));
    expect(tokenizeURL('http://127.0.0.1:8000/v1')).toBe('http://127.0.0.1:8000/tokenize');
  });

  it('names the missing field when the server ignores prompt_logprobs', async () => {
    server = await startScriptedServer(() => ({ json: fixture('vllm/completions-token-strings.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const error = await backend.score!({
      items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: completionIds } }],
    }).catch((caught: unknown) => caught);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('prompt_logprobs` is missing');
  });

  it('refuses what it cannot do: other servers, other temperatures, empty prompts', async () => {
    server = await startScriptedServer(scored);
    const openai = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'openai' });
    expect(openai.capabilities.score).toBe(false);
    const items = [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: completionIds } }];
    const notVllm = await openai.score!({ items }).catch((caught: unknown) => caught);
    expect(UnsupportedFunctionalityError.isInstance(notVllm)).toBe(true);
    const sglang = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'sglang' });
    const hotSglang = await sglang.score!({ items, temperature: 0.5 }).catch((caught: unknown) => caught);
    expect(UnsupportedFunctionalityError.isInstance(hotSglang)).toBe(true);
    const vllm = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const empty = await vllm.score!({
      items: [{ prompt: { tokenIds: [] }, completion: { tokenIds: [1] } }],
    }).catch((caught: unknown) => caught);
    expect((empty as InvalidArgumentError).argument).toBe('items[0].prompt');
    expect(server.requests).toHaveLength(0);
  });

  it('asks for another temperature with the rlpt extension, and refuses a reply that ignored it (vLLM)', async () => {
    server = await startScriptedServer(scored);
    const vllm = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    const items = [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: completionIds } }];
    const hot = await vllm.score!({ items, temperature: 0.6 }).catch((caught: unknown) => caught);
    expect(server.requests[0]!.body).toMatchObject({ prompt_logprobs: 0, prompt_logprobs_temperature: 0.6 });
    expect(UnsupportedFunctionalityError.isInstance(hot)).toBe(true);
    expect((hot as Error).message).toContain('ignored prompt_logprobs_temperature');
  });
});

describe('score on SGLang (native /generate input logprobs)', () => {
  it('sends input_ids with return_logprob and logprob_start_len 0, and reads the completion positions', async () => {
    server = await startScriptedServer(() => ({ json: fixture('sglang/generate-input-logprobs.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'sglang' });
    expect(backend.capabilities.score).toBe(true);
    const result = await backend.score!({
      items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: completionIds } }],
    });
    expect(server.requests[0]!.path).toBe('/generate');
    expect(server.requests[0]!.body).toEqual({
      input_ids: [...promptIds, ...completionIds],
      sampling_params: { max_new_tokens: 1, temperature: 1 },
      return_logprob: true,
      logprob_start_len: 0,
    });
    expect(result.results).toEqual([
      { tokenIds: completionIds, logprobs: Float32Array.from([-0.0312, -0.4821]) },
    ]);
    // A reply for other tokens than those sent is an error naming the position, never a silent misread.
    const wrong = await backend.score!({
      items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: [12095, 14] } }],
    }).catch((caught: unknown) => caught);
    expect(ApiCallError.isInstance(wrong)).toBe(true);
    expect((wrong as Error).message).toContain('input_token_logprobs[6]');
  });
});
