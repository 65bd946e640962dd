import { afterEach, describe, expect, it } from 'vitest';
import { fixture, type ScriptedServer, startScriptedServer } from '../test/scripted-server.js';
import { createOpenAIBackend } from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: fixtures are free-form JSON
type Json = Record<string, any>;

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function float32(values: number[]): Float32Array {
  return Float32Array.from(values);
}

describe('vLLM dialect', () => {
  it('sends every sampling setting and reads n completions with token ids, logprobs and usage', async () => {
    const reply = fixture<Json>('vllm/completions-n2-logprobs.json');
    server = await startScriptedServer(() => ({ json: reply }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'Qwen/Qwen3-0.6B-Base',
      server: 'vllm',
    });
    const result = await backend.generate({
      prompts: ['The capital of France is'],
      n: 2,
      maxTokens: 4,
      temperature: 0.7,
      topP: 0.9,
      topK: 20,
      minP: 0.05,
      seed: 7,
      stop: ['.\n'],
      stopTokenIds: [151643],
      logprobs: true,
    });

    const request = server.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/completions');
    expect(request.body).toEqual({
      model: 'Qwen/Qwen3-0.6B-Base',
      prompt: 'The capital of France is',
      n: 2,
      max_tokens: 4,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 20,
      min_p: 0.05,
      seed: 7,
      stop: ['.\n'],
      stop_token_ids: [151643],
      logprobs: 0,
      return_token_ids: true,
      return_tokens_as_token_ids: true,
    });

    expect(result.warnings).toEqual([]);
    expect(result.usage).toEqual({ promptTokens: 5, completionTokens: 6 });
    const [prompt] = result.results;
    expect(prompt?.promptTokenIds).toEqual(reply.choices[0].prompt_token_ids);
    expect(prompt?.completions).toHaveLength(2);
    reply.choices.forEach((choice: Json, index: number) => {
      const completion = prompt!.completions[index]!;
      expect(completion.text).toBe(choice.text);
      expect(completion.tokenIds).toEqual(choice.token_ids);
      expect(completion.logprobs).toEqual(float32(choice.logprobs.token_logprobs));
    });
    expect(prompt?.completions.map((completion) => completion.finishReason)).toEqual(['length', 'stop']);
    expect(backend.capabilities.tokenIds).toBe(true);
  });

  it('sends explicit "disabled" values for unset top_k/min_p, so generation_config defaults never apply', async () => {
    server = await startScriptedServer(() => ({ json: fixture('vllm/completions-token-strings.json') }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', server: 'vllm' });
    await backend.generate({ prompts: ['x'], maxTokens: 2 });
    expect(server.requests[0]!.body).toMatchObject({ temperature: 1, top_p: 1, top_k: -1, min_p: 0, n: 1 });
    expect(server.requests[0]!.body).not.toHaveProperty('logprobs');
    expect(server.requests[0]!.body).not.toHaveProperty('return_tokens_as_token_ids');
  });

  it('reads token ids from `token_id:<id>` strings when the server predates return_token_ids', async () => {
    const reply = fixture<Json>('vllm/completions-token-strings.json');
    server = await startScriptedServer(() => ({ json: reply }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'meta-llama/Llama-3.2-1B',
      server: 'vllm',
    });
    const result = await backend.generate({
      prompts: ['The capital of France is'],
      maxTokens: 2,
      logprobs: true,
    });
    const completion = result.results[0]!.completions[0]!;
    expect(completion.tokenIds).toEqual([12366, 13]);
    expect(completion.logprobs).toEqual(float32(reply.choices[0].logprobs.token_logprobs));
    expect(result.results[0]!.promptTokenIds).toBeUndefined();
  });

  it('sends chat prompts to /chat/completions and reads logprobs.content and top-level prompt_token_ids', async () => {
    const reply = fixture<Json>('vllm/chat-n2-logprobs.json');
    server = await startScriptedServer(() => ({ json: reply }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'Qwen/Qwen3-0.6B',
      server: 'vllm',
    });
    const messages = [{ role: 'user', content: 'What is 2+2?' }];
    const result = await backend.generate({
      prompts: [{ messages }],
      n: 2,
      maxTokens: 8,
      temperature: 0,
      logprobs: true,
    });

    const request = server.requests[0]!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.body).toMatchObject({
      messages,
      n: 2,
      logprobs: true,
      temperature: 0,
      return_token_ids: true,
    });
    expect(request.body).not.toHaveProperty('prompt');

    const prompt = result.results[0]!;
    expect(prompt.promptTokenIds).toEqual(reply.prompt_token_ids);
    expect(prompt.completions.map((completion) => completion.text)).toEqual(['Score: 1', 'Score: 0']);
    reply.choices.forEach((choice: Json, index: number) => {
      const completion = prompt.completions[index]!;
      expect(completion.tokenIds).toEqual(choice.token_ids);
      expect(completion.logprobs).toEqual(
        float32(choice.logprobs.content.map((entry: Json) => entry.logprob)),
      );
    });
    expect(result.usage).toEqual({ promptTokens: 14, completionTokens: 10 });
  });
});

describe('SGLang dialect', () => {
  it('sends the sampling extensions, no token-id fields, and reads completions logprobs', async () => {
    const reply = fixture<Json>('sglang/completions-n2-logprobs.json');
    server = await startScriptedServer(() => ({ json: reply }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'Qwen/Qwen3-0.6B-Base',
      server: 'sglang',
    });
    expect(backend.capabilities.tokenIds).toBe(false);
    const result = await backend.generate({
      prompts: ['The capital of France is'],
      n: 2,
      maxTokens: 4,
      logprobs: true,
    });
    const body = server.requests[0]!.body as Json;
    expect(body).toMatchObject({ top_k: -1, min_p: 0, logprobs: 1, n: 2 });
    expect(body).not.toHaveProperty('return_token_ids');
    const completions = result.results[0]!.completions;
    expect(completions.map((completion) => completion.text)).toEqual([' Paris. It is', ' Paris']);
    expect(completions[0]!.logprobs).toEqual(float32(reply.choices[0].logprobs.token_logprobs));
    expect(completions[0]!.tokenIds).toBeUndefined();
    expect(result.usage).toEqual({ promptTokens: 5, completionTokens: 5 });
  });

  it('reads chat logprobs', async () => {
    const reply = fixture<Json>('sglang/chat-logprobs.json');
    server = await startScriptedServer(() => ({ json: reply }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'Qwen/Qwen3-0.6B',
      server: 'sglang',
      mode: 'chat',
    });
    const result = await backend.generate({ prompts: ['What is 2+2?'], maxTokens: 8, logprobs: true });
    expect(server.requests[0]!.path).toBe('/v1/chat/completions');
    expect((server.requests[0]!.body as Json).messages).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
    const completion = result.results[0]!.completions[0]!;
    expect(completion.text).toBe('Score: 1');
    expect(completion.logprobs).toEqual(float32([-0.0019, -0.0001, -0.0148, -0.2901]));
    expect(completion.tokenIds).toBeUndefined();
  });
});

describe('request planning', () => {
  /** Answers each completions request with `n` choices whose text names the prompt and the seed. */
  function echoServer(options: { ignoreN?: boolean; delayMs?: (index: number) => number } = {}) {
    let inFlight = 0;
    let maxInFlight = 0;
    const stats = {
      get maxInFlight() {
        return maxInFlight;
      },
    };
    const started = startScriptedServer(async (request, index) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const body = request.body as Json;
      await new Promise((resolve) => setTimeout(resolve, options.delayMs?.(index) ?? 0));
      inFlight--;
      const count = options.ignoreN ? 1 : body.n;
      const prompt = body.prompt ?? body.messages?.at(-1)?.content;
      return {
        json: {
          choices: Array.from({ length: count }, (_, choiceIndex) => {
            const text = `${JSON.stringify(prompt)}#${body.seed ?? '-'}#${choiceIndex}`;
            const content = body.messages ? { message: { role: 'assistant', content: text } } : { text };
            return { index: choiceIndex, ...content, finish_reason: 'length' };
          }),
          usage: { prompt_tokens: 3, completion_tokens: 2 * count, total_tokens: 3 + 2 * count },
        },
      };
    });
    return { started, stats };
  }

  it('keeps results in prompt order whatever order the replies arrive in', async () => {
    const { started } = echoServer({ delayMs: (index) => (7 - index) * 15 });
    server = await started;
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm' });
    const prompts = Array.from({ length: 8 }, (_, index) => `prompt ${index}`);
    const result = await backend.generate({ prompts, maxTokens: 2, n: 2 });
    expect(result.results.map((entry) => entry.completions.map((completion) => completion.text))).toEqual(
      prompts.map((prompt) => [`"${prompt}"#-#0`, `"${prompt}"#-#1`]),
    );
    expect(result.usage).toEqual({ promptTokens: 8 * 3, completionTokens: 8 * 4 });
  });

  it('never holds more than `concurrency` requests open, and does reach it', async () => {
    const { started, stats } = echoServer({ delayMs: () => 100 });
    server = await started;
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', concurrency: 3 });
    await Promise.all([
      backend.generate({ prompts: ['a', 'b', 'c', 'd', 'e'], maxTokens: 1 }),
      backend.generate({ prompts: ['f', 'g', 'h', 'i'], maxTokens: 1 }),
    ]);
    expect(server.requests).toHaveLength(9);
    expect(stats.maxInFlight).toBe(3);
  });

  it('splits n over requests by maxNPerRequest, with seed + k for the k-th extra request', async () => {
    const { started } = echoServer();
    server = await started;
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', maxNPerRequest: 2 });
    const result = await backend.generate({ prompts: ['p'], n: 5, maxTokens: 1, seed: 100 });
    expect(server.requests.map((request) => (request.body as Json).n)).toEqual([2, 2, 1]);
    expect(result.results[0]!.completions.map((completion) => completion.text)).toEqual([
      '"p"#100#0',
      '"p"#100#1',
      '"p"#101#0',
      '"p"#101#1',
      '"p"#102#0',
    ]);
  });

  it('asks again when a server ignores n, and says so in a warning', async () => {
    const { started } = echoServer({ ignoreN: true });
    server = await started;
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm' });
    const result = await backend.generate({ prompts: ['p'], n: 3, maxTokens: 1, seed: 1 });
    expect(result.results[0]!.completions).toHaveLength(3);
    expect(new Set(result.results[0]!.completions.map((completion) => completion.text)).size).toBe(3);
    expect(server.requests).toHaveLength(3);
    expect(result.warnings.map((warning) => warning.setting)).toContain('n');
  });

  it('routes each prompt kind: strings by mode, messages to chat, token ids to completions', async () => {
    const { started } = echoServer();
    server = await started;
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm', mode: 'chat' });
    const result = await backend.generate({
      prompts: [
        'plain',
        { messages: [{ role: 'user', content: 'chat' }] },
        { tokenIds: Int32Array.from([5, 6, 7]) },
      ],
      maxTokens: 1,
    });
    const byPrompt = new Map(
      server.requests.map((request) => [
        JSON.stringify((request.body as Json).prompt ?? (request.body as Json).messages),
        request.path,
      ]),
    );
    expect(byPrompt.get(JSON.stringify([{ role: 'user', content: 'plain' }]))).toBe('/v1/chat/completions');
    expect(byPrompt.get(JSON.stringify([{ role: 'user', content: 'chat' }]))).toBe('/v1/chat/completions');
    expect(byPrompt.get(JSON.stringify([5, 6, 7]))).toBe('/v1/completions');
    expect(result.results[2]!.promptTokenIds).toEqual([5, 6, 7]);
  });

  it('merges extraBody and providerOptions.openai last, and warns about other providerOptions', async () => {
    const { started } = echoServer();
    server = await started;
    const backend = createOpenAIBackend({
      baseURL: `${server.baseURL}/`,
      model: 'm',
      extraBody: { repetition_penalty: 1.1, temperature: 0.3 },
      headers: { 'x-team': 'rlpt' },
    });
    await backend.generate({
      prompts: ['p'],
      maxTokens: 1,
      temperature: 0.9,
      providerOptions: { openai: { ignore_eos: true } },
    });
    expect(server.requests[0]!.body).toMatchObject({
      repetition_penalty: 1.1,
      temperature: 0.3,
      ignore_eos: true,
    });
    expect(server.requests[0]!.headers['x-team']).toBe('rlpt');
    const result = await backend.generate({
      prompts: ['p'],
      maxTokens: 1,
      providerOptions: { onnx: { threads: 2 } },
    });
    expect(result.warnings).toEqual([expect.objectContaining({ setting: 'providerOptions' })]);
  });
});

describe('strict OpenAI dialect', () => {
  it('turns vLLM/SGLang-only settings into warnings and does not send them', async () => {
    server = await startScriptedServer(() => ({ json: fixture('sglang/completions-n2-logprobs.json') }));
    const backend = createOpenAIBackend({
      baseURL: server.baseURL,
      model: 'gpt-3.5-turbo-instruct',
      server: 'openai',
    });
    const result = await backend.generate({
      prompts: ['x'],
      n: 2,
      maxTokens: 4,
      topK: 5,
      minP: 0.1,
      stopTokenIds: [2],
    });
    const body = server.requests[0]!.body as Json;
    expect(body).not.toHaveProperty('top_k');
    expect(body).not.toHaveProperty('min_p');
    expect(body).not.toHaveProperty('stop_token_ids');
    expect(result.warnings.map((warning) => [warning.type, warning.setting])).toEqual([
      ['unsupported-setting', 'topK'],
      ['unsupported-setting', 'minP'],
      ['unsupported-setting', 'stopTokenIds'],
    ]);
  });

  it('warns when logprobs were asked for and the server returned none', async () => {
    server = await startScriptedServer(() => ({
      json: { choices: [{ index: 0, text: 'hi', finish_reason: 'stop' }] },
    }));
    const backend = createOpenAIBackend({ baseURL: server.baseURL, model: 'm' });
    const result = await backend.generate({ prompts: ['x'], maxTokens: 4, logprobs: true });
    expect(result.results[0]!.completions[0]!.logprobs).toBeUndefined();
    expect(result.warnings.map((warning) => warning.message)).toEqual([
      'The server sent no usage for some requests; usage counts only the rest.',
      'logprobs were requested but the server returned none for some completions.',
    ]);
  });
});
