/** Kinds of markup and placeholders that make a poor prediction target (see {@link markupKindsOf}). */
export const markupKinds = ['unk', 'wikitext', 'html', 'entity'] as const;
export type MarkupKind = (typeof markupKinds)[number];

const unk = /<unk>|\[UNK\]/gi;
const patterns: [MarkupKind, RegExp][] = [
  // WikiText's tokenisation markers (` @-@ `, ` @,@ `, ` @.@ `), left when the text is not detokenised.
  ['wikitext', /@[-,.]@/],
  // Tags such as <br>, </ref>, <span class="x">, <ref name=a/> (not the prompt's <|…|> markers).
  ['html', /<\/?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?\/?>/],
  ['entity', /&(?:[A-Za-z]{2,8}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});/],
];

/**
 * The markup and placeholder kinds found in a text: `unk` (`<unk>`, `[UNK]`: words the corpus replaced and no
 * model can predict), `wikitext` (`@-@`, `@,@`, `@.@`), `html` (tags) and `entity` (`&amp;`, `&#39;` …).
 */
export function markupKindsOf(text: string): MarkupKind[] {
  const found: MarkupKind[] = [];
  unk.lastIndex = 0;
  if (unk.test(text)) found.push('unk');
  const rest = found.length > 0 ? text.replace(unk, ' ') : text;
  for (const [kind, pattern] of patterns) if (pattern.test(rest)) found.push(kind);
  return found;
}
