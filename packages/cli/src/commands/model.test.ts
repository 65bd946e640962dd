import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, useTempDirs } from '../testing.js';

const { stdout, stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rlpt-cli-model-');
});

describe('rlpt model', () => {
  it('init writes a model folder and prints its shape; convert turns its safetensors back into ONNX', async () => {
    const out = join(dir, 'tiny');
    expect(
      await main(['model', 'init', '--out', out, '--hidden-size', '32', '--layers', '1', '--seed', '3']),
    ).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const printed = stdout.join('');
    expect(printed).toContain('qwen3');
    expect(printed).toMatch(/vocab \/ hidden \/ layers\s*\|\s*357 \/ 32 \/ 1/);

    const converted = join(dir, 'converted');
    expect(await main(['model', 'convert', '--checkpoint', out, '--out', converted])).toBe(0);
    expect((await readdir(join(converted, 'onnx'))).sort()).toEqual(['model.onnx']);
    // What rlpt train's learner reads, written by default (examples/train/real-model.yaml needs it).
    expect(await readdir(converted)).toContain('model.safetensors');
    const inferenceOnly = join(dir, 'inference-only');
    expect(
      await main(['model', 'convert', '--checkpoint', out, '--out', inferenceOnly, '--no-safetensors']),
    ).toBe(0);
    expect(await readdir(inferenceOnly)).not.toContain('model.safetensors');
    expect(stderr.join('')).toContain('rlpt model convert done');
    // The same weights give the same ONNX bytes.
    const { readFile } = await import('node:fs/promises');
    expect(
      (await readFile(join(converted, 'onnx', 'model.onnx'))).equals(
        await readFile(join(out, 'onnx', 'model.onnx')),
      ),
    ).toBe(true);
  });

  it('--standard-onnx writes exactly the Optimum inputs and only standard ONNX ops', async () => {
    const out = join(dir, 'standard');
    expect(
      await main(['model', 'init', '--out', out, '--standard-onnx', '--no-safetensors', '--layers', '1']),
    ).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(join(out, 'onnx', 'model.onnx'));
    for (const name of [
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'present.0.value',
    ]) {
      expect(bytes.includes(name)).toBe(true);
    }
    expect(bytes.includes('num_logits_to_keep')).toBe(false);
    expect(bytes.includes('com.microsoft')).toBe(false);
    expect(bytes.includes('SimplifiedLayerNormalization')).toBe(false);
    // …and it still decodes.
    const { createOnnxBackend } = await import('@rlpt/backend-onnx');
    const backend = createOnnxBackend({ modelDir: out, threads: 1 });
    const result = await backend.generate({ prompts: ['hi'], maxTokens: 3, temperature: 0 });
    expect(result.results[0]?.completions[0]?.tokenIds?.length).toBeGreaterThan(0);
    await backend.close();
  });

  it('init builds a word-level tokenizer from a word list', async () => {
    const words = join(dir, 'words.txt');
    await writeFile(words, 'the\ncat\nsat\n.\n');
    const out = join(dir, 'words-model');
    const code = await main([
      'model',
      'init',
      '--out',
      out,
      '--tokenizer',
      `words:${words}`,
      '--added-tokens',
      '<|startofprediction|>,<|endofprediction|>',
      '--no-safetensors',
    ]);
    expect(code).toBe(0);
    expect(stdout.join('')).toMatch(/\|\s*10 \/ 64 \/ 2/);
    expect(await readdir(out)).not.toContain('model.safetensors');
  });

  it('reads words from a JSON array (the vocab.json of rlpt prepare --demo) and names a bad one', async () => {
    const vocab = join(dir, 'vocab.json');
    await writeFile(vocab, JSON.stringify(['the', 'cat', 'sat', '.']));
    const out = join(dir, 'json-words-model');
    expect(
      await main(['model', 'init', '--out', out, '--tokenizer', `words:${vocab}`, '--no-safetensors']),
    ).toBe(0);
    const tokenizer = JSON.parse(await readFile(join(out, 'tokenizer.json'), 'utf8'));
    expect(Object.keys(tokenizer.model.vocab)).toEqual(expect.arrayContaining(['the', 'cat', 'sat', '.']));
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"the": 1}');
    expect(await main(['model', 'init', '--out', join(dir, 'x'), '--tokenizer', `words:${bad}`])).toBe(2);
    expect(stderr.join('')).toContain(`${bad} must be a JSON array of strings`);
  });

  it('lists every bad flag at once (exit code 2)', async () => {
    const code = await main([
      'model',
      'init',
      '--hidden-size',
      'x',
      '--architecture',
      'gpt2',
      '--tokenizer',
      'bpe',
    ]);
    expect(code).toBe(2);
    const text = stderr.join('');
    expect(text).toContain('--out: is required');
    expect(text).toContain('--hidden-size: must be a number');
    expect(text).toContain("--architecture: must be 'llama', 'qwen2' or 'qwen3'");
    expect(text).toContain("--tokenizer: must be 'char', 'qwen3'");
  });

  it('reports model errors with the path (exit code 1) and never overwrites silently', async () => {
    expect(
      await main(['model', 'convert', '--checkpoint', join(dir, 'missing'), '--out', join(dir, 'x')]),
    ).toBe(1);
    expect(stderr.join('')).toContain(`Cannot read ${join(dir, 'missing', 'config.json')}`);
    const out = join(dir, 'once');
    expect(await main(['model', 'init', '--out', out, '--no-safetensors'])).toBe(0);
    expect(await main(['model', 'init', '--out', out])).toBe(1);
    expect(stderr.join('')).toContain('already exists; pass overwrite: true (CLI: --overwrite)');
    expect(await main(['model', 'init', '--out', out, '--overwrite', '--heads', '3'])).toBe(2);
    expect(stderr.join('')).toContain('head_dim');
  });
});
