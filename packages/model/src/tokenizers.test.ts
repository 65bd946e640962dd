import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelLoadError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  charTokenizer,
  loadTextTokenizer,
  loadTokenizer,
  qwen3Tokenizer,
  type TokenizerFiles,
  wordTokenizer,
} from './tokenizers.js';

function build(files: TokenizerFiles) {
  return new HfTokenizer(files.tokenizer, files.tokenizerConfig);
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-model-tok-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('charTokenizer', () => {
  const files = charTokenizer();
  const tokenizer = build(files);

  it('gives one token per ASCII character and fixed special ids', () => {
    const { ids } = tokenizer.encode('Hi there.\n', { add_special_tokens: false });
    expect(ids).toHaveLength(10);
    expect(tokenizer.decode(ids)).toBe('Hi there.\n');
    expect(tokenizer.token_to_id('<pad>')).toBe(0);
    expect(tokenizer.token_to_id('<bos>')).toBe(1);
    expect(tokenizer.token_to_id('<eos>')).toBe(2);
    expect(tokenizer.token_to_id('<unk>')).toBe(3);
    expect(files.vocabSize).toBe(4 + 97 + 256);
  });

  it('round-trips any Unicode text through byte fallback', () => {
    for (const text of ['naïve café — 東京 🚀', '  spaces  and\ttabs ', 'x'.repeat(300)]) {
      const { ids } = tokenizer.encode(text, { add_special_tokens: false });
      expect(tokenizer.decode(ids)).toBe(text);
    }
    // é is two UTF-8 bytes, 🚀 four.
    expect(tokenizer.encode('é🚀', { add_special_tokens: false }).ids).toHaveLength(6);
  });

  it('keeps special tokens as single ids and can skip them when decoding', () => {
    const eos = tokenizer.token_to_id('<eos>') as number;
    const { ids } = tokenizer.encode('ab<eos>', { add_special_tokens: false });
    expect(ids.at(-1)).toBe(eos);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe('ab');
  });
});

describe('wordTokenizer', () => {
  const files = wordTokenizer({
    words: ['the', 'cat', 'sat', 'on', 'mat', '.', ','],
    addedTokens: ['<|startofprediction|>', '<|endofprediction|>'],
  });
  const tokenizer = build(files);

  it('splits on whitespace and punctuation, maps unknown words to <unk>', () => {
    const { ids, tokens } = tokenizer.encode('the cat sat on the dog.', { add_special_tokens: false });
    expect(tokens).toEqual(['the', 'cat', 'sat', 'on', 'the', 'dog', '.']);
    expect(ids[5]).toBe(3);
    expect(ids[0]).toBe(4);
  });

  it('matches the prediction tags as single tokens and keeps them in decoded text', () => {
    const { ids } = tokenizer.encode('<|startofprediction|>the cat.<|endofprediction|>', {
      add_special_tokens: false,
    });
    expect(ids).toEqual([11, 4, 5, 9, 12]);
    expect(files.vocabSize).toBe(13);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(
      '<|startofprediction|> the cat. <|endofprediction|>',
    );
  });

  it('rejects words with whitespace', () => {
    expect(() => wordTokenizer({ words: ['a b'] })).toThrow(/contains whitespace/);
  });
});

describe('qwen3Tokenizer and loadTokenizer', () => {
  it('loads the real Qwen3 tokenizer from a folder', async () => {
    const files = await qwen3Tokenizer();
    const dir = join(root, 'qwen3');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizer));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
    const { tokenizer, config } = await loadTokenizer(dir);
    expect(config.eos_token).toBe('<|im_end|>');
    expect(tokenizer.token_to_id('<|im_end|>')).toBe(files.eosTokenId);
    const { ids } = tokenizer.encode('Hello world', { add_special_tokens: false });
    expect(ids).toEqual([9707, 1879]);
    // The training adapter: no special tokens added, specials skipped on decode, EOS from the config
    // (Qwen3's tokenizer_config has no bos_token).
    const text = await loadTextTokenizer(dir);
    expect(text.encode('Hello world')).toEqual([9707, 1879]);
    expect(text.eosTokenId).toBe(151645);
    expect(text.bosTokenId).toBeUndefined();
    expect(text.decode([9707, 1879, 151645])).toBe('Hello world');
  });

  it('reads BOS/EOS written as { content } objects', async () => {
    const files = charTokenizer({ alphabet: 'ab' });
    const dir = join(root, 'objects');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizer));
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        ...files.tokenizerConfig,
        bos_token: { content: '<bos>' },
        eos_token: { content: '<eos>' },
      }),
    );
    const text = await loadTextTokenizer(dir);
    expect([text.bosTokenId, text.eosTokenId]).toEqual([1, 2]);
    expect(text.encode('ab')).toEqual(build(files).encode('ab', { add_special_tokens: false }).ids);
  });

  it('names the missing file', async () => {
    const dir = join(root, 'empty');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const error = await loadTokenizer(dir).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(dir, 'tokenizer.json'));
    expect((error as Error).message).toMatch(/needs tokenizer.json and tokenizer_config.json/);
  });

  it('reports invalid JSON with the path', async () => {
    const dir = join(root, 'broken');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'tokenizer.json'), '{ not json');
    await writeFile(join(dir, 'tokenizer_config.json'), '{}');
    await expect(loadTokenizer(dir)).rejects.toThrow(`${join(dir, 'tokenizer.json')} is not valid JSON`);
  });
});

describe('charTokenizer without byte fallback', () => {
  it('has only specials + alphabet and maps other characters to <unk>', () => {
    const files = charTokenizer({ alphabet: 'ab c', byteFallback: false });
    expect(files.vocabSize).toBe(8);
    const tokenizer = build(files);
    const { ids } = tokenizer.encode('ab cé', { add_special_tokens: false });
    expect(ids).toEqual([4, 5, 6, 7, 3]);
    expect(tokenizer.decode([4, 6, 5])).toBe('a b');
  });
});
