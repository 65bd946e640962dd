import { InvalidArgumentError } from '@rlpt/spec';
import * as chars from './chars.js';
import type { Sentence } from './types.js';

// Bound once (see scanner.ts): no getter call per character under tsx/vitest.
const { isNewline, isWhitespace } = chars;

/** A paragraph: a run of text between blank lines, trimmed. Offsets as in `Sentence`. */
export type Paragraph = Sentence;

/**
 * Splits `text` at blank lines (two or more line breaks with only white space between them, or a
 * U+2029 paragraph separator), the same paragraphs the engines work in. Trimmed; empty ones dropped.
 */
export function splitParagraphs(text: string): Paragraph[] {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError({
      argument: 'text',
      message: `splitParagraphs: text must be a string; got ${text === null ? 'null' : typeof text}.`,
    });
  }
  const paragraphs: Paragraph[] = [];
  const length = text.length;
  let paragraphStart = 0;
  const emit = (from: number, to: number) => {
    let start = from;
    let end = to;
    while (start < end && isWhitespace(text.charCodeAt(start))) start++;
    while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
    if (start < end) paragraphs.push({ text: text.slice(start, end), start, end });
  };
  for (let index = 0; index < length; index++) {
    if (!isNewline(text.charCodeAt(index))) continue;
    let position = index;
    let lineBreaks = 0;
    let paragraphBreak = false;
    while (position < length) {
      const code = text.charCodeAt(position);
      if (!isWhitespace(code)) break;
      if (isNewline(code)) {
        if (code === 0x0d && position + 1 < length && text.charCodeAt(position + 1) === 0x0a) position++;
        if (code === 0x2029) paragraphBreak = true;
        lineBreaks++;
      }
      position++;
    }
    if (position < length && (lineBreaks >= 2 || paragraphBreak)) {
      emit(paragraphStart, index);
      paragraphStart = position;
    }
    index = position - 1;
  }
  emit(paragraphStart, length);
  return paragraphs;
}
