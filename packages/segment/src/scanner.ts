/**
 * The default engine: a single left-to-right pass over UTF-16 code units. The loop reads one table
 * entry per character and stops only at candidate characters (terminators, line breaks, `"`, `)`,
 * bullets); every decision then looks at a bounded window around the candidate, so the whole scan is
 * linear in the input. No state spans more than a paragraph, and no quote or bracket is ever tracked
 * as "open", so an unclosed `"` or `(` cannot swallow the rest of a text.
 */
import * as chars from './chars.js';
import type { Sentence } from './types.js';

// Bound once: module loaders that compile ESM to getters (tsx, vitest) would otherwise pay a getter
// call per character in the hot loop.
const {
  isCloser,
  isDigit,
  isLetter,
  isLetterOrDigit,
  isLower,
  isNewline,
  isOpener,
  isUpper,
  isWhitespace,
  STOP_BULLET,
  STOP_CJK,
  STOP_CLOSE_PAREN,
  STOP_DOUBLE_QUOTE,
  STOP_ELLIPSIS,
  STOP_NEWLINE,
  STOP_PERIOD,
  STOP_QUESTION_EXCLAMATION,
  stopClass,
} = chars;

/** How a known abbreviation behaves before the next word. */
export const ABBREVIATION_NEVER_FINAL = 1;
export const ABBREVIATION_TIME = 2;
export const ABBREVIATION_GENERAL = 3;
export const ABBREVIATION_NUMBER = 4;

/** Resolved settings of one scan. */
export interface ScannerConfig {
  /** Lower-cased abbreviation (no final period) → `ABBREVIATION_*` kind. */
  abbreviations: ReadonlyMap<string, number>;
  sentenceStarters: ReadonlySet<string>;
  timePhraseOpeners: ReadonlySet<string>;
  lineBreaks: 'auto' | 'split' | 'join';
  /**
   * When set, a terminator only ends a sentence if some proposed position lies within it or its
   * closing quotes (used by the sentence-splitter engine: it proposes, the rules dispose). Sorted.
   */
  proposals?: readonly number[];
}

const NEXT_END = 0;
const NEXT_UPPER = 1;
const NEXT_LOWER = 2;
const NEXT_DIGIT = 3;
const NEXT_OTHER = 4;

/** Longest line (UTF-16 units) of a list of lower-case items without punctuation (`features\ncontact manager`). */
const MAX_LIST_LINE = 40;
/** Longest token looked at before a period; longer tokens are never abbreviations. */
const MAX_WORD = 64;
/** Words on a line's end after which a line break never ends a sentence (hard-wrapped prose). */
const LINE_CONTINUATION_WORDS = new Set([
  'a',
  'an',
  'the',
  'and',
  'or',
  'but',
  'nor',
  'of',
  'to',
  'in',
  'on',
  'at',
  'by',
  'for',
  'with',
  'from',
  'as',
  'that',
  'which',
  'who',
  'whose',
  'is',
  'was',
  'are',
  'were',
  'be',
  'been',
  'has',
  'have',
  'had',
  'not',
  'than',
  'into',
  'onto',
  'upon',
  'its',
  'their',
  'his',
  'her',
  'our',
  'your',
  'my',
  'this',
  'these',
  'those',
  'if',
  'when',
  'while',
  'where',
  'so',
  'about',
  'between',
  'under',
  'over',
  'after',
  'before',
  'during',
  'without',
  'within',
  'through',
  'against',
  'among',
  'de',
  'von',
  'van',
  'der',
  'la',
]);

interface ListRun {
  value: number;
  end: number;
}

const ROMAN_VALUES: Record<string, number> = { i: 1, v: 5, x: 10 };

/** Value of a lower-case roman numeral of up to four letters (i … xxxix), or 0 when not canonical. */
function romanValue(token: string): number {
  let total = 0;
  for (let index = 0; index < token.length; index++) {
    const value = ROMAN_VALUES[token[index] as string];
    if (value === undefined) return 0;
    const next = ROMAN_VALUES[token[index + 1] as string] ?? 0;
    total += next > value ? -value : value;
  }
  return total > 0 && toRoman(total) === token ? total : 0;
}

function toRoman(value: number): string {
  const tens = ['', 'x', 'xx', 'xxx'][Math.floor(value / 10)] ?? '';
  const ones = ['', 'i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii', 'viii', 'ix'][value % 10] ?? '';
  return tens + ones;
}

/**
 * List-marker readings of a short token: `3` → number 3; `b` → letter 2; `iv` → roman 4; `I` → letter 9
 * and roman 1. Keys name the kind; upper-case single letters are flagged because they are usually
 * initials and only count as list markers at the start of a line or sentence.
 */
function markerReadings(token: string): Array<{ kind: string; value: number; initialLike: boolean }> {
  const readings: Array<{ kind: string; value: number; initialLike: boolean }> = [];
  const first = token.charCodeAt(0);
  if (isDigit(first)) {
    if (token.length <= 2 && (token.length === 1 || isDigit(token.charCodeAt(1)))) {
      readings.push({ kind: 'n', value: Number(token), initialLike: false });
    }
    return readings;
  }
  if (token.length === 1 && first >= 0x61 && first <= 0x7a) {
    readings.push({ kind: 'a', value: first - 0x60, initialLike: false });
  } else if (token.length === 1 && first >= 0x41 && first <= 0x5a) {
    readings.push({ kind: 'A', value: first - 0x40, initialLike: true });
  }
  const lower = token.toLowerCase();
  const roman = romanValue(lower);
  if (roman > 0) {
    const upper = first >= 0x41 && first <= 0x5a;
    if (lower === token || token === lower.toUpperCase()) {
      readings.push({ kind: upper ? 'R' : 'r', value: roman, initialLike: upper && token.length === 1 });
    }
  }
  return readings;
}

/** True for tokens that can only be a list marker or an initial, never a whole sentence. */
function isMarkerToken(token: string): boolean {
  if (token.length === 0 || token.length > 4) return false;
  const first = token.charCodeAt(0);
  if (isDigit(first)) return token.length <= 2 && (token.length === 1 || isDigit(token.charCodeAt(1)));
  if (token.length === 1) return isLetter(first);
  return romanValue(token.toLowerCase()) > 0;
}

function isNumberLike(word: string): boolean {
  let index = 0;
  const first = word.charCodeAt(0);
  // $5, €5, £5, #5, -5, +5
  if (
    first === 0x24 ||
    first === 0x20ac ||
    first === 0xa3 ||
    first === 0x23 ||
    first === 0x2d ||
    first === 0x2b
  ) {
    index = 1;
  }
  return index < word.length && isDigit(word.charCodeAt(index));
}

/** `u.s`, `e.u`, `u.s.a`: single letters separated by periods. */
function isInitialism(lower: string): boolean {
  if (lower.length < 3 || lower.length % 2 === 0) return false;
  for (let index = 0; index < lower.length; index++) {
    const code = lower.charCodeAt(index);
    if (index % 2 === 0 ? !isLetter(code) : code !== 0x2e) return false;
  }
  return true;
}

/** Characters that end a word when scanning back from a period. */
function isWordStop(code: number): boolean {
  return (
    isWhitespace(code) ||
    (isOpener(code) && code !== 0x27) ||
    code === 0x2f || // /
    code === 0x2014 || // —
    code === 0x2013 || // –
    code === 0x2d || // -
    code === 0x29 || // )
    code === 0x5d || // ]
    code === 0x22 || // "
    code === 0x201d || // ”
    stopClass[code] === STOP_BULLET
  );
}

/** Punctuation that continues a sentence: `-`, `–`, `—`, `,`, `;`, `:`. */
function isDashOrComma(code: number): boolean {
  return (
    code === 0x2d || code === 0x2013 || code === 0x2014 || code === 0x2c || code === 0x3b || code === 0x3a
  );
}

function isBulletChar(code: number): boolean {
  return stopClass[code] === STOP_BULLET;
}

function isTerminatorChar(code: number): boolean {
  const cls = stopClass[code];
  return (
    cls === STOP_PERIOD || cls === STOP_QUESTION_EXCLAMATION || cls === STOP_ELLIPSIS || cls === STOP_CJK
  );
}

/** Characters at a line's end that say the sentence goes on. */
function isContinuationChar(code: number): boolean {
  return (
    code === 0x2c || // ,
    code === 0x3b || // ;
    code === 0x28 || // (
    code === 0x5b || // [
    code === 0x7b || // {
    code === 0x2d || // -
    code === 0x2013 || // –
    code === 0x2014 || // —
    code === 0x2f || // /
    code === 0x5c || // \
    code === 0x26 || // &
    code === 0x2b || // +
    code === 0x201c || // “
    code === 0x2018 // ‘
  );
}

class Scanner {
  private readonly text: string;
  private readonly length: number;
  private readonly config: ScannerConfig;
  private readonly out: Sentence[] = [];

  private paragraphStart = 0;
  /** Raw sentence boundaries inside the current paragraph, increasing. */
  private boundaries: number[] = [];
  /** Line breaks before a lower-case line: boundaries only if the paragraph has no terminator at all. */
  private pendingLineBreaks: number[] = [];
  private paragraphHasTerminator = false;
  /** Seen a line break inside a sentence (after `,`, a lower-case next line, …): verse or wrapped prose. */
  private paragraphFlows = false;
  /** A line ended in `,`, `;`, a hyphen or "the"/"and"/…, or a line was long: not a list of short items. */
  private paragraphWraps = false;
  /** Start of the current line. */
  private lineStart = 0;
  private listRuns = new Map<string, ListRun>();
  private quoteParity = 0;

  /** Raw start of the current sentence (after the last boundary). */
  private sentenceStart = 0;
  /** First non-space position of the current sentence, or -1 while not yet computed. */
  private sentenceTrimmedStart = -1;

  /** Cache of the whitespace-delimited token last inspected for e-mail/URL syntax. */
  private tokenEnd = -1;
  private tokenIsAddress = false;

  private proposalIndex = 0;

  constructor(text: string, config: ScannerConfig) {
    this.text = text;
    this.length = text.length;
    this.config = config;
  }

  run(): Sentence[] {
    const text = this.text;
    const length = this.length;
    for (let index = 0; index < length; index++) {
      const cls = stopClass[text.charCodeAt(index)];
      if (cls === 0) continue;
      switch (cls) {
        case STOP_PERIOD:
        case STOP_QUESTION_EXCLAMATION:
        case STOP_ELLIPSIS:
        case STOP_CJK:
          index = this.terminator(index);
          break;
        case STOP_NEWLINE:
          index = this.newline(index);
          break;
        case STOP_DOUBLE_QUOTE:
          this.quoteParity ^= 1;
          break;
        case STOP_CLOSE_PAREN:
          this.closeParen(index);
          break;
        case STOP_BULLET:
          this.bullet(index);
          break;
      }
    }
    this.finishParagraph(length);
    return this.out;
  }

  // ---------------------------------------------------------------------------------------------
  // Sentence and paragraph bookkeeping

  private code(index: number): number {
    return index < this.length ? this.text.charCodeAt(index) : -1;
  }

  private addBoundary(position: number): void {
    const last = this.boundaries.length > 0 ? (this.boundaries[this.boundaries.length - 1] as number) : -1;
    if (position <= last || position <= this.paragraphStart) return;
    this.boundaries.push(position);
    this.sentenceStart = position;
    this.sentenceTrimmedStart = -1;
  }

  private trimmedStart(): number {
    if (this.sentenceTrimmedStart < 0) {
      let position = this.sentenceStart;
      while (position < this.length && isWhitespace(this.text.charCodeAt(position))) position++;
      this.sentenceTrimmedStart = position;
    }
    return this.sentenceTrimmedStart;
  }

  /** True when the current sentence starts at `position`, possibly after a bullet. */
  private sentenceStartsAt(position: number): boolean {
    let start = this.trimmedStart();
    if (start === position) return true;
    const first = this.code(start);
    if (!isBulletChar(first) && first !== 0x2d && first !== 0x2a && first !== 0x2b) return false;
    start++;
    while (start < position && isWhitespace(this.text.charCodeAt(start))) start++;
    return start === position;
  }

  private finishParagraph(end: number): void {
    let boundaries = this.boundaries;
    if (!this.paragraphHasTerminator && !this.paragraphWraps && this.pendingLineBreaks.length > 0) {
      boundaries = mergeSorted(boundaries, this.pendingLineBreaks);
    }
    let start = this.paragraphStart;
    for (const boundary of boundaries) {
      this.emit(start, boundary);
      start = boundary;
    }
    this.emit(start, end);
    this.boundaries = [];
    this.pendingLineBreaks = [];
    this.paragraphHasTerminator = false;
    this.paragraphFlows = false;
    this.paragraphWraps = false;
    if (this.listRuns.size > 0) this.listRuns = new Map();
    this.quoteParity = 0;
  }

  private startParagraph(start: number): void {
    this.paragraphStart = start;
    this.lineStart = start;
    this.sentenceStart = start;
    this.sentenceTrimmedStart = -1;
  }

  private emit(from: number, to: number): void {
    const text = this.text;
    let start = from;
    let end = to;
    while (start < end && isWhitespace(text.charCodeAt(start))) start++;
    while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
    if (start < end) this.out.push({ text: text.slice(start, end), start, end });
  }

  // ---------------------------------------------------------------------------------------------
  // Line breaks, bullets, list markers

  /** Handles a line break at `index`; returns the last index consumed. */
  private newline(index: number): number {
    const text = this.text;
    let position = index;
    let lineBreaks = 0;
    let paragraphBreak = false;
    while (position < this.length) {
      const code = text.charCodeAt(position);
      if (!isWhitespace(code)) break;
      if (isNewline(code)) {
        if (code === 0x0d && position + 1 < this.length && text.charCodeAt(position + 1) === 0x0a) position++;
        if (code === 0x2029) paragraphBreak = true;
        lineBreaks++;
      }
      position++;
    }
    if (position >= this.length) return position - 1;
    if (lineBreaks >= 2 || paragraphBreak) {
      this.finishParagraph(index);
      this.startParagraph(position);
      return position - 1;
    }
    this.lineBreak(index, position);
    return position - 1;
  }

  /** A single line break at `index`; the next line starts at `next`. */
  private lineBreak(index: number, next: number): void {
    const lineStart = this.lineStart;
    this.lineStart = next;
    const mode = this.config.lineBreaks;
    if (mode === 'join') return;
    if (mode === 'split') {
      this.addBoundary(index);
      return;
    }
    const text = this.text;
    const start = Math.max(this.trimmedStart(), lineStart);
    let last = index - 1;
    while (last >= start && isWhitespace(text.charCodeAt(last))) last--;
    if (last < start) return;
    let code = text.charCodeAt(last);
    if (isTerminatorChar(code)) return; // the terminator already decided
    if (isCloser(code)) {
      let before = last - 1;
      while (before >= start && last - before < 4 && isCloser(text.charCodeAt(before))) before--;
      if (before >= start && isTerminatorChar(text.charCodeAt(before))) return;
    }
    if (isContinuationChar(code)) {
      this.paragraphFlows = true;
      this.paragraphWraps = true;
      return;
    }
    // Hard-wrapped prose: a line that ends on "the", "of", "and" … goes on.
    let wordStart = last;
    while (wordStart > start && last - wordStart < 8 && isLower(text.charCodeAt(wordStart - 1))) wordStart--;
    if (
      isLower(code) &&
      (wordStart === start || isWhitespace(text.charCodeAt(wordStart - 1))) &&
      LINE_CONTINUATION_WORDS.has(text.slice(wordStart, last + 1))
    ) {
      this.paragraphFlows = true;
      this.paragraphWraps = true;
      return;
    }
    let first = next;
    while (first < this.length && first - next < 4 && isOpener(text.charCodeAt(first))) first++;
    code = this.code(first);
    if (isLower(code)) {
      this.paragraphFlows = true;
      // A list of lower-case items has short lines; wrapped prose has long ones.
      if (last + 1 - lineStart > MAX_LIST_LINE) this.paragraphWraps = true;
      this.pendingLineBreaks.push(index);
      return;
    }
    // The next line starts like a sentence. End this one if the line is a heading, a label or a list
    // item; in verse and wrapped prose (`… lawless course\nTo cut off …`) the line goes on.
    if (!this.isHeadingLine(lineStart, last + 1)) return;
    this.addBoundary(index);
  }

  /**
   * A line that stands alone: no `,`/`;` inside, and either short (≤ 4 words), mostly capitalised words,
   * or in a paragraph that has not shown any sign of wrapped lines.
   */
  private isHeadingLine(from: number, to: number): boolean {
    const text = this.text;
    let words = 0;
    let capitalised = 0;
    let inWord = false;
    for (let position = from; position < to; position++) {
      const code = text.charCodeAt(position);
      if (code === 0x2c || code === 0x3b) return false;
      if (isWhitespace(code)) {
        inWord = false;
      } else if (!inWord) {
        inWord = true;
        if (isLetterOrDigit(code)) {
          words++;
          if (isUpper(code) || isDigit(code)) capitalised++;
        }
      }
    }
    return words <= 4 || capitalised * 2 > words || !this.paragraphFlows;
  }

  private bullet(index: number): void {
    if (index > this.paragraphStart && !isWhitespace(this.text.charCodeAt(index - 1))) return;
    if (this.trimmedStart() < index) this.addBoundary(index);
  }

  /** True when `position` starts a line: paragraph start, after a line break, a bullet or a colon. */
  private atLineStart(position: number): boolean {
    const text = this.text;
    let before = position - 1;
    while (before >= this.paragraphStart && position - before < 64) {
      const code = text.charCodeAt(before);
      if (code !== 0x20 && code !== 0x09) break;
      before--;
    }
    if (before < this.paragraphStart) return true;
    const code = text.charCodeAt(before);
    if (isNewline(code) || code === 0x3a || isBulletChar(code)) return true;
    if (code === 0x2d || code === 0x2a || code === 0x2b) {
      // `- 1. item` at the start of a line
      let beforeDash = before - 1;
      while (beforeDash >= this.paragraphStart && text.charCodeAt(beforeDash) === 0x20) beforeDash--;
      return beforeDash < this.paragraphStart || isNewline(text.charCodeAt(beforeDash));
    }
    return false;
  }

  /**
   * Start of the short token ending at `end` (a possible list marker), or -1. The token must follow
   * white space, a bullet, `(` or the paragraph start.
   */
  private markerTokenStart(end: number): number {
    const text = this.text;
    let start = end;
    while (start > this.paragraphStart && end - start < 5 && isLetterOrDigit(text.charCodeAt(start - 1)))
      start--;
    if (start === end || end - start > 4) return -1;
    if (start === this.paragraphStart) return start;
    const before = text.charCodeAt(start - 1);
    return isWhitespace(before) || isBulletChar(before) || before === 0x28 ? start : -1;
  }

  /**
   * Records a list marker like `2.`, `b)` or `iv.` spanning [markerStart, markerEnd). A marker that
   * continues a run (previous marker of the same kind and style has the previous value, with text in
   * between) starts a new segment; a marker at the start of a line may start a run.
   */
  private listMarker(token: string, style: string, markerStart: number, markerEnd: number): void {
    const readings = markerReadings(token);
    if (readings.length === 0) return;
    const lineStart = this.atLineStart(markerStart);
    const atSentenceStart = this.sentenceStartsAt(markerStart);
    let confirmed = false;
    for (const reading of readings) {
      const run = this.listRuns.get(reading.kind + style);
      if (
        run !== undefined &&
        run.value === reading.value - 1 &&
        this.hasTextBetween(run.end, markerStart) &&
        (!reading.initialLike || lineStart || atSentenceStart)
      ) {
        confirmed = true;
      }
    }
    for (const reading of readings) {
      if (confirmed || lineStart)
        this.listRuns.set(reading.kind + style, { value: reading.value, end: markerEnd });
    }
    if (!confirmed) return;
    let position = markerStart;
    let before = position - 1;
    while (before > this.paragraphStart && this.text.charCodeAt(before) === 0x20) before--;
    if (before >= this.paragraphStart && isBulletChar(this.text.charCodeAt(before))) position = before;
    if (position > this.trimmedStart()) this.addBoundary(position);
  }

  /** True when something other than white space lies in [from, to) (looks at most 16 characters). */
  private hasTextBetween(from: number, to: number): boolean {
    let position = from;
    while (position < to && position - from <= 16 && isWhitespace(this.text.charCodeAt(position))) position++;
    return position < to;
  }

  private closeParen(index: number): void {
    const after = this.code(index + 1);
    if (after !== -1 && !isWhitespace(after)) return;
    const start = this.markerTokenStart(index);
    if (start < 0) return;
    const token = this.text.slice(start, index);
    if (start > this.paragraphStart && this.text.charCodeAt(start - 1) === 0x28) {
      const open = start - 1;
      if (open > this.paragraphStart && !isWhitespace(this.text.charCodeAt(open - 1))) return;
      this.listMarker(token, '()', open, index + 1);
      return;
    }
    this.listMarker(token, ')', start, index + 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Terminators

  /** Handles a run of terminators starting at `index`; returns the last index consumed. */
  private terminator(index: number): number {
    const text = this.text;
    const length = this.length;

    // 1. The run: `.`, `?!`, `...`, `…`, `. . . .`, `。`
    let end = index;
    let dots = 0;
    let questionOrExclamation = false;
    let ellipsis = false;
    let cjk = false;
    let spaced = false;
    while (end < length) {
      const code = text.charCodeAt(end);
      const cls = stopClass[code];
      if (cls === STOP_PERIOD) dots++;
      else if (cls === STOP_QUESTION_EXCLAMATION) questionOrExclamation = true;
      else if (cls === STOP_ELLIPSIS) ellipsis = true;
      else if (cls === STOP_CJK) cjk = true;
      else if (
        code === 0x20 &&
        end + 1 < length &&
        text.charCodeAt(end + 1) === 0x2e &&
        isTerminatorChar(text.charCodeAt(end - 1))
      ) {
        // `. . .` (spaced ellipsis) and WikiText's `Impact ! .`
        if (!questionOrExclamation && !ellipsis && !cjk) spaced = true;
      } else break;
      end++;
    }

    // 2. Closing quotes and brackets stay with the sentence.
    let after = end;
    while (after < length && after - end < 8) {
      const code = text.charCodeAt(after);
      if (!isCloser(code)) break;
      if (code === 0x22 || code === 0x27) {
        // A straight quote closes only when nothing glued follows (`'s` is an apostrophe).
        const next = this.code(after + 1);
        if (next !== -1 && !isWhitespace(next) && !isCloser(next) && !isTerminatorChar(next)) break;
        if (code === 0x22) this.quoteParity ^= 1;
      }
      after++;
    }
    // WikiText-style closers, separated by a space: `… by 1271 . )`, `… red . " The`
    while (this.code(after) === 0x20 && after + 2 <= length) {
      const code = text.charCodeAt(after + 1);
      if (after + 2 < length && !isWhitespace(text.charCodeAt(after + 2))) break;
      if (code === 0x29 || code === 0x5d || code === 0x7d) {
        after += 2;
      } else if (code === 0x22 && (this.quoteParity === 1 || this.lineEndsAt(after + 2))) {
        after += 2;
        this.quoteParity = 0;
      } else break;
    }
    const closed = after > end;

    // 3. What follows: the end, white space and a next word, or a glued character.
    const followCode = this.code(after);
    const glued = followCode !== -1 && !isWhitespace(followCode);
    let nextClass = NEXT_END;
    let nextWord = -1;
    if (!glued) {
      this.paragraphHasTerminator = true;
      let position = after;
      let lineBreaks = 0;
      while (position < length) {
        const code = text.charCodeAt(position);
        if (!isWhitespace(code)) break;
        if (isNewline(code)) {
          if (!(code === 0x0d && this.code(position + 1) === 0x0a)) lineBreaks++;
          if (code === 0x2029) lineBreaks += 2;
        }
        position++;
      }
      if (position < length && lineBreaks < 2) {
        for (let skipped = 0; skipped < 4 && isOpener(this.code(position)); skipped++) {
          position++;
          if (this.code(position) === 0x20) position++;
        }
        const code = this.code(position);
        nextWord = position;
        nextClass = isUpper(code)
          ? NEXT_UPPER
          : isLower(code)
            ? NEXT_LOWER
            : isDigit(code)
              ? NEXT_DIGIT
              : NEXT_OTHER;
      }
    }

    // 4. Decide.
    let boundary: boolean;
    if (cjk) {
      boundary = true;
      this.paragraphHasTerminator = true;
    } else if (glued) {
      boundary = this.gluedBoundary(index, end, after, dots, questionOrExclamation || ellipsis);
    } else if (questionOrExclamation) {
      // `Yahoo! in …`, `"Stop!" she said.`, `and -- voila! -- you have cake`
      boundary =
        nextClass !== NEXT_LOWER && !(nextClass === NEXT_OTHER && isDashOrComma(this.code(nextWord)));
    } else if (ellipsis || (dots >= 2 && !spaced)) {
      // `[...]` is an omission; `... And` starts a sentence, `... and` does not.
      boundary = !this.openerBefore(index) && (nextClass === NEXT_END || nextClass === NEXT_UPPER);
    } else if (spaced) {
      // `. . .` marks an omission inside a sentence; `. . . .` ends one.
      boundary = dots >= 4 && nextClass !== NEXT_LOWER;
    } else {
      if (!closed || (after === end + 1 && text.charCodeAt(end) === 0x29)) {
        const markerStart = this.markerTokenStart(index);
        if (markerStart >= 0) {
          const style = closed ? '.)' : '.';
          this.listMarker(text.slice(markerStart, index), style, markerStart, after);
        }
      }
      boundary = nextClass === NEXT_END || this.periodBoundary(index, closed, nextClass, nextWord);
    }

    // A sentence needs a letter or digit: `" ...` at the start of a sentence does not end it.
    if (boundary && !cjk && !this.hasContentBefore(index)) boundary = false;
    if (boundary && this.config.proposals !== undefined) boundary = this.proposed(index + 1, after);
    if (boundary) this.addBoundary(after);
    return after - 1;
  }

  /**
   * True when an opening bracket or quote comes right before `index` (one space allowed): `[...]`,
   * `(... )`, `“…Thirteen Years Later”`, WikiText's `" ... Thirteen`.
   */
  private openerBefore(index: number): boolean {
    let before = index - 1;
    if (this.code(before) === 0x20) before--;
    if (before < this.paragraphStart) return false;
    const code = this.text.charCodeAt(before);
    if (code === 0x22) return this.quoteParity === 1;
    return code !== 0x27 && isOpener(code);
  }

  /** True when the current sentence has a letter or digit before `index`. */
  private hasContentBefore(index: number): boolean {
    const text = this.text;
    const start = this.trimmedStart();
    for (let position = start; position < index; position++) {
      if (position - start >= 32) return true;
      if (isLetterOrDigit(text.charCodeAt(position))) return true;
    }
    return false;
  }

  /** True when only spaces and tabs lie between `position` and the next line break or the end. */
  private lineEndsAt(position: number): boolean {
    let cursor = position;
    while (cursor < this.length && cursor - position < 64) {
      const code = this.text.charCodeAt(cursor);
      if (isNewline(code)) return true;
      if (!isWhitespace(code)) return false;
      cursor++;
    }
    return cursor >= this.length;
  }

  /** Whether the proposer (sentence-splitter) put a boundary in [from, to]. */
  private proposed(from: number, to: number): boolean {
    const proposals = this.config.proposals as readonly number[];
    while (this.proposalIndex < proposals.length && (proposals[this.proposalIndex] as number) < from) {
      this.proposalIndex++;
    }
    return this.proposalIndex < proposals.length && (proposals[this.proposalIndex] as number) <= to;
  }

  /** Start of the word that ends just before the period at `index` (bounded by the sentence start). */
  private wordStart(index: number): number {
    const text = this.text;
    const limit = Math.max(this.sentenceStart, index - MAX_WORD - 1);
    let start = index;
    while (start > limit && !isWordStop(text.charCodeAt(start - 1))) start--;
    return start;
  }

  /** A single period followed by white space. */
  private periodBoundary(index: number, closed: boolean, nextClass: number, nextWord: number): boolean {
    // `"This is great." she said.` / `(… as an engineer.) at the University`
    if (closed && nextClass === NEXT_LOWER) return false;
    const start = this.wordStart(index);
    if (start === index) return nextClass !== NEXT_LOWER; // WikiText ` . `, or `)` / `"` before the period
    if (index - start > MAX_WORD) return true;
    const word = this.text.slice(start, index);
    // `1. The first item`, `a. Apples`, `IV. Results`: a marker is never a whole sentence.
    if (isMarkerToken(word) && (this.sentenceStartsAt(start) || this.atLineStart(start))) return false;
    if (isNumberLike(word)) return nextClass !== NEXT_LOWER;
    const first = word.charCodeAt(0);
    if (word.length === 1 && isLetter(first))
      return this.singleLetterBoundary(start, first, nextClass, nextWord);
    const lower = word.toLowerCase();
    let kind = this.config.abbreviations.get(lower);
    if (kind === undefined && isInitialism(lower)) kind = ABBREVIATION_GENERAL;
    if (kind === undefined) {
      // `Tuesday.Mr.` (no space after a period that did not end the sentence): look at `mr`.
      const lastPeriod = lower.lastIndexOf('.');
      if (lastPeriod >= 0 && lower.length - lastPeriod > 2)
        kind = this.config.abbreviations.get(lower.slice(lastPeriod + 1));
    }
    switch (kind) {
      case undefined:
        return true;
      case ABBREVIATION_NEVER_FINAL:
        return false;
      case ABBREVIATION_TIME:
        return nextClass === NEXT_UPPER && !this.inOpeningTimePhrase(start);
      case ABBREVIATION_NUMBER:
        return nextClass !== NEXT_DIGIT;
      default:
        return nextClass === NEXT_UPPER && this.isSentenceStarter(nextWord);
    }
  }

  /** `J. R. R. Tolkien`, `Jonas E. Smith` (initials) vs `you and I. Did …` and `vitamin C. It …`. */
  private singleLetterBoundary(start: number, letter: number, nextClass: number, nextWord: number): boolean {
    if (isUpper(letter)) {
      const previous = this.previousWord(start);
      const afterLowerWord = previous === PREVIOUS_LOWER;
      if (letter === 0x49 /* I */ && afterLowerWord) return true;
      return afterLowerWord && nextClass === NEXT_UPPER && this.isSentenceStarter(nextWord);
    }
    if (nextClass === NEXT_UPPER) return this.isSentenceStarter(nextWord);
    return false;
  }

  /** Case of the word before `start` within the sentence: `PREVIOUS_*`. */
  private previousWord(start: number): number {
    const text = this.text;
    const limit = Math.max(this.trimmedStart(), start - MAX_WORD);
    let end = start;
    while (end > limit && isWhitespace(text.charCodeAt(end - 1))) end--;
    if (end === start || end <= limit) return PREVIOUS_NONE;
    let wordStart = end;
    while (wordStart > limit && !isWhitespace(text.charCodeAt(wordStart - 1))) wordStart--;
    while (wordStart < end && isOpener(text.charCodeAt(wordStart))) wordStart++;
    if (wordStart >= end) return PREVIOUS_NONE;
    const first = text.charCodeAt(wordStart);
    if (text.charCodeAt(end - 1) === 0x2e && end - wordStart === 2 && isUpper(first)) return PREVIOUS_INITIAL;
    if (isUpper(first)) return PREVIOUS_CAPITALISED;
    if (isLower(first)) return PREVIOUS_LOWER;
    return PREVIOUS_OTHER;
  }

  /** True when the word at `position` is one of the configured sentence starters. */
  private isSentenceStarter(position: number): boolean {
    if (position < 0) return false;
    const text = this.text;
    let end = position;
    while (end < this.length && end - position <= 16 && isLetter(text.charCodeAt(end))) end++;
    if (end === position || end - position > 16) return false;
    return this.config.sentenceStarters.has(text.slice(position, end));
  }

  /** `At 5 a.m. Mr. Smith went …`: a short opening time phrase is not a sentence of its own. */
  private inOpeningTimePhrase(wordStart: number): boolean {
    const start = this.trimmedStart();
    if (wordStart - start > 40) return false;
    const text = this.text;
    let end = start;
    while (end < wordStart && isLetter(text.charCodeAt(end))) end++;
    return this.config.timePhraseOpeners.has(text.slice(start, end).toLowerCase());
  }

  /**
   * A terminator directly followed by a non-space character. Only `word.Next` (lower or digit, then
   * an upper-case letter and a lower-case one) ends a sentence, and never inside an e-mail address, a
   * URL or after an abbreviation: `world.Today` and `1,000.That` split; `3.14`, `U.S.A.`,
   * `Jane.Doe@example.com`, `Jr.'s` and `mean...see` do not.
   */
  private gluedBoundary(index: number, end: number, after: number, dots: number, other: boolean): boolean {
    if (other || dots !== 1 || index === 0) return false;
    const text = this.text;
    let next = after;
    if (after === end && text.charCodeAt(next) === 0x22) next++;
    if (!isUpper(this.code(next)) || !isLower(this.code(next + 1))) return false;
    const before = text.charCodeAt(index - 1);
    if (!isLetterOrDigit(before) && !isCloser(before)) return false;
    if (this.inAddress(index)) return false;
    const start = this.wordStart(index);
    if (start === index) return true;
    const word = text.slice(start, index);
    if (word.length === 1) return false;
    const lower = word.toLowerCase();
    return !this.config.abbreviations.has(lower) && !isInitialism(lower);
  }

  /** True when the token around `index` contains `@` or `://` or starts with `www.`. Cached per token. */
  private inAddress(index: number): boolean {
    if (index < this.tokenEnd) return this.tokenIsAddress;
    const text = this.text;
    let start = index;
    const floor = Math.max(this.tokenEnd, this.paragraphStart);
    while (start > floor && !isWhitespace(text.charCodeAt(start - 1))) start--;
    let end = index;
    while (end < this.length && !isWhitespace(text.charCodeAt(end))) end++;
    let isAddress = text.startsWith('www.', start);
    for (let position = start; position < end && !isAddress; position++) {
      const code = text.charCodeAt(position);
      if (code === 0x40 || (code === 0x3a && text.startsWith('//', position + 1))) isAddress = true;
    }
    this.tokenEnd = end;
    this.tokenIsAddress = isAddress;
    return isAddress;
  }
}

const PREVIOUS_NONE = 0;
const PREVIOUS_LOWER = 1;
const PREVIOUS_CAPITALISED = 2;
const PREVIOUS_INITIAL = 3;
const PREVIOUS_OTHER = 4;

function mergeSorted(left: readonly number[], right: readonly number[]): number[] {
  const merged: number[] = [];
  let leftIndex = 0;
  let rightIndex = 0;
  while (leftIndex < left.length || rightIndex < right.length) {
    const fromLeft = left[leftIndex];
    const fromRight = right[rightIndex];
    if (fromRight === undefined || (fromLeft !== undefined && fromLeft <= fromRight)) {
      if (merged[merged.length - 1] !== fromLeft) merged.push(fromLeft as number);
      leftIndex++;
    } else {
      if (merged[merged.length - 1] !== fromRight) merged.push(fromRight);
      rightIndex++;
    }
  }
  return merged;
}

/** Splits `text` into trimmed sentences with the rule-based scanner. */
export function scanSentences(text: string, config: ScannerConfig): Sentence[] {
  return new Scanner(text, config).run();
}
