import { InvalidArgumentError, InvalidInputError, type SegmentSample } from '@rlpt/spec';
import * as chars from './chars.js';
import { checkedTokenCount, filterReason, resolveFilter, type SentenceFilterOptions } from './filter.js';
import { type SplitOptions, splitSentences } from './split.js';
import type { CountTokens, Sentence } from './types.js';

// Bound once (see scanner.ts): no getter call per character under tsx/vitest.
const { isWhitespace } = chars;

/** A document to turn into next-segment samples: its text, or its sentences when already split. */
export interface SegmentDocument {
  /** Stable document id; sample ids are `${id}:${index}`. */
  id: string;
  /** The raw text, split with `splitSentences(text, options.split)`. Give this or `sentences`. */
  text?: string;
  /** Sentences already split (strings or `Sentence`s). White-space-only entries are skipped. */
  sentences?: readonly (string | Sentence)[];
  /** Where the document came from (file, dataset), copied into every sample. */
  source?: string;
}

/** What happens to sentences that fail the filter (too short by default). */
export type ShortSentencePolicy = 'context' | 'drop';

export interface BuildSamplesOptions {
  /**
   * Token counter of the policy's tokenizer, e.g. `(text) => tokenizer.encode(text).length`.
   * Default: `approximateTokenCount` (characters / 4), a rough stand-in; pass the real one for
   * training so the context budget means what it says.
   */
  countTokens?: CountTokens;
  /** How `document.text` is split into sentences. */
  split?: SplitOptions;
  /**
   * Which sentences may be targets (default: ≥ 20 characters and ≥ 4 words; METHOD.md §7). `false`
   * keeps every sentence. Token limits use `countTokens`.
   */
  filter?: Omit<SentenceFilterOptions, 'countTokens'> | false;
  /**
   * `context` (default): sentences that fail the filter are never targets but stay in the document,
   * so contexts, `next` and reference windows are the true surrounding text. `drop`: they are
   * removed before D_s is built (the paper's wording), so `next` is the next kept sentence.
   */
  shortSentences?: ShortSentencePolicy;
  /** Token budget of the context s_<i, left-truncated to fit (whole sentences first). Default 2048. */
  contextMaxTokens?: number;
  /** Segments in the reference window s_i, s_{i+1}, … (k). Default 3. */
  referenceSegments?: number;
  /** Token cap of the reference window; s_i itself is always included whole. Default 512. */
  referenceMaxTokens?: number;
  /** Joins sentences in `context` and `reference`. Default `' '`. */
  separator?: string;
}

/** Defaults of `buildSamples` (METHOD.md §7). */
export const DEFAULT_SAMPLE_OPTIONS = Object.freeze({
  contextMaxTokens: 2048,
  referenceSegments: 3,
  referenceMaxTokens: 512,
  separator: ' ',
  shortSentences: 'context' as ShortSentencePolicy,
});

/**
 * A rough token count, `ceil(characters / 4)` (the usual rule of thumb for English BPE tokenizers).
 * The default `countTokens` of `buildSamples`; use the policy's tokenizer for real runs.
 */
export function approximateTokenCount(text: string): number {
  return Math.ceil(text.length / 4);
}

function positiveInteger(name: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    ((Number.isInteger(value) && value >= 1) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    throw new InvalidArgumentError({
      argument: name,
      message: `buildSamples: options.${name} must be an integer ≥ 1${allowInfinity ? ' (or Infinity)' : ''}; got ${String(value)}.`,
    });
  }
  return value as number;
}

interface ResolvedSampleOptions {
  countTokens: CountTokens;
  split: SplitOptions;
  filter: ReturnType<typeof resolveFilter> | undefined;
  shortSentences: ShortSentencePolicy;
  contextMaxTokens: number;
  referenceSegments: number;
  referenceMaxTokens: number;
  separator: string;
}

function resolveOptions(options: BuildSamplesOptions): ResolvedSampleOptions {
  const countTokens = options.countTokens ?? approximateTokenCount;
  if (typeof countTokens !== 'function') {
    throw new InvalidArgumentError({
      argument: 'countTokens',
      message: `buildSamples: options.countTokens must be a function (text) => number; got ${typeof countTokens}.`,
    });
  }
  const shortSentences = options.shortSentences ?? DEFAULT_SAMPLE_OPTIONS.shortSentences;
  if (shortSentences !== 'context' && shortSentences !== 'drop') {
    throw new InvalidArgumentError({
      argument: 'shortSentences',
      message: `buildSamples: options.shortSentences must be 'context' or 'drop'; got ${JSON.stringify(shortSentences)}.`,
    });
  }
  const separator = options.separator ?? DEFAULT_SAMPLE_OPTIONS.separator;
  if (typeof separator !== 'string') {
    throw new InvalidArgumentError({
      argument: 'separator',
      message: `buildSamples: options.separator must be a string; got ${typeof separator}.`,
    });
  }
  return {
    countTokens,
    split: options.split ?? {},
    filter:
      options.filter === false
        ? undefined
        : resolveFilter({ ...options.filter, countTokens }, 'buildSamples'),
    shortSentences,
    contextMaxTokens: positiveInteger(
      'contextMaxTokens',
      options.contextMaxTokens,
      DEFAULT_SAMPLE_OPTIONS.contextMaxTokens,
      true,
    ),
    referenceSegments: positiveInteger(
      'referenceSegments',
      options.referenceSegments,
      DEFAULT_SAMPLE_OPTIONS.referenceSegments,
    ),
    referenceMaxTokens: positiveInteger(
      'referenceMaxTokens',
      options.referenceMaxTokens,
      DEFAULT_SAMPLE_OPTIONS.referenceMaxTokens,
      true,
    ),
    separator,
  };
}

/** The document's sentences with their index in the full sentence list (the sample index). */
function documentSentences(
  document: SegmentDocument,
  split: SplitOptions,
): { texts: string[]; indices: number[] } {
  const where = `buildSamples: document ${JSON.stringify(document.id)}`;
  if (document.sentences !== undefined) {
    if (document.text !== undefined) {
      throw new InvalidInputError({
        reason: 'invalid-document',
        message: `${where} has both text and sentences; give one of them.`,
        location: { id: document.id },
      });
    }
    if (!Array.isArray(document.sentences)) {
      throw new InvalidInputError({
        reason: 'invalid-document',
        message: `${where}: sentences must be an array of strings or { text } objects.`,
        location: { id: document.id },
      });
    }
    const texts: string[] = [];
    const indices: number[] = [];
    document.sentences.forEach((entry, index) => {
      const text = typeof entry === 'string' ? entry : (entry as Sentence | null)?.text;
      if (typeof text !== 'string') {
        throw new InvalidInputError({
          reason: 'invalid-document',
          message: `${where}: sentences[${index}] is not a string or a { text: string } object.`,
          location: { id: document.id },
        });
      }
      if (!isBlank(text)) {
        texts.push(text);
        indices.push(index);
      }
    });
    return { texts, indices };
  }
  if (typeof document.text !== 'string') {
    throw new InvalidInputError({
      reason: 'invalid-document',
      message: `${where} has no text (a string) and no sentences.`,
      location: { id: document.id },
    });
  }
  const texts = splitSentences(document.text, split).map((sentence) => sentence.text);
  return { texts, indices: texts.map((_, index) => index) };
}

function isBlank(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (!isWhitespace(text.charCodeAt(index))) return false;
  }
  return true;
}

/**
 * The tail of `text` that fits `budget` tokens, cut at a word start (or, for one giant word, at a
 * character). Binary search: O(log n) calls of `countTokens`.
 */
function tailWithinBudget(text: string, budget: number, countTokens: CountTokens, where: string): string {
  const starts: number[] = [];
  for (let index = 1; index < text.length; index++) {
    if (!isWhitespace(text.charCodeAt(index)) && isWhitespace(text.charCodeAt(index - 1))) starts.push(index);
  }
  const fits = (from: number) => checkedTokenCount(countTokens, text.slice(from), where) <= budget;
  // Word starts: the earliest one whose tail fits.
  let low = 0;
  let high = starts.length; // `high` = no word start fits (yet)
  while (low < high) {
    const middle = (low + high) >> 1;
    if (fits(starts[middle] as number)) high = middle;
    else low = middle + 1;
  }
  if (low < starts.length) return text.slice(starts[low] as number);
  // Even the last word is too long: cut inside it, keeping surrogate pairs whole.
  const lastStart = starts.length > 0 ? (starts[starts.length - 1] as number) : 0;
  let from = lastStart;
  let to = text.length - 1;
  while (from < to) {
    const middle = (from + to) >> 1;
    if (fits(middle)) to = middle;
    else from = middle + 1;
  }
  const code = text.charCodeAt(from);
  if (code >= 0xdc00 && code <= 0xdfff && from + 1 < text.length) from++;
  return text.slice(from);
}

/**
 * Builds RLPT's next-segment samples D_s from one document (METHOD.md §2): for every sentence s_i
 * with at least one sentence before it and one after it, the context s_<i (left-truncated to
 * `contextMaxTokens`, whole sentences first), the target s_i, the following sentence s_{i+1} (for
 * MSR) and the reference window s_i … s_{i+k−1} (capped at `referenceMaxTokens`) for the prefix
 * reward. Sentences that fail the filter are never targets (see `shortSentences`). Sample ids are
 * `${document.id}:${index}`, where `index` is the target's position in the document's sentence list,
 * so ids stay the same when the filter changes.
 *
 * @example
 * ```ts
 * const samples = buildSamples(
 *   { id: 'doc-1', text },
 *   { countTokens: (text) => tokenizer.encode(text).length, contextMaxTokens: 1024 },
 * );
 * ```
 * @throws InvalidArgumentError for invalid options or a `countTokens` that does not return a finite
 * number ≥ 0; InvalidInputError (with `location.id`) for a malformed document.
 */
export function buildSamples(document: SegmentDocument, options: BuildSamplesOptions = {}): SegmentSample[] {
  if (typeof document !== 'object' || document === null) {
    throw new InvalidInputError({
      reason: 'invalid-document',
      message: `buildSamples: document must be an object { id, text } or { id, sentences }; got ${document === null ? 'null' : typeof document}.`,
    });
  }
  if (typeof document.id !== 'string' || document.id.length === 0) {
    throw new InvalidInputError({
      reason: 'invalid-document',
      message: `buildSamples: document.id must be a non-empty string (sample ids are \`\${id}:\${index}\`); got ${JSON.stringify(document.id)}.`,
    });
  }
  const resolved = resolveOptions(options);
  const { countTokens, separator } = resolved;
  const where = `buildSamples: document ${JSON.stringify(document.id)}`;
  const { texts, indices } = documentSentences(document, resolved.split);
  const tokens = texts.map((text) => checkedTokenCount(countTokens, text, where));
  const eligible = texts.map(
    (text, position) =>
      resolved.filter === undefined || filterReason(text, resolved.filter, tokens[position]) === undefined,
  );

  // The sequence D_s is built over: every sentence, or only the kept ones.
  const sequence: number[] = [];
  for (let position = 0; position < texts.length; position++) {
    if (resolved.shortSentences === 'context' || eligible[position]) sequence.push(position);
  }

  const samples: SegmentSample[] = [];
  let windowStart = 0; // first sequence position in the context window
  let windowTokens = 0; // tokens of sequence[windowStart .. target−1]
  for (let target = 1; target < sequence.length - 1; target++) {
    const previous = sequence[target - 1] as number;
    windowTokens += tokens[previous] as number;
    while (windowTokens > resolved.contextMaxTokens && windowStart < target - 1) {
      windowTokens -= tokens[sequence[windowStart] as number] as number;
      windowStart++;
    }
    const position = sequence[target] as number;
    if (!eligible[position]) continue;

    let context: string;
    let contextTruncated = windowStart > 0;
    if (windowTokens > resolved.contextMaxTokens) {
      // Even s_{i−1} alone is over budget: keep its tail.
      context = tailWithinBudget(texts[previous] as string, resolved.contextMaxTokens, countTokens, where);
      contextTruncated = true;
    } else {
      const parts: string[] = [];
      for (let index = windowStart; index < target; index++)
        parts.push(texts[sequence[index] as number] as string);
      context = parts.join(separator);
    }

    const referenceParts = [texts[position] as string];
    let referenceTokens = tokens[position] as number;
    for (
      let next = target + 1;
      next < sequence.length && referenceParts.length < resolved.referenceSegments;
      next++
    ) {
      const nextTokens = tokens[sequence[next] as number] as number;
      if (referenceTokens + nextTokens > resolved.referenceMaxTokens) break;
      referenceParts.push(texts[sequence[next] as number] as string);
      referenceTokens += nextTokens;
    }

    const index = indices[position] as number;
    const sample: SegmentSample = {
      id: `${document.id}:${index}`,
      documentId: document.id,
      index,
      context,
      target: texts[position] as string,
      next: texts[sequence[target + 1] as number] as string,
      reference: referenceParts.join(separator),
      referenceSegments: referenceParts.length,
      contextSegments: target - windowStart,
      contextTruncated,
    };
    if (document.source !== undefined) sample.source = document.source;
    samples.push(sample);
  }
  return samples;
}
