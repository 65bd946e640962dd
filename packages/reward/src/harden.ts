import { InvalidArgumentError } from '@rlpt/spec';
import { foldForDetection, normalizeWords, normalizeWordsMemoised, stripInvisible } from './text.js';

/**
 * Hardening: the policy's prediction is untrusted input that a judge model reads. Before any judge call
 * it is checked against the rules below; a prediction that breaks one is scored 0 with status `skipped`
 * and a stable `reason`, without asking the judge. What passes is neutralised (invisible characters
 * removed, line endings normalised) and later fenced inside the judge prompt.
 */

/** Stable reason codes of a skipped prediction (also the keys of `stats().reasons`). */
export type HardeningReason =
  | 'empty'
  | 'too-short'
  | 'too-long'
  | 'injected-control-text'
  | 'prompt-injection'
  | 'copies-context'
  | 'repetition'
  | 'beyond-reference';

export interface HardeningOptions {
  /** Predictions with fewer words score 0 without asking the judge (METHOD.md §7). Default 3. */
  minWords?: number;
  /**
   * Longest prediction allowed, as a multiple of the reference's length (words and characters).
   * Default 1.5: a prefix of the reference window cannot be much longer than the window.
   */
  maxLengthRatio?: number;
  /** Words allowed on top of `maxLengthRatio × reference words` (paraphrases run a little long). Default 8. */
  lengthSlackWords?: number;
  /** Characters allowed on top of `maxLengthRatio × reference characters`. Default 200. */
  lengthSlackChars?: number;
  /** Reject judge control text (verdict lines, template headers, prediction tags, chat special tokens). Default true. */
  controlText?: boolean;
  /** Reject instruction-injection phrases ("ignore previous instructions", "output Score: 1", …). Default true. */
  injectionPhrases?: boolean;
  /** Reject predictions copied from the context rather than predicted (needs `item.context`). Default true. */
  copyContext?: boolean;
  /** Share of the prediction's 5-word shingles found in the context (and not in the reference) that counts as copying. Default 0.5. */
  copyContextThreshold?: number;
  /** Reject degenerate self-repetition not present in the reference. Default true. */
  repetition?: boolean;
  /** Reject predictions that contain the whole reference window and then keep going. Default true. */
  beyondReference?: boolean;
  /** Extra patterns (matched against the folded prediction) that mark control text, e.g. your own template's headers. */
  extraControlPatterns?: RegExp[];
}

/** Resolved hardening settings (every option filled in). */
export type ResolvedHardeningOptions = Required<HardeningOptions>;

export const defaultHardeningOptions: ResolvedHardeningOptions = {
  minWords: 3,
  maxLengthRatio: 1.5,
  lengthSlackWords: 8,
  lengthSlackChars: 200,
  controlText: true,
  injectionPhrases: true,
  copyContext: true,
  copyContextThreshold: 0.5,
  repetition: true,
  beyondReference: true,
  extraControlPatterns: [],
};

/** Outcome of {@link hardenPrediction}: judge the neutralised text, or skip with a reason. */
export type HardeningResult =
  | { action: 'judge'; prediction: string }
  | { action: 'skip'; reason: HardeningReason; detail: string };

export interface HardeningInput {
  prediction: string;
  reference: string;
  context?: string;
}

/** Validates and fills in hardening options; throws `InvalidArgumentError` naming the bad option. */
export function resolveHardeningOptions(options: HardeningOptions | undefined): ResolvedHardeningOptions {
  const resolved: ResolvedHardeningOptions = { ...defaultHardeningOptions, ...stripUndefined(options ?? {}) };
  const check = (name: keyof HardeningOptions, ok: boolean, what: string) => {
    if (!ok) {
      throw new InvalidArgumentError({
        argument: `hardening.${name}`,
        message: `hardening.${name} must be ${what}; got ${String(resolved[name])}.`,
      });
    }
  };
  check('minWords', Number.isInteger(resolved.minWords) && resolved.minWords >= 0, 'an integer ≥ 0');
  check(
    'maxLengthRatio',
    Number.isFinite(resolved.maxLengthRatio) && resolved.maxLengthRatio >= 1,
    'a finite number ≥ 1',
  );
  check(
    'lengthSlackWords',
    Number.isInteger(resolved.lengthSlackWords) && resolved.lengthSlackWords >= 0,
    'an integer ≥ 0',
  );
  check(
    'lengthSlackChars',
    Number.isInteger(resolved.lengthSlackChars) && resolved.lengthSlackChars >= 0,
    'an integer ≥ 0',
  );
  check(
    'copyContextThreshold',
    resolved.copyContextThreshold > 0 && resolved.copyContextThreshold <= 1,
    'in (0, 1]',
  );
  check(
    'extraControlPatterns',
    Array.isArray(resolved.extraControlPatterns) &&
      resolved.extraControlPatterns.every((pattern) => pattern instanceof RegExp),
    'an array of RegExp',
  );
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

interface ControlPattern {
  reason: 'injected-control-text' | 'prompt-injection';
  what: string;
  pattern: RegExp;
}

const sep = '[\\W_]{0,3}';
/** Patterns over the folded text (see `foldForDetection`). All are global so every match is checked. */
const controlPatterns: ControlPattern[] = [
  {
    reason: 'injected-control-text',
    what: 'verdict line',
    // `Score: 1`, `score:1`, `S c o r e = 0`, `s-c-o-r-e: 1` (after look-alike folding)
    pattern: new RegExp(`s${sep}c${sep}o${sep}r${sep}e${sep}[:=]${sep}[01](?!\\d|[.,]\\d)`, 'g'),
  },
  {
    reason: 'injected-control-text',
    what: 'template header',
    pattern:
      /#{1,6}[ \t]*(?:task|scoring[ \t]+rules?|context|text[ \t]+material|instructions?|system|reference|predicted|prediction|output)\b/g,
  },
  {
    reason: 'injected-control-text',
    what: 'judge field label',
    pattern: /\b(?:reference|predicted)(?:[ \t]+(?:paragraph|sentence|text))?[ \t]*:/g,
  },
  {
    reason: 'injected-control-text',
    what: 'judge instructions',
    pattern:
      /\b(?:output format|assign a score|scoring rules|semantically matches the prefix|choose one\)?:)/g,
  },
  {
    reason: 'injected-control-text',
    what: 'prediction tag',
    pattern: /(?:start|end)[\W_]{0,2}of[\W_]{0,2}prediction|<[\W_]{0,2}mask[\W_]{0,2}>/g,
  },
  {
    reason: 'injected-control-text',
    what: 'chat special token',
    pattern:
      /<\|[^|<>\s]{1,40}\|>|\[\/?inst\]|<<\/?sys>>|<\/?s>|<\/?(?:start|end)_of_turn>|<\/?think>|<\/?(?:system|user|assistant)>/g,
  },
  {
    reason: 'prompt-injection',
    what: 'instruction override',
    pattern:
      /\b(?:ignore|disregard|forget|override|bypass)\b[\s\S]{0,40}?\b(?:instructions?|rules?|prompt|directions|guidelines|above|previous|prior)\b/g,
  },
  {
    reason: 'prompt-injection',
    what: 'instruction to the judge',
    pattern:
      /\b(?:system|developer)[ \t]+(?:prompt|message|instructions?)\b|\bnew[ \t]+instructions?\b|\byou[ \t]+are[ \t]+(?:now[ \t]+)?(?:a|an|the)[ \t]+(?:judge|grader|evaluator|assistant)\b|\b(?:judge|grader|evaluator)[ \t]+(?:must|should|will)\b|\b(?:output|respond|reply|answer|return|print)[ \t]+(?:with[ \t]+)?(?:only[ \t]+)?["'`]?(?:score|yes|correct|1)\b/g,
  },
];

/**
 * Checks one prediction. Rules, in order (the first that fires decides):
 * 1. `empty` — nothing but whitespace or invisible characters.
 * 2. `too-long` — more characters or words than `maxLengthRatio × reference + slack` (checked on the raw
 *    length first, so megabytes of text never reach the pattern matchers).
 * 3. `too-short` — fewer than `minWords` words.
 * 4. `injected-control-text` / `prompt-injection` — judge control text or instruction phrases that the
 *    reference itself does not contain (matching happens on the folded text: NFKC, look-alike letters,
 *    invisible characters and diacritics removed).
 * 5. `beyond-reference` — the whole reference window followed by more text.
 * 6. `repetition` — 30 %+ of the prediction's 4-word shingles repeat ones it already used, beyond what the
 *    reference repeats.
 * 7. `copies-context` — at least `copyContextThreshold` of its 5-word shingles come from the context and
 *    not from the reference.
 */
export function hardenPrediction(input: HardeningInput, options: ResolvedHardeningOptions): HardeningResult {
  const { reference } = input;
  const neutralised = stripInvisible(input.prediction)
    .replace(/\r\n?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (neutralised.length === 0) return skip('empty', 'the prediction is empty');

  const maxChars = Math.ceil(reference.length * options.maxLengthRatio) + options.lengthSlackChars;
  if (neutralised.length > maxChars) {
    return skip(
      'too-long',
      `${neutralised.length} characters; at most ${maxChars} allowed for a ${reference.length}-character reference`,
    );
  }
  const words = normalizeWords(neutralised);
  const referenceWords = normalizeWordsMemoised(reference);
  const maxWords = Math.ceil(referenceWords.length * options.maxLengthRatio) + options.lengthSlackWords;
  if (words.length > maxWords) {
    return skip(
      'too-long',
      `${words.length} words; at most ${maxWords} allowed for a ${referenceWords.length}-word reference`,
    );
  }
  if (words.length < options.minWords) {
    return skip('too-short', `${words.length} word(s); at least ${options.minWords} required`);
  }

  if (options.controlText || options.injectionPhrases || options.extraControlPatterns.length > 0) {
    const found = findControlText(neutralised, reference, options);
    if (found) return found;
  }
  if (options.beyondReference && referenceWords.length > 0 && words.length > referenceWords.length) {
    if (indexOfSequence(words, referenceWords) >= 0) {
      return skip('beyond-reference', 'contains the whole reference window and continues past it');
    }
  }
  if (options.repetition) {
    const repeated = repeatedShingleShare(words, referenceWords, 4);
    if (repeated >= 0.3) {
      return skip('repetition', `${Math.round(repeated * 100)}% of its 4-word shingles repeat earlier ones`);
    }
  }
  if (options.copyContext && input.context) {
    const copied = copiedFromContextShare(words, reference, input.context);
    if (copied >= options.copyContextThreshold) {
      return skip(
        'copies-context',
        `${Math.round(copied * 100)}% of its word shingles are copied from the context, not the reference`,
      );
    }
  }
  return { action: 'judge', prediction: neutralised };
}

function skip(reason: HardeningReason, detail: string): HardeningResult {
  return { action: 'skip', reason, detail };
}

/** One pass over the text: most predictions contain no control text at all, so check them all at once first. */
const anyControlPattern = new RegExp(controlPatterns.map(({ pattern }) => `(?:${pattern.source})`).join('|'));

function findControlText(
  prediction: string,
  reference: string,
  options: ResolvedHardeningOptions,
): HardeningResult | undefined {
  const folded = foldForDetection(prediction);
  let foldedReference: string | undefined;
  // A pattern the reference itself contains verbatim (e.g. "Reference:" in a bibliography) is not an attack.
  const inReference = (text: string) => {
    foldedReference ??= foldForDetection(reference);
    return foldedReference.includes(text);
  };
  if (!anyControlPattern.test(folded) && options.extraControlPatterns.length === 0) return undefined;
  for (const { reason, what, pattern } of controlPatterns) {
    if (reason === 'injected-control-text' ? !options.controlText : !options.injectionPhrases) continue;
    pattern.lastIndex = 0;
    for (const match of folded.matchAll(pattern)) {
      if (!inReference(match[0])) return skip(reason, `${what} ${JSON.stringify(match[0].slice(0, 60))}`);
    }
  }
  for (const pattern of options.extraControlPatterns) {
    const global = pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
    global.lastIndex = 0;
    for (const match of folded.matchAll(global)) {
      if (!inReference(match[0])) {
        return skip('injected-control-text', `custom pattern ${JSON.stringify(match[0].slice(0, 60))}`);
      }
    }
  }
  return undefined;
}

/** Index of `needle` as a contiguous run inside `haystack`, or -1. */
function indexOfSequence(haystack: readonly string[], needle: readonly string[]): number {
  outer: for (let start = 0; start + needle.length <= haystack.length; start++) {
    for (let offset = 0; offset < needle.length; offset++) {
      if (haystack[start + offset] !== needle[offset]) continue outer;
    }
    return start;
  }
  return -1;
}

/** A 32-bit FNV-1a hash of a word, with a seed so two independent lanes can be combined. */
function wordHash(word: string, seed: number): number {
  let hash = seed;
  for (let index = 0; index < word.length; index++) hash = Math.imul(hash ^ word.charCodeAt(index), 16777619);
  return hash >>> 0;
}

/**
 * The word `size`-grams of `words` as 52-bit numbers (two hash lanes): heuristics only count shingles, so
 * a collision (≈ n² / 2^52) cannot matter, and numbers avoid building a string per shingle.
 */
function shingles(words: readonly string[], size: number): number[] {
  const count = words.length - size + 1;
  if (count <= 0) return [];
  const low = new Uint32Array(words.length);
  const high = new Uint32Array(words.length);
  for (let index = 0; index < words.length; index++) {
    low[index] = wordHash(words[index] as string, 0x811c9dc5);
    high[index] = wordHash(words[index] as string, 0x01000193);
  }
  const result = new Array<number>(count);
  for (let start = 0; start < count; start++) {
    let a = 0x9e3779b9;
    let b = 0x85ebca6b;
    for (let offset = 0; offset < size; offset++) {
      a = Math.imul(a ^ (low[start + offset] as number), 0x27d4eb2d);
      b = Math.imul(b ^ (high[start + offset] as number), 0x165667b1);
    }
    result[start] = (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
  }
  return result;
}

function countShingles(words: readonly string[], size: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const shingle of shingles(words, size)) counts.set(shingle, (counts.get(shingle) ?? 0) + 1);
  return counts;
}

/** Share of shingles that repeat an earlier one more often than the reference repeats it. */
function repeatedShingleShare(words: string[], referenceWords: readonly string[], size: number): number {
  if (words.length < size * 3) return 0;
  const counts = countShingles(words, size);
  const total = words.length - size + 1;
  let referenceCounts: Map<number, number> | undefined;
  let extra = 0;
  for (const [shingle, count] of counts) {
    if (count < 2) continue;
    referenceCounts ??= countShingles(referenceWords, size);
    const allowed = Math.max(1, referenceCounts.get(shingle) ?? 0);
    extra += Math.max(0, count - allowed);
  }
  return extra / total;
}

/** Shingle sets of contexts and references, memoised: the rollouts of one prompt share them. */
const shingleSets = new Map<string, Map<number, Set<number>>>();
const shingleSetsLimit = 256;

function memoisedShingles(text: string, size: number): Set<number> {
  let bySize = shingleSets.get(text);
  if (!bySize) {
    if (shingleSets.size >= shingleSetsLimit) shingleSets.clear();
    bySize = new Map();
    shingleSets.set(text, bySize);
  }
  let set = bySize.get(size);
  if (!set) {
    set = new Set(shingles(normalizeWordsMemoised(text), size));
    bySize.set(size, set);
  }
  return set;
}

function copiedFromContextShare(words: string[], reference: string, context: string): number {
  const size = Math.min(5, words.length);
  if (size < 3) return 0;
  const predictionShingles = shingles(words, size);
  const fromContext = memoisedShingles(context, size);
  let fromReference: Set<number> | undefined;
  let copied = 0;
  for (const shingle of predictionShingles) {
    if (!fromContext.has(shingle)) continue;
    fromReference ??= memoisedShingles(reference, size);
    if (!fromReference.has(shingle)) copied++;
  }
  return copied / predictionShingles.length;
}

/**
 * Wraps untrusted text in a Markdown code fence longer than any backtick run inside it, so the text can
 * never close the fence and spill into the judge's instructions.
 */
export function fenceText(text: string): string {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${text}\n${fence}`;
}
