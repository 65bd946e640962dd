/**
 * One sentence of a text: `text === input.slice(start, end)`, with no white space at either end.
 * Offsets are UTF-16 code units, as JavaScript strings index them.
 */
export interface Sentence {
  text: string;
  /** Offset of the first character in the input. */
  start: number;
  /** Offset just past the last character in the input. */
  end: number;
}

/** Counts the tokens of a text with the policy's tokenizer (or any estimate). Must return an integer ≥ 0. */
export type CountTokens = (text: string) => number;
