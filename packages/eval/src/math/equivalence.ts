/**
 * Math answer equivalence: parse-then-verify, as Math-Verify does, with Qwen2.5-Math's `math_equal`
 * semantics where the two graders agree: exact string → numeric with relative tolerance → symbolic
 * (numeric evaluation at fixed random points) → structure (sets, tuples, intervals, matrices, equations).
 */
import { casEqual } from './cas.js';
import { type Complex, isFiniteComplex, modulus, sub } from './complex.js';
import { evaluate } from './evaluate.js';
import { type AnswerFallback, extractMathAnswer } from './extract.js';
import { compactKey, decimalCommaReading, normalizeAnswer, stripMathDelimiters } from './normalize.js';
import { type Node, freeSymbols, parseExpression } from './parse.js';
import { type Answer, parseAnswer } from './structure.js';

/**
 * How percentages compare. `sign` (default): when either side carries a percent sign, x, x/100 and x·100
 * are all accepted (50% = 0.5 = 50). `always`: Qwen2.5-Math's `include_percentage=True` for every pair of
 * plain numbers, even without a sign (0.5 = 50). `never`: values compare as written, the sign dropped.
 */
export type PercentageMode = 'sign' | 'always' | 'never';

/** Options of {@link isEquivalent}, {@link answersEquivalent} and the graders built on them. */
export interface MathEquivalenceOptions {
  /**
   * Relative tolerance for every numeric comparison, Qwen2.5-Math's `math_equal` style (it uses 1e-4).
   * Default: unset, and numbers compare as Math-Verify does (see {@link floatRounding}).
   */
  relativeTolerance?: number;
  /**
   * Math-Verify's `float_rounding`: when either side is a decimal literal (0.333333, 1.22), both values
   * are rounded to this many decimal places and must then be equal; other constants (\frac{1}{3} vs
   * \frac{2}{6}, \sqrt{8} vs 2\sqrt{2}) must agree to float precision. Default 6. Ignored when
   * {@link relativeTolerance} is set.
   */
  floatRounding?: number;
  /** See {@link PercentageMode}. Default `sign`. */
  percentage?: PercentageMode;
  /** Extraction fallback when an argument is a whole response without a box or answer marker. Default `last-number`. */
  fallback?: AnswerFallback;
  /** Join every box of the final paragraph (multi-answer items). Default false. */
  multipleAnswers?: boolean;
  /** Compare bare comma lists (`1, 2`) in order. Default false: as sets, like Math-Verify. */
  orderedLists?: boolean;
  /**
   * Equation vs value: an assignment (`x = 3`, `f(x) = 2x`, `(p,q) = (3,2)`, `\\lim a_n = 1`) equals its
   * value (`3`), as in Math-Verify. Default true; false requires the same form on both sides.
   */
  assignmentsAsValues?: boolean;
  /**
   * Ask the computer-algebra core (`@cortex-js/compute-engine`) when the own parser cannot read a LaTeX
   * side. Default true.
   */
  cas?: boolean;
  /**
   * Time limit of one CAS comparison in milliseconds, enforced (the CAS runs in a worker thread that is
   * terminated past it; the first comparison also gets up to 10 s to start the worker). Default 100.
   */
  casBudgetMs?: number;
}

interface Settings {
  cas: boolean;
  casBudgetMs: number;
  relativeTolerance: number | undefined;
  floatRounding: number;
  percentage: PercentageMode;
  orderedLists: boolean;
  assignmentsAsValues: boolean;
}

interface Prepared {
  answer: Answer;
  key: string;
  /** The normalised text (spaces kept: `\\sin x`), what the CAS reads. */
  text: string;
  percent: boolean;
}

/** Symbolic comparisons evaluate both sides at these points; fixed so grading is deterministic. */
// Arbitrary values, none a special constant (x = √2 would make x² rational), both signs.
const SAMPLE_VALUES = [
  0.73908, 1.37192, -0.57721, 2.21347, 1.61843, -1.32471, 0.41931, 2.71103, -2.15031, 1.25663,
];
const SYMBOLIC_TOLERANCE = 1e-7;
const CACHE_LIMIT = 20_000;
const PLAIN_NUMBER = /^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$/;
const cache = new Map<string, Prepared>();

/** Normalises and parses an answer; golds are cached (one gold is graded against n samples), predictions not. */
function prepare(text: string, useCache: boolean): Prepared {
  const cached = useCache ? cache.get(text) : undefined;
  if (cached) return cached;
  const plain = PLAIN_NUMBER.exec(text);
  if (plain) {
    // Fast path for the commonest answer, a plain number: nothing to normalise.
    const key = plain[1]!
      .replace(/^(-?)0+(?=[0-9])/, '$1')
      .replace(/(\.[0-9]*?)0+$/, '$1')
      .replace(/\.$/, '');
    const node = parseExpression(key);
    if (node) return { answer: { type: 'expression', node, key }, key, text: key, percent: false };
  }
  const normalized = normalizeAnswer(text);
  const prepared: Prepared = {
    answer: parseAnswer(normalized.text),
    key: compactKey(normalized.text),
    text: normalized.text,
    percent: normalized.percent,
  };
  if (useCache) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, prepared);
  }
  return prepared;
}

function settingsOf(options: MathEquivalenceOptions): Settings {
  return {
    cas: options.cas ?? true,
    casBudgetMs: options.casBudgetMs ?? 100,
    relativeTolerance: options.relativeTolerance,
    floatRounding: options.floatRounding ?? 6,
    percentage: options.percentage ?? 'sign',
    orderedLists: options.orderedLists ?? false,
    assignmentsAsValues: options.assignmentsAsValues ?? true,
  };
}

/**
 * True when `predicted` means the same answer as `gold`. Both may be bare answers, LaTeX in `$…$`,
 * `\(…\)`, `\[…\]`, or whole responses (the final answer is extracted first: last `\boxed{}`, "the answer
 * is", …). Never throws; pathological inputs are capped and compare as strings.
 */
export function isEquivalent(gold: string, predicted: string, options: MathEquivalenceOptions = {}): boolean {
  const extractOptions = {
    fallback: options.fallback ?? 'last-number',
    multipleAnswers: options.multipleAnswers,
  };
  const goldAnswer = extractMathAnswer(String(gold ?? ''), { ...extractOptions, gold: true });
  const predictedText = String(predicted ?? '');
  const predictedAnswer = extractMathAnswer(predictedText, extractOptions);
  if (goldAnswer === null || predictedAnswer === null) return false;
  if (answersEquivalent(goldAnswer, predictedAnswer, options)) return true;
  // The prediction may be a bare answer with words in it, like a gold; read it the way a gold is read.
  const asBare = extractMathAnswer(predictedText, { ...extractOptions, gold: true });
  return asBare !== null && asBare !== predictedAnswer && answersEquivalent(goldAnswer, asBare, options);
}

/** Equivalence of two already-extracted answers (no extraction step). */
export function answersEquivalent(
  gold: string,
  predicted: string,
  options: MathEquivalenceOptions = {},
): boolean {
  if (compareAnswers(gold, predicted, options)) return true;
  // Decimal commas: "1,22" is 1.22 when it is not read as the list 1, 22.
  const goldDecimal = decimalCommaReading(stripMathDelimiters(gold));
  const predictedDecimal = decimalCommaReading(stripMathDelimiters(predicted));
  if (goldDecimal === null && predictedDecimal === null) return false;
  return compareAnswers(goldDecimal ?? gold, predictedDecimal ?? predicted, options);
}

function compareAnswers(gold: string, predicted: string, options: MathEquivalenceOptions): boolean {
  const settings = settingsOf(options);
  const g = prepare(gold, true);
  const p = prepare(predicted, false);
  if (g.key === p.key && g.key.length > 0) return true;
  if (g.key.length === 0 || p.key.length === 0) return false;
  if (textKey(g.key) === textKey(p.key) && /[a-zA-Z]{2}/.test(g.key) && !/\\/.test(g.key)) return true;
  if (choiceMatches(g.key, p.key)) return true;
  if (percentMatches(g, p, settings)) return true;
  if (equivalent(g.answer, p.answer, settings)) return true;
  // The CAS, only where the own parser gave up on a side that is LaTeX (not words): slow but exact.
  if (
    settings.cas &&
    (g.answer.type === 'text' || p.answer.type === 'text') &&
    CAS_WORTHY.test(g.text + p.text)
  )
    return casEqual(g.text, p.text, settings.casBudgetMs) === true;
  return false;
}

/**
 * Constructs the own parser does not evaluate and compute-engine does (sums, products, max/min, mod,
 * named operators): only these go to the CAS, so answers the own parser merely fails to read (prose,
 * geometry names) do not cost a CAS round trip.
 */
const CAS_WORTHY = /\\(?:sum|prod|max|min|bmod|pmod|mod|operatorname|lim|int|choose|lcm|gcd)(?![a-zA-Z])/;

/** Text answers compare case- and space-insensitively. */
function textKey(key: string): string {
  return key.toLowerCase().replace(/[\s.]+$/g, '');
}

/** A gold choice letter (A–E) matches the last standalone letter of the prediction, as Qwen's grader does. */
function choiceMatches(goldKey: string, predictedKey: string): boolean {
  const gold = /^\(?([A-E])\)?$/.exec(goldKey);
  if (!gold) return false;
  const letters = predictedKey.toUpperCase().match(/(?<![A-Z])[A-E](?![A-Z])/g);
  return letters !== null && letters[letters.length - 1] === gold[1];
}

function percentMatches(g: Prepared, p: Prepared, settings: Settings): boolean {
  if (settings.percentage === 'never') return false;
  if (settings.percentage === 'sign' && !g.percent && !p.percent) return false;
  if (g.answer.type !== 'expression' || p.answer.type !== 'expression') return false;
  const goldValue = constantValue(g.answer.node);
  const predictedValue = constantValue(p.answer.node);
  if (!goldValue || !predictedValue) return false;
  if (settings.percentage === 'always' && !(g.percent || p.percent)) {
    // Qwen applies include_percentage only to plain numbers.
    if (g.answer.node.kind !== 'number' || p.answer.node.kind !== 'number') return false;
  }
  for (const scale of [0.01, 1, 100]) {
    const scaled = { re: goldValue.re * scale, im: goldValue.im * scale };
    if (numbersClose(scaled, predictedValue, settings.relativeTolerance ?? EXACT_TOLERANCE)) return true;
    if (
      settings.relativeTolerance === undefined &&
      roundedEqual(scaled, predictedValue, settings.floatRounding)
    )
      return true;
  }
  return false;
}

function constantValue(node: Node): Complex | null {
  if (freeSymbols(node).size > 0) return null;
  const value = evaluate(node, new Map());
  return isFiniteComplex(value) ? value : null;
}

/** Constants without a decimal literal agree to float precision (the values of equal exact expressions). */
const EXACT_TOLERANCE = 1e-9;

function isDecimalLiteral(node: Node): boolean {
  if (node.kind === 'negate') return isDecimalLiteral(node.argument);
  return node.kind === 'number' && node.integer === undefined;
}

/** Equal after rounding both to `places` decimals (real and imaginary parts), or within float noise. */
function roundedEqual(a: Complex, b: Complex, places: number): boolean {
  if (!isFiniteComplex(a) || !isFiniteComplex(b)) return false;
  const scale = 10 ** places;
  const round = (value: number) => Math.round(value * scale) / scale;
  const close = (x: number, y: number) =>
    round(x) === round(y) || Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y));
  return close(a.re, b.re) && close(a.im, b.im);
}

/** Relative closeness; exact zero needs the other side within 1e-12. Infinities equal when identical. */
function numbersClose(a: Complex, b: Complex, relativeTolerance: number): boolean {
  if (!isFiniteComplex(a) || !isFiniteComplex(b)) {
    return (
      a.re === b.re && (a.im === b.im || (Number.isNaN(a.im) && Number.isNaN(b.im))) && !Number.isNaN(a.re)
    );
  }
  const difference = modulus(sub(a, b));
  if (difference === 0) return true;
  const scale = Math.max(modulus(a), modulus(b));
  if (modulus(a) === 0 || modulus(b) === 0) return difference <= 1e-12;
  return difference <= relativeTolerance * scale;
}

/** Exact digits of an integer literal (with sign), or null. */
function integerLiteral(node: Node): string | null {
  if (node.kind === 'number' && node.integer !== undefined) return node.integer;
  if (node.kind === 'negate' && node.argument.kind === 'number' && node.argument.integer !== undefined)
    return node.argument.integer === '0' ? '0' : `-${node.argument.integer}`;
  return null;
}

function expressionsEquivalent(gold: Node, predicted: Node, settings: Settings): boolean {
  const goldInteger = integerLiteral(gold);
  const predictedInteger = integerLiteral(predicted);
  // Two integers compare exactly (a tolerance would make 3986729 equal 3986730).
  if (goldInteger !== null && predictedInteger !== null) return goldInteger === predictedInteger;
  // Integer arithmetic beyond float precision (10^{100}+1 vs 10^{100}, 2^{64} vs 18446744073709551616).
  const goldExact = exactInteger(gold, { steps: 0 });
  if (goldExact !== null) {
    const predictedExact = exactInteger(predicted, { steps: 0 });
    if (
      predictedExact !== null &&
      (goldExact > SAFE || goldExact < -SAFE || predictedExact > SAFE || predictedExact < -SAFE)
    )
      return goldExact === predictedExact;
  }
  // Symbols of both sides: sin²x + cos²x equals 1 although only one side mentions x.
  const allSymbols = freeSymbols(predicted, freeSymbols(gold));
  if (allSymbols.size === 0) {
    const a = evaluate(gold, new Map());
    const b = evaluate(predicted, new Map());
    // An overflow (10^{10^{10}}, 200!) is not the value ∞: only written infinities compare as infinite.
    if (!isFiniteComplex(a) || !isFiniteComplex(b)) {
      if (!mentionsInfinity(gold) || !mentionsInfinity(predicted)) return false;
    }
    if (settings.relativeTolerance !== undefined) return numbersClose(a, b, settings.relativeTolerance);
    if (numbersClose(a, b, EXACT_TOLERANCE)) return true;
    // Math-Verify: a decimal literal on either side compares after rounding both to `floatRounding` places.
    return (
      (isDecimalLiteral(gold) || isDecimalLiteral(predicted)) && roundedEqual(a, b, settings.floatRounding)
    );
  }
  const symbols = [...allSymbols].sort();
  let agreeing = 0;
  for (let trial = 0; trial < 8; trial++) {
    const values = new Map<string, number>();
    symbols.forEach((symbol, index) => {
      values.set(symbol, SAMPLE_VALUES[(trial * 3 + index * 7) % SAMPLE_VALUES.length]!);
    });
    const a = evaluate(gold, values);
    const b = evaluate(predicted, values);
    const aFinite = isFiniteComplex(a);
    const bFinite = isFiniteComplex(b);
    if (!aFinite && !bFinite) continue;
    if (aFinite !== bFinite) return false;
    if (!numbersClose(a, b, SYMBOLIC_TOLERANCE)) return false;
    agreeing++;
  }
  return agreeing >= 3;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Results larger than this many bits are not computed exactly. */
const MAX_BITS = 4096n;

function bitLength(value: bigint): bigint {
  return BigInt((value < 0n ? -value : value).toString(2).length);
}

/**
 * The exact value of an integer expression (+, −, ×, non-negative integer powers, n! for n ≤ 300) as a
 * bigint, or null (anything else, or more than 4096 bits or 200 steps).
 */
function exactInteger(node: Node, budget: { steps: number }): bigint | null {
  if (++budget.steps > 200) return null;
  switch (node.kind) {
    case 'number':
      return node.integer !== undefined ? BigInt(node.integer) : null;
    case 'negate': {
      const value = exactInteger(node.argument, budget);
      return value === null ? null : -value;
    }
    case 'call': {
      if (node.name !== 'factorial' || node.args.length !== 1) return null;
      const n = exactInteger(node.args[0]!, budget);
      if (n === null || n < 0n || n > 300n) return null;
      let result = 1n;
      for (let k = 2n; k <= n; k++) result *= k;
      return result;
    }
    case 'binary': {
      const left = exactInteger(node.left, budget);
      if (left === null) return null;
      const right = exactInteger(node.right, budget);
      if (right === null) return null;
      let result: bigint;
      if (node.op === '+') result = left + right;
      else if (node.op === '-') result = left - right;
      else if (node.op === '*') result = left * right;
      else if (node.op === '^') {
        if (right < 0n || bitLength(left) * right > MAX_BITS) return null;
        result = left ** right;
      } else return null;
      return bitLength(result) > MAX_BITS ? null : result;
    }
    default:
      return null;
  }
}

function mentionsInfinity(node: Node): boolean {
  switch (node.kind) {
    case 'constant':
      return node.name === 'infinity';
    case 'binary':
      return mentionsInfinity(node.left) || mentionsInfinity(node.right);
    case 'negate':
      return mentionsInfinity(node.argument);
    case 'call':
      return node.args.some(mentionsInfinity);
    case 'plusminus':
      return (node.left !== null && mentionsInfinity(node.left)) || mentionsInfinity(node.right);
    default:
      return false;
  }
}

function equivalent(goldAnswer: Answer, predictedAnswer: Answer, settings: Settings): boolean {
  if (goldAnswer.key.length > 0 && goldAnswer.key === predictedAnswer.key) return true;
  const gold = mergeIntervals(goldAnswer);
  const predicted = mergeIntervals(predictedAnswer);
  // An assignment stands for its value: x = 3 vs 3 (unless `assignmentsAsValues` is off).
  if (gold.type === 'relation' && predicted.type !== 'relation') {
    return settings.assignmentsAsValues && gold.assignment && equivalent(gold.sides[1]!, predicted, settings);
  }
  if (predicted.type === 'relation' && gold.type !== 'relation') {
    return (
      settings.assignmentsAsValues && predicted.assignment && equivalent(gold, predicted.sides[1]!, settings)
    );
  }
  switch (gold.type) {
    case 'expression':
      return predicted.type === 'expression' && expressionsEquivalent(gold.node, predicted.node, settings);
    case 'text':
      return predicted.type === 'text' && textKey(gold.key) === textKey(predicted.key);
    case 'matrix':
      return predicted.type === 'matrix' && matricesEquivalent(gold.rows, predicted.rows, settings);
    case 'union':
      if (predicted.type === 'list' && predicted.form === 'bare')
        return unorderedEquivalent(gold.parts, predicted.items, settings);
      return predicted.type === 'union' && unorderedEquivalent(gold.parts, predicted.parts, settings);
    case 'relation':
      return predicted.type === 'relation' && relationsEquivalent(gold, predicted, settings);
    case 'list':
      // "x < 1 or x > 2" (a list of intervals) is the union (-∞,1) ∪ (2,∞).
      if (predicted.type === 'union' && gold.form === 'bare')
        return unorderedEquivalent(gold.items, predicted.parts, settings);
      return predicted.type === 'list' && listsEquivalent(gold, predicted, settings);
  }
}

type ListAnswer = Extract<Answer, { type: 'list' }>;

interface Span {
  low: number;
  high: number;
  lowClosed: boolean;
  highClosed: boolean;
  part: ListAnswer;
}

function endValue(answer: Answer | undefined): number {
  if (answer?.type !== 'expression') return Number.NaN;
  if (freeSymbols(answer.node).size > 0) return Number.NaN;
  const value = evaluate(answer.node, new Map());
  return value.im === 0 || Number.isNaN(value.im) ? value.re : Number.NaN;
}

/**
 * A union of intervals with overlapping or touching parts merged, as sympy's `Union` does:
 * [1,2] ∪ [2,3] = [1,3], (0,1) ∪ (1,2) stays a union (1 is missing). Other answers are returned as they are.
 */
function mergeIntervals(answer: Answer): Answer {
  if (answer.type !== 'union' || answer.parts.length < 2) return answer;
  const spans: Span[] = [];
  for (const part of answer.parts) {
    if (part.type !== 'list' || part.form !== 'bracketed' || part.items.length !== 2) return answer;
    const low = endValue(part.items[0]);
    const high = endValue(part.items[1]);
    if (Number.isNaN(low) || Number.isNaN(high) || low > high) return answer;
    spans.push({ low, high, lowClosed: part.open === '[', highClosed: part.close === ']', part });
  }
  spans.sort((a, b) => a.low - b.low || Number(b.lowClosed) - Number(a.lowClosed));
  const merged: Span[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && (span.low < last.high || (span.low === last.high && (last.highClosed || span.lowClosed)))) {
      if (span.high > last.high || (span.high === last.high && span.highClosed && !last.highClosed)) {
        last.high = span.high;
        last.highClosed = span.highClosed;
        last.part = {
          ...last.part,
          items: [last.part.items[0]!, span.part.items[1]!],
          close: span.part.close,
        };
      }
      continue;
    }
    merged.push({ ...span });
  }
  if (merged.length === spans.length) return answer;
  const parts = merged.map((span) => ({ ...span.part, key: '' }));
  return parts.length === 1 ? parts[0]! : { type: 'union', parts, key: '' };
}
type RelationAnswer = Extract<Answer, { type: 'relation' }>;

function listsEquivalent(gold: ListAnswer, predicted: ListAnswer, settings: Settings): boolean {
  const ordered = (a: Answer[], b: Answer[]) =>
    a.length === b.length && a.every((item, index) => equivalent(item, b[index]!, settings));
  if (gold.form === 'bracketed' && predicted.form === 'bracketed') {
    // Intervals and tuples: brackets must agree for pairs ((1,2] ≠ [1,2]); longer tuples ignore bracket kind.
    if (gold.items.length === 2 || predicted.items.length === 2) {
      if (gold.open !== predicted.open || gold.close !== predicted.close) return false;
    }
    return ordered(gold.items, predicted.items);
  }
  if (gold.form === 'bracketed' || predicted.form === 'bracketed') {
    // (2, 4) vs "2, 4": the same tuple written without brackets.
    const other = gold.form === 'bracketed' ? predicted : gold;
    if (other.form !== 'bare') return false;
    return ordered(gold.items, predicted.items);
  }
  if (settings.orderedLists && gold.form === 'bare' && predicted.form === 'bare')
    return ordered(gold.items, predicted.items);
  return unorderedEquivalent(gold.items, predicted.items, settings);
}

/** Set equality: every item on each side has an equivalent on the other. */
function unorderedEquivalent(gold: Answer[], predicted: Answer[], settings: Settings): boolean {
  if (gold.length === 0 || predicted.length === 0) return gold.length === predicted.length;
  const covered = (from: Answer[], to: Answer[]) =>
    from.every((item) => to.some((candidate) => equivalent(item, candidate, settings)));
  if (gold.length === predicted.length) {
    // Fast path: a one-to-one matching.
    const used = new Array<boolean>(predicted.length).fill(false);
    let matched = true;
    for (const item of gold) {
      const index = predicted.findIndex(
        (candidate, position) => !used[position] && equivalent(item, candidate, settings),
      );
      if (index < 0) {
        matched = false;
        break;
      }
      used[index] = true;
    }
    if (matched) return true;
  }
  return covered(gold, predicted) && covered(predicted, gold);
}

function matricesEquivalent(gold: Answer[][], predicted: Answer[][], settings: Settings): boolean {
  if (gold.length !== predicted.length) return false;
  return gold.every((row, rowIndex) => {
    const other = predicted[rowIndex]!;
    return (
      row.length === other.length && row.every((cell, column) => equivalent(cell, other[column]!, settings))
    );
  });
}

const FLIPPED: Record<string, string> = { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le' };

/** The constant k with a = k·b at every sample point (k real, non-zero), or null when there is none. */
function constantRatio(a: Node, b: Node): number | null {
  const symbols = [...freeSymbols(b, freeSymbols(a))].sort();
  let ratio: number | null = null;
  let agreeing = 0;
  for (let trial = 0; trial < 8; trial++) {
    const values = new Map<string, number>();
    symbols.forEach((symbol, index) => {
      values.set(symbol, SAMPLE_VALUES[(trial * 3 + index * 7) % SAMPLE_VALUES.length]!);
    });
    const x = evaluate(a, values);
    const y = evaluate(b, values);
    if (!isFiniteComplex(x) || !isFiniteComplex(y)) continue;
    const xZero = modulus(x) < 1e-12;
    const yZero = modulus(y) < 1e-12;
    if (xZero || yZero) {
      if (xZero !== yZero) return null;
      continue;
    }
    if (Math.abs(x.im) > 1e-9 || Math.abs(y.im) > 1e-9) return null;
    const k = x.re / y.re;
    if (ratio === null) ratio = k;
    else if (Math.abs(k - ratio) > SYMBOLIC_TOLERANCE * Math.max(1, Math.abs(ratio))) return null;
    agreeing++;
  }
  return agreeing >= 3 || (symbols.length === 0 && agreeing >= 1) ? ratio : null;
}

function relationsEquivalent(gold: RelationAnswer, predicted: RelationAnswer, settings: Settings): boolean {
  if (gold.ops.length !== predicted.ops.length) return false;
  if (gold.assignment && predicted.assignment) {
    // y = 2x + 1 vs y = 1 + 2x; like Qwen's grader, the name on the left is not compared (x = 3 vs k = 3).
    return equivalent(gold.sides[1]!, predicted.sides[1]!, settings);
  }
  if (gold.ops.length === 1) {
    // a op b ≡ c op' d when a − b = k·(c − d) for a constant k ≠ 0: any k for =/≠ (rearranged, scaled
    // equations), k > 0 for the same order relation, k < 0 for the flipped one (-x > -1 ≡ x < 1).
    const difference = (relation: RelationAnswer): Node | null => {
      const [left, right] = relation.sides;
      if (left?.type !== 'expression' || right?.type !== 'expression') return null;
      return { kind: 'binary', op: '-', left: left.node, right: right.node };
    };
    const a = difference(gold);
    const b = difference(predicted);
    const goldOp = gold.ops[0]!;
    const predictedOp = predicted.ops[0]!;
    if (a && b) {
      const ratio = constantRatio(a, b);
      if (ratio === null) return false;
      if (goldOp === '=' || goldOp === '\\ne') return predictedOp === goldOp;
      return predictedOp === (ratio > 0 ? goldOp : FLIPPED[goldOp]);
    }
  }
  if (gold.ops.join() !== predicted.ops.join()) return false;
  return gold.sides.every((side, index) => equivalent(side, predicted.sides[index]!, settings));
}
