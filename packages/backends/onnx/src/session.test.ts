import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel, type TinyModel } from '@rlpt/model';
import { ModelLoadError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecoderSession,
  decodingConfig,
  type KvCache,
  openDecoderSession,
  readModelFolder,
} from './decoder.js';

let root: string;
let tiny: TinyModel;
let session: DecoderSession;
/** Cache of two 5-token prompts, from a real prefill. */
let cache: KvCache;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-onnx-session-'));
  tiny = await createTinyModel({ dir: join(root, 'tiny'), seed: 3, std: 0.5, safetensors: false });
  session = await openDecoderSession(await readModelFolder(tiny.dir), {
    threads: 1,
    executionProviders: ['cpu'],
    warn: (message) => {
      throw new Error(`unexpected warning: ${message}`);
    },
  });
  const prefill = await session.run({
    batch: 2,
    inputIds: [5, 6, 7, 8, 9, 20, 21, 22, 23, 24],
    sequence: 5,
    attentionMask: new Array(10).fill(1),
    positionIds: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
    cache: session.emptyCache(2),
    keepLast: 1,
  });
  cache = prefill.cache;
});
afterAll(async () => {
  await session?.release();
  await rm(root, { recursive: true, force: true });
});

/** Position `position` of row `row`, head `head` of one cache tensor. */
function slot(cache: KvCache, tensor: number, row: number, head: number, position: number): number[] {
  const { kvHeads, headDim } = session;
  const data = cache.tensors[tensor]?.data as Float32Array;
  const from = ((row * kvHeads + head) * cache.length + position) * headDim;
  return Array.from(data.subarray(from, from + headDim));
}

describe('DecoderSession cache operations', () => {
  it('reshape picks rows and keeps, drops or zero-pads positions on the left', () => {
    expect(cache).toMatchObject({ batch: 2, length: 5 });
    expect(cache.tensors).toHaveLength(2 * tiny.config.numHiddenLayers);
    const swapped = session.reshape(cache, [1, 0], 5);
    const shorter = session.reshape(cache, [0], 3);
    const longer = session.reshape(cache, [1], 7);
    expect(longer.tensors[0]?.dims).toEqual([1, session.kvHeads, 7, session.headDim]);
    const zeros = new Array(session.headDim).fill(0);
    for (const tensor of [0, cache.tensors.length - 1]) {
      for (let head = 0; head < session.kvHeads; head++) {
        for (let position = 0; position < 5; position++) {
          expect(slot(swapped, tensor, 0, head, position)).toEqual(slot(cache, tensor, 1, head, position));
          expect(slot(swapped, tensor, 1, head, position)).toEqual(slot(cache, tensor, 0, head, position));
          expect(slot(longer, tensor, 0, head, position + 2)).toEqual(slot(cache, tensor, 1, head, position));
        }
        for (let position = 0; position < 3; position++)
          expect(slot(shorter, tensor, 0, head, position)).toEqual(
            slot(cache, tensor, 0, head, position + 2),
          );
        expect(slot(longer, tensor, 0, head, 0)).toEqual(zeros);
        expect(slot(longer, tensor, 0, head, 1)).toEqual(zeros);
      }
    }
    // A real cache is not all zeros, so the comparisons above compare something.
    expect(slot(cache, 0, 0, 0, 4).some((value) => value !== 0)).toBe(true);
  });

  it('selectRows drops left columns like reshape; concat stacks rows; zeroCache is zeros', () => {
    const selected = session.selectRows(cache, [1, 1, 0], 2);
    const reshaped = session.reshape(cache, [1, 1, 0], 3);
    expect(selected.length).toBe(3);
    for (const [index, tensor] of selected.tensors.entries())
      expect(Array.from(tensor.data as Float32Array)).toEqual(
        Array.from(reshaped.tensors[index]?.data as Float32Array),
      );
    const stacked = session.concat(session.reshape(cache, [0], 5), session.reshape(cache, [1], 5));
    expect(stacked.batch).toBe(2);
    for (const [index, tensor] of stacked.tensors.entries())
      expect(Array.from(tensor.data as Float32Array)).toEqual(
        Array.from(cache.tensors[index]?.data as Float32Array),
      );
    expect(session.concat(session.emptyCache(0), cache)).toBe(cache);
    expect(() => session.concat(cache, session.reshape(cache, [0], 4))).toThrow(/cannot be stacked/);
    const zero = session.zeroCache(3, 4);
    expect(zero.tensors[0]?.dims).toEqual([3, session.kvHeads, 4, session.headDim]);
    expect(Array.from(zero.tensors[0]?.data as Float32Array).every((value) => value === 0)).toBe(true);
  });

  it('a cache zero-padded on the left decodes the same next token logits when the mask hides the padding', async () => {
    const step = (stepCache: KvCache, mask: number[]) =>
      session.run({
        batch: 1,
        inputIds: [11],
        sequence: 1,
        attentionMask: mask,
        positionIds: [5],
        cache: stepCache,
        keepLast: 1,
      });
    const plain = await step(session.reshape(cache, [0], 5), [1, 1, 1, 1, 1, 1]);
    const padded = await step(session.reshape(cache, [0], 8), [0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const shifted = await step(session.reshape(cache, [1], 5), [1, 1, 1, 1, 1, 1]);
    let largest = 0;
    for (let index = 0; index < plain.logits.length; index++)
      largest = Math.max(
        largest,
        Math.abs((plain.logits[index] as number) - (padded.logits[index] as number)),
      );
    expect(largest).toBeLessThan(1e-4);
    // The other row's cache gives other logits: the comparison can tell caches apart.
    let differs = 0;
    for (let index = 0; index < plain.logits.length; index++)
      differs = Math.max(
        differs,
        Math.abs((plain.logits[index] as number) - (shifted.logits[index] as number)),
      );
    expect(differs).toBeGreaterThan(1e-3);
  });
});

describe('readModelFolder and decodingConfig', () => {
  it('reads a folder without tokenizer files only when asked to', async () => {
    const bare = join(root, 'bare');
    await mkdir(join(bare, 'onnx'), { recursive: true });
    await cp(join(tiny.dir, 'config.json'), join(bare, 'config.json'));
    await cp(join(tiny.dir, 'onnx', 'model.onnx'), join(bare, 'onnx', 'model.onnx'));
    await expect(readModelFolder(bare)).rejects.toThrow(ModelLoadError);
    await expect(readModelFolder(bare)).rejects.toThrow(/tokenizer\.json/);
    await expect(
      readModelFolder(join(root, 'tiny', 'onnx'), join(bare, 'onnx', 'model.onnx'), {
        tokenizerFiles: false,
      }),
    ).rejects.toThrow(/config\.json: a model folder needs config\.json next to its ONNX graph/);
    const info = await readModelFolder(bare, undefined, { tokenizerFiles: false });
    expect(info.onnxPath).toBe(join(bare, 'onnx', 'model.onnx'));
    expect(info.tokenizerJson).toEqual({});
    expect(info.config.vocab_size).toBe(tiny.config.vocabSize);
    await writeFile(join(bare, 'tokenizer.json'), '{ not json');
    await expect(readModelFolder(bare, undefined, { tokenizerFiles: false })).rejects.toThrow(
      /tokenizer\.json is not a valid JSON object/,
    );
  });

  it('takes eos from generation_config first, then config, then the fallback; pad and context likewise', () => {
    expect(
      decodingConfig({
        config: { eos_token_id: 2, pad_token_id: 0, max_position_embeddings: 64 },
        generationConfig: { eos_token_id: [7, 8] },
      }),
    ).toEqual({ eosIds: [7, 8], padId: 0, maxPositions: 64 });
    expect(decodingConfig({ config: { eos_token_id: 2, n_positions: 32 }, generationConfig: {} })).toEqual({
      eosIds: [2],
      padId: 2,
      maxPositions: 32,
    });
    expect(decodingConfig({ config: {}, generationConfig: { pad_token_id: 4 } }, () => 9)).toEqual({
      eosIds: [9],
      padId: 4,
      maxPositions: Number.POSITIVE_INFINITY,
    });
    expect(decodingConfig({ config: {}, generationConfig: {} })).toEqual({
      eosIds: [],
      padId: 0,
      maxPositions: Number.POSITIVE_INFINITY,
    });
  });
});
