// The server over a real model: @rlpt/model's tiny model on @rlpt/backend-onnx, with the official openai
// client. Greedy decoding makes every answer checkable against the backend called directly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import type { InferenceBackendV1 } from '@rlpt/spec';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelServer, type ModelServer } from './index.js';

const MODEL = 'tiny';
let dir: string;
let backend: InferenceBackendV1;
let server: ModelServer;
let client: OpenAI;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-serve-e2e-'));
  const model = await createTinyModel({ dir: join(dir, 'tiny') });
  const onnx = createOnnxBackend({ modelDir: model.dir });
  backend = onnx;
  const { tokenizer } = await loadTokenizer(model.dir);
  server = createModelServer({
    backend,
    modelName: MODEL,
    maxBatch: 16,
    batchWindowMs: 20,
    maxModelLength: 2048,
    tokenize: (input) =>
      'messages' in input
        ? onnx.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
  });
  ({ url } = await server.listen({ port: 0 }));
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await backend?.close?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('openai client against a tiny ONNX model', () => {
  it('greedy completions match the backend called directly, with logprobs and usage', async () => {
    const prompt = 'The capital of France is';
    const response = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 12,
      temperature: 0,
      n: 2,
      logprobs: 0,
    });
    const direct = await backend.generate({
      prompts: [prompt],
      maxTokens: 12,
      temperature: 0,
      n: 2,
      logprobs: true,
    });
    const expected = direct.results[0]!.completions;
    expect(response.choices.map((choice) => choice.text)).toEqual(
      expected.map((completion) => completion.text),
    );
    expect(response.choices.map((choice) => choice.finish_reason)).toEqual(
      expected.map((completion) => completion.finishReason),
    );
    const logprobs = response.choices[0]!.logprobs!.token_logprobs!;
    expect(logprobs).toHaveLength(expected[0]!.tokenIds!.length);
    expect(Float32Array.from(logprobs)).toEqual(expected[0]!.logprobs);
    expect(logprobs.every((value) => value <= 0)).toBe(true);
    expect(response.usage?.prompt_tokens).toBe(direct.results[0]!.promptTokenIds!.length);
    expect(response.usage?.completion_tokens).toBe(
      expected.reduce((sum, completion) => sum + completion.tokenIds!.length, 0),
    );
  });

  it('chat uses the model folder chat template, as the backend does', async () => {
    const messages = [{ role: 'user' as const, content: 'Say something.' }];
    const response = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 10,
      temperature: 0,
      logprobs: true,
    });
    const direct = await backend.generate({
      prompts: [{ messages }],
      maxTokens: 10,
      temperature: 0,
      logprobs: true,
    });
    expect(response.choices[0]!.message.content).toBe(direct.results[0]!.completions[0]!.text);
    expect(response.choices[0]!.logprobs!.content!.length).toBe(
      direct.results[0]!.completions[0]!.tokenIds!.length,
    );
    expect(response.usage?.prompt_tokens).toBe(direct.results[0]!.promptTokenIds!.length);
  });

  it('streams the same text as the non-streaming reply', async () => {
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 10,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    const plain = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 10,
      temperature: 0,
    });
    expect(text).toBe(plain.choices[0]!.text);
    expect(finish).toBe(plain.choices[0]!.finish_reason);
  });

  it('batched answers equal one-at-a-time answers (greedy), and concurrent requests do share generate calls', async () => {
    const prompts = [
      'Water boils at',
      'The quick brown fox',
      'def fibonacci(n):',
      'A sentence about trains:',
      'Hello',
      'In 1905',
    ];
    const alone: string[] = [];
    for (const prompt of prompts) {
      const response = await client.completions.create({
        model: MODEL,
        prompt,
        max_tokens: 8,
        temperature: 0,
      });
      alone.push(response.choices[0]!.text);
    }
    const before = server.stats();
    const together = await Promise.all(
      prompts.map((prompt) =>
        client.completions.create({ model: MODEL, prompt, max_tokens: 8, temperature: 0 }),
      ),
    );
    const after = server.stats();
    expect(together.map((response) => response.choices[0]!.text)).toEqual(alone);
    expect(after.requests - before.requests).toBe(prompts.length);
    expect(after.batches - before.batches).toBeLessThan(prompts.length);
  });

  it('POST /tokenize (vLLM shape) gives the ids generate uses, for text and chat', async () => {
    const post = async (body: object) => {
      const response = await fetch(`${url}/tokenize`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      return (await response.json()) as {
        count: number;
        tokens: number[];
        max_model_len: number;
        token_strs: string[] | null;
      };
    };
    const text = await post({ model: MODEL, prompt: 'The capital', return_token_strs: true });
    const direct = await backend.generate({ prompts: ['The capital'], maxTokens: 1 });
    expect(text.tokens).toEqual(direct.results[0]!.promptTokenIds);
    expect(text.count).toBe(text.tokens.length);
    expect(text.max_model_len).toBe(2048);
    expect(text.token_strs?.join('')).toBe('The capital');
    const messages = [{ role: 'user', content: 'Hello' }];
    const chat = await post({ messages });
    const directChat = await backend.generate({ prompts: [{ messages }], maxTokens: 1 });
    expect(chat.tokens).toEqual(directChat.results[0]!.promptTokenIds);
  });

  it('prompt_logprobs: 0 gives each prompt token its teacher-forced logprob, null first', async () => {
    const prompt = 'Water boils at';
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt, max_tokens: 1, prompt_logprobs: 0 }),
    });
    const body = (await response.json()) as {
      choices: { prompt_logprobs: (Record<string, { logprob: number }> | null)[] }[];
    };
    const entries = body.choices[0]!.prompt_logprobs;
    const ids = (await backend.generate({ prompts: [prompt], maxTokens: 1 })).results[0]!.promptTokenIds!;
    expect(entries).toHaveLength(ids.length);
    expect(entries[0]).toBeNull();
    const scored = await backend.score!({
      items: [{ prompt: { tokenIds: ids.slice(0, 1) }, completion: { tokenIds: ids.slice(1) } }],
    });
    const read = entries.slice(1).map((entry, index) => entry![String(ids[index + 1])]!.logprob);
    expect(Float32Array.from(read)).toEqual(scored.results[0]!.logprobs);
  });

  it('refuses a 1 MB prompt with a 400 naming the prompt, without stalling /health while it measures it', {
    timeout: 60_000,
    retry: 2,
  }, async () => {
    const prompt = 'The capital of France is Paris and the capital of Spain is Madrid. '.repeat(16_000);
    expect(prompt.length).toBeGreaterThan(1_000_000);
    let done = false;
    const started = performance.now();
    const big = fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt, max_tokens: 4 }),
    }).finally(() => {
      done = true;
    });
    const latencies: number[] = [];
    while (!done) {
      const polled = performance.now();
      await (await fetch(`${url}/health`)).text();
      latencies.push(performance.now() - polled);
    }
    const answer = await big;
    const elapsed = performance.now() - started;
    expect(answer.status).toBe(400);
    const { error } = (await answer.json()) as { error: { message: string; param: string; code: string } };
    expect(error).toMatchObject({ param: 'prompt', code: 'context_length_exceeded' });
    expect(error.message).toMatch(
      /maximum context length is 2048 tokens\. However, the prompt has at least \d+ tokens/,
    );
    // Only about the first 2048 tokens are counted, in slices: the request is refused quickly and /health
    // keeps answering meanwhile (timed on shared CPUs: loose bounds, retried).
    expect(elapsed).toBeLessThan(1_000);
    expect(Math.max(0, ...latencies), `slowest /health of ${latencies.length}`).toBeLessThan(150);
  });
});
