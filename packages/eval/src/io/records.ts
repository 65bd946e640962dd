/**
 * Reads benchmark files as their publishers distribute them: JSONL, JSON (an array, or an object holding
 * one), CSV (RFC 4180, with or without a header) and Parquet (hyparquet). Bad records are reported with
 * file and line and skipped, never fatal.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError } from '@rlpt/spec';

/** One record and where it came from. */
export interface SourceRecord {
  record: Record<string, unknown>;
  file: string;
  /** 1-based line (JSONL, CSV) or row index + 1 (JSON, Parquet). */
  line: number;
}

export interface ReadResult {
  records: SourceRecord[];
  /** Records that could not be read (bad JSON line, ragged CSV row), with where they are. */
  problems: InvalidInputError[];
}

export interface ReadOptions {
  /** CSV column names when the file has no header row (MMLU's `question,A,B,C,D,answer`). */
  csvColumns?: string[];
  /** Decides whether the first CSV row is a header. Default: every cell is non-empty and not numeric. */
  csvHasHeader?: (firstRow: string[]) => boolean;
}

export const SUPPORTED_EXTENSIONS = ['.jsonl', '.json', '.csv', '.parquet'] as const;

/** Reads one file; the format comes from the extension. */
export async function readRecordFile(file: string, options: ReadOptions = {}): Promise<ReadResult> {
  const extension = path.extname(file).toLowerCase();
  switch (extension) {
    case '.jsonl':
      return readJsonl(file);
    case '.json':
      return readJson(file);
    case '.csv':
      return readCsv(file, options);
    case '.parquet':
      return readParquet(file);
    default:
      throw new InvalidInputError({
        reason: 'unsupported-format',
        message: `${file}: unsupported benchmark file type '${extension || '(none)'}'. Use one of ${SUPPORTED_EXTENSIONS.join(', ')}.`,
        location: { file },
      });
  }
}

/** Every supported file under `directory` (recursively, depth ≤ 4), sorted by path. */
export async function listRecordFiles(directory: string, depth = 0): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory() && depth < 4) files.push(...(await listRecordFiles(full, depth + 1)));
    else if (
      entry.isFile() &&
      (SUPPORTED_EXTENSIONS as readonly string[]).includes(path.extname(entry.name).toLowerCase())
    )
      files.push(full);
  }
  return files;
}

export async function isDirectory(target: string): Promise<boolean> {
  try {
    return (await stat(target)).isDirectory();
  } catch {
    return false;
  }
}

export async function exists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch {
    return false;
  }
}

async function readText(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (error) {
    throw new InvalidInputError({
      reason: 'unreadable-file',
      message: `${file}: cannot read the benchmark file (${(error as Error).message}).`,
      location: { file },
      cause: error,
    });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readJsonl(file: string): Promise<ReadResult> {
  const text = await readText(file);
  const records: SourceRecord[] = [];
  const problems: InvalidInputError[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line.length === 0) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (!isRecord(value)) throw new Error('expected a JSON object');
      records.push({ record: value, file, line: index + 1 });
    } catch (error) {
      problems.push(
        new InvalidInputError({
          reason: 'bad-json',
          message: `${file}:${index + 1}: not a JSON object (${(error as Error).message}); the line is skipped.`,
          location: { file, line: index + 1 },
          cause: error,
        }),
      );
    }
  }
  return { records, problems };
}

async function readJson(file: string): Promise<ReadResult> {
  const text = await readText(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Some "JSON" files are JSON Lines.
    if (text.trimStart().startsWith('{') && text.includes('\n{')) return readJsonl(file);
    throw new InvalidInputError({
      reason: 'bad-json',
      message: `${file}: not valid JSON (${(error as Error).message}).`,
      location: { file },
      cause: error,
    });
  }
  let rows: unknown[] | null = Array.isArray(value) ? value : null;
  if (!rows && isRecord(value)) {
    // {"data": [...]}, {"test": [...]}, or a map of id → record.
    const arrays = Object.values(value).filter(Array.isArray);
    if (arrays.length === 1) rows = arrays[0] as unknown[];
    else if (Object.values(value).every(isRecord))
      rows = Object.entries(value).map(([id, record]) => ({ id, ...(record as Record<string, unknown>) }));
  }
  if (!rows) {
    throw new InvalidInputError({
      reason: 'bad-json-shape',
      message: `${file}: expected a JSON array of records (or an object holding one array).`,
      location: { file },
    });
  }
  const records: SourceRecord[] = [];
  const problems: InvalidInputError[] = [];
  rows.forEach((row, index) => {
    if (isRecord(row)) records.push({ record: row, file, line: index + 1 });
    else
      problems.push(
        new InvalidInputError({
          reason: 'bad-record',
          message: `${file}: record ${index + 1} is not an object; skipped.`,
          location: { file, line: index + 1 },
        }),
      );
  });
  return { records, problems };
}

/** RFC 4180 CSV: quoted fields, doubled quotes, newlines inside quotes, CRLF. Returns rows with their start line. */
export function parseCsv(text: string): { cells: string[]; line: number }[] {
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index++;
        } else quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
      continue;
    }
    if (char === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (char === ',') {
      cells.push(field);
      field = '';
      fieldStarted = false;
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index++;
      cells.push(field);
      if (cells.length > 1 || cells[0] !== '') rows.push({ cells, line: rowLine });
      cells = [];
      field = '';
      fieldStarted = false;
      line++;
      rowLine = line;
    } else {
      field += char;
      fieldStarted = true;
    }
  }
  if (field.length > 0 || cells.length > 0) {
    cells.push(field);
    rows.push({ cells, line: rowLine });
  }
  return rows;
}

function defaultHasHeader(first: string[]): boolean {
  return first.every(
    (cell) => cell.trim().length > 0 && cell.length < 80 && !/^-?[0-9.]+$/.test(cell.trim()),
  );
}

async function readCsv(file: string, options: ReadOptions): Promise<ReadResult> {
  const rows = parseCsv(await readText(file));
  const records: SourceRecord[] = [];
  const problems: InvalidInputError[] = [];
  if (rows.length === 0) return { records, problems };
  const hasHeader = (options.csvHasHeader ?? defaultHasHeader)(rows[0]!.cells);
  const columns = hasHeader ? rows[0]!.cells.map((cell) => cell.trim()) : options.csvColumns;
  if (!columns) {
    throw new InvalidInputError({
      reason: 'csv-no-header',
      message: `${file}: the CSV file has no header row and this benchmark has no default columns.`,
      location: { file, line: 1 },
    });
  }
  for (const row of rows.slice(hasHeader ? 1 : 0)) {
    if (row.cells.length !== columns.length) {
      problems.push(
        new InvalidInputError({
          reason: 'csv-ragged-row',
          message: `${file}:${row.line}: ${row.cells.length} cells where the header has ${columns.length}; the row is skipped.`,
          location: { file, line: row.line },
        }),
      );
      continue;
    }
    const record: Record<string, unknown> = {};
    columns.forEach((column, index) => {
      record[column] = row.cells[index];
    });
    records.push({ record, file, line: row.line });
  }
  return { records, problems };
}

async function readParquet(file: string): Promise<ReadResult> {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Record<string, unknown>[];
  } catch (error) {
    throw new InvalidInputError({
      reason: 'bad-parquet',
      message: `${file}: cannot read the Parquet file (${(error as Error).message}). zstd/brotli-compressed files need a re-export with snappy or no compression.`,
      location: { file },
      cause: error,
    });
  }
  return {
    records: rows.map((record, index) => ({
      record: plain(record) as Record<string, unknown>,
      file,
      line: index + 1,
    })),
    problems: [],
  };
}

/** Parquet values may be BigInt or typed arrays; benchmarks want plain JSON values. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  return value;
}
