// `createModelServer({ engine })` — what `rlpt serve model` runs — exercised with the official openai
// client on @rlpt/model's tiny models, checked against @rlpt/backend-onnx called directly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend, type OnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecodeEngine, createModelServer, type DecodeEngine, type ModelServer } from './index.js';

const MODEL = 'tiny';
let dir: string;
let modelA: string;
let modelB: string;
let backendA: OnnxBackend;
let backendB: OnnxBackend;
let engine: DecodeEngine;
let server: ModelServer;
let client: OpenAI;
let url: string;

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const extra = (fields: object) => fields as object;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-serve-engine-'));
  // std 0.5: peaked distributions, so greedy outputs and filters are not degenerate.
  modelA = (await createTinyModel({ dir: join(dir, 'a'), std: 0.5, seed: 1 })).dir;
  modelB = (await createTinyModel({ dir: join(dir, 'b'), std: 0.5, seed: 2 })).dir;
  backendA = createOnnxBackend({ modelDir: modelA });
  backendB = createOnnxBackend({ modelDir: modelB });
  const { tokenizer } = await loadTokenizer(modelA);
  const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });
  engine = await createDecodeEngine({ modelDir: modelA, decode, batchWindowMs: 2, maxBatch: 16 });
  server = createModelServer({
    backend: backendA,
    engine,
    modelName: MODEL,
    maxModelLength: 2048,
    tokenize: (input) =>
      'messages' in input
        ? backendA.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
    detokenize: decode,
  });
  ({ url } = await server.listen({ port: 0 }));
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await engine?.close();
  await backendA?.close();
  await backendB?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('logprobs from the decode loop', () => {
  it('completions logprobs: N gives vLLM dicts (sampled token + top N) matching the onnx backend', async () => {
    const prompt = 'The capital of France is';
    const response = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 10,
      temperature: 0,
      logprobs: 5,
      // Distinct keys: byte-fallback tokens all decode to U+FFFD and would collide (as in vLLM).
      ...extra({ ignore_eos: true, return_tokens_as_token_ids: true }),
    });
    const direct = await backendA.generate({
      prompts: [prompt],
      maxTokens: 10,
      temperature: 0,
      logprobs: true,
    });
    const expected = direct.results[0]!.completions[0]!;
    const choice = response.choices[0]!;
    const logprobs = choice.logprobs!;
    expect(choice.text.startsWith(expected.text)).toBe(true);
    expect(logprobs.tokens).toHaveLength(10);
    for (const [index, dict] of logprobs.top_logprobs!.entries()) {
      const keys = Object.keys(dict);
      // N keys when the sampled token is among the top N, N + 1 otherwise (greedy: it is the top one).
      expect(keys.length).toBe(5);
      const sampled = logprobs.tokens![index]!;
      expect(dict[sampled]).toBe(logprobs.token_logprobs![index]);
      expect(Math.max(...Object.values(dict))).toBe(dict[sampled]);
      const mass = Object.values(dict).reduce((sum, value) => sum + Math.exp(value), 0);
      expect(mass).toBeLessThanOrEqual(1 + 1e-6);
    }
    for (const [index, logprob] of Array.from(expected.logprobs!).entries()) {
      expect(logprobs.token_logprobs![index]).toBeCloseTo(logprob, 4);
    }
    expect(logprobs.text_offset![1]).toBe(logprobs.tokens![0]!.length);
  });

  it('logprobs are after the sampling filters: with top_k 3 the top-3 mass is 1 and the rest −9999', async () => {
    const response = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 6,
      temperature: 0.8,
      seed: 7,
      logprobs: 5,
      ...extra({ top_k: 3, ignore_eos: true, return_tokens_as_token_ids: true }),
    });
    for (const dict of response.choices[0]!.logprobs!.top_logprobs!) {
      const values = Object.values(dict).sort((a, b) => b - a);
      const kept = values.filter((value) => value > -9999);
      expect(kept.length).toBeLessThanOrEqual(3);
      expect(kept.reduce((sum, value) => sum + Math.exp(value), 0)).toBeCloseTo(1, 4);
      expect(values.slice(3).every((value) => value === -9999)).toBe(true);
    }
  });

  it('chat logprobs + top_logprobs: content[].top_logprobs has N entries, sampled first', async () => {
    const response = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi there' }],
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
      ...extra({ ignore_eos: true }),
    });
    const content = response.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(8);
    for (const entry of content) {
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
      expect(entry.top_logprobs[0]!.logprob).toBe(entry.logprob);
      expect(entry.bytes).toEqual(Array.from(new TextEncoder().encode(entry.token)));
      expect(entry.top_logprobs[1]!.logprob).toBeLessThanOrEqual(entry.logprob);
    }
    const refused = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 })
      .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
  });
});

describe('echo, prompt logprobs, token-id prompts, tokenize', () => {
  it('echo + max_tokens 0 scores the prompt like score(); prompt_logprobs in vLLM shape', async () => {
    const prompt = 'The quick brown fox';
    const response = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 0,
      echo: true,
      logprobs: 2,
      ...extra({ prompt_logprobs: 1 }),
    });
    const choice = response.choices[0]! as OpenAI.CompletionChoice & { prompt_logprobs: unknown[] };
    expect(choice.text).toBe(prompt);
    const ids = await backendA.tokenize(prompt);
    const scored = await backendA.score({
      items: [{ prompt: { tokenIds: ids.slice(0, 1) }, completion: { tokenIds: ids.slice(1) } }],
    });
    const logprobs = choice.logprobs!;
    expect(logprobs.token_logprobs![0]).toBeNull();
    expect(logprobs.top_logprobs![0]).toBeNull();
    expect(logprobs.tokens!.join('')).toBe(prompt);
    for (const [index, value] of Array.from(scored.results[0]!.logprobs).entries()) {
      expect(logprobs.token_logprobs![index + 1]).toBeCloseTo(value, 4);
    }
    expect(choice.prompt_logprobs[0]).toBeNull();
    const second = choice.prompt_logprobs[1] as Record<
      string,
      { logprob: number; rank: number; decoded_token: string }
    >;
    expect(second[String(ids[1])]!.logprob).toBeCloseTo(scored.results[0]!.logprobs[0]!, 4);
    expect(second[String(ids[1])]!.rank).toBeGreaterThanOrEqual(1);
    expect(response.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: 0 });
  });

  it('echo with generation: prompt text + completion, logprob arrays cover both', async () => {
    const ids = (await post('/tokenize', { model: MODEL, prompt: 'Hello world' })).json.tokens as number[];
    expect(ids.length).toBeGreaterThan(2);
    const detok = await post('/detokenize', { model: MODEL, tokens: ids });
    expect(detok.json).toEqual({ prompt: 'Hello world' });
    const response = await client.completions.create({
      model: MODEL,
      prompt: ids,
      max_tokens: 4,
      temperature: 0,
      echo: true,
      logprobs: 1,
      ...extra({ ignore_eos: true }),
    });
    const choice = response.choices[0]!;
    expect(choice.text.startsWith('Hello world')).toBe(true);
    expect(choice.logprobs!.tokens).toHaveLength(ids.length + 4);
    const plain = await client.completions.create({
      model: MODEL,
      prompt: 'Hello world',
      max_tokens: 4,
      temperature: 0,
      ...extra({ ignore_eos: true }),
    });
    expect(choice.text).toBe(`Hello world${plain.choices[0]!.text}`);
  });
});

describe('vLLM sampling extras', () => {
  it('stop_token_ids, min_tokens, ignore_eos and repetition_penalty', async () => {
    const base = { model: MODEL, prompt: 'abc', temperature: 0, logprobs: 0 } as const;
    const free = await client.completions.create({
      ...base,
      max_tokens: 12,
      ...extra({ ignore_eos: true, return_token_ids: true }),
    });
    const tokens = (free.choices[0] as unknown as { token_ids: number[] }).token_ids;
    expect(tokens).toHaveLength(12);
    expect(free.choices[0]!.finish_reason).toBe('length');
    const first = tokens[0]!;
    const stopped = await client.completions.create({
      ...base,
      max_tokens: 12,
      ...extra({ stop_token_ids: [first] }),
    });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    expect((stopped.choices[0] as unknown as { stop_reason: number }).stop_reason).toBe(first);
    expect(stopped.usage?.completion_tokens).toBe(1);
    const delayed = await client.completions.create({
      ...base,
      max_tokens: 12,
      ...extra({ stop_token_ids: [first], min_tokens: 3, return_token_ids: true }),
    });
    const delayedTokens = (delayed.choices[0] as unknown as { token_ids: number[] }).token_ids;
    expect(delayedTokens.length).toBeGreaterThanOrEqual(3);
    expect(delayedTokens.slice(0, 3)).not.toContain(first);
    const prompt = (await post('/tokenize', { prompt: 'abc' })).json.tokens as number[];
    const penalised = await client.completions.create({
      ...base,
      max_tokens: 10,
      ...extra({ repetition_penalty: 100, ignore_eos: true, return_token_ids: true }),
    });
    const penalisedTokens = (penalised.choices[0] as unknown as { token_ids: number[] }).token_ids;
    expect(new Set(penalisedTokens).size).toBe(penalisedTokens.length);
    expect(penalisedTokens.some((token) => prompt.includes(token))).toBe(false);
    const presence = await client.completions.create({
      ...base,
      max_tokens: 12,
      presence_penalty: 2,
      frequency_penalty: 2,
      ...extra({ ignore_eos: true }),
    });
    expect(presence.choices[0]!.text).not.toBe(free.choices[0]!.text);
  });
});

describe('incremental SSE', () => {
  it('sends each decode step as produced, for n = 2 and chat, with usage last', async () => {
    const whole = await client.completions.create({
      model: MODEL,
      prompt: 'stream me',
      max_tokens: 12,
      temperature: 0,
      n: 2,
      ...extra({ ignore_eos: true }),
    });
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'stream me',
      max_tokens: 12,
      temperature: 0,
      n: 2,
      logprobs: 1,
      stream: true,
      stream_options: { include_usage: true },
      ...extra({ ignore_eos: true }),
    });
    const texts = ['', ''];
    const chunks = [0, 0];
    let usage: OpenAI.CompletionUsage | undefined;
    let last: OpenAI.Completion | undefined;
    for await (const chunk of stream) {
      last = chunk;
      for (const choice of chunk.choices) {
        expect(chunk.choices).toHaveLength(1);
        texts[choice.index] += choice.text;
        chunks[choice.index]!++;
        expect(choice.logprobs!.tokens!.length).toBe(1);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(texts).toEqual(whole.choices.map((choice) => choice.text));
    expect(chunks).toEqual([12, 12]);
    expect(usage?.completion_tokens).toBe(24);
    expect(last?.choices).toEqual([]);

    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 10,
      temperature: 0,
      stream: true,
      ...extra({ ignore_eos: true }),
    });
    let content = '';
    let deltas = 0;
    let finish: string | null = null;
    for await (const chunk of chat) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta.content) {
        content += choice.delta.content;
        deltas++;
      }
      finish = choice.finish_reason ?? finish;
    }
    expect(deltas).toBeGreaterThan(1);
    expect(finish).toBe('length');
    const once = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 10,
      temperature: 0,
      ...extra({ ignore_eos: true }),
    });
    expect(content).toBe(once.choices[0]!.message.content);
  });

  it('a client that disconnects frees its batch slot at once', async () => {
    const controller = new AbortController();
    const stream = await client.completions.create(
      { model: MODEL, prompt: 'long', max_tokens: 1500, stream: true, ...extra({ ignore_eos: true }) },
      { signal: controller.signal },
    );
    let seen = 0;
    try {
      for await (const _ of stream) {
        if (++seen === 3) controller.abort();
      }
    } catch {
      // aborted
    }
    await until(() => (server.stats().engine?.running ?? 1) === 0, 'the engine to drop the row');
    expect(server.stats().engine!.steps).toBeLessThan(1000);
  });
});

describe('live weights', () => {
  it('update_weights_from_disk swaps weights between steps; running requests finish on the old ones', async () => {
    const prompt = 'Weights';
    const greedy = { model: MODEL, prompt, temperature: 0, ...extra({ ignore_eos: true }) };
    const onA = await backendA.generate({ prompts: [prompt], maxTokens: 200, temperature: 0 });
    const onB = await backendB.generate({ prompts: [prompt], maxTokens: 8, temperature: 0 });
    const inFlight = client.completions.create({ ...greedy, max_tokens: 200 });
    await until(() => (server.stats().engine?.running ?? 0) > 0, 'the request to start decoding');
    const update = await post('/update_weights_from_disk', { model_path: modelB, weight_version: 'step-1' });
    expect(update.status).toBe(200);
    expect(update.json).toMatchObject({ success: true, num_paused_requests: 0 });
    expect(update.json.message).toContain('Weight version updated to step-1.');
    const after = await client.completions.create({ ...greedy, max_tokens: 8 });
    const before = await inFlight;
    expect(before.choices[0]!.text.startsWith(onA.results[0]!.completions[0]!.text)).toBe(true);
    expect(before.system_fingerprint).toBe('rlpt-weights-0');
    expect(after.system_fingerprint).toBe('rlpt-weights-1');
    expect(after.choices[0]!.text.startsWith(onB.results[0]!.completions[0]!.text)).toBe(true);
    expect(after.choices[0]!.text).not.toBe(before.choices[0]!.text.slice(0, after.choices[0]!.text.length));
    const version = await fetch(`${url}/get_weight_version`).then((response) => response.json());
    expect(version).toEqual({ weight_version: 'step-1' });
    const bad = await post('/update_weights_from_disk', { model_path: join(dir, 'missing') });
    expect(bad.status).toBe(400);
    expect(bad.json.success).toBe(false);
    expect(bad.json.message).toContain('missing');
    const still = await client.completions.create({ ...greedy, max_tokens: 8 });
    expect(still.choices[0]!.text).toBe(after.choices[0]!.text);
  });
});
