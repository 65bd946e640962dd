import { InvalidArgumentError } from '@rlpt/spec';
import {
  GENERAL_ABBREVIATIONS,
  NEVER_FINAL_ABBREVIATIONS,
  NUMBER_ABBREVIATIONS,
  SENTENCE_STARTERS,
  TIME_ABBREVIATIONS,
  TIME_PHRASE_OPENERS,
} from './abbreviations.js';
import {
  ABBREVIATION_GENERAL,
  ABBREVIATION_NEVER_FINAL,
  ABBREVIATION_NUMBER,
  ABBREVIATION_TIME,
  type ScannerConfig,
  scanSentences,
} from './scanner.js';
import { proposeWithSentenceSplitter } from './sentence-splitter-engine.js';
import type { Sentence } from './types.js';

/** Which engine finds sentence boundaries. */
export type SegmentEngine = 'scanner' | 'sentence-splitter';

/** What a single line break (not a blank line) means. Blank lines always end a sentence. */
export type LineBreakMode = 'auto' | 'split' | 'join';

export interface SplitOptions {
  /**
   * `scanner` (default): the package's own linear-time rule scanner. `sentence-splitter`: the
   * `sentence-splitter` npm package proposes boundaries one paragraph at a time and the same English
   * rules veto the wrong ones (about 20× slower; see the README for the cases it misses).
   */
  engine?: SegmentEngine;
  /**
   * Single line breaks. `auto` (default): a line break ends a sentence when the line has no final
   * punctuation and the next line starts like a new sentence or list item (headings, lists, verse);
   * lines that end in `,`, `;`, `:`, a hyphen or a word like "the" continue, and a line starting in
   * lower case continues unless the whole paragraph has no sentence punctuation (a list of lower-case
   * items). `split`: every line break ends a sentence. `join`: line breaks are plain spaces.
   */
  lineBreaks?: LineBreakMode;
  /**
   * Extra abbreviations that end a sentence only before a typical sentence starter ("The", "It", …),
   * like the built-in `Inc.`, `etc.`, `U.S.`. Case-insensitive, with or without the final period.
   */
  abbreviations?: readonly string[];
  /** Extra titles that never end a sentence, like the built-in `Mr.`, `Dr.`, `e.g.`. */
  titles?: readonly string[];
}

const cachedConfigs = new Map<string, ScannerConfig>();

function normaliseAbbreviation(entry: string, option: string): string {
  if (typeof entry !== 'string') {
    throw new InvalidArgumentError({
      argument: option,
      message: `splitSentences: every entry of options.${option} must be a string; got ${typeof entry}.`,
    });
  }
  const trimmed = entry.trim().toLowerCase().replace(/\.$/, '');
  if (trimmed.length === 0 || /\s/.test(trimmed)) {
    throw new InvalidArgumentError({
      argument: option,
      message: `splitSentences: options.${option} entry ${JSON.stringify(entry)} must be one word like "approx." (no spaces, not empty).`,
    });
  }
  return trimmed;
}

function buildConfig(options: SplitOptions): ScannerConfig {
  const lineBreaks = options.lineBreaks ?? 'auto';
  if (lineBreaks !== 'auto' && lineBreaks !== 'split' && lineBreaks !== 'join') {
    throw new InvalidArgumentError({
      argument: 'lineBreaks',
      message: `splitSentences: options.lineBreaks must be 'auto', 'split' or 'join'; got ${JSON.stringify(lineBreaks)}.`,
    });
  }
  const extraGeneral = (options.abbreviations ?? []).map((entry) =>
    normaliseAbbreviation(entry, 'abbreviations'),
  );
  const extraTitles = (options.titles ?? []).map((entry) => normaliseAbbreviation(entry, 'titles'));
  const key = `${lineBreaks}\u0000${extraGeneral.join('\u0001')}\u0000${extraTitles.join('\u0001')}`;
  const cached = cachedConfigs.get(key);
  if (cached !== undefined) return cached;
  const abbreviations = new Map<string, number>();
  // Later lists win: a title is never final even if it is also listed as a general abbreviation.
  for (const entry of NUMBER_ABBREVIATIONS) abbreviations.set(entry, ABBREVIATION_NUMBER);
  for (const entry of GENERAL_ABBREVIATIONS) abbreviations.set(entry, ABBREVIATION_GENERAL);
  for (const entry of extraGeneral) abbreviations.set(entry, ABBREVIATION_GENERAL);
  for (const entry of TIME_ABBREVIATIONS) abbreviations.set(entry, ABBREVIATION_TIME);
  for (const entry of NEVER_FINAL_ABBREVIATIONS) abbreviations.set(entry, ABBREVIATION_NEVER_FINAL);
  for (const entry of extraTitles) abbreviations.set(entry, ABBREVIATION_NEVER_FINAL);
  const config: ScannerConfig = {
    abbreviations,
    sentenceStarters: new Set(SENTENCE_STARTERS),
    timePhraseOpeners: new Set(TIME_PHRASE_OPENERS),
    lineBreaks,
  };
  if (cachedConfigs.size > 64) cachedConfigs.clear();
  cachedConfigs.set(key, config);
  return config;
}

/**
 * Splits English text into sentences.
 *
 * Every sentence is trimmed, `sentence.text === text.slice(sentence.start, sentence.end)` (UTF-16
 * offsets), sentences are in order and do not overlap, and only white space lies between them. Blank
 * lines always end a sentence. Runs in time linear in `text.length`.
 *
 * @example
 * ```ts
 * splitSentences('Mr. Smith arrived at 5 p.m. yesterday. He left early.').map((s) => s.text);
 * // ['Mr. Smith arrived at 5 p.m. yesterday.', 'He left early.']
 * ```
 * @throws InvalidArgumentError when `text` is not a string or an option is invalid.
 */
export function splitSentences(text: string, options: SplitOptions = {}): Sentence[] {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError({
      argument: 'text',
      message: `splitSentences: text must be a string; got ${text === null ? 'null' : typeof text}.`,
    });
  }
  const engine = options.engine ?? 'scanner';
  const config = buildConfig(options);
  if (engine === 'scanner') return scanSentences(text, config);
  if (engine === 'sentence-splitter') {
    return scanSentences(text, { ...config, proposals: proposeWithSentenceSplitter(text) });
  }
  throw new InvalidArgumentError({
    argument: 'engine',
    message: `splitSentences: options.engine must be 'scanner' or 'sentence-splitter'; got ${JSON.stringify(engine)}.`,
  });
}
