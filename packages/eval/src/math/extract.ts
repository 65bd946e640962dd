/**
 * Final-answer extraction from a model response (or from a gold solution): last `\boxed{…}` (nested braces,
 * `\boxed 5`, `\fbox`, `\framebox`), "final answer is $…$. I hope" (Minerva), "The answer is …",
 * "Final Answer: …", GSM8K's `#### N`, then the last number (configurable). A short bare answer is
 * returned as it is.
 */

/** How to find an answer when no box and no "answer is" marker is present. */
export type AnswerFallback = 'last-number' | 'none';

/** Options of {@link extractMathAnswer}. */
export interface ExtractOptions {
  /** When no box or answer marker exists: take the last number (Qwen2.5-Math's default) or give up. Default `last-number`. */
  fallback?: AnswerFallback;
  /** Join every boxed answer of the final part (OlympiadBench multi-answer items) instead of only the last. Default false. */
  multipleAnswers?: boolean;
  /**
   * Accept several plain words without any math ("all real numbers") as a bare answer. Default true; the
   * response side of {@link gradeMathResponse} turns it off, so "I give up" counts as unanswered.
   */
  plainTextAnswers?: boolean;
  /**
   * The text is a gold answer: without a box or answer marker, a short text (≤ 500 characters, one
   * paragraph) is the answer as a whole, even with words in it ("f(x) = ax + b, where b is an integer").
   */
  gold?: boolean;
}

/** Longest response scanned; only the tail is read beyond this (answers are at the end). */
const MAX_SCAN = 200_000;

/** Finds the index of the `}` matching the `{` at `open`, or -1. */
export function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index++) {
    const char = text[index];
    if (char === '\\') {
      index++; // skip escaped char: \{ \}
      continue;
    }
    if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return index;
  }
  return -1;
}

const BOX_COMMAND = /\\(?:boxed|fbox|framebox)(?![a-zA-Z])/g;

/** Every boxed answer in order of appearance. */
export function boxedAnswers(text: string): string[] {
  const answers: string[] = [];
  BOX_COMMAND.lastIndex = 0;
  for (let match = BOX_COMMAND.exec(text); match; match = BOX_COMMAND.exec(text)) {
    let index = match.index + match[0].length;
    // \framebox[width][pos]{…}
    while (text[index] === '[') {
      const close = text.indexOf(']', index);
      if (close < 0) break;
      index = close + 1;
    }
    while (text[index] === ' ') index++;
    if (text[index] === '{') {
      const close = matchingBrace(text, index);
      if (close < 0) {
        // Unterminated (truncated output): take the rest, as Qwen's extractor does.
        answers.push(text.slice(index + 1).trim());
        break;
      }
      answers.push(text.slice(index + 1, close).trim());
      BOX_COMMAND.lastIndex = close + 1;
    } else {
      // \boxed 5 — up to the next $ or whitespace.
      const rest = /^[^\s$]+/.exec(text.slice(index));
      if (rest) answers.push(rest[0]);
    }
  }
  return answers;
}

/** The last boxed answer, or null. */
export function lastBoxed(text: string): string | null {
  const answers = boxedAnswers(text);
  return answers.length > 0 ? answers[answers.length - 1]! : null;
}

const ANSWER_MARKER =
  /(?:final answer|the answer|answer)\s*(?:is\b|:|：|=)\s*(?:[:：])?|final answer\s*\**\s*[:：]?\s*\**\s*\n|####/gi;

/** Text after the last "answer is"/"Final Answer:"/"####" marker, trimmed to the answer itself. */
function afterAnswerMarker(text: string): string | null {
  let last: RegExpExecArray | null = null;
  ANSWER_MARKER.lastIndex = 0;
  for (let match = ANSWER_MARKER.exec(text); match; match = ANSWER_MARKER.exec(text)) last = match;
  if (!last) return null;
  const rest = text.slice(last.index + last[0].length).replace(/^[\s*:：]+/, '');
  // A display answer right after the marker.
  const display = /^\$\$((?:\\\$|[^$])*)\$\$|^\\\[([\s\S]*?)\\\]/.exec(rest);
  if (display) return (display[1] ?? display[2] ?? '').trim();
  // Otherwise the rest of the sentence: up to a period that ends it (not a decimal point, not inside
  // $…$ or \(…\)), a line break, or closing bold; "$69$, $84$." keeps both answers.
  let end = 0;
  let inMath = false;
  for (; end < rest.length; end++) {
    const char = rest[end]!;
    if (char === '\\' && (rest[end + 1] === '(' || rest[end + 1] === ')')) {
      inMath = rest[end + 1] === '(';
      end++;
      continue;
    }
    if (char === '\\') {
      end++;
      continue;
    }
    if (char === '$') inMath = !inMath;
    // A line break ends the answer, except inside $…$ (a formula wrapped over lines), where only a
    // blank line does.
    else if (char === '\n' && (!inMath || rest[end + 1] === '\n')) break;
    else if (!inMath && char === '.' && !/[0-9]/.test(rest[end + 1] ?? '')) break;
    else if (!inMath && char === '*' && rest[end + 1] === '*') break;
  }
  let answer = rest.slice(0, end).replace(/\*+/g, '').trim();
  // "18 but I am not sure": chatter after the answer.
  answer = answer.replace(
    /^([^a-zA-Z]*[0-9$}][^a-zA-Z]*?)\s*,?\s+(?:but|because|since|although|though|however|which|as|if|I|we)\b[\s\S]*$/,
    '$1',
  );
  // One math segment is unwrapped: "$\frac{1}{2}$" → "\frac{1}{2}".
  const single = /^\$((?:\\\$|[^$])*)\$$|^\\\(([\s\S]*?)\\\)$/.exec(answer);
  if (single) answer = (single[1] ?? single[2] ?? '').trim();
  return answer.length > 0 ? answer : null;
}

/** Last number in the text, commas removed first (Qwen2.5-Math's `-?\d*\.?\d+` fallback). */
export function lastNumber(text: string): string | null {
  // A digit inside a word (AZYUK2A, x2) is not a number.
  const numbers = text.replace(/,/g, '').match(/(?<![a-zA-Z0-9.])-?[0-9]*\.?[0-9]+/g);
  return numbers && numbers.length > 0 ? numbers[numbers.length - 1]! : null;
}

// Prose: words of four or more letters, or common short English words ("so", "we", "get"); "mn" or "xy"
// are products of variables.
const PROSE_WORD =
  /(?<![\\a-zA-Z{])(?:[a-zA-Z]{4,}|(?:so|is|we|it|be|of|at|as|if|by|on|an|the|get|got|has|are|was|for|its|let|now|can|our|you)(?![a-zA-Z]))(?![a-zA-Z}])/gi;
const ALLOWED_WORDS =
  /^(?:and|or|in|to|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh|log|ln|lg|exp|sqrt|frac|mod|gcd|lcm|max|min|det|floor|ceil|pi|inf|infty|infinity|no|not|none|all|real|numbers?|undefined|true|false|yes|even|odd|dne)$/i;

/**
 * Whether a string is a whole response (reasoning around the answer) rather than a bare answer. Bare
 * answers may contain a few words ("all real numbers", "5 cm", "\text{Monday}"); prose before a number
 * ("So we get 12") or sentences make it a response.
 */
export function looksLikeResponse(text: string): boolean {
  if (text.length > 300) return true;
  if (/\n\s*\n/.test(text) || /<\/?think>/.test(text)) return true;
  const words = (text.replace(/\\[a-zA-Z]+\s*\{[^{}]*\}/g, ' ').match(PROSE_WORD) ?? []).filter(
    (word) => !ALLOWED_WORDS.test(word),
  );
  if (words.length === 0) return false;
  if (words.length >= 4 && /[.!?:](?:\s|$)/.test(text)) return true;
  // Words before the first digit are prose ("So we get 12"); words after it are units ("12 apples").
  const firstDigit = text.search(/[0-9]/);
  if (firstDigit < 0) return words.length >= 4;
  const leadingProse =
    text
      .slice(0, firstDigit)
      .replace(/\\[a-zA-Z]+/g, ' ')
      .match(PROSE_WORD) ?? [];
  return leadingProse.filter((word) => !ALLOWED_WORDS.test(word)).length > 0;
}

/**
 * Whether a text is undecodable output (random tokens, byte soup): at least 2% of its characters are
 * U+FFFD or control characters. Such a response has no answer unless it boxes or marks one.
 */
export function isGarbled(text: string): boolean {
  // Undecodable bytes (U+FFFD) and control characters other than tab and newlines.
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0xfffd || code === 0x7f || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d))
      bad++;
  }
  return bad > 0 && bad >= 0.02 * text.length;
}

/**
 * Extracts the final answer from a response or returns a bare answer as it is. Null when nothing can be
 * found (an unanswered item).
 */
export function extractMathAnswer(text: string, options: ExtractOptions = {}): string | null {
  const fallback = options.fallback ?? 'last-number';
  let source = text.length > MAX_SCAN ? text.slice(-MAX_SCAN) : text;
  source = cutAtTurnEnd(source.replace(/ки/g, ''));
  const thinkEnd = source.lastIndexOf('</think>');
  if (thinkEnd >= 0) {
    const after = source.slice(thinkEnd + '</think>'.length);
    const fromFinal = extractFromRegion(after, options, 'none');
    if (fromFinal !== null) return fromFinal;
  }
  return extractFromRegion(source, options, fallback);
}

const TURN_HEADER = /^\s*<\|im_start\|>\s*assistant\s*\n?/;
const TURN_END = /<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|end)\|>|<｜end▁of▁sentence｜>|<\/s>/;

/**
 * Chat-template residue: the response ends at its first end-of-turn or new-turn token; what a model
 * writes after it (another user turn, another answer) is not its answer. A leading assistant header is
 * dropped first.
 */
function cutAtTurnEnd(text: string): string {
  const body = text.replace(TURN_HEADER, '');
  const end = body.search(TURN_END);
  return end > 0 && body.slice(0, end).trim().length > 0 ? body.slice(0, end) : body;
}

function extractFromRegion(text: string, options: ExtractOptions, fallback: AnswerFallback): string | null {
  const trimmed = text.trim();
  if (trimmed.length === 0) return null;
  // Minerva's few-shot format.
  const minerva = /final answer is \$([\s\S]*?)\$\. I hope/.exec(trimmed);
  if (minerva && !/\\(?:boxed|fbox)/.test(trimmed)) return cleanAnswer(minerva[1]!);
  const boxes = boxedAnswers(trimmed);
  if (boxes.length > 0) {
    if (options.multipleAnswers && boxes.length > 1)
      return joinDistinct(boxes.slice(lastBoxGroup(trimmed, boxes)));
    // "\boxed{1}, \boxed{2}" / "\boxed{1} and \boxed{2}": adjacent final boxes are one answer (a set).
    const adjacent = adjacentFinalBoxes(trimmed);
    if (adjacent > 1) return joinDistinct(boxes.slice(-adjacent));
    return cleanAnswer(boxes[boxes.length - 1]!);
  }
  const marked = afterAnswerMarker(trimmed);
  if (marked !== null) return cleanAnswer(marked);
  if (options.gold && trimmed.length <= 500 && !/\n\s*\n/.test(trimmed)) return cleanAnswer(trimmed);
  // Byte soup is not a bare answer, and a digit inside it is not a last number: unanswered.
  if (!options.gold && isGarbled(trimmed)) return null;
  if (!looksLikeResponse(trimmed)) {
    const plainWords = !/[0-9\\$^_=+*/()[\]{}<>|]/.test(trimmed) && /[a-zA-Z]+\s+[a-zA-Z]+/.test(trimmed);
    if (!(plainWords && options.plainTextAnswers === false)) return cleanAnswer(trimmed);
  }
  if (fallback === 'last-number') return lastLatexOrNumber(trimmed);
  return null;
}

const LATEX_SEGMENT = /\$\$([\s\S]+?)\$\$|\$((?:\\\$|[^$])+?)\$|\\\(([\s\S]+?)\\\)|\\\[([\s\S]+?)\\\]/g;

/**
 * Math-Verify's last targets: the last LaTeX segment (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`) unless a number
 * follows it outside math, else the last number. A segment whose lines are separate numbers
 * (`$1\n2\n3$`) is not an answer.
 */
function lastLatexOrNumber(text: string): string | null {
  let last: RegExpExecArray | null = null;
  LATEX_SEGMENT.lastIndex = 0;
  for (let match = LATEX_SEGMENT.exec(text); match; match = LATEX_SEGMENT.exec(text)) last = match;
  if (last) {
    const inside = (last[1] ?? last[2] ?? last[3] ?? last[4] ?? '').trim();
    const after = text.slice(last.index + last[0].length);
    const splitNumbers = /^[0-9.\s-]*[0-9]\s*\n\s*[0-9]/.test(inside);
    if (splitNumbers) return lastNumber(after);
    if (inside.length > 0 && lastNumber(after) === null) return cleanAnswer(inside);
  }
  return lastNumber(text);
}

const BOX_GAP = /^[\s$,;]*(?:(?:and|or|\\text\s*\{\s*(?:and|or|,)?\s*\}|\\quad|\\qquad)[\s$,;]*)?$/;

/** How many boxes at the end of the text stand next to each other (only commas, "and", "or", spaces between). */
function adjacentFinalBoxes(text: string): number {
  const spans: Array<[number, number]> = [];
  BOX_COMMAND.lastIndex = 0;
  for (let match = BOX_COMMAND.exec(text); match; match = BOX_COMMAND.exec(text)) {
    let index = match.index + match[0].length;
    while (text[index] === ' ') index++;
    if (text[index] !== '{') return 1;
    const close = matchingBrace(text, index);
    if (close < 0) break;
    spans.push([match.index, close + 1]);
    BOX_COMMAND.lastIndex = close + 1;
  }
  let count = spans.length > 0 ? 1 : 0;
  for (let index = spans.length - 1; index > 0; index--) {
    if (!BOX_GAP.test(text.slice(spans[index - 1]![1], spans[index]![0]))) break;
    count++;
  }
  return count;
}

/** Index of the first box of the final group of boxes (boxes on the last lines with an answer). */
function lastBoxGroup(text: string, boxes: string[]): number {
  // Boxes within the last paragraph that contains a box belong together.
  const paragraphs = text.split(/\n\s*\n/);
  for (let index = paragraphs.length - 1; index >= 0; index--) {
    const count = boxedAnswers(paragraphs[index]!).length;
    if (count > 0) return Math.max(0, boxes.length - count);
  }
  return boxes.length - 1;
}

function joinDistinct(answers: string[]): string {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const answer of answers) {
    const key = answer.replace(/\s+/g, '');
    if (!seen.has(key)) {
      seen.add(key);
      kept.push(answer);
    }
  }
  return kept.join(', ');
}

function cleanAnswer(answer: string): string | null {
  let result = answer.replace(/\n\s*/g, ' ').trim();
  if (result.startsWith(':')) result = result.slice(1).trim();
  result = result.replace(/[./]$/, '').trim();
  return result.length > 0 ? result : null;
}
