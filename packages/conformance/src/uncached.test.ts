import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel, referenceForward, type TinyModel } from '@rlpt/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstDivergence } from './backend.js';
import { argmax, logitsRow, logSoftmaxAt, openUncachedForward } from './uncached.js';

let root: string;
let tiny: TinyModel;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-conformance-uncached-'));
  tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 3,
    std: 0.2,
    safetensors: false,
  });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('openUncachedForward', () => {
  it("matches @rlpt/model's float64 plain-loop forward at every position (≤ 1e-4)", async () => {
    const forward = await openUncachedForward(tiny.dir);
    const ids = [40, 41, 5, 77, 90, 12, 3, 60];
    const logits = await forward.logits(ids);
    expect(logits.positions).toBe(ids.length);
    expect(logits.vocab).toBe(tiny.config.vocabSize);
    const expected = referenceForward(tiny.config, tiny.weights, ids);
    let worst = 0;
    for (let index = 0; index < expected.length; index++)
      worst = Math.max(worst, Math.abs((logits.data[index] as number) - (expected[index] as number)));
    expect(worst).toBeLessThan(1e-4);
    expect(forward.maxPositions).toBe(2048);
    expect(forward.file).toBe(join(tiny.dir, 'onnx', 'model.onnx'));
    await forward.close();
  });

  it('names the folder when it has no ONNX decoder', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    await expect(openUncachedForward(empty)).rejects.toThrow(`no ONNX decoder in ${empty}`);
  });
});

describe('numeric helpers', () => {
  it('logSoftmaxAt is log softmax(values / T) in float64', () => {
    const values = Float32Array.of(1, 2, 3);
    const denominator = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(logSoftmaxAt(values, 2)).toBeCloseTo(3 - denominator, 12);
    const scaled = Math.log(Math.exp(2) + Math.exp(4) + Math.exp(6));
    expect(logSoftmaxAt(values, 0, 0.5)).toBeCloseTo(2 - scaled, 12);
    // Large logits do not overflow.
    expect(logSoftmaxAt(Float32Array.of(1000, 1000), 1)).toBeCloseTo(-Math.LN2, 12);
  });

  it('argmax takes the first index on ties; logitsRow slices one position', () => {
    expect(argmax([0, 3, 3, 1])).toBe(1);
    const logits = { data: Float32Array.of(0, 1, 2, 3, 4, 5), vocab: 3, positions: 2 };
    expect(Array.from(logitsRow(logits, 1))).toEqual([3, 4, 5]);
  });

  it('firstDivergence finds the first differing position within the common length', () => {
    expect(firstDivergence([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(firstDivergence([1, 2], [1, 2, 3])).toBe(-1);
    expect(firstDivergence([], [])).toBe(-1);
    expect(firstDivergence([5], [6, 7])).toBe(0);
  });
});
