import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decoderConfigToJson } from './config.js';
import { checkWeights, convertCheckpoint } from './convert.js';
import type { WeightMap } from './decoder.js';
import { writeSafetensors } from './safetensors.js';
import { forward, loadOrt, maxAbs, maxAbsDiff, openSession } from './testing/ort.js';
import { createTinyModel, type TinyModel } from './tiny.js';

let root: string;
let source: TinyModel;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-model-convert-'));
  source = await createTinyModel({
    dir: join(root, 'source'),
    architecture: 'llama',
    tieWordEmbeddings: false,
    std: 0.2,
    seed: 4,
  });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Rounds float32 weights to bfloat16 (round to nearest even), as a bf16 checkpoint would store them. */
function toBf16(weights: WeightMap): { bf16: WeightMap; rounded: WeightMap } {
  const bf16: WeightMap = new Map();
  const rounded: WeightMap = new Map();
  for (const [name, tensor] of weights) {
    const bits = new Uint32Array((tensor.data as Float32Array).slice().buffer);
    const words = new Uint16Array(bits.length);
    const back = new Uint32Array(bits.length);
    for (let i = 0; i < bits.length; i++) {
      const value = bits[i] as number;
      const word = ((value + 0x7fff + ((value >>> 16) & 1)) >>> 16) & 0xffff;
      words[i] = word;
      back[i] = word << 16;
    }
    bf16.set(name, { dtype: 'bfloat16', dims: tensor.dims, data: words });
    rounded.set(name, { dtype: 'float32', dims: tensor.dims, data: new Float32Array(back.buffer) });
  }
  return { bf16, rounded };
}

async function writeCheckpoint(dir: string, weights: WeightMap, configExtra: Record<string, unknown> = {}) {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ ...decoderConfigToJson(source.config), torch_dtype: 'bfloat16', ...configExtra }),
  );
  await writeSafetensors(join(dir, 'model.safetensors'), weights);
  await writeFile(join(dir, 'tokenizer.json'), await readFile(join(source.dir, 'tokenizer.json')));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    await readFile(join(source.dir, 'tokenizer_config.json')),
  );
  await writeFile(
    join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: [2, 1], temperature: 0.7 }),
  );
}

describe('convertCheckpoint', () => {
  it('converts a bf16 safetensors checkpoint to an ONNX folder with the same function', async () => {
    const { bf16, rounded } = toBf16(source.weights);
    const checkpoint = join(root, 'hf-bf16');
    await writeCheckpoint(checkpoint, bf16, { custom_field: 'kept' });
    const out = join(root, 'converted');
    const events: { phase: string; done: number; total?: number }[] = [];
    const folder = await convertCheckpoint({
      checkpoint,
      out,
      onEvent: (event) => {
        if (event.type === 'progress')
          events.push({ phase: event.phase, done: event.done, total: event.total });
      },
    });
    const reads = events.filter((event) => event.phase === 'read-weights');
    expect(reads).toHaveLength(bf16.size);
    expect(reads.at(-1)).toEqual({ phase: 'read-weights', done: bf16.size, total: bf16.size });
    expect(events.at(-1)).toEqual({ phase: 'write-model', done: 1, total: 1 });
    expect(folder.files).toContain('onnx/model.onnx');
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.custom_field).toBe('kept');
    expect(config.torch_dtype).toBe('float32');
    expect(JSON.parse(await readFile(join(out, 'generation_config.json'), 'utf8'))).toEqual({
      eos_token_id: [2, 1],
      temperature: 0.7,
    });
    // Same logits as a model built directly from the bf16-rounded weights.
    const reference = await createTinyModel({
      dir: join(root, 'rounded'),
      architecture: 'llama',
      tieWordEmbeddings: false,
      weights: rounded,
      safetensors: false,
    });
    const ort = await loadOrt();
    const ids = [[10, 20, 30, 40]];
    const a = await forward(ort, await openSession(ort, out), folder.config, { inputIds: ids });
    const b = await forward(ort, await openSession(ort, reference.dir), reference.config, { inputIds: ids });
    expect(maxAbsDiff(a.logits, b.logits)).toBe(0);
    // …and close to the float32 original (bf16 keeps ~3 significant digits).
    const original = await forward(ort, await openSession(ort, source.dir), source.config, { inputIds: ids });
    const drift = maxAbsDiff(a.logits, original.logits);
    expect(drift).toBeGreaterThan(0);
    expect(drift / maxAbs(original.logits)).toBeLessThan(0.03);
  });

  it('lists every missing or misshapen tensor', () => {
    const weights: WeightMap = new Map(source.weights);
    weights.delete('model.layers.1.mlp.up_proj.weight');
    weights.set('model.norm.weight', { dtype: 'float32', dims: [3], data: new Float32Array(3) });
    weights.set('model.layers.0.mlp.extra.weight', {
      dtype: 'float32',
      dims: [1],
      data: new Float32Array(1),
    });
    let message = '';
    try {
      checkWeights(source.config, weights, '/ckpt');
    } catch (error) {
      expect(ModelLoadError.isInstance(error)).toBe(true);
      message = (error as Error).message;
    }
    expect(message).toContain("The checkpoint in /ckpt doesn't match its config.json");
    expect(message).toContain('missing model.layers.1.mlp.up_proj.weight [128,64]');
    expect(message).toContain('model.norm.weight has shape [3], config.json implies [64]');
    expect(message).toContain(
      'unexpected tensors (wrong model_type or an unsupported variant?): model.layers.0.mlp.extra.weight',
    );
  });

  it('fails with the path when the checkpoint has no tokenizer', async () => {
    const checkpoint = join(root, 'no-tokenizer');
    await writeCheckpoint(checkpoint, source.weights);
    await rm(join(checkpoint, 'tokenizer.json'));
    const error = await convertCheckpoint({ checkpoint, out: join(root, 'never') }).catch(
      (caught: unknown) => caught,
    );
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(checkpoint, 'tokenizer.json'));
  });

  it('fails clearly on a folder that is not a checkpoint', async () => {
    const error = await convertCheckpoint({
      checkpoint: join(root, 'nope'),
      out: join(root, 'never2'),
    }).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/Cannot read .*nope\/config.json/);
  });
});
