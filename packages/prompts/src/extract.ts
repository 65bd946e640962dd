import { InvalidArgumentError } from '@rlpt/spec';

/** The literal tag that opens a prediction (text, not a special token). */
export const PREDICTION_START = '<|startofprediction|>';
/** The literal tag that closes a prediction. */
export const PREDICTION_END = '<|endofprediction|>';

/**
 * `ok`: a complete tag pair with non-blank text. `empty`: the last complete pair encloses only whitespace.
 * `unterminated`: an opening tag but no complete pair (typically a truncated output). `missing`: no opening tag.
 */
export type ExtractionStatus = 'ok' | 'missing' | 'empty' | 'unterminated';

/** What {@link extractPrediction} found in a policy output. */
export interface Extraction {
  status: ExtractionStatus;
  /** The prediction, trimmed; `''` unless `status` is `ok`. */
  text: string;
  /** Number of complete tag pairs in the output (the last one wins). */
  pairs: number;
  /** For `unterminated` only: the trimmed text after the last opening tag, for logs and audits. */
  partial?: string;
}

/** Options of {@link extractPrediction}. */
export interface ExtractOptions {
  /**
   * The prompt already ended with the opening tag (e.g. prefilled with `continueFinalMessage`), so the
   * output starts inside a prediction: it is read as if it began with `<|startofprediction|>`. Default false.
   */
  opened?: boolean;
}

// One regex for both tags; whitespace and case are tolerated inside the markers. Each `\s*` is followed
// by a literal that never matches whitespace, and the pattern never matches a second `<`, so the global
// scan is linear in the output length.
const tagSearch = /<\s*\|\s*(start|end)\s*of\s*prediction\s*\|\s*>/gi;

/**
 * Extracts the prediction ŝ_i from a policy output: the text between the **last complete**
 * `<|startofprediction|>` … `<|endofprediction|>` pair, trimmed.
 *
 * - Tags are matched case-insensitively with optional whitespace inside the markers
 *   (`<| StartOfPrediction |>` counts); a missing end tag is never tolerated.
 * - When an opening tag repeats before its end tag, the pair is the nearest opening tag and the end tag.
 * - An opening tag after the last complete pair does not cancel it (a trailing, truncated second answer
 *   still yields the complete first one).
 * - End tags without an opening tag are ignored (unless `options.opened`: the prompt opened the first one).
 *
 * Never throws for a string (an `InvalidArgumentError` for anything else); runs in time linear in `output.length`.
 *
 * @example
 * extractPrediction('reasoning… <|startofprediction|> The cat sat. <|endofprediction|>')
 * // → { status: 'ok', text: 'The cat sat.', pairs: 1 }
 */
export function extractPrediction(output: string, options: ExtractOptions = {}): Extraction {
  if (typeof output !== 'string') {
    throw new InvalidArgumentError({
      argument: 'output',
      message: `extractPrediction expects the policy output as a string; got ${describe(output)}.`,
    });
  }
  let openEnd = options.opened === true ? 0 : -1; // just after the latest opening tag not yet closed
  let lastContentStart = -1;
  let lastContentEnd = -1;
  let pairs = 0;
  tagSearch.lastIndex = 0;
  for (let match = tagSearch.exec(output); match !== null; match = tagSearch.exec(output)) {
    const isStart = (match[1] as string).length === 5; // 'start' vs 'end', any case
    if (isStart) {
      openEnd = match.index + match[0].length;
    } else if (openEnd >= 0) {
      lastContentStart = openEnd;
      lastContentEnd = match.index;
      pairs += 1;
      openEnd = -1;
    }
  }
  if (pairs > 0) {
    const text = output.slice(lastContentStart, lastContentEnd).trim();
    return text.length > 0 ? { status: 'ok', text, pairs } : { status: 'empty', text: '', pairs };
  }
  if (openEnd >= 0) {
    return { status: 'unterminated', text: '', pairs: 0, partial: output.slice(openEnd).trim() };
  }
  return { status: 'missing', text: '', pairs: 0 };
}

/**
 * Wraps a prediction in the tags, e.g. for cold-start SFT completions:
 * `<|startofprediction|>text<|endofprediction|>`. `extractPrediction(wrapPrediction(t)).text === t.trim()`
 * for any text without tags.
 */
export function wrapPrediction(text: string): string {
  return `${PREDICTION_START}${text}${PREDICTION_END}`;
}

/** True when `text` contains anything {@link extractPrediction} would read as a tag. */
export function containsPredictionTag(text: string): boolean {
  tagSearch.lastIndex = 0;
  const found = tagSearch.test(text);
  tagSearch.lastIndex = 0;
  return found;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
