/**
 * Parsing a generative judge's output (METHOD.md §7): the verdict is the last line of the form
 * `Score: 0` or `Score: 1`. Whitespace and case are ignored, and so are Markdown emphasis around the
 * line (`**Score: 1**`), a full-width colon and a trailing full stop. Anything else is a judge failure,
 * never a silent 0.
 */
const verdictLine = /^score\s*:\s*([01])\s*\.?$/;
const decoration = /^[\s*_`>#]+|[\s*_`]+$/g;

/** The score of the last verdict line in `output`, or `undefined` when there is none. */
export function parseVerdict(output: string): 0 | 1 | undefined {
  const lines = output.split(/\r\n|\r|\n/);
  for (let index = lines.length - 1; index >= 0; index--) {
    const line = (lines[index] ?? '').normalize('NFKC').replace(decoration, '').toLowerCase();
    const match = verdictLine.exec(line);
    if (match) return match[1] === '1' ? 1 : 0;
  }
  return undefined;
}
