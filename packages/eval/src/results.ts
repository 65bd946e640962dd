/**
 * Per-item results (JSONL, appended one line per item, fsynced in batches, a torn last line tolerated),
 * summaries, and the results table in the paper's layout.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { passAtK as unbiasedPassAtK } from '@rlpt/grpo';
import type { FinishReason } from '@rlpt/spec';

/** Why a sample scored 0. */
export type SampleFailure = 'no-answer' | 'truncated' | 'wrong-answer';

/** One graded sample of an item. */
export interface SampleResult {
  /** The answer found in the completion; null when none (unanswered). */
  extracted: string | null;
  correct: boolean;
  finishReason: FinishReason;
  /** Set when the sample is wrong: `truncated` (hit max tokens), `no-answer`, or `wrong-answer`. */
  failure?: SampleFailure;
  /** The completion text (unless `saveCompletions` is off). */
  text?: string;
  /** Completion tokens, when the backend reports them. */
  tokens?: number;
}

/** One line of `<out>/<benchmark>/results.jsonl`. */
export interface ItemResult {
  benchmark: string;
  id: string;
  gold: string;
  /** Samples generated. */
  n: number;
  /** Correct samples. */
  correct: number;
  /** Samples without an extractable answer. */
  unanswered: number;
  /** Samples that hit the token limit. */
  truncated: number;
  /** Unbiased pass@k for each k ≤ n, keyed by k. */
  passAtK: Record<string, number>;
  samples: SampleResult[];
  /** Set when the backend failed for this item: it has no samples, is left out of the metrics, and is retried on the next run. */
  error?: { reason: 'backend-error'; message: string };
  /** Wall time of the generate call that produced this item. */
  seconds?: number;
}

/** Metrics of one benchmark. Rates are fractions in [0, 1]. */
export interface BenchmarkSummary {
  name: string;
  title: string;
  metric: 'pass@k' | 'accuracy';
  /** Items with samples (graded). */
  items: number;
  /** Items the backend failed on (not in the metrics). */
  errors: number;
  /** Items in the benchmark (after `limit`). */
  total: number;
  samples: number;
  /** Mean fraction of correct samples (= pass@1; the paper's accuracy). */
  accuracy: number;
  /** Mean unbiased pass@k over items, for every requested k that every item has at least k samples for. */
  passAtK: Record<string, number>;
  /** Share of samples with no extractable answer (garbage, no box/marker/number): counted as wrong. */
  unansweredRate: number;
  truncatedRate: number;
  /**
   * Metrics that could not be computed, with the reason, keyed `accuracy`, `pass@<k>`, `unanswered`,
   * `truncated` (e.g. `pass@8`: "needs ≥ 8 samples per item; ran n = 2"). Shown as n/a in the tables.
   */
  unavailable: Record<string, string>;
  /** Malformed source records skipped by the loader. */
  skippedRecords: number;
}

/** Appends JSON lines: one `write` per line, `fsync` every `fsyncEvery` lines and on close. */
export class JsonlAppender {
  private readonly fd: number;
  private pending = 0;

  private constructor(
    readonly file: string,
    private readonly fsyncEvery: number,
  ) {
    this.fd = openSync(file, 'a');
  }

  /**
   * Opens `file` for appending, first cutting a torn last line (a crash mid-write) so new lines start
   * clean. Returns how many bytes were cut.
   */
  static open(file: string, fsyncEvery = 32): { appender: JsonlAppender; repairedBytes: number } {
    let repairedBytes = 0;
    let text: Buffer | null = null;
    try {
      text = readFileSync(file);
    } catch {
      text = null;
    }
    if (text && text.length > 0 && text[text.length - 1] !== 0x0a) {
      const keep = text.lastIndexOf(0x0a) + 1;
      repairedBytes = text.length - keep;
      truncateSync(file, keep);
    }
    return { appender: new JsonlAppender(file, Math.max(1, fsyncEvery)), repairedBytes };
  }

  append(record: unknown): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    if (++this.pending >= this.fsyncEvery) this.flush();
  }

  flush(): void {
    if (this.pending === 0) return;
    fsyncSync(this.fd);
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Reads a results file; bad lines are returned by line number (the last may be torn by a crash). */
export function readItemResults(file: string): { results: ItemResult[]; badLines: number[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { results: [], badLines: [] };
  }
  const results: ItemResult[] = [];
  const badLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim().length === 0) return;
    try {
      const value = JSON.parse(line) as ItemResult;
      if (typeof value?.id !== 'string' || typeof value.n !== 'number') throw new Error('not an item result');
      results.push(value);
    } catch {
      badLines.push(index + 1);
    }
  });
  return { results, badLines };
}

/** Writes a file atomically: temp file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, content);
  const fd = openSync(temporary, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

/**
 * Summarises item results (the latest result per id; errored items counted apart). `ks`: the pass@k
 * values to report (default: those in the item results); a k above an item's sample count is n/a.
 */
export function summarize(
  benchmark: {
    name: string;
    title: string;
    metric: 'pass@k' | 'accuracy';
    total: number;
    skippedRecords?: number;
  },
  results: ItemResult[],
  ks?: number[],
): BenchmarkSummary {
  const latest = new Map<string, ItemResult>();
  for (const result of results) latest.set(result.id, result);
  const graded = [...latest.values()].filter((result) => !result.error && result.n > 0);
  const errors = [...latest.values()].filter((result) => result.error).length;
  const samples = graded.reduce((sum, result) => sum + result.n, 0);
  const mean = (values: number[]) =>
    values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : 0;
  const unavailable: Record<string, string> = {};
  const passAtK: Record<string, number> = {};
  const wanted = new Set<number>(ks ?? []);
  if (!ks) for (const result of graded) for (const k of Object.keys(result.passAtK)) wanted.add(Number(k));
  const fewest = graded.length ? Math.min(...graded.map((result) => result.n)) : 0;
  for (const k of [...wanted].sort((a, b) => a - b)) {
    if (graded.length === 0) continue;
    if (fewest < k) {
      unavailable[`pass@${k}`] = `needs ≥ ${k} samples per item; ran n = ${fewest}`;
      continue;
    }
    passAtK[String(k)] = mean(graded.map((result) => unbiasedPassAtK(result.n, result.correct, k)));
  }
  if (graded.length === 0) {
    const reason = errors
      ? `no graded items: the backend failed on ${errors} of ${benchmark.total}`
      : 'no graded items';
    unavailable.accuracy = reason;
    for (const k of wanted) unavailable[`pass@${k}`] = reason;
    unavailable.unanswered = reason;
    unavailable.truncated = reason;
  }
  return {
    name: benchmark.name,
    title: benchmark.title,
    metric: benchmark.metric,
    items: graded.length,
    errors,
    total: benchmark.total,
    samples,
    accuracy: mean(graded.map((result) => result.correct / result.n)),
    passAtK,
    unansweredRate: samples ? graded.reduce((sum, result) => sum + result.unanswered, 0) / samples : 0,
    truncatedRate: samples ? graded.reduce((sum, result) => sum + result.truncated, 0) / samples : 0,
    skippedRecords: benchmark.skippedRecords ?? 0,
    unavailable,
  };
}

/** The paper's Table 1 column order: general benchmarks (accuracy), then math (Pass@1, Pass@8). */
const PAPER_ORDER = [
  'mmlu',
  'mmlu-stem',
  'mmlu-pro',
  'gpqa-diamond',
  'supergpqa',
  'kor-bench',
  'olympiadbench',
  'math-500',
  'amc23',
  'minerva-math',
  'aime24',
  'aime25',
  'gsm8k',
];

const percent = (value: number) => (value * 100).toFixed(1);
const NA = 'n/a';

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((width) => '-'.repeat(Math.max(3, width))).join(' | ')} |`,
    ...rows.map(line),
  ].join('\n');
}

/**
 * Renders the results as Markdown: a one-row table in the paper's layout (accuracy for general benchmarks,
 * Pass@k columns for math ones, percentages), then a details table per benchmark.
 */
export function formatResultsMarkdown(model: string, summaries: BenchmarkSummary[], ks: number[]): string {
  const ordered = [...summaries].sort((a, b) => PAPER_ORDER.indexOf(a.name) - PAPER_ORDER.indexOf(b.name));
  const header = ['Model'];
  const row = [model];
  for (const summary of ordered) {
    const unavailable = summary.unavailable ?? {};
    if (summary.metric === 'accuracy') {
      header.push(summary.title);
      row.push(unavailable.accuracy ? NA : percent(summary.accuracy));
    } else {
      for (const k of ks) {
        const value = summary.passAtK[String(k)];
        header.push(`${summary.title} P@${k}`);
        row.push(value === undefined ? NA : percent(value));
      }
    }
  }
  const details = ordered.map((summary) => {
    const unavailable = summary.unavailable ?? {};
    const score =
      summary.metric === 'accuracy'
        ? `acc ${unavailable.accuracy ? NA : percent(summary.accuracy)}`
        : ks
            .map((k) => {
              const value = summary.passAtK[String(k)];
              return `P@${k} ${value === undefined ? NA : percent(value)}`;
            })
            .join(', ');
    return [
      summary.title,
      score,
      `${summary.items}/${summary.total}`,
      summary.items ? (summary.samples / summary.items).toFixed(0) : NA,
      unavailable.unanswered ? NA : percent(summary.unansweredRate),
      unavailable.truncated ? NA : percent(summary.truncatedRate),
      String(summary.errors),
      String(summary.skippedRecords),
    ];
  });
  // Every n/a with its reason, once per benchmark and reason.
  const notes = ordered.flatMap((summary) => {
    const byReason = new Map<string, string[]>();
    for (const [metric, reason] of Object.entries(summary.unavailable ?? {})) {
      if (summary.metric === 'accuracy' && metric.startsWith('pass@')) continue;
      byReason.set(reason, [...(byReason.get(reason) ?? []), metric]);
    }
    return [...byReason].map(
      ([reason, metrics]) => `- ${summary.title} ${metrics.join(', ')}: n/a (${reason})`,
    );
  });
  return [
    markdownTable(header, [row]),
    '',
    markdownTable(
      [
        'Benchmark',
        'Score (%)',
        'Items',
        'Samples/item',
        'Unanswered %',
        'Truncated %',
        'Errors',
        'Skipped records',
      ],
      details,
    ),
    '',
    ...(notes.length ? [...notes, ''] : []),
    'Unanswered: samples with no extractable answer (no box, answer marker or usable number; undecodable output included), all counted as wrong.',
    '',
  ].join('\n');
}
