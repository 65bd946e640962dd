/** Options of {@link normalizeText}. */
export interface NormalizeOptions {
  /** Unicode normal form applied to every document (default `NFC`; `none` keeps the text as is). */
  unicode?: 'NFC' | 'NFKC' | 'none';
  /** Undo WikiText tokenisation (` @-@ ` → `-`, ` @,@ ` → `,`, ` @.@ ` → `.`). Default false. */
  wikitext?: boolean;
  /**
   * With `wikitext`, also remove the spaces the WikiText tokeniser put around punctuation
   * (` , ` → `, `, `( x )` → `(x)`, `" x "` → `"x"`, ` 's` → `'s`). Default true.
   */
  wikitextPunctuation?: boolean;
  /** Collapse runs of spaces and tabs to one space and trim every line. Default true. */
  collapseWhitespace?: boolean;
}

/** What {@link normalizeText} changed, for the stats report. */
export interface NormalizeCounts {
  /** U+0000 characters removed. */
  nulBytes: number;
  /** Other C0/C1 control characters (and U+FEFF, U+FFFE) removed; tabs and newlines are kept. */
  controlChars: number;
  /** Unpaired UTF-16 surrogates (e.g. from a JSON `"\ud800"` escape) replaced by U+FFFD. */
  loneSurrogates: number;
  /** 1 when the Unicode normal form changed the text. */
  unicodeChanged: number;
  /** WikiText `@-@`, `@,@`, `@.@` markers undone. */
  wikitextMarkers: number;
}

/** Zero counts, for accumulating. */
export function emptyNormalizeCounts(): NormalizeCounts {
  return { nulBytes: 0, controlChars: 0, loneSurrogates: 0, unicodeChanged: 0, wikitextMarkers: 0 };
}

/** Adds `from` into `into` (in place). */
export function addNormalizeCounts(into: NormalizeCounts, from: NormalizeCounts): void {
  into.nulBytes += from.nulBytes;
  into.controlChars += from.controlChars;
  into.loneSurrogates += from.loneSurrogates;
  into.unicodeChanged += from.unicodeChanged;
  into.wikitextMarkers += from.wikitextMarkers;
}

// C0 controls except \t (09) and \n (0A); DEL; C1 controls; BOM / non-characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job.
const controlPattern = /[\u0001-\u0008\u000B-\u001F\u007F-\u009F\uFEFF\uFFFE]/g;
const lonePattern = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wikitextMarkerPattern = / @([-,.])@ /g;

function countAndReplace(text: string, pattern: RegExp, replacement: string): [string, number] {
  let count = 0;
  const result = text.replace(pattern, () => {
    count++;
    return replacement;
  });
  return [result, count];
}

/**
 * Cleans one document: NUL bytes and control characters removed, `\r\n`/`\r` → `\n`, unpaired surrogates
 * → U+FFFD, Unicode normal form (NFC by default), optional WikiText detokenisation, whitespace collapsed.
 * Every change is counted. Paragraph breaks (blank lines) survive as `\n\n`.
 */
export function normalizeText(
  input: string,
  options: NormalizeOptions = {},
): { text: string; counts: NormalizeCounts } {
  const counts = emptyNormalizeCounts();
  let text = input;
  if (text.includes('\u0000')) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL bytes are what is being removed.
    const [without, removed] = countAndReplace(text, /\u0000/g, '');
    text = without;
    counts.nulBytes = removed;
  }
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  [text, counts.controlChars] = countAndReplace(text, controlPattern, '');
  [text, counts.loneSurrogates] = countAndReplace(text, lonePattern, '\uFFFD');
  const form = options.unicode ?? 'NFC';
  if (form !== 'none') {
    const normalized = text.normalize(form);
    if (normalized !== text) counts.unicodeChanged = 1;
    text = normalized;
  }
  if (options.wikitext) {
    const detokenized = detokenizeWikitext(text, { punctuation: options.wikitextPunctuation ?? true });
    text = detokenized.text;
    counts.wikitextMarkers = detokenized.markers;
  }
  if (options.collapseWhitespace ?? true) text = collapseWhitespace(text);
  return { text, counts };
}

/** Collapses spaces/tabs, trims lines, and reduces runs of blank lines to one paragraph break. */
export function collapseWhitespace(text: string): string {
  return text
    .replace(/[ \t\u00A0\u2000-\u200A\u202F\u205F\u3000]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Undoes WikiText's tokenisation. `markers` counts the `@-@`, `@,@`, `@.@` joins. With `punctuation`,
 * spaces before `, . ; : ! ? % )` and after `(` are removed, clitics (` 's`, ` n't`, ` 're`…) are
 * re-attached, and `" … "` quote pairs are tightened within each line.
 */
export function detokenizeWikitext(
  text: string,
  options: { punctuation?: boolean } = {},
): { text: string; markers: number } {
  let markers = 0;
  let result = text.replace(wikitextMarkerPattern, (_match, mark: string) => {
    markers++;
    return mark;
  });
  if (options.punctuation ?? true) {
    result = result
      .replace(/ ([,.;:!?%])(?=\s|$)/gm, '$1')
      .replace(/ ([,;:%])/g, '$1')
      .replace(/([([]) /g, '$1')
      .replace(/ ([)\]])/g, '$1')
      .replace(/ ('s|'S|n't|'re|'ve|'ll|'d|'m)\b/g, '$1')
      .replace(/ (\.\.\.)/g, '$1');
    result = result
      .split('\n')
      .map((line) => tightenQuotes(line))
      .join('\n');
  }
  return { text: result, markers };
}

/** `He said " yes " .` → `He said "yes" .`: pairs straight double quotes on one line. */
function tightenQuotes(line: string): string {
  if (!line.includes('"')) return line;
  let open = false;
  let output = '';
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (char !== '"') {
      output += char;
      continue;
    }
    if (!open) {
      output += '"';
      if (line[index + 1] === ' ') index++;
    } else {
      if (output.endsWith(' ')) output = output.slice(0, -1);
      output += '"';
    }
    open = !open;
  }
  return output;
}
