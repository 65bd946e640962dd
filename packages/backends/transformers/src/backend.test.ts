import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argmax, logitsRow, openUncachedForward, type UncachedForward } from '@rlpt/conformance';
import { createTinyModel, type TinyModel } from '@rlpt/model';
import { AbortError, type InvalidArgumentError, ModelLoadError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformersBackend, type TransformersBackend } from './backend.js';

// Every fetch in this file throws and is counted: the backend must never reach for the network.
const realFetch = globalThis.fetch;
let fetchCalls = 0;
globalThis.fetch = (async (input: unknown) => {
  fetchCalls++;
  throw new Error(`network access attempted: ${String(input)}`);
}) as typeof fetch;

let root: string;
let tiny: TinyModel;
let backend: TransformersBackend;
let uncached: UncachedForward;
const prompts = ['The cat', 'a', 'Once upon a time, far away,'];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-transformers-backend-'));
  tiny = await createTinyModel({ dir: join(root, 'tiny'), tokenizer: 'char', seed: 4, safetensors: false });
  backend = createTransformersBackend({ modelDir: tiny.dir, threads: 1 });
  uncached = await openUncachedForward(tiny.dir);
  // transformers.js binds its default fetch when first imported: make sure that copy throws too.
  const transformers = await import('@huggingface/transformers');
  transformers.env.fetch = globalThis.fetch;
});
afterAll(async () => {
  await backend?.close();
  await uncached?.close();
  await rm(root, { recursive: true, force: true });
  globalThis.fetch = realFetch;
});

/** Rank of `token` among the uncached logits of the position after `prefix` (0 = most likely). */
async function rankOf(prefix: number[], token: number): Promise<number> {
  const logits = await uncached.logits(prefix);
  const row = logitsRow(logits, logits.positions - 1);
  const value = row[token] as number;
  let rank = 0;
  for (const other of row) if (other > value) rank++;
  return rank;
}

describe('loading from a local folder only', () => {
  it('loads, generates and scores without a single fetch (no generation_config.json either)', async () => {
    const copy = join(root, 'no-generation-config');
    await cp(tiny.dir, copy, { recursive: true });
    await rm(join(copy, 'generation_config.json'));
    const local = createTransformersBackend({ modelDir: copy, threads: 1 });
    const result = await local.generate({ prompts: ['hello'], maxTokens: 4, temperature: 0 });
    expect(result.results[0]?.completions[0]?.tokenIds).toHaveLength(4);
    await local.score({ items: [{ prompt: 'hello', completion: ' world' }] });
    await local.close();
    await backend.init();
    expect(fetchCalls).toBe(0);
  });

  it('rejects a missing folder with a ModelLoadError naming it and `rlpt model init`', async () => {
    const missing = join(root, 'nope');
    const error = await createTransformersBackend({ modelDir: missing })
      .init()
      .catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(missing);
    expect((error as Error).message).toContain('rlpt model init');
  });

  it('names the ONNX file a dtype needs when the folder lacks it', async () => {
    const error = await createTransformersBackend({ modelDir: tiny.dir, dtype: 'q8' })
      .init()
      .catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(tiny.dir, 'onnx', 'model_quantized.onnx'));
    expect((error as Error).message).toContain("dtype 'q8'");
  });

  it('names a missing tokenizer_config.json', async () => {
    const copy = join(root, 'no-tokenizer-config');
    await cp(tiny.dir, copy, { recursive: true });
    await rm(join(copy, 'tokenizer_config.json'));
    const error = await createTransformersBackend({ modelDir: copy })
      .init()
      .catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(copy, 'tokenizer_config.json'));
    expect(fetchCalls).toBe(0);
  });

  it('rejects bad settings with InvalidArgumentError naming the setting', () => {
    const attempt = (settings: Parameters<typeof createTransformersBackend>[0]) => {
      try {
        createTransformersBackend(settings);
      } catch (error) {
        return error as InvalidArgumentError;
      }
      throw new Error('no error thrown');
    };
    expect(attempt({ modelDir: '' }).argument).toBe('modelDir');
    expect(attempt({ modelDir: tiny.dir, dtype: 'fp64' as 'fp32' }).argument).toBe('dtype');
    expect(attempt({ modelDir: tiny.dir, threads: 0 }).argument).toBe('threads');
    expect(attempt({ modelDir: tiny.dir, maxBatchSize: 1.5 }).argument).toBe('maxBatchSize');
  });
});

describe('sampling settings', () => {
  it('samples from the whole vocabulary by default (transformers.js would keep only the top 50)', async () => {
    const result = await backend.generate({ prompts, n: 4, maxTokens: 8, temperature: 1, seed: 3 });
    let beyondTop50 = 0;
    let tokens = 0;
    for (const entry of result.results) {
      const promptIds = entry.promptTokenIds as number[];
      for (const completion of entry.completions) {
        const ids = completion.tokenIds as number[];
        for (const [step, token] of ids.entries()) {
          if ((await rankOf([...promptIds, ...ids.slice(0, step)], token)) >= 50) beyondTop50++;
          tokens++;
        }
      }
    }
    // ~360 near-uniform tokens: most draws rank beyond 50 when nothing truncates the distribution.
    expect(tokens).toBe(96);
    expect(beyondTop50).toBeGreaterThan(tokens / 2);
  });

  it('passes topK through: every sampled token is among the k most likely', async () => {
    const result = await backend.generate({ prompts, n: 3, maxTokens: 6, temperature: 1, topK: 3, seed: 8 });
    const ranks: number[] = [];
    for (const entry of result.results) {
      const promptIds = entry.promptTokenIds as number[];
      for (const completion of entry.completions) {
        const ids = completion.tokenIds as number[];
        for (const [step, token] of ids.entries())
          ranks.push(await rankOf([...promptIds, ...ids.slice(0, step)], token));
      }
    }
    expect(ranks).toHaveLength(54);
    expect(Math.max(...ranks)).toBeLessThan(3);
    expect(new Set(ranks).size).toBeGreaterThan(1);
    // topK 1 is greedy.
    const top1 = await backend.generate({ prompts, maxTokens: 6, temperature: 1, topK: 1, seed: 8 });
    const greedy = await backend.generate({ prompts, maxTokens: 6, temperature: 0 });
    expect(top1.results.map((entry) => entry.completions[0]?.tokenIds)).toEqual(
      greedy.results.map((entry) => entry.completions[0]?.tokenIds),
    );
  });

  it('reports topP, minP and unknown providerOptions as unsupported-setting warnings and still generates', async () => {
    const result = await backend.generate({
      prompts: ['abc'],
      maxTokens: 3,
      topP: 0.9,
      minP: 0.05,
      seed: 1,
      providerOptions: { guidanceScale: 2 },
    });
    expect(result.warnings.map((warning) => warning.setting).sort()).toEqual([
      'minP',
      'providerOptions.guidanceScale',
      'topP',
    ]);
    for (const warning of result.warnings) expect(warning.type).toBe('unsupported-setting');
    expect(result.results[0]?.completions[0]?.tokenIds).toHaveLength(3);
  });

  it('validates request fields with InvalidArgumentError naming the field', async () => {
    const argumentOf = (request: Parameters<TransformersBackend['generate']>[0]) =>
      backend.generate(request).then(
        () => 'resolved',
        (error: InvalidArgumentError) => error.argument,
      );
    expect(await argumentOf({ prompts, maxTokens: 2, topK: -1 })).toBe('topK');
    expect(await argumentOf({ prompts, maxTokens: 2, topP: 0 })).toBe('topP');
    expect(await argumentOf({ prompts, maxTokens: 2, seed: -5 })).toBe('seed');
    expect(await argumentOf({ prompts, maxTokens: 2, stop: [''] })).toBe('stop');
    expect(await argumentOf({ prompts, maxTokens: 2, stopTokenIds: [100000] })).toBe('stopTokenIds');
    expect(await argumentOf({ prompts: ['a', { tokenIds: [1, 99999] }], maxTokens: 2 })).toBe('prompts[1]');
  });
});

describe('batching, concurrency and scoring', () => {
  it('splits requests larger than maxBatchSize into groups with the same greedy outputs', async () => {
    const small = createTransformersBackend({ modelDir: tiny.dir, threads: 1, maxBatchSize: 2 });
    const grouped = await small.generate({ prompts, n: 2, maxTokens: 10, temperature: 0 });
    const whole = await backend.generate({ prompts, n: 2, maxTokens: 10, temperature: 0 });
    expect(grouped.results).toEqual(whole.results);
    await small.close();
  });

  it('keeps seeded calls reproducible when they run concurrently (one global RNG, queued)', async () => {
    const request = { prompts, n: 2, maxTokens: 8, temperature: 1 };
    const sequential = [
      await backend.generate({ ...request, seed: 21 }),
      await backend.generate({ ...request, seed: 22 }),
    ];
    const concurrent = await Promise.all([
      backend.generate({ ...request, seed: 21 }),
      backend.generate({ ...request, seed: 22 }),
    ]);
    expect(concurrent.map((result) => result.results)).toEqual(sequential.map((result) => result.results));
    expect(sequential[0]?.results).not.toEqual(sequential[1]?.results);
  });

  it('gives the same logprobs whatever the scoring chunk size', async () => {
    const result = await backend.generate({
      prompts,
      n: 2,
      maxTokens: 9,
      temperature: 0.8,
      seed: 2,
      logprobs: true,
    });
    const chunked = createTransformersBackend({ modelDir: tiny.dir, threads: 1, scoreLogitsBytes: 1 });
    const items = result.results.flatMap((entry) =>
      entry.completions.map((completion) => ({
        prompt: { tokenIds: entry.promptTokenIds as number[] },
        completion: { tokenIds: completion.tokenIds as number[] },
      })),
    );
    const scored = await chunked.score({ items, temperature: 0.8 });
    const expected = result.results.flatMap((entry) =>
      entry.completions.map((c) => Array.from(c.logprobs ?? [])),
    );
    expect(scored.results).toHaveLength(6);
    for (const [index, entry] of scored.results.entries()) {
      const want = expected[index] as number[];
      expect(entry.logprobs).toHaveLength(want.length);
      for (const [step, value] of entry.logprobs.entries())
        expect(Math.abs(value - (want[step] as number))).toBeLessThan(1e-5);
    }
    await chunked.close();
  });

  it('scores an empty completion as empty arrays and rejects an aborted score', async () => {
    const scored = await backend.score({ items: [{ prompt: 'abc', completion: '' }] });
    expect(scored.results[0]?.tokenIds).toEqual([]);
    expect(scored.results[0]?.logprobs).toHaveLength(0);
    const controller = new AbortController();
    controller.abort();
    const error = await backend
      .score({ items: [{ prompt: 'abc', completion: 'd' }] }, { signal: controller.signal })
      .catch((caught: unknown) => caught);
    expect(AbortError.isInstance(error)).toBe(true);
  });
});

describe('prompts', () => {
  it('renders chat prompts with the chat template of tokenizer_config.json', async () => {
    const result = await backend.generate({
      prompts: [{ messages: [{ role: 'user', content: 'Hi' }] }],
      maxTokens: 2,
      temperature: 0,
    });
    // tinyChatTemplate: `role: content<eos>\n` per message, then `assistant: `.
    const expected = await backend.tokenize('user: Hi<eos>\nassistant: ');
    expect(result.results[0]?.promptTokenIds).toEqual(expected);
    expect(expected).toContain(2);
  });

  it('passes chatTemplateKwargs and enableThinking to the chat template', async () => {
    const messages = [{ role: 'user', content: 'Hi' }];
    const plain = await backend.generate({
      prompts: [{ messages }],
      maxTokens: 1,
      temperature: 0,
      providerOptions: { chatTemplateKwargs: { add_generation_prompt: false } },
    });
    expect(plain.results[0]?.promptTokenIds).toEqual(await backend.tokenize('user: Hi<eos>\n'));
    const qwen3 = await createTinyModel({
      dir: join(root, 'qwen3'),
      tokenizer: 'qwen3',
      hiddenSize: 16,
      heads: 2,
      kvHeads: 1,
      layers: 1,
      safetensors: false,
    });
    const chat = createTransformersBackend({ modelDir: qwen3.dir, threads: 1 });
    const promptIds = async (enableThinking?: boolean) =>
      (
        await chat.generate({
          prompts: [{ messages }],
          maxTokens: 1,
          temperature: 0,
          ...(enableThinking === undefined ? {} : { providerOptions: { enableThinking } }),
        })
      ).results[0]?.promptTokenIds ?? [];
    const thinkEnd = 151668; // </think>: Qwen3's template closes an empty think block when thinking is off
    expect(await promptIds(false)).toContain(thinkEnd);
    expect(await promptIds(true)).not.toContain(thinkEnd);
    expect(await promptIds()).not.toContain(thinkEnd);
    await chat.close();
  });

  it('greedy tokens are the uncached argmax for a prompt that ends near the context limit', async () => {
    const short = await createTinyModel({
      dir: join(root, 'short-context'),
      tokenizer: 'char',
      seed: 4,
      maxPositionEmbeddings: 24,
      safetensors: false,
    });
    const limited = createTransformersBackend({ modelDir: short.dir, threads: 1 });
    const result = await limited.generate({
      prompts: ['0123456789abcdefghij'],
      maxTokens: 10,
      temperature: 0,
    });
    const completion = result.results[0]?.completions[0];
    expect(completion?.tokenIds).toHaveLength(4);
    expect(completion?.finishReason).toBe('length');
    expect(result.warnings.some((warning) => warning.message.includes('max_position_embeddings'))).toBe(true);
    const reference = await openUncachedForward(short.dir);
    const ids = [...(result.results[0]?.promptTokenIds ?? []), ...(completion?.tokenIds ?? [])];
    const logits = await reference.logits(ids);
    for (const [step, token] of (completion?.tokenIds ?? []).entries())
      expect(argmax(logitsRow(logits, 19 + step))).toBe(token);
    await reference.close();
    await limited.close();
  });
});
