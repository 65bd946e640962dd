/**
 * Multiple-choice grading: robust letter extraction, a choice-text fallback, and no guessing (an item
 * without a recognisable answer is wrong and counted as unanswered). Also KOR-Bench's `[[…]]` answers.
 */
import { answersEquivalent } from './math/equivalence.js';
import { boxedAnswers, isGarbled } from './math/extract.js';

/** Options of {@link extractChoice} and {@link gradeChoiceResponse}. */
export interface ChoiceOptions {
  /** Valid letters, in order. Default: `A`… for `choices.length` options, else `ABCD`. MMLU-Pro uses A–J. */
  letters?: string;
  /** Option texts in presented order, for matching an answer given as text ("The answer is 42 m/s"). */
  choices?: string[];
}

/** A graded multiple-choice (or `[[…]]`) response. */
export interface ChoiceGrade {
  /** The letter found, or null when the response names no option (unanswered). */
  extracted: string | null;
  correct: boolean;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function validLetters(options: ChoiceOptions): string {
  if (options.letters) return options.letters.toUpperCase();
  const count = options.choices?.length ?? 4;
  return LETTERS.slice(0, Math.max(1, Math.min(count, LETTERS.length)));
}

/** Strips markdown and LaTeX wrappers around a short answer: `**(C)**`, `\text{C}`, `$C$`. */
function unwrap(text: string): string {
  return text
    .replace(/\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}/g, '$1')
    .replace(/[*_$`]/g, '')
    .trim();
}

/** A letter at the very start of a short answer: "C", "(C)", "C)", "C.", "C: text", "[C]". */
function leadingLetter(text: string, letters: string, afterMarker = false): string | null {
  const match = /^[([{]?\s*([A-Za-z])\s*(?:[)\]}.:,]|$|\s)/.exec(unwrap(text));
  if (!match) return null;
  const letter = match[1]!;
  // Lower-case letters only count when they are the whole answer or bracketed.
  if (letter !== letter.toUpperCase() && !/^[([{]\s*[a-z]\s*[)\]}]|^[a-z]$/.test(unwrap(text))) return null;
  const upper = letter.toUpperCase();
  if (!letters.includes(upper)) return null;
  // "A good …", "I think …": an article or pronoun, not an option.
  const unwrapped = unwrap(text);
  if (!afterMarker && (upper === 'A' || upper === 'I') && /^[AI]\s+[a-z]/.test(unwrapped)) return null;
  return upper;
}

const MARKER =
  /(?:final answer|correct answer|the answer|answer|correct option|correct choice|best answer|best option|i choose|i pick|答案(?:是|为)?)\s*(?:is|would be|should be|:|：|=)?\s*(?:option|choice)?\s*[:：]?\s*/gi;

function normalizeChoiceText(text: string): string {
  return unwrap(text)
    .toLowerCase()
    .replace(/^[([]?[a-j][)\].:]\s+/, '')
    .replace(/[\s.,;:!?'"]+/g, ' ')
    .trim();
}

/** The option whose text the answer states, or null (also when two options match). */
function matchChoiceText(answer: string, choices: string[] | undefined, letters: string): string | null {
  if (!choices || choices.length === 0) return null;
  const target = normalizeChoiceText(answer);
  if (target.length === 0) return null;
  let found: string | null = null;
  for (let index = 0; index < choices.length && index < letters.length; index++) {
    const choice = choices[index]!;
    const same = normalizeChoiceText(choice) === target || safeEquivalent(choice, answer);
    if (same) {
      if (found !== null) return null;
      found = letters[index]!;
    }
  }
  return found;
}

function safeEquivalent(choice: string, answer: string): boolean {
  // Only numeric/LaTeX-looking options are compared mathematically.
  if (!/[0-9\\]/.test(choice) || choice.length > 200 || answer.length > 200) return false;
  return answersEquivalent(choice, answer);
}

/**
 * Extracts the chosen letter from a response: `\boxed{C}`, "The answer is (C)", "**Answer: C**",
 * "Answer: C) text", a final line that is just a letter, a stated option text, then the last standalone
 * option letter of the final paragraph. Null when none is found: no guessing.
 */
export function extractChoice(response: string, options: ChoiceOptions = {}): string | null {
  const letters = validLetters(options);
  let text = String(response ?? '');
  if (text.length > 200_000) text = text.slice(-200_000);
  const thinkEnd = text.lastIndexOf('</think>');
  if (thinkEnd >= 0) {
    const final = extractFromRegion(text.slice(thinkEnd + 8), letters, options.choices, false);
    if (final !== null) return final;
  }
  return extractFromRegion(text, letters, options.choices, true);
}

function extractFromRegion(
  text: string,
  letters: string,
  choices: string[] | undefined,
  allowStandalone: boolean,
): string | null {
  const boxes = boxedAnswers(text);
  if (boxes.length > 0) {
    const box = boxes[boxes.length - 1]!;
    const letter = leadingLetter(box, letters) ?? matchChoiceText(box, choices, letters);
    if (letter) return letter;
  }

  let lastMarked: string | null = null;
  let lastMarkedText: string | null = null;
  MARKER.lastIndex = 0;
  for (let match = MARKER.exec(text); match; match = MARKER.exec(text)) {
    if (match[0].length === 0) {
      MARKER.lastIndex++;
      continue;
    }
    const rest = text.slice(match.index + match[0].length, match.index + match[0].length + 200);
    const letter = leadingLetter(rest, letters, true);
    if (letter) lastMarked = letter;
    else if (/answer|答案/i.test(match[0])) lastMarkedText = rest.split('\n')[0] ?? null;
  }
  if (lastMarked) return lastMarked;

  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const lastLine = lines[lines.length - 1] ?? '';
  if (unwrap(lastLine).length <= 4) {
    const letter = leadingLetter(lastLine, letters);
    if (letter) return letter;
  }

  const stated = lastMarkedText ?? (boxes.length > 0 ? boxes[boxes.length - 1]! : null);
  if (stated) {
    const byText = matchChoiceText(stated.replace(/\.\s*$/, ''), choices, letters);
    if (byText) return byText;
  }

  // A standalone letter inside byte soup is noise, not an answer.
  if (!allowStandalone || isGarbled(text)) return null;
  const paragraphs = text.split(/\n\s*\n/);
  const finalParagraph = paragraphs[paragraphs.length - 1] ?? '';
  const standalone = new RegExp(`(?<![A-Za-z])\\(?([${letters}])\\)?(?![A-Za-z'’])`, 'g');
  let last: string | null = null;
  for (let match = standalone.exec(finalParagraph); match; match = standalone.exec(finalParagraph)) {
    const letter = match[1]!;
    const after = finalParagraph.slice(match.index + match[0].length, match.index + match[0].length + 3);
    if ((letter === 'A' || letter === 'I') && !match[0].startsWith('(') && /^\s+[a-z]/.test(after)) continue;
    last = letter;
  }
  return last;
}

/** Grades a multiple-choice response against the gold letter. */
export function gradeChoiceResponse(
  response: string,
  gold: string,
  options: ChoiceOptions = {},
): ChoiceGrade {
  const extracted = extractChoice(response, options);
  return { extracted, correct: extracted !== null && extracted === gold.trim().toUpperCase() };
}

/** Content of the last `[[…]]` (KOR-Bench's answer format), or null. */
export function extractDoubleBracket(response: string): string | null {
  const text = String(response ?? '');
  const end = text.lastIndexOf(']]');
  if (end < 0) return null;
  const start = text.lastIndexOf('[[', end);
  if (start < 0) return null;
  const inner = text.slice(start + 2, end).trim();
  return inner.length > 0 ? inner : null;
}

function normalizeFreeText(text: string): string {
  return text
    .replace(/^\[\[|\]\]$/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/**
 * Grades a KOR-Bench response: the last `[[…]]` against the gold (itself possibly in `[[…]]`), compared
 * case- and space-insensitively, then as math answers.
 */
export function gradeBracketResponse(response: string, gold: string): ChoiceGrade {
  const extracted = extractDoubleBracket(response);
  if (extracted === null) return { extracted: null, correct: false };
  const goldText = extractDoubleBracket(gold) ?? gold.trim();
  const correct =
    normalizeFreeText(extracted) === normalizeFreeText(goldText) ||
    normalizeFreeText(extracted).replace(/\s/g, '') === normalizeFreeText(goldText).replace(/\s/g, '') ||
    (extracted.length <= 200 && goldText.length <= 200 && answersEquivalent(goldText, extracted));
  return { extracted, correct };
}
