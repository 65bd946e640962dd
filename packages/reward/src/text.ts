/**
 * Text normalisation shared by hardening and the lexical judge: Unicode folding (NFKC, look-alike
 * letters, diacritics, invisible characters) and word tokenisation that also works for scripts
 * written without spaces.
 */

/**
 * Letters that render like ASCII but survive NFKC (Cyrillic, Greek, Latin small capitals, IPA), mapped
 * to the ASCII letter a reader — or a judge model — would take them for. Enough to cover every letter of
 * the control words hardening looks for (`score`, `reference`, `predicted`, `task`, `ignore`, …).
 */
const confusableLetters: Record<string, string> = {
  // Cyrillic lower case
  а: 'a',
  в: 'b',
  г: 'r',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  ӏ: 'l',
  м: 'm',
  н: 'h',
  о: 'o',
  п: 'n',
  р: 'p',
  с: 'c',
  ѕ: 's',
  т: 't',
  у: 'y',
  х: 'x',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ь: 'b',
  // Greek lower case
  α: 'a',
  β: 'b',
  γ: 'y',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  σ: 'o',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ϲ: 'c',
  ϳ: 'j',
  // Latin small capitals, IPA and other look-alikes NFKC keeps
  ı: 'i',
  ȷ: 'j',
  ɑ: 'a',
  ɡ: 'g',
  ɩ: 'i',
  ɪ: 'i',
  ʀ: 'r',
  ʏ: 'y',
  ᴀ: 'a',
  ʙ: 'b',
  ᴄ: 'c',
  ᴅ: 'd',
  ᴇ: 'e',
  ɢ: 'g',
  ʜ: 'h',
  ᴊ: 'j',
  ᴋ: 'k',
  ʟ: 'l',
  ᴍ: 'm',
  ɴ: 'n',
  ᴏ: 'o',
  ᴘ: 'p',
  ꞯ: 'q',
  ꜱ: 's',
  ᴛ: 't',
  ᴜ: 'u',
  ᴠ: 'v',
  ᴡ: 'w',
  ᴢ: 'z',
  // Colon and hash look-alikes NFKC keeps
  '∶': ':',
  '˸': ':',
  '꞉': ':',
  '᠄': ':',
  '⁚': ':',
  '׃': ':',
  '։': ':',
  '܃': ':',
  '܄': ':',
  '⦂': ':',
  '⌗': '#',
};

const confusablePattern = new RegExp(`[${Object.keys(confusableLetters).join('')}]`, 'gu');
/** Format characters (zero-width space/joiners, BOM, bidi overrides, soft hyphen, …). */
const invisiblePattern = /\p{Cf}/gu;
const combiningMarkPattern = /\p{M}/gu;

/** Removes invisible format characters (zero-width, bidi controls, soft hyphen); changes nothing a reader sees. */
export function stripInvisible(text: string): string {
  return text.replace(invisiblePattern, '');
}

/**
 * The "skeleton" used to detect control text: NFKC, invisible characters removed, lower case, look-alike
 * letters mapped to ASCII, diacritics removed. `Ｓсоrе：１` and `S\u200bcore: 1` both become `score: 1`.
 */
export function foldForDetection(text: string): string {
  if (!nonAscii.test(text)) return text.toLowerCase();
  return text
    .normalize('NFKC')
    .replace(invisiblePattern, '')
    .toLowerCase()
    .replace(confusablePattern, (letter) => confusableLetters[letter] ?? letter)
    .normalize('NFKD')
    .replace(combiningMarkPattern, '');
}

/**
 * Word tokens of `text` for counting and matching: numbers (with inner `.`/`,`), runs of letters/digits
 * (with inner apostrophes), and single characters of scripts written without spaces (Han, Kana, Thai).
 */
const wordPattern =
  /\p{N}+(?:[.,]\p{N}+)*|[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]|[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

/** The same tokens as `wordPattern` for lower-case ASCII text (no scripts without spaces, no ’). */
const asciiWordPattern = /[0-9]+(?:[.,][0-9]+)*|[a-z0-9]+(?:'[a-z0-9]+)*/g;
const nonAscii = /[\u0080-\uffff]/;

/** Splits already-normalised text into word tokens (see {@link normalizeWords} for the full pipeline). */
export function splitWords(text: string): string[] {
  return text.match(nonAscii.test(text) ? wordPattern : asciiWordPattern) ?? [];
}

/** Lower-cased, NFKC-folded, diacritic-free word tokens: what the lexical judge and length limits count. */
export function normalizeWords(text: string): string[] {
  // ASCII is invariant under NFKC/NFKD and has no invisible or combining characters.
  if (!nonAscii.test(text)) return text.toLowerCase().match(asciiWordPattern) ?? [];
  return splitWords(
    text
      .normalize('NFKC')
      .replace(invisiblePattern, '')
      .toLowerCase()
      .normalize('NFKD')
      .replace(combiningMarkPattern, ''),
  );
}

const memoisedWords = new Map<string, string[]>();
const memoisedWordsLimit = 512;

/**
 * {@link normalizeWords} of a reference or context, memoised: the rollouts of one prompt share it, so a
 * group of predictions normalises it once. Callers must not modify the returned array.
 */
export function normalizeWordsMemoised(text: string): readonly string[] {
  const cached = memoisedWords.get(text);
  if (cached) return cached;
  const words = normalizeWords(text);
  if (memoisedWords.size >= memoisedWordsLimit) memoisedWords.clear();
  memoisedWords.set(text, words);
  return words;
}

const numericPattern = /^\p{N}+(?:[.,]\p{N}+)*$/u;

/** True for numeric tokens (`42`, `3.14`, `1,000`), which the lexical judge compares exactly. */
export function isNumericToken(token: string): boolean {
  return numericPattern.test(token);
}
