import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { InputFile } from './documents.js';
import type { InputIssue } from './issues.js';
import { describeFsError } from './lines.js';

/** What {@link readParquetRecords} yields: a row (1-based `row`), or a problem with the file. */
export type ParquetRecordEvent =
  | { kind: 'record'; record: Record<string, unknown>; row: number }
  | { kind: 'issue'; issue: InputIssue };

/**
 * Streams the rows of a Parquet file one row group at a time (memory bounded by the largest row group),
 * reading only the columns named by `fields` (top-level names of dotted paths). Rows are numbered from 1.
 */
export async function* readParquetRecords(
  file: InputFile,
  options: { fields?: string[]; signal?: AbortSignal } = {},
): AsyncGenerator<ParquetRecordEvent[], void, undefined> {
  const issue = (reason: InputIssue['reason'], message: string, row?: number): ParquetRecordEvent[] => [
    {
      kind: 'issue',
      issue: {
        reason,
        action: 'skipped',
        file: file.label,
        ...(row === undefined ? {} : { line: row }),
        message,
      },
    },
  ];
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    buffer = await asyncBufferFromFile(file.path);
  } catch (error) {
    yield issue(
      'unreadable-file',
      `cannot read ${file.label}: ${describeFsError(error)}; the file was skipped. Check the path and its permissions.`,
    );
    return;
  }
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    yield issue(
      'invalid-parquet',
      `${file.label}: not a readable Parquet file (${error instanceof Error ? error.message : String(error)}); the file was skipped.`,
    );
    return;
  }
  const available = parquetSchema(metadata).children.map((child) => child.element.name);
  const wanted = [...new Set((options.fields ?? []).map((field) => field.split('.')[0] ?? field))];
  const columns = wanted.filter((name) => available.includes(name));
  const first = (options.fields ?? [])[0];
  if (first !== undefined && !available.includes(first.split('.')[0] ?? first)) {
    yield issue(
      'missing-field',
      `${file.label}: no '${first}' column (columns: ${available.join(', ')}); the file was skipped. Set textField to the column holding the text.`,
    );
    return;
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    if (options.signal?.aborted) return;
    const rowEnd = rowStart + Number(group.num_rows);
    try {
      const rows = (await parquetReadObjects({
        file: buffer,
        metadata,
        columns: columns.length > 0 ? columns : undefined,
        rowStart,
        rowEnd,
      })) as Record<string, unknown>[];
      yield rows.map((record, offset) => ({ kind: 'record', record, row: rowStart + offset + 1 }));
    } catch (error) {
      yield issue(
        'invalid-parquet',
        `${file.label}: rows ${rowStart + 1}–${rowEnd} could not be decoded (${error instanceof Error ? error.message : String(error)}); that row group was skipped.`,
        rowStart + 1,
      );
    }
    rowStart = rowEnd;
  }
}
