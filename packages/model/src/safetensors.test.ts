import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightMap } from './decoder.js';
import {
  readCheckpointWeights,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from './safetensors.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-model-st-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A safetensors file assembled by hand (independent of writeSafetensors). */
function handMade(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    header[name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.bytes.length],
    };
    offset += tensor.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, ...Object.values(tensors).map((tensor) => Buffer.from(tensor.bytes))]);
}

describe('safetensors', () => {
  it('round-trips float32 tensors with names, shapes and metadata', async () => {
    const weights: WeightMap = new Map([
      [
        'model.embed_tokens.weight',
        { dtype: 'float32', dims: [3, 2], data: Float32Array.of(1, -2, 3.5, 0, 1e-8, -7) },
      ],
      ['model.norm.weight', { dtype: 'float32', dims: [2], data: Float32Array.of(1, 1) }],
    ]);
    const path = join(root, 'a.safetensors');
    await writeSafetensors(path, weights);
    const bytes = await readFile(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const { entries, metadata } = await readSafetensorsHeader(path);
    expect(metadata).toEqual({ format: 'pt' });
    expect(entries.get('model.embed_tokens.weight')).toMatchObject({ dtype: 'F32', shape: [3, 2] });
    const read = await readSafetensors(path);
    expect(Array.from(read.get('model.embed_tokens.weight')?.data as Float32Array)).toEqual(
      Array.from(weights.get('model.embed_tokens.weight')?.data as Float32Array),
    );
    expect(read.get('model.norm.weight')?.dims).toEqual([2]);
  });

  it('reads F16 and BF16 into float32 (golden bit patterns)', async () => {
    // F16: 0x3C00 = 1, 0xC000 = −2, 0x3555 ≈ 0.33325, 0x0001 = 2^−24 (subnormal), 0x7C00 = +inf
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]);
    // BF16: 0x3F80 = 1, 0xC040 = −3, 0x3EAB ≈ 0.333984375
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x3eab]);
    const path = join(root, 'half.safetensors');
    await writeFile(
      path,
      handMade({
        h: { dtype: 'F16', shape: [5], bytes: new Uint8Array(f16.buffer) },
        b: { dtype: 'BF16', shape: [3], bytes: new Uint8Array(bf16.buffer) },
      }),
    );
    const read = await readSafetensors(path);
    const h = read.get('h')?.data as Float32Array;
    expect(Array.from(h.subarray(0, 2))).toEqual([1, -2]);
    expect(h[2]).toBeCloseTo(0.33325195, 7);
    expect(h[3]).toBe(2 ** -24);
    expect(h[4]).toBe(Number.POSITIVE_INFINITY);
    expect(Array.from(read.get('b')?.data as Float32Array)).toEqual([1, -3, 0.333984375]);
  });

  it('rejects integer weights, corrupt headers and out-of-range offsets with the path', async () => {
    const ints = join(root, 'ints.safetensors');
    await writeFile(ints, handMade({ q: { dtype: 'I8', shape: [2], bytes: Uint8Array.of(1, 2) } }));
    await expect(readSafetensors(ints)).rejects.toThrow(/tensor 'q' has dtype I8/);
    const garbage = join(root, 'garbage.safetensors');
    await writeFile(garbage, Buffer.from('definitely not a safetensors file'));
    const error = await readSafetensors(garbage).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(garbage);
    const short = join(root, 'short.safetensors');
    const file = handMade({ x: { dtype: 'F32', shape: [4], bytes: new Uint8Array(16) } });
    await writeFile(short, file.subarray(0, file.length - 4));
    await expect(readSafetensors(short)).rejects.toThrow(/tensor 'x' has an invalid header entry/);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', async () => {
    const dir = await mkdtemp(join(root, 'sharded-'));
    await writeSafetensors(
      join(dir, 'model-00001-of-00002.safetensors'),
      new Map([['a', { dtype: 'float32', dims: [1], data: Float32Array.of(1) }]]),
    );
    await writeSafetensors(
      join(dir, 'model-00002-of-00002.safetensors'),
      new Map([['b', { dtype: 'float32', dims: [2], data: Float32Array.of(2, 3) }]]),
    );
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    );
    const weights = await readCheckpointWeights(dir);
    expect(Array.from(weights.get('b')?.data as Float32Array)).toEqual([2, 3]);
    expect(weights.size).toBe(2);
  });

  it('explains what is missing in a folder without weights', async () => {
    const dir = await mkdtemp(join(root, 'empty-'));
    await expect(readCheckpointWeights(dir)).rejects.toThrow(
      /expected model.safetensors or model.safetensors.index.json/,
    );
  });
});
