import { basename } from 'node:path';
import { InvalidArgumentError } from '@rlpt/spec';
import { combine32, murmur32 } from './hash.js';
import { HashTable64 } from './hash-table.js';
import { readLines } from './io/lines.js';
import { detectFormat } from './io/documents.js';
import type { InputIssue } from './io/issues.js';
import { words } from './minhash.js';

/** Options of {@link loadBenchmarks}. */
export interface DecontaminationOptions {
  /** N-gram length in words. Default 13. */
  ngram?: number;
  /**
   * Fields whose text is checked (dotted paths). Default: every string field and every string inside an
   * array field of each record — metadata such as ids and URLs is too short to produce an n-gram anyway.
   */
  fields?: string[];
  /** Minimum distinct benchmark n-grams a document must contain to count as contaminated. Default 1. */
  minMatches?: number;
}

/** What was loaded from one benchmark file. */
export interface BenchmarkSummary {
  /** Benchmark name: the file name without extensions (`gsm8k.jsonl` → `gsm8k`). */
  name: string;
  file: string;
  records: number;
  /** Distinct n-grams indexed. */
  ngrams: number;
  /** Text fields shorter than the n-gram length (they cannot be matched). */
  shortTexts: number;
}

/** Where one document overlaps benchmarks. */
export interface ContaminationMatch {
  /** Bit `i` set when benchmark `i` matched (at least `minMatches` n-grams). */
  mask: number;
  /** Distinct matching n-grams per matched benchmark index. */
  counts: Record<number, number>;
  /** The first matching n-gram per benchmark index, as words. */
  examples: Record<number, string>;
}

const maxBenchmarks = 32;

function ngramKey(hashes: Uint32Array, start: number, length: number): [number, number] {
  let hi = 0x243f6a88;
  let lo = 0x85a308d3;
  for (let offset = 0; offset < length; offset++) {
    const value = hashes[start + offset]!;
    hi = combine32(hi, value);
    lo = combine32(lo ^ 0x13198a2e, value);
  }
  return [hi, lo];
}

function wordHashes(text: string): { tokens: string[]; hashes: Uint32Array } {
  const tokens = words(text);
  const hashes = new Uint32Array(tokens.length);
  for (let index = 0; index < tokens.length; index++) hashes[index] = murmur32(tokens[index]!, 0xdec0);
  return { tokens, hashes };
}

/** Extracts the texts of a benchmark record: the named fields, or every string (and string in an array). */
export function benchmarkTexts(record: unknown, fields?: string[]): string[] {
  const texts: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) for (const item of value) collect(item);
    else if (typeof value === 'object' && value !== null && !fields) {
      for (const item of Object.values(value)) collect(item);
    }
  };
  if (fields) {
    for (const field of fields) {
      let current: unknown = record;
      for (const key of field.split('.')) {
        current =
          typeof current === 'object' && current !== null
            ? (current as Record<string, unknown>)[key]
            : undefined;
      }
      collect(current);
    }
  } else {
    collect(record);
  }
  return texts;
}

/**
 * An n-gram index over benchmark texts: 64-bit n-gram hashes → bitmask of the benchmarks containing them.
 * Shareable with workers through {@link ContaminationIndex.toShared}.
 */
export class ContaminationIndex {
  constructor(
    readonly table: HashTable64,
    readonly benchmarks: string[],
    readonly ngram: number,
    readonly minMatches = 1,
  ) {}

  /** Adds the n-grams of one benchmark text; returns false when it is shorter than the n-gram. */
  addText(text: string, benchmark: number): boolean {
    const { hashes } = wordHashes(text);
    if (hashes.length < this.ngram) return false;
    for (let start = 0; start + this.ngram <= hashes.length; start++) {
      const [hi, lo] = ngramKey(hashes, start, this.ngram);
      this.table.set(hi, lo, 1 << benchmark, true);
    }
    return true;
  }

  /** Which benchmarks `text` overlaps, or undefined when none reaches `minMatches`. */
  match(text: string): ContaminationMatch | undefined {
    if (this.table.size === 0) return undefined;
    const { tokens, hashes } = wordHashes(text);
    const counts: Record<number, number> = {};
    const examples: Record<number, string> = {};
    const seen = new HashTable64(64);
    for (let start = 0; start + this.ngram <= hashes.length; start++) {
      const [hi, lo] = ngramKey(hashes, start, this.ngram);
      const mask = this.table.get(hi, lo);
      if (mask === undefined || !seen.set(hi, lo)) continue;
      for (let benchmark = 0; benchmark < this.benchmarks.length; benchmark++) {
        if ((mask & (1 << benchmark)) === 0) continue;
        counts[benchmark] = (counts[benchmark] ?? 0) + 1;
        examples[benchmark] ??= tokens.slice(start, start + this.ngram).join(' ');
      }
    }
    let mask = 0;
    for (const [benchmark, count] of Object.entries(counts)) {
      if (count >= this.minMatches) mask |= 1 << Number(benchmark);
    }
    if (mask === 0) return undefined;
    return { mask: mask >>> 0, counts, examples };
  }

  /** The index as plain data backed by a SharedArrayBuffer (zero-copy for worker threads). */
  toShared(): SharedContaminationIndex {
    const data = this.table.serialize();
    const shared = new Uint32Array(new SharedArrayBuffer(data.byteLength));
    shared.set(data);
    return { table: shared, benchmarks: this.benchmarks, ngram: this.ngram, minMatches: this.minMatches };
  }

  static fromShared(shared: SharedContaminationIndex): ContaminationIndex {
    return new ContaminationIndex(
      HashTable64.deserialize(shared.table),
      shared.benchmarks,
      shared.ngram,
      shared.minMatches,
    );
  }
}

/** Structured-clone-friendly form of a {@link ContaminationIndex}. */
export interface SharedContaminationIndex {
  table: Uint32Array;
  benchmarks: string[];
  ngram: number;
  minMatches: number;
}

/** Benchmark name of a file: its base name without `.gz` and the format extension. */
export function benchmarkName(path: string): string {
  return basename(path)
    .replace(/\.gz$/i, '')
    .replace(/\.(jsonl|ndjson|json|parquet|txt|csv)$/i, '');
}

/**
 * Reads benchmark files (JSONL — optionally gzip-compressed —, Parquet, or plain text, one item per line)
 * into an n-gram index. Malformed lines are reported as issues, not thrown. Throws
 * `InvalidArgumentError` for more than 32 benchmarks or a bad n-gram length.
 */
export async function loadBenchmarks(
  files: string[],
  options: DecontaminationOptions = {},
): Promise<{ index: ContaminationIndex; benchmarks: BenchmarkSummary[]; issues: InputIssue[] }> {
  const ngram = options.ngram ?? 13;
  if (!Number.isInteger(ngram) || ngram < 1) {
    throw new InvalidArgumentError({
      argument: 'ngram',
      message: `ngram must be a positive integer, got ${ngram}.`,
    });
  }
  if (files.length > maxBenchmarks) {
    throw new InvalidArgumentError({
      argument: 'benchmarks',
      message: `at most ${maxBenchmarks} benchmark files are supported, got ${files.length}; merge some of them.`,
    });
  }
  const index = new ContaminationIndex(new HashTable64(1 << 16), [], ngram, options.minMatches ?? 1);
  const summaries: BenchmarkSummary[] = [];
  const issues: InputIssue[] = [];
  for (const [position, file] of files.entries()) {
    let name = benchmarkName(file);
    if (index.benchmarks.includes(name)) name = `${name}#${position + 1}`;
    index.benchmarks.push(name);
    const summary: BenchmarkSummary = { name, file, records: 0, ngrams: 0, shortTexts: 0 };
    const addRecord = (record: unknown): void => {
      summary.records++;
      for (const text of benchmarkTexts(record, options.fields)) {
        if (!index.addText(text, position)) summary.shortTexts++;
      }
    };
    const format = detectFormat(file);
    if (format === 'parquet') {
      const { readParquetRecords } = await import('./io/parquet.js');
      for await (const batch of readParquetRecords({ path: file, label: file })) {
        for (const item of batch) {
          if (item.kind === 'issue') issues.push(item.issue);
          else addRecord(item.record);
        }
      }
    } else {
      for await (const batch of readLines(file, { label: file })) {
        for (const event of batch) {
          if (event.kind === 'issue') {
            issues.push(event.issue);
            continue;
          }
          if (event.text.trim() === '') continue;
          if (format === 'text') {
            addRecord(event.text);
            continue;
          }
          try {
            addRecord(JSON.parse(event.text));
          } catch (error) {
            issues.push({
              reason: 'malformed-json',
              action: 'skipped',
              file,
              line: event.line,
              message: `${file}:${event.line}: malformed JSON in benchmark (${error instanceof Error ? error.message : String(error)}); the line was skipped.`,
            });
          }
        }
      }
    }
    summaries.push(summary);
  }
  index.table.forEachValue((mask) => {
    for (const [position, summary] of summaries.entries()) if (mask & (1 << position)) summary.ngrams++;
  });
  return { index, benchmarks: summaries, issues };
}
