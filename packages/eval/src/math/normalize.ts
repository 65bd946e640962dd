/**
 * String normalisation of one extracted answer, before parsing: LaTeX spacing and sizing, `\dfrac`,
 * `\text{}` wrappers, units, degrees, percent signs, money signs, thousands separators, trailing `.0`.
 * Mirrors what Qwen2.5-Math's `strip_string` and Math-Verify's normalisation agree on, without their
 * accidents (Qwen deletes every "and" and every standalone "a").
 */

/** Result of {@link normalizeAnswer}. */
export interface NormalizedAnswer {
  /** Normalised LaTeX, spaces collapsed. */
  text: string;
  /** A percent sign (or the word "percent") was removed. */
  percent: boolean;
}

/** Unit words removed after a number ("5 cm", "3 hours", "12 dollars", "10\text{ sq units}"). */
const UNIT_WORDS = [
  'units?',
  'square units?',
  'sq\\.? units?',
  'cubic units?',
  'degrees?',
  'deg',
  'radians?',
  'rad',
  'dollars?',
  'cents?',
  'euros?',
  'pounds?',
  'lbs?',
  'ounces?',
  'oz',
  'tons?',
  'grams?',
  'g',
  'kilograms?',
  'kg',
  'mg',
  'milligrams?',
  'meters?',
  'metres?',
  'm',
  'cm',
  'mm',
  'km',
  'nm',
  'kilometers?',
  'centimeters?',
  'millimeters?',
  'inch(?:es)?',
  'in',
  'feet',
  'foot',
  'ft',
  'yards?',
  'yd',
  'miles?',
  'mi',
  'mph',
  'kph',
  'km/h',
  'm/s',
  'liters?',
  'litres?',
  'l',
  'ml',
  'mL',
  'gallons?',
  'gal',
  'quarts?',
  'pints?',
  'cups?',
  'seconds?',
  'secs?',
  's',
  'minutes?',
  'mins?',
  'hours?',
  'hrs?',
  'h',
  'days?',
  'weeks?',
  'months?',
  'years?',
  'yrs?',
  'times',
  'people',
  'persons?',
  'students?',
  'pieces?',
  'items?',
  'points?',
  'ways',
  'marbles?',
  'apples?',
  'cookies?',
  'books?',
  'pages?',
  'coins?',
  'boxes',
  'bags?',
  'eggs?',
  'cars?',
  'trees?',
  'balls?',
  'candies',
  'tickets?',
  'hats?',
  'pens?',
  'pencils?',
  'sheep',
  'cows?',
  'dogs?',
  'cats?',
  'chickens?',
  'animals?',
  'children',
  'kids?',
  'boys?',
  'girls?',
  'men',
  'women',
  'teams?',
  'games?',
  'rounds?',
  'steps?',
  'squares?',
  'triangles?',
  'numbers?',
  'integers?',
  'digits?',
  'solutions?',
  'sq\\.? ?(?:ft|feet|m|cm|in|inches|units?|meters?)',
  'square (?:feet|foot|meters?|metres?|centimeters?|inches|units?|miles?|kilometers?|yards?)',
  'cubic (?:feet|foot|meters?|metres?|centimeters?|inches|units?|yards?)',
  'cm\\^?\\{?[23]\\}?',
  'm\\^?\\{?[23]\\}?',
  'ft\\^?\\{?[23]\\}?',
  'in\\^?\\{?[23]\\}?',
  'km\\^?\\{?[23]\\}?',
  'mm\\^?\\{?[23]\\}?',
  'volts?',
  'V',
  'watts?',
  'W',
  'joules?',
  'J',
  'newtons?',
  'N',
  'hz',
  'Hz',
  'kelvin',
  'K',
  'pascals?',
  'Pa',
  'eV',
  'amps?',
  'A',
  'ohms?',
  'calories?',
  'cal',
  'kcal',
  'percentage points?',
  'C',
  'F',
];

// Units after something that ends like a number or a closed group: "5 cm", "\frac{1}{2} hours", "(3) m".
// One-letter units need a space before them ("2 m", not the product "2m").
const UNIT_ALTERNATION = UNIT_WORDS.join('|');
const LONG_UNIT_ALTERNATION = UNIT_WORDS.filter((word) => !/^[a-zA-Z]$/.test(word)).join('|');
const TRAILING_UNIT = new RegExp(
  `^(.*?[0-9}).\\]|])(?:\\s+(?:${UNIT_ALTERNATION})|\\s*(?:${LONG_UNIT_ALTERNATION}))(?:\\s*(?:/|\\\\cdot|per)\\s*(?:${UNIT_ALTERNATION}))?\\.?$`,
);

/** Trailing `\text{…}`-like unit groups, possibly with powers and `/`: `\mathrm{~m} / \mathrm{s}^{2}`. */
const TRAILING_TEXT_GROUP =
  /^(.*?\S)\s*(?:\\(?:text|textnormal|mbox|mathrm|textrm|rm|mathit|textit|operatorname)\s*\{[~\s]*[a-zA-Z][a-zA-Z\s.~/]*\}\s*(?:\^\s*\{?\s*-?[0-9]\s*\}?)?\s*(?:\/|\\cdot|per)?\s*)+$/;

const WRAPPERS =
  /\\(?:text|textnormal|textbf|textit|textrm|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|mbox|hbox|boldsymbol|bm|mathnormal|emph)\s*\{([^{}]*)\}/g;

const NUMBER_WORDS: Record<string, number> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
  hundred: 100,
  thousand: 1000,
  million: 1_000_000,
};

/** "twenty-one" → 21, "one hundred five" → 105; null when not purely a number in words. */
export function wordsToNumber(text: string): number | null {
  const words = text
    .toLowerCase()
    .replace(/-/g, ' ')
    .split(/\s+/)
    .filter((word) => word && word !== 'and');
  if (words.length === 0 || words.length > 6) return null;
  let total = 0;
  let current = 0;
  for (const word of words) {
    const value = NUMBER_WORDS[word];
    if (value === undefined) return null;
    if (value === 100) current = (current || 1) * 100;
    else if (value >= 1000) {
      total += (current || 1) * value;
      current = 0;
    } else current += value;
  }
  return total + current;
}

/** Removes one pair of delimiters around the whole answer: `$…$`, `$$…$$`, `\(…\)`, `\[…\]`. */
export function stripMathDelimiters(text: string): string {
  let result = text.trim();
  for (let round = 0; round < 3; round++) {
    const before = result;
    if (result.startsWith('$$') && result.endsWith('$$') && result.length >= 4) result = result.slice(2, -2);
    else if (result.startsWith('$') && result.endsWith('$') && result.length >= 2)
      result = result.slice(1, -1);
    else if (result.startsWith('\\(') && result.endsWith('\\)')) result = result.slice(2, -2);
    else if (result.startsWith('\\[') && result.endsWith('\\]')) result = result.slice(2, -2);
    result = result.trim();
    if (result === before) break;
  }
  return result;
}

/** Unwraps a whole-answer `\boxed{…}` (a gold written boxed). */
function unwrapBoxed(text: string): string {
  const match = /^\\(?:boxed|fbox|framebox)\s*\{/.exec(text);
  if (!match || !text.endsWith('}')) return text;
  let depth = 0;
  for (let index = match[0].length - 1; index < text.length; index++) {
    const char = text[index];
    if (char === '{') depth++;
    else if (char === '}' && --depth === 0) {
      return index === text.length - 1 ? text.slice(match[0].length, -1).trim() : text;
    }
  }
  return text;
}

/** Normalises one extracted answer. Pure, no parsing. */
export function normalizeAnswer(raw: string): NormalizedAnswer {
  let text = stripMathDelimiters(raw.replace(/[\r\n\t]+/g, ' '));
  text = unwrapBoxed(text);
  text = text.replace(/\$/g, (match, offset: number) => (text[offset - 1] === '\\' ? match : ''));
  let percent = false;

  text = text
    // Unicode forms models emit.
    .replace(/−|–/g, '-')
    .replace(/×/g, '\\times ')
    .replace(/·|⋅/g, '\\cdot ')
    .replace(/÷/g, '\\div ')
    .replace(/π/g, '\\pi ')
    .replace(/∞/g, '\\infty ')
    .replace(/√/g, '\\sqrt')
    .replace(/≤|⩽/g, '\\le ')
    .replace(/≥|⩾/g, '\\ge ')
    .replace(/≠/g, '\\ne ')
    .replace(/∪/g, '\\cup ')
    .replace(/∩/g, '\\cap ')
    .replace(/∈/g, '\\in ')
    .replace(/∅/g, '\\emptyset ')
    .replace(/°/g, '^\\circ')
    // Sizing and style.
    .replace(/\\(?:displaystyle|textstyle|scriptstyle)/g, '')
    .replace(/\\(?:left|right)\s*\./g, '')
    .replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])/g, '')
    .replace(/\\[dtc]frac/g, '\\frac')
    .replace(/\\[dt]binom/g, '\\binom')
    .replace(/\\neq(?![a-zA-Z])/g, '\\ne')
    .replace(/\\(?:leq|leqslant)(?![a-zA-Z])/g, '\\le')
    .replace(/\\(?:geq|geqslant)(?![a-zA-Z])/g, '\\ge')
    .replace(/\\varnothing(?![a-zA-Z])/g, '\\emptyset')
    .replace(/\{(?:b|B|v|V|small)?matrix\}/g, '{pmatrix}')
    .replace(/\\begin\{array\}\{[^}]*\}/g, '\\begin{pmatrix}')
    .replace(/\\end\{array\}/g, '\\end{pmatrix}')
    .replace(/\\dots|\\ldots|\\cdots/g, '\\dots')
    // Python powers (Math-Verify also reads plain expressions).
    .replace(/\*\*/g, '^')
    // ASCII relations.
    .replace(/>=/g, '\\ge ')
    .replace(/<=/g, '\\le ')
    .replace(/!=/g, '\\ne ')
    // Thousands separators written the LaTeX way: 1{,}000, 14 {, }916.
    .replace(/([0-9])\s*\{\s*,\s*\}\s*(?=[0-9]{3}(?![0-9]))/g, '$1')
    // A braced comma before one, two or four+ digits is a decimal comma: 3{,}14.
    .replace(/([0-9])\{,\}(?=[0-9])/g, '$1.')
    // Spacing.
    .replace(/(?<!\\)\\!/g, '')
    .replace(
      /(?<!\\)\\(?:,|:|;|>| )|\\(?:quad|qquad|enspace|thinspace|medspace|thickspace)(?![a-zA-Z])|~/g,
      ' ',
    );

  // Degrees.
  text = text.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g, '');

  // Percent.
  if (/\\?%/.test(text)) {
    percent = true;
    text = text.replace(/\\?%/g, '');
  }
  const percentWord = /^(.*\S)\s*(?:\\text\{\s*)?(?:percent|percentage|pct)\.?\}?$/.exec(text);
  if (percentWord) {
    percent = true;
    text = percentWord[1]!;
  }

  // Money.
  text = text.replace(/\\\$/g, '').replace(/\\(?:euro|pounds)(?![a-zA-Z])/g, '');

  // Units as text groups at the end ("5\text{ cm}", "1.6 \mathrm{~cm}", "9.8 \mathrm{~m} / \mathrm{s}^{2}").
  const textUnit = TRAILING_TEXT_GROUP.exec(text);
  if (textUnit && /[0-9}).\]|a-zA-Z]$/.test(textUnit[1]!.trim())) text = textUnit[1]!;

  // Wrappers: \text{X} → X (innermost first).
  for (let round = 0; round < 4 && /\\[a-z]+\s*\{/.test(text); round++) {
    const before = text;
    text = text.replace(WRAPPERS, '$1');
    if (text === before) break;
  }
  text = text.replace(/\\operatorname\s*\{([a-zA-Z]+)\}/g, '\\$1');

  text = text.replace(/\s+/g, ' ').trim();

  // Plain unit words after a number ("5 cm", "12 apples").
  for (let round = 0; round < 2; round++) {
    const unit = TRAILING_UNIT.exec(text);
    if (!unit) break;
    text = unit[1]!.trim();
  }

  // Word infinity.
  text = text.replace(/\binfinity\b|\binf\b/gi, '\\infty');
  text = text.replace(/\\emptyset|\\\{\s*\\\}/g, '\\emptyset');
  text = text.replace(/\\mathbb\s*\{?\s*R\s*\}?/g, '\\mathbb{R}');

  // Thousands separators: "1,000,000", "1 000".
  if (
    /^-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$/.test(text) ||
    /^-?[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]+)?$/.test(text)
  )
    text = text.replace(/[, ]/g, '');

  // Trailing punctuation and leading colon.
  text = text
    .replace(/^[:\s]+/, '')
    .replace(/(?:\s|\\ )*[.,;]+$/, '')
    .trim();

  // Repeating decimals: 0.\overline{3} → \frac{1}{3}, 1.1\overline{6} → \frac{7}{6}.
  text = text.replace(
    /(-?)([0-9]*)\.([0-9]*)\\overline\s*\{?([0-9]+)\}?/g,
    (_match, sign, whole, fixed, repeating) => repeatingDecimal(sign, whole, fixed, repeating),
  );

  // Trailing zeros of decimals: 5.0 → 5, 2.50 stays 2.50 (numerically equal anyway).
  text = text.replace(/([0-9])\.0+(?![0-9])/g, '$1');
  // .5 → 0.5
  text = text.replace(/(^|[^0-9])\.([0-9])/g, '$10.$2');

  const asWords = /^[a-zA-Z -]+$/.test(text) ? wordsToNumber(text) : null;
  if (asWords !== null) text = String(asWords);

  return { text, percent };
}

function repeatingDecimal(sign: string, whole: string, fixed: string, repeating: string): string {
  // x = whole.fixed(repeating…) = (whole·fixed·repeating − whole·fixed) / (10^f·(10^r − 1))
  if (fixed.length + repeating.length > 12) return `${sign}${whole}.${fixed}${repeating.repeat(4)}`;
  const all = BigInt(`${whole || '0'}${fixed}${repeating}`);
  const head = BigInt(`${whole || '0'}${fixed}`);
  const denominator = (10n ** BigInt(repeating.length) - 1n) * 10n ** BigInt(fixed.length);
  return `${sign}\\frac{${all - head}}{${denominator}}`;
}

/**
 * The decimal-comma reading of a whole answer ("1,22", "1,5", "0,111"), or null. A three-digit group after a
 * non-zero whole part ("14,916") is a thousands separator and has no decimal reading. The list reading
 * ("1,2" as two answers) stays the first one tried.
 */
export function decimalCommaReading(text: string): string | null {
  return /^-?(?:[0-9]+,(?:[0-9]{1,2}|[0-9]{4,})|0,[0-9]+)$/.test(text.trim())
    ? text.trim().replace(',', '.')
    : null;
}

/** Canonical comparison key of a normalised answer: no spaces, no outer braces. */
export function compactKey(text: string): string {
  let key = text.replace(/\s+/g, '');
  while (key.startsWith('{') && key.endsWith('}') && balancedInside(key)) key = key.slice(1, -1);
  return key;
}

function balancedInside(text: string): boolean {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '{') depth++;
    else if (char === '}') {
      depth--;
      if (depth === 0 && index < text.length - 1) return false;
    }
  }
  return depth === 0;
}
