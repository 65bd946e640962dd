import { InvalidArgumentError } from '@rlpt/spec';
import * as chars from './chars.js';
import type { CountTokens, Sentence } from './types.js';

// Bound once (see scanner.ts): no getter call per character under tsx/vitest.
const { isLetterOrDigit, isWhitespace } = chars;

/**
 * Which sentences are long enough to be prediction targets (METHOD.md §7: drop segments under 20
 * characters or 4 words). A sentence must pass every limit that is set.
 */
export interface SentenceFilterOptions {
  /** Minimum length in characters (Unicode code points). Default 20. */
  minChars?: number;
  /** Minimum number of words (white-space separated tokens with a letter or digit). Default 4. */
  minWords?: number;
  /** Minimum number of tokens by `countTokens`. Default 0 (off); needs `countTokens` when set. */
  minTokens?: number;
  /** Maximum length in characters. Default `Infinity` (off). */
  maxChars?: number;
  /** Maximum number of tokens by `countTokens`. Default `Infinity` (off); needs `countTokens` when set. */
  maxTokens?: number;
  /** Tokenizer for the token limits, e.g. `(text) => tokenizer.encode(text).length`. */
  countTokens?: CountTokens;
}

/** Why a sentence was filtered out. */
export type FilterReason = 'min-chars' | 'min-words' | 'min-tokens' | 'max-chars' | 'max-tokens';

/** The defaults of METHOD.md §7. */
export const DEFAULT_FILTER = Object.freeze({
  minChars: 20,
  minWords: 4,
  minTokens: 0,
  maxChars: Number.POSITIVE_INFINITY,
  maxTokens: Number.POSITIVE_INFINITY,
});

/** Validated filter settings. */
export interface ResolvedFilter {
  minChars: number;
  minWords: number;
  minTokens: number;
  maxChars: number;
  maxTokens: number;
  countTokens: CountTokens | undefined;
}

function checkLimit(name: string, value: unknown, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError({
      argument: name,
      message: `${where}: ${name} must be a number ≥ 0 (Infinity allowed for maxima); got ${String(value)}.`,
    });
  }
  return value;
}

/** Validates filter options once; throws `InvalidArgumentError` naming the bad option. */
export function resolveFilter(options: SentenceFilterOptions = {}, where = 'filter'): ResolvedFilter {
  const resolved: ResolvedFilter = {
    minChars: checkLimit('minChars', options.minChars, DEFAULT_FILTER.minChars, where),
    minWords: checkLimit('minWords', options.minWords, DEFAULT_FILTER.minWords, where),
    minTokens: checkLimit('minTokens', options.minTokens, DEFAULT_FILTER.minTokens, where),
    maxChars: checkLimit('maxChars', options.maxChars, DEFAULT_FILTER.maxChars, where),
    maxTokens: checkLimit('maxTokens', options.maxTokens, DEFAULT_FILTER.maxTokens, where),
    countTokens: options.countTokens,
  };
  if (resolved.countTokens !== undefined && typeof resolved.countTokens !== 'function') {
    throw new InvalidArgumentError({
      argument: 'countTokens',
      message: `${where}: countTokens must be a function (text) => number; got ${typeof resolved.countTokens}.`,
    });
  }
  const usesTokens = resolved.minTokens > 0 || resolved.maxTokens !== Number.POSITIVE_INFINITY;
  if (usesTokens && resolved.countTokens === undefined) {
    throw new InvalidArgumentError({
      argument: 'countTokens',
      message: `${where}: minTokens/maxTokens need a countTokens function, e.g. (text) => tokenizer.encode(text).length.`,
    });
  }
  if (resolved.minChars > resolved.maxChars || resolved.minTokens > resolved.maxTokens) {
    throw new InvalidArgumentError({
      argument: resolved.minChars > resolved.maxChars ? 'maxChars' : 'maxTokens',
      message: `${where}: a minimum is larger than its maximum (chars ${resolved.minChars}..${resolved.maxChars}, tokens ${resolved.minTokens}..${resolved.maxTokens}); no sentence could pass.`,
    });
  }
  return resolved;
}

/** Number of Unicode code points in `text`. */
export function countChars(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // A high surrogate followed by a low one is one code point.
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index++;
    }
    count++;
  }
  return count;
}

/**
 * Number of words: white-space separated tokens that contain a letter or digit, so WikiText's
 * `= = Description = =` is one word and `0 @.@ 7` two.
 */
export function countWords(text: string): number {
  let words = 0;
  let inToken = false;
  let tokenCounted = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (isWhitespace(code)) {
      inToken = false;
      continue;
    }
    if (!inToken) {
      inToken = true;
      tokenCounted = false;
    }
    if (!tokenCounted && isLetterOrDigit(code)) {
      words++;
      tokenCounted = true;
    }
  }
  return words;
}

/** Calls `countTokens` and checks its answer. */
export function checkedTokenCount(countTokens: CountTokens, text: string, where: string): number {
  const count = countTokens(text);
  if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
    throw new InvalidArgumentError({
      argument: 'countTokens',
      message: `${where}: countTokens returned ${String(count)} for ${JSON.stringify(text.slice(0, 60))}; it must return a finite number ≥ 0.`,
    });
  }
  return count;
}

/**
 * Why `text` would be filtered out, or `undefined` when it passes. Character and word limits are
 * checked before tokens, so the tokenizer only sees sentences that pass them.
 */
export function filterReason(
  text: string,
  filter: ResolvedFilter,
  tokens?: number,
): FilterReason | undefined {
  if (filter.minChars > 0 || filter.maxChars !== Number.POSITIVE_INFINITY) {
    // Code points ≤ UTF-16 length: a short string fails without counting.
    if (text.length < filter.minChars) return 'min-chars';
    const chars = countChars(text);
    if (chars < filter.minChars) return 'min-chars';
    if (chars > filter.maxChars) return 'max-chars';
  }
  if (filter.minWords > 0 && countWords(text) < filter.minWords) return 'min-words';
  if (
    filter.countTokens !== undefined &&
    (filter.minTokens > 0 || filter.maxTokens !== Number.POSITIVE_INFINITY)
  ) {
    const count = tokens ?? checkedTokenCount(filter.countTokens, text, 'filter');
    if (count < filter.minTokens) return 'min-tokens';
    if (count > filter.maxTokens) return 'max-tokens';
  }
  return undefined;
}

/**
 * Keeps the sentences that pass the filter (defaults: at least 20 characters and 4 words).
 *
 * @example
 * ```ts
 * filterSentences(splitSentences(text), { minWords: 5 });
 * ```
 * @throws InvalidArgumentError for invalid limits, a token limit without `countTokens`, or a
 * `countTokens` that returns something other than a finite number ≥ 0.
 */
export function filterSentences<T extends Sentence | string>(
  sentences: readonly T[],
  options: SentenceFilterOptions = {},
): T[] {
  const filter = resolveFilter(options, 'filterSentences');
  return sentences.filter(
    (sentence) => filterReason(typeof sentence === 'string' ? sentence : sentence.text, filter) === undefined,
  );
}

/**
 * Why one sentence would be dropped by the filter (`'min-words'`, …), or `undefined` when it is kept.
 * Useful to count drops by reason.
 */
export function sentenceFilterReason(
  text: string,
  options: SentenceFilterOptions = {},
): FilterReason | undefined {
  return filterReason(text, resolveFilter(options, 'sentenceFilterReason'));
}
