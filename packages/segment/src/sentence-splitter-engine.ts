/**
 * The `sentence-splitter` engine: the npm package proposes sentence ends one paragraph at a time, and
 * the scanner's English rules keep only the proposals they agree with (plus their own line, bullet and
 * list boundaries). Two guards make the package safe on real corpora:
 * - it is fed one paragraph at a time (on a whole text it stops splitting after ~100 KB and runs out
 *   of memory on a few MB);
 * - its pair marks (`"`, `(`, `[`, …) are masked with spaces before it sees a paragraph, because an
 *   unclosed one makes it swallow the rest of the paragraph as one sentence. The scanner's rules
 *   decide what happens around quotes and brackets instead.
 */
import { split } from 'sentence-splitter';
import { isWhitespace } from './chars.js';
import { splitParagraphs } from './paragraphs.js';

const PAIR_MARKS = /["'“”‘’«»()[\]{}「」（）『』｛｝［］〚〛【】《》]/g;

const splitterOptions = {
  SeparatorParser: { separatorCharacters: ['.', '．', '。', '?', '!', '？', '！', '…'] },
};

/** Sorted end offsets (in `text`) of the sentences `sentence-splitter` finds, paragraph by paragraph. */
export function proposeWithSentenceSplitter(text: string): number[] {
  const proposals: number[] = [];
  for (const paragraph of splitParagraphs(text)) {
    const masked = paragraph.text.replace(PAIR_MARKS, ' ');
    for (const node of split(masked, splitterOptions)) {
      if (node.type !== 'Sentence') continue;
      let end = node.range[1];
      while (end > 0 && isWhitespace(masked.charCodeAt(end - 1))) end--;
      proposals.push(paragraph.start + end);
    }
  }
  return proposals;
}
