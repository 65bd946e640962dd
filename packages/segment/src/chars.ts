/**
 * Character classes for the scanner, as flat lookup tables over UTF-16 code units so the hot loop does
 * one array read per character and no regular expressions.
 */

/** What the scanner's main loop must stop at. 0 = ordinary character, skipped. */
export const STOP_NONE = 0;
export const STOP_PERIOD = 1;
/** `?`, `!` and their combined forms (`‼`, `⁇`, `⁈`, `⁉`). */
export const STOP_QUESTION_EXCLAMATION = 2;
/** `…` (U+2026). */
export const STOP_ELLIPSIS = 3;
/** Full-width CJK terminators, which end a sentence without a following space. */
export const STOP_CJK = 4;
/** A line break (`\n`, `\r`, U+2028, U+2029). */
export const STOP_NEWLINE = 5;
/** `"`: its parity decides whether a spaced `"` after a period closes the quote (WikiText style). */
export const STOP_DOUBLE_QUOTE = 6;
/** `)`: may close a list marker like `2)`. */
export const STOP_CLOSE_PAREN = 7;
/** `•`, `⁃`, `◦`, …: a bullet starts a new segment. */
export const STOP_BULLET = 8;

export const stopClass = new Uint8Array(65536);
stopClass[0x2e] = STOP_PERIOD;
for (const c of [0x3f, 0x21, 0x203c, 0x2047, 0x2048, 0x2049]) stopClass[c] = STOP_QUESTION_EXCLAMATION;
stopClass[0x2026] = STOP_ELLIPSIS;
for (const c of [0x3002, 0xff01, 0xff1f, 0xff61]) stopClass[c] = STOP_CJK;
for (const c of [0x0a, 0x0d, 0x2028, 0x2029]) stopClass[c] = STOP_NEWLINE;
stopClass[0x22] = STOP_DOUBLE_QUOTE;
stopClass[0x29] = STOP_CLOSE_PAREN;
for (const c of [0x2022, 0x2043, 0x25e6, 0x25aa, 0x2023, 0x25cf, 0x25cb, 0x25a0, 0x25a1, 0x27a2, 0x25ba]) {
  stopClass[c] = STOP_BULLET;
}

const whitespaceTable = new Uint8Array(65536);
for (const c of [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]) {
  whitespaceTable[c] = 1;
}
for (let c = 0x2000; c <= 0x200a; c++) whitespaceTable[c] = 1;

/** White space exactly as `String.prototype.trim` understands it (Unicode spaces, line breaks, BOM). */
export function isWhitespace(code: number): boolean {
  return whitespaceTable[code] === 1;
}

/** True for characters that end a line. */
export function isNewline(code: number): boolean {
  return code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;
}

const closerTable = new Uint8Array(65536);
// " ' ” ’ » › ) ] } 」 』 ） ］ ｝ 〉 》
for (const c of [
  0x22, 0x27, 0x201d, 0x2019, 0xbb, 0x203a, 0x29, 0x5d, 0x7d, 0x300d, 0x300f, 0xff09, 0xff3d, 0xff5d, 0x3009,
  0x300b,
]) {
  closerTable[c] = 1;
}

/** Closing quotes and brackets, which stay with the sentence they follow (`"Stop."`, `(see above.)`). */
export function isCloser(code: number): boolean {
  return closerTable[code] === 1;
}

const openerTable = new Uint8Array(65536);
// " ' “ ‘ « ‹ ( [ { 「 『 （ ［ ｛ 〈 《 „ ‚
for (const c of [
  0x22, 0x27, 0x201c, 0x2018, 0xab, 0x2039, 0x28, 0x5b, 0x7b, 0x300c, 0x300e, 0xff08, 0xff3b, 0xff5b, 0x3008,
  0x300a, 0x201e, 0x201a,
]) {
  openerTable[c] = 1;
}

/** Opening quotes and brackets, skipped when looking at how the next sentence starts. */
export function isOpener(code: number): boolean {
  return openerTable[code] === 1;
}

const LETTER_UNKNOWN = 0;
const LETTER_UPPER = 1;
const LETTER_LOWER = 2;
const LETTER_OTHER = 3;
const NOT_LETTER = 4;
const letterCache = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  letterCache[c] = c >= 0x41 && c <= 0x5a ? LETTER_UPPER : c >= 0x61 && c <= 0x7a ? LETTER_LOWER : NOT_LETTER;
}
const upperPattern = /^\p{Lu}$|^\p{Lt}$/u;
const lowerPattern = /^\p{Ll}$/u;
const letterPattern = /^\p{L}$/u;

function letterClass(code: number): number {
  const cached = letterCache[code] as number;
  if (cached !== LETTER_UNKNOWN) return cached;
  // Surrogate halves cannot be classified alone; astral letters are rare enough to count as "other".
  const char = String.fromCharCode(code);
  const computed =
    code >= 0xd800 && code <= 0xdfff
      ? LETTER_OTHER
      : upperPattern.test(char)
        ? LETTER_UPPER
        : lowerPattern.test(char)
          ? LETTER_LOWER
          : letterPattern.test(char)
            ? LETTER_OTHER
            : NOT_LETTER;
  letterCache[code] = computed;
  return computed;
}

export function isUpper(code: number): boolean {
  return letterClass(code) === LETTER_UPPER;
}

export function isLower(code: number): boolean {
  return letterClass(code) === LETTER_LOWER;
}

/** Any letter, including caseless scripts (CJK, Arabic, …). */
export function isLetter(code: number): boolean {
  return letterClass(code) !== NOT_LETTER;
}

export function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

export function isLetterOrDigit(code: number): boolean {
  return isDigit(code) || letterClass(code) !== NOT_LETTER;
}
