import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, InvalidArgumentError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelFolder } from './folder.js';
import { readSafetensors } from './safetensors.js';
import { forward, loadOrt, maxAbsDiff, openSession } from './testing/ort.js';
import { createTinyModel } from './tiny.js';
import { loadTokenizer } from './tokenizers.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-model-tiny-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createTinyModel', () => {
  it('writes a complete model folder that ORT and the tokenizer load', async () => {
    const dir = join(root, 'char');
    const model = await createTinyModel({ dir, seed: 1 });
    expect(model.files).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'onnx/model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'qwen3',
      architectures: ['Qwen3ForCausalLM'],
      vocab_size: 357,
      eos_token_id: 2,
    });
    expect(JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8'))).toEqual({
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
    });
    const ort = await loadOrt();
    const session = await openSession(ort, dir);
    expect(session.inputNames).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
      'num_logits_to_keep',
    ]);
    expect(session.outputNames).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
    ]);
    const { tokenizer } = await loadTokenizer(dir);
    const ids = tokenizer.encode('hello', { add_special_tokens: false }).ids;
    const { logits, dims } = await forward(ort, session, model.config, { inputIds: [ids] });
    expect(dims).toEqual([1, 5, 357]);
    expect(logits.every(Number.isFinite)).toBe(true);
    // The safetensors copy holds the same weights under Hugging Face names.
    const saved = await readSafetensors(join(dir, 'model.safetensors'));
    expect([...saved.keys()].sort()).toEqual([...model.weights.keys()].sort());
    expect(
      maxAbsDiff(
        saved.get('model.embed_tokens.weight')?.data as Float32Array,
        model.weights.get('model.embed_tokens.weight')?.data as Float32Array,
      ),
    ).toBe(0);
  });

  it('is deterministic in the seed', async () => {
    const a = await createTinyModel({ dir: join(root, 'seed-a'), seed: 7, safetensors: false });
    const b = await createTinyModel({ dir: join(root, 'seed-b'), seed: 7, safetensors: false });
    const c = await createTinyModel({ dir: join(root, 'seed-c'), seed: 8, safetensors: false });
    const bytes = (dir: string) => readFile(join(dir, 'onnx', 'model.onnx'));
    expect((await bytes(a.dir)).equals(await bytes(b.dir))).toBe(true);
    expect((await bytes(a.dir)).equals(await bytes(c.dir))).toBe(false);
  });

  it('builds a tiny-width model on the real Qwen3 vocabulary (151,936 logits)', async () => {
    const dir = join(root, 'qwen3');
    const model = await createTinyModel({
      dir,
      tokenizer: 'qwen3',
      hiddenSize: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      safetensors: false,
    });
    expect(model.config.vocabSize).toBe(151936);
    const ort = await loadOrt();
    const session = await openSession(ort, dir);
    const { tokenizer } = await loadTokenizer(dir);
    const ids = tokenizer.encode('The cat sat', { add_special_tokens: false }).ids;
    const { dims } = await forward(ort, session, model.config, { inputIds: [ids], numLogitsToKeep: 1 });
    expect(dims).toEqual([1, 1, 151936]);
  });

  it('writes a word-level model with the prediction tags as added tokens', async () => {
    const dir = join(root, 'words');
    const model = await createTinyModel({
      dir,
      tokenizer: { words: ['a', 'b', '.'], addedTokens: ['<|startofprediction|>', '<|endofprediction|>'] },
      safetensors: false,
    });
    expect(model.config.vocabSize).toBe(9);
    const { tokenizer } = await loadTokenizer(dir);
    expect(tokenizer.encode('a <|endofprediction|>', { add_special_tokens: false }).ids).toEqual([4, 8]);
  });

  it('puts weights in onnx/model.onnx_data when asked, and ORT reads them', async () => {
    const source = await createTinyModel({ dir: join(root, 'inline'), seed: 2, safetensors: false });
    const dir = join(root, 'external');
    await writeModelFolder({
      dir,
      config: source.config,
      weights: source.weights,
      tokenizer: source.tokenizerFiles,
      externalData: true,
    });
    expect((await readdir(join(dir, 'onnx'))).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: true });
    const ort = await loadOrt();
    const ids = [[5, 6, 7]];
    const inline = await forward(ort, await openSession(ort, source.dir), source.config, { inputIds: ids });
    const external = await forward(ort, await openSession(ort, dir), source.config, { inputIds: ids });
    expect(maxAbsDiff(inline.logits, external.logits)).toBe(0);
  });

  it('refuses to overwrite unless asked, then replaces the folder atomically', async () => {
    const dir = join(root, 'existing');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'user data');
    const error = await createTinyModel({ dir }).catch((caught: unknown) => caught);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${dir} already exists`);
    expect(await readFile(join(dir, 'keep.txt'), 'utf8')).toBe('user data');
    await createTinyModel({ dir, overwrite: true, safetensors: false });
    expect((await readdir(dir)).includes('keep.txt')).toBe(false);
    // No temp folders are left next to it.
    expect((await readdir(root)).filter((name) => name.includes('.tmp-') || name.includes('.old-'))).toEqual(
      [],
    );
  });

  it('cleans up and keeps the old folder when writing fails', async () => {
    const dir = join(root, 'failing');
    await createTinyModel({ dir, safetensors: false });
    const before = await readFile(join(dir, 'onnx', 'model.onnx'));
    const error = await createTinyModel({ dir, overwrite: true, heads: 3 }).catch(
      (caught: unknown) => caught,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((await readFile(join(dir, 'onnx', 'model.onnx'))).equals(before)).toBe(true);
    const broken = await writeModelFolder({
      dir,
      overwrite: true,
      config: (await createTinyModel({ dir: join(root, 'cfg'), safetensors: false })).config,
      weights: new Map(),
      tokenizer: { copyFrom: root },
    }).catch((caught: unknown) => caught);
    expect((broken as Error).message).toMatch(/missing weight 'model.embed_tokens.weight'/);
    expect((await readFile(join(dir, 'onnx', 'model.onnx'))).equals(before)).toBe(true);
    expect((await readdir(root)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('rejects impossible sizes with a ConfigError', async () => {
    const error = await createTinyModel({ dir: join(root, 'bad'), hiddenSize: 30, heads: 4 }).catch(
      (caught: unknown) => caught,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path)).toContain('head_dim');
  });
});
