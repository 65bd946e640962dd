import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { charTokenizer, createTinyModel, type TinyModel, writeModelFolder } from '@rlpt/model';
import { AbortError, InvalidArgumentError, ModelLoadError, type GenerateRequest } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend, type OnnxBackend } from './backend.js';
import { argmax, logSoftmaxAt, type UncachedModel, uncachedModel } from './testing.js';

let root: string;
let tiny: TinyModel;
let backend: OnnxBackend;
let reference: UncachedModel;
const alphabet = 'abcdefghij .';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-onnx-backend-'));
  // Char tokenizer without byte tokens: every id decodes to one visible character (stop strings are testable).
  tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: charTokenizer({ alphabet, byteFallback: false }),
    std: 0.5,
    seed: 21,
    maxPositionEmbeddings: 48,
    safetensors: false,
  });
  backend = createOnnxBackend({ modelDir: tiny.dir, threads: 1 });
  reference = await uncachedModel(
    tiny.dir,
    tiny.config.numHiddenLayers,
    tiny.config.numKeyValueHeads,
    tiny.config.headDim,
  );
});
afterAll(async () => {
  await backend?.close();
  await rm(root, { recursive: true, force: true });
});

async function greedyReference(
  promptIds: number[],
  steps: number,
  stopIds: number[] = [2],
): Promise<number[]> {
  const ids = [...promptIds];
  const out: number[] = [];
  for (let step = 0; step < steps; step++) {
    const token = argmax(await reference.lastLogits(ids));
    out.push(token);
    ids.push(token);
    if (stopIds.includes(token)) break;
  }
  return out;
}

describe('generate: greedy and logprobs against an uncached forward', () => {
  it('greedy tokens of a batch of different-length prompts equal step-by-step uncached argmax', async () => {
    const prompts = ['a', 'hello', 'big bad cab.', 'jij'];
    const result = await backend.generate({ prompts, maxTokens: 12, temperature: 0, n: 2 });
    expect(result.results).toHaveLength(4);
    for (const [index, entry] of result.results.entries()) {
      const promptIds = entry.promptTokenIds as number[];
      expect(promptIds).toEqual(await backend.tokenize(prompts[index] as string));
      const expected = await greedyReference(promptIds, 12);
      for (const completion of entry.completions) expect(completion.tokenIds).toEqual(expected);
    }
    expect(result.usage.promptTokens).toBe(1 + 5 + 12 + 3);
    expect(result.usage.completionTokens).toBe(
      result.results
        .flatMap((entry) => entry.completions)
        .reduce((sum, c) => sum + (c.tokenIds?.length ?? 0), 0),
    );
  });

  it('keeps short rows right after the longest prompt finishes and its padding is dropped from the cache', async () => {
    const long = 'abcdefghij abcdefghij';
    const longIds = await backend.tokenize(long);
    const [stopId] = await greedyReference(longIds, 1);
    const shorts = ['a', 'jab', 'cafe'];
    const result = await backend.generate({
      prompts: [long, ...shorts],
      maxTokens: 10,
      temperature: 0,
      stopTokenIds: [stopId as number],
    });
    expect(result.results[0]?.completions[0]?.tokenIds).toEqual([stopId]);
    let continued = 0;
    for (const [index, prompt] of shorts.entries()) {
      const ids = await backend.tokenize(prompt);
      const expected = await greedyReference(ids, 10, [2, stopId as number]);
      const got = result.results[index + 1]?.completions[0]?.tokenIds;
      expect(got).toEqual(expected);
      if ((got?.length ?? 0) > 1) continued++;
    }
    expect(continued).toBeGreaterThan(0);
  });

  it('sampled logprobs equal log-softmax(logits / T) of an uncached forward (≤ 1e-4), and score() agrees', async () => {
    const temperature = 0.7;
    const result = await backend.generate({
      prompts: ['abc', 'fed cab'],
      n: 3,
      maxTokens: 10,
      temperature,
      seed: 5,
      logprobs: true,
    });
    let checked = 0;
    const items = [];
    for (const entry of result.results) {
      const promptIds = entry.promptTokenIds as number[];
      for (const completion of entry.completions) {
        const tokens = completion.tokenIds as number[];
        expect(completion.logprobs).toHaveLength(tokens.length);
        const { logits, vocab } = await reference.allLogits([...promptIds, ...tokens]);
        for (const [step, token] of tokens.entries()) {
          const row = logits.subarray(
            (promptIds.length - 1 + step) * vocab,
            (promptIds.length + step) * vocab,
          );
          expect(
            Math.abs((completion.logprobs?.[step] as number) - logSoftmaxAt(row, token, temperature)),
          ).toBeLessThan(1e-4);
          checked++;
        }
        items.push({
          prompt: { tokenIds: promptIds },
          completion: { tokenIds: tokens },
          logprobs: completion.logprobs as Float32Array,
        });
      }
    }
    expect(checked).toBeGreaterThan(30);
    const scored = await backend.score({ items, temperature });
    for (const [index, item] of items.entries()) {
      const got = scored.results[index];
      expect(got?.tokenIds).toEqual(Array.from(item.completion.tokenIds));
      for (const [step, value] of item.logprobs.entries())
        expect(Math.abs((got?.logprobs[step] as number) - value)).toBeLessThan(1e-4);
    }
  });

  it('score() chunks long inputs through the cache without changing results', async () => {
    const chunked = createOnnxBackend({
      modelDir: tiny.dir,
      scoreLogitsBytes: 2 * 4 * tiny.config.vocabSize,
      threads: 1,
    });
    const items = [
      { prompt: 'abc', completion: 'def ghij' },
      { prompt: 'a b c d e', completion: 'j' },
      { prompt: 'x', completion: '' },
    ];
    const whole = await backend.score({ items });
    const pieces = await chunked.score({ items });
    expect(whole.results[2]).toEqual({ tokenIds: [], logprobs: new Float32Array(0) });
    for (const [index, result] of whole.results.entries()) {
      expect(pieces.results[index]?.tokenIds).toEqual(result.tokenIds);
      for (const [step, value] of result.logprobs.entries())
        expect(Math.abs((pieces.results[index]?.logprobs[step] as number) - value)).toBeLessThan(1e-4);
    }
    // 'x' is not in the alphabet: it becomes <unk> (3) rather than failing.
    expect(await backend.tokenize('x')).toEqual([3]);
    await chunked.close();
  });
});

describe('generate: sampling', () => {
  const request: GenerateRequest = {
    prompts: ['abc', 'hij ha'],
    n: 4,
    maxTokens: 16,
    temperature: 1,
    seed: 42,
    logprobs: true,
  };

  it('is reproducible for a seed, differs across seeds, and samples of one prompt differ', async () => {
    const a = await backend.generate(request);
    const b = await backend.generate(request);
    const c = await backend.generate({ ...request, seed: 43 });
    const tokens = (result: typeof a) =>
      result.results.map((entry) => entry.completions.map((completion) => completion.tokenIds));
    expect(tokens(a)).toEqual(tokens(b));
    expect(tokens(a)).not.toEqual(tokens(c));
    const first = a.results[0]?.completions.map((completion) => completion.tokenIds?.join(','));
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('gives a prompt the same completions whatever else is in the batch or how it is chunked', async () => {
    const together = await backend.generate(request);
    const alone = await backend.generate({ ...request, prompts: ['hij ha'] });
    const reordered = await backend.generate({ ...request, prompts: ['jj', 'hij ha', 'abc'] });
    const chunkedBackend = createOnnxBackend({ modelDir: tiny.dir, maxBatchSize: 3, threads: 1 });
    const chunked = await chunkedBackend.generate(request);
    const ids = (entry: { completions: { tokenIds?: number[] }[] } | undefined) =>
      entry?.completions.map((completion) => completion.tokenIds);
    expect(ids(alone.results[0])).toEqual(ids(together.results[1]));
    expect(ids(reordered.results[1])).toEqual(ids(together.results[1]));
    expect(ids(reordered.results[2])).toEqual(ids(together.results[0]));
    expect(chunked.results.map(ids)).toEqual(together.results.map(ids));
    await chunkedBackend.close();
  });

  it('top-k 1, min-p 1 and a tiny top-p all reduce to greedy (logprobs stay full-distribution)', async () => {
    const base = { prompts: ['bad', 'ace'], maxTokens: 8, seed: 1, logprobs: true };
    const greedy = await backend.generate({ ...base, temperature: 0 });
    const temperature = 0.8;
    for (const filter of [{ topK: 1 }, { minP: 1 }, { topP: 1e-6 }]) {
      const filtered = await backend.generate({ ...base, temperature, ...filter });
      for (const [index, entry] of filtered.results.entries()) {
        const completion = entry.completions[0];
        expect(completion?.tokenIds).toEqual(greedy.results[index]?.completions[0]?.tokenIds);
        const promptIds = entry.promptTokenIds as number[];
        const first = await reference.lastLogits(promptIds);
        expect(
          Math.abs(
            (completion?.logprobs?.[0] as number) -
              logSoftmaxAt(first, completion?.tokenIds?.[0] as number, temperature),
          ),
        ).toBeLessThan(1e-4);
      }
    }
  });
});

describe('generate: stopping', () => {
  it('maxTokens ends with finishReason length', async () => {
    const result = await backend.generate({
      prompts: ['abc'],
      maxTokens: 5,
      temperature: 0,
      stopTokenIds: [],
    });
    const completion = result.results[0]?.completions[0];
    const expected = await greedyReference(await backend.tokenize('abc'), 5);
    expect(completion?.tokenIds).toEqual(expected);
    if (!expected.includes(2)) expect(completion?.finishReason).toBe('length');
  });

  /** A prompt whose greedy continuation runs to maxTokens without end-of-sequence, with its tokens and text. */
  async function longGreedy(maxTokens: number): Promise<{ prompt: string; tokens: number[]; text: string }> {
    for (const prompt of ['gig', 'dab', 'abc', 'hij', 'ace', 'bad fig', 'j', 'cab ', 'jade']) {
      const free = await backend.generate({ prompts: [prompt], maxTokens, temperature: 0 });
      const completion = free.results[0]?.completions[0];
      const tokens = completion?.tokenIds ?? [];
      if (completion?.finishReason === 'length' && tokens.filter((id) => id >= 4).length >= 6) {
        return { prompt, tokens, text: completion.text };
      }
    }
    throw new Error('no prompt with a long greedy continuation; change the test model seed');
  }

  it('stop strings cut the text before the stop (tokens keep what was sampled)', async () => {
    const { prompt, tokens, text } = await longGreedy(20);
    const stop = text.slice(3, 5);
    const cut = text.indexOf(stop);
    const stopped = await backend.generate({
      prompts: [prompt],
      maxTokens: 20,
      temperature: 0,
      stop: ['zzz', stop],
    });
    const completion = stopped.results[0]?.completions[0];
    expect(completion?.finishReason).toBe('stop');
    expect(completion?.text).toBe(text.slice(0, cut));
    // Generation ran exactly until the token that completed the stop string.
    const tokenizer = new Tokenizer(tiny.tokenizerFiles.tokenizer, tiny.tokenizerFiles.tokenizerConfig);
    const produced = completion?.tokenIds as number[];
    expect(produced).toEqual(tokens.slice(0, produced.length));
    expect(tokenizer.decode(produced, { skip_special_tokens: true }).includes(stop)).toBe(true);
    expect(tokenizer.decode(produced.slice(0, -1), { skip_special_tokens: true }).includes(stop)).toBe(false);
  });

  it('stop token ids end generation; the token is kept in tokenIds but not in text', async () => {
    const { prompt, tokens } = await longGreedy(12);
    const at = tokens.findIndex((id, index) => index >= 2 && id >= 4);
    const stopId = tokens[at] as number;
    const stopped = await backend.generate({
      prompts: [prompt],
      maxTokens: 12,
      temperature: 0,
      stopTokenIds: [stopId],
      logprobs: true,
    });
    const completion = stopped.results[0]?.completions[0];
    expect(completion?.finishReason).toBe('stop');
    expect(completion?.tokenIds).toEqual(tokens.slice(0, at + 1));
    expect(completion?.logprobs).toHaveLength(at + 1);
    const tokenizer = new Tokenizer(tiny.tokenizerFiles.tokenizer, tiny.tokenizerFiles.tokenizerConfig);
    expect(completion?.text).toBe(
      at === 0 ? '' : tokenizer.decode(tokens.slice(0, at), { skip_special_tokens: true }),
    );
  });

  it('reads eos from generation_config.json', async () => {
    const { prompt, tokens } = await longGreedy(12);
    const eos = tokens.find((id, index) => index >= 2 && id >= 4) as number;
    const dir = join(root, 'eos');
    await cp(tiny.dir, dir, { recursive: true });
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [eos] }));
    const withEos = createOnnxBackend({ modelDir: dir, threads: 1 });
    const result = await withEos.generate({ prompts: [prompt], maxTokens: 12, temperature: 0 });
    expect(result.results[0]?.completions[0]?.tokenIds).toEqual(tokens.slice(0, tokens.indexOf(eos) + 1));
    expect(result.results[0]?.completions[0]?.finishReason).toBe('stop');
    await withEos.close();
  });

  it('caps generation at max_position_embeddings with a warning', async () => {
    const prompt = `${'abcdefghij'.repeat(4)}abcd`; // 44 of 48 positions
    const result = await backend.generate({
      prompts: [prompt],
      maxTokens: 10,
      temperature: 0,
      stopTokenIds: [],
    });
    const completion = result.results[0]?.completions[0];
    expect(completion?.tokenIds?.length).toBeLessThanOrEqual(4);
    expect(result.warnings.some((warning) => warning.message.includes('max_position_embeddings (48)'))).toBe(
      true,
    );
  });
});

describe('generate: prompts and errors', () => {
  it('renders chat prompts with the model chat template', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const ids = await backend.tokenize({ messages });
    // tinyChatTemplate: "user: hi<eos>\nassistant: " — ':' and '\n' are not in this alphabet, so <unk> (3).
    expect(ids).toEqual(await backend.tokenize('user: hi<eos>\nassistant: '));
    const result = await backend.generate({ prompts: [{ messages }], maxTokens: 3, temperature: 0 });
    expect(result.results[0]?.promptTokenIds).toEqual(ids);
  });

  it('rejects empty and over-long prompts with the prompt index', async () => {
    const empty = await backend
      .generate({ prompts: ['abc', ''], maxTokens: 3 })
      .catch((error: unknown) => error);
    expect(InvalidArgumentError.isInstance(empty)).toBe(true);
    expect((empty as InvalidArgumentError).argument).toBe('prompts[1]');
    expect((empty as Error).message).toMatch(/prompts\[1\] is empty/);
    const long = await backend
      .generate({ prompts: ['a'.repeat(60)], maxTokens: 3 })
      .catch((error: unknown) => error);
    expect(InvalidArgumentError.isInstance(long)).toBe(true);
    expect((long as Error).message).toMatch(
      /prompts\[0\] has 60 tokens, but the model's max_position_embeddings is 48/,
    );
    const emptyScore = await backend
      .score({ items: [{ prompt: '', completion: 'abc' }] })
      .catch((error: unknown) => error);
    expect((emptyScore as InvalidArgumentError).argument).toBe('items[0].prompt');
    const longScore = await backend
      .score({ items: [{ prompt: 'ab', completion: 'a'.repeat(47) }] })
      .catch((error: unknown) => error);
    expect((longScore as InvalidArgumentError).argument).toBe('items[0]');
    expect((longScore as Error).message).toMatch(/2 \+ 47 tokens, more than max_position_embeddings \(48\)/);
    const badIds = await backend
      .generate({ prompts: [{ tokenIds: [1, 999] }], maxTokens: 3 })
      .catch((error: unknown) => error);
    expect((badIds as Error).message).toMatch(/prompts\[0\].tokenIds\[1\] = 999 is not a token id/);
  });

  it('rejects prompts whose tokens the model has no embedding for (mismatched tokenizer)', async () => {
    const dir = join(root, 'mismatch');
    await cp(tiny.dir, dir, { recursive: true });
    // A tokenizer with more tokens than the model's vocabulary (16).
    const bigger = charTokenizer({ alphabet: `${alphabet}xyz`, byteFallback: false });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(bigger.tokenizer));
    const mismatched = createOnnxBackend({ modelDir: dir, threads: 1 });
    const error = await mismatched
      .generate({ prompts: ['ab', 'axe'], maxTokens: 2 })
      .catch((caught: unknown) => caught);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as InvalidArgumentError).argument).toBe('prompts[1]');
    expect((error as Error).message).toMatch(/id 16 \("x"\), outside the model's vocabulary of 16/);
    await mismatched.close();
  });

  it('rejects invalid options by name', async () => {
    const cases: [Partial<GenerateRequest>, string][] = [
      [{ n: 0 }, 'n'],
      [{ maxTokens: 0 }, 'maxTokens'],
      [{ temperature: -1 }, 'temperature'],
      [{ topP: 0 }, 'topP'],
      [{ minP: 2 }, 'minP'],
      [{ topK: 1.5 }, 'topK'],
      [{ stop: [''] }, 'stop'],
      [{ seed: -3 }, 'seed'],
    ];
    for (const [patch, argument] of cases) {
      const error = await backend
        .generate({ prompts: ['a'], maxTokens: 2, ...patch })
        .catch((caught: unknown) => caught);
      expect(InvalidArgumentError.isInstance(error), argument).toBe(true);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
  });

  it('warns about unknown providerOptions instead of failing', async () => {
    const result = await backend.generate({
      prompts: ['a'],
      maxTokens: 1,
      providerOptions: { extra_body: { x: 1 } },
    });
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ type: 'unsupported-setting', setting: 'providerOptions.extra_body' }),
    );
  });

  it('aborts with AbortError, before and during generation', async () => {
    const before = new AbortController();
    before.abort();
    await expect(
      backend.generate({ prompts: ['a'], maxTokens: 5 }, { signal: before.signal }),
    ).rejects.toSatisfy(AbortError.isInstance);
    const during = new AbortController();
    const pending = backend.generate(
      { prompts: ['abc'], n: 8, maxTokens: 40, stopTokenIds: [] },
      { signal: during.signal },
    );
    setTimeout(() => during.abort(new Error('user pressed ctrl-c')), 5);
    const error = await pending.catch((caught: unknown) => caught);
    expect(AbortError.isInstance(error)).toBe(true);
    expect(((error as AbortError).cause as Error).message).toBe('user pressed ctrl-c');
  });

  it('fails with ModelLoadError naming the path for missing folders and files', async () => {
    const missing = createOnnxBackend({ modelDir: join(root, 'nope') });
    const error = await missing.init().catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${join(root, 'nope')} does not exist`);
    expect((error as Error).message).toContain('rlpt model init');
    const noTokenizer = join(root, 'no-tokenizer');
    await cp(tiny.dir, noTokenizer, { recursive: true });
    await rm(join(noTokenizer, 'tokenizer.json'));
    const broken = await createOnnxBackend({ modelDir: noTokenizer })
      .init()
      .catch((caught: unknown) => caught);
    expect((broken as ModelLoadError).path).toBe(join(noTokenizer, 'tokenizer.json'));
    const noOnnx = join(root, 'no-onnx');
    await cp(tiny.dir, noOnnx, { recursive: true });
    await rm(join(noOnnx, 'onnx'), { recursive: true });
    await expect(createOnnxBackend({ modelDir: noOnnx }).init()).rejects.toThrow(
      /No ONNX decoder in .*looked for onnx\/model.onnx/,
    );
    expect(() => createOnnxBackend({ modelDir: '' })).toThrow(InvalidArgumentError);
  });

  it('falls back to CPU with a warning when CUDA is asked for but not installed', async () => {
    const messages: string[] = [];
    const cuda = createOnnxBackend({
      modelDir: tiny.dir,
      executionProviders: ['cuda', 'cpu'],
      onEvent: (event) => {
        if (event.type === 'warning') messages.push(event.message);
      },
    });
    const result = await cuda.generate({ prompts: ['ab'], maxTokens: 2, temperature: 0 });
    if (cuda.executionProvider === 'cpu') {
      expect(messages.join('\n')).toMatch(/CUDA/);
      expect(result.warnings.some((warning) => warning.message.includes('CUDA'))).toBe(true);
    }
    const again = await cuda.generate({ prompts: ['ab'], maxTokens: 2, temperature: 0 });
    expect(again.warnings).toEqual([]);
    await cuda.close();
  });
});

describe('softmax head', () => {
  it('gives the same tokens and logprobs as the JS sampler (forced on a small vocabulary)', async () => {
    const withHead = createOnnxBackend({ modelDir: tiny.dir, softmaxHead: true, threads: 1 });
    const withoutHead = createOnnxBackend({ modelDir: tiny.dir, softmaxHead: false, threads: 1 });
    for (const temperature of [1, 0.6, 0]) {
      const request = {
        prompts: ['abc', 'hij ha'],
        n: 3,
        maxTokens: 12,
        temperature,
        seed: 8,
        logprobs: true,
      };
      const a = await withHead.generate(request);
      const b = await withoutHead.generate(request);
      for (const [p, entry] of a.results.entries()) {
        for (const [j, completion] of entry.completions.entries()) {
          const other = b.results[p]?.completions[j];
          expect(completion.tokenIds).toEqual(other?.tokenIds);
          for (const [t, value] of (completion.logprobs ?? []).entries()) {
            expect(Math.abs(value - (other?.logprobs?.[t] as number))).toBeLessThan(1e-5);
          }
        }
      }
    }
    await withHead.close();
    await withoutHead.close();
  });
});

describe('other model folders', () => {
  it('runs a standard-ONNX graph without num_logits_to_keep (any Optimum-layout decoder) identically', async () => {
    const dir = join(root, 'no-keep');
    await writeModelFolder({
      dir,
      config: tiny.config,
      weights: tiny.weights,
      tokenizer: tiny.tokenizerFiles,
      graph: { numLogitsToKeep: false, norm: 'primitive', linear: 'matmul' },
    });
    const plain = createOnnxBackend({ modelDir: dir, threads: 1 });
    const request = { prompts: ['abc', 'de'], maxTokens: 6, temperature: 0.9, seed: 3, n: 2, logprobs: true };
    const a = await plain.generate(request);
    const b = await backend.generate(request);
    expect(a.results.map((entry) => entry.completions.map((completion) => completion.tokenIds))).toEqual(
      b.results.map((entry) => entry.completions.map((completion) => completion.tokenIds)),
    );
    const scoreA = await plain.score({ items: [{ prompt: 'abc', completion: 'defg' }] });
    const scoreB = await backend.score({ items: [{ prompt: 'abc', completion: 'defg' }] });
    for (const [i, value] of (scoreA.results[0]?.logprobs ?? []).entries()) {
      expect(Math.abs(value - (scoreB.results[0]?.logprobs[i] as number))).toBeLessThan(1e-4);
    }
    await plain.close();
  });

  it('decodes a tiny-width model on the real Qwen3 vocabulary', async () => {
    const qwen = await createTinyModel({
      dir: join(root, 'qwen3'),
      tokenizer: 'qwen3',
      hiddenSize: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      safetensors: false,
    });
    const qwenBackend = createOnnxBackend({ modelDir: qwen.dir, threads: 1 });
    const result = await qwenBackend.generate({
      prompts: ['The cat sat on', { messages: [{ role: 'user', content: 'Hi' }] }],
      n: 2,
      maxTokens: 4,
      seed: 9,
      logprobs: true,
    });
    for (const entry of result.results) {
      for (const completion of entry.completions) {
        expect(completion.tokenIds).toHaveLength(
          completion.finishReason === 'length' ? 4 : (completion.tokenIds?.length ?? 0),
        );
        expect(
          Array.from(completion.logprobs ?? []).every((value) => Number.isFinite(value) && value <= 0),
        ).toBe(true);
      }
    }
    // Large vocabularies use the onnxruntime softmax head: logprobs still match an uncached forward.
    const check = await uncachedModel(qwen.dir, 1, 1, 16);
    for (const entry of result.results) {
      const promptIds = entry.promptTokenIds as number[];
      for (const completion of entry.completions) {
        const tokens = completion.tokenIds as number[];
        const { logits, vocab } = await check.allLogits([...promptIds, ...tokens]);
        for (const [step, token] of tokens.entries()) {
          const row = logits.subarray(
            (promptIds.length - 1 + step) * vocab,
            (promptIds.length + step) * vocab,
          );
          expect(Math.abs((completion.logprobs?.[step] as number) - logSoftmaxAt(row, token))).toBeLessThan(
            1e-4,
          );
        }
      }
    }
    // The Qwen3 chat template opens with <|im_start|> (151644).
    expect(result.results[1]?.promptTokenIds?.[0]).toBe(151644);
    const config = JSON.parse(await readFile(join(qwen.dir, 'config.json'), 'utf8'));
    expect(config.vocab_size).toBe(151936);
    await qwenBackend.close();
  });
});
