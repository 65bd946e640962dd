import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { constants, createGunzip } from 'node:zlib';
import type { InputIssue } from './issues.js';

/** One line of a file: text without the line break, 1-based line number. */
export interface Line {
  kind: 'line';
  text: string;
  line: number;
}

/** Something wrong with the input, reported where it was found. */
export interface LineIssue {
  kind: 'issue';
  issue: InputIssue;
}

/** What {@link readLines} yields. */
export type LineEvent = Line | LineIssue;

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Lines longer than this many bytes are skipped without being held in memory. Default 8 MiB. */
  maxLineBytes?: number;
  /** `replace` (default): invalid UTF-8 becomes U+FFFD and the line is kept; `skip`: the line is dropped. */
  invalidUtf8?: 'replace' | 'skip';
  /** Label used in issues (default: the path). */
  label?: string;
  /** Read buffer size in bytes. Default 256 KiB. */
  chunkBytes?: number;
  signal?: AbortSignal;
  /** Called after each chunk with the bytes read from the file so far (compressed bytes for gzip). */
  onProgress?: (bytesRead: number) => void;
}

export const defaultMaxLineBytes = 8 * 1024 * 1024;

/** True when the file starts with the gzip magic bytes (checked on content, not on the extension). */
export async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(2);
    const { bytesRead } = await handle.read(header, 0, 2, 0);
    return bytesRead === 2 && header[0] === 0x1f && header[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** Human wording for a file-system error code. */
export function describeFsError(error: unknown): string {
  const code = errorCode(error);
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Streams the lines of a plain or gzip-compressed file (detected by its magic bytes) in batches, with
 * memory bounded by `maxLineBytes` and the chunk size whatever the file size. Never throws for bad input:
 * unreadable files, truncated or corrupt gzip streams, over-long lines, invalid UTF-8 and NUL bytes come
 * back as issues with the file and line, and reading goes on where it can.
 */
export async function* readLines(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<LineEvent[], void, undefined> {
  const label = options.label ?? path;
  const maxLineBytes = options.maxLineBytes ?? defaultMaxLineBytes;
  const invalidUtf8 = options.invalidUtf8 ?? 'replace';
  let gzip: boolean;
  try {
    gzip = await isGzipFile(path);
  } catch (error) {
    yield [
      {
        kind: 'issue',
        issue: {
          reason: 'unreadable-file',
          action: 'skipped',
          file: label,
          message: `cannot read ${label}: ${describeFsError(error)}; the file was skipped. Check the path and its permissions.`,
        },
      },
    ];
    return;
  }
  const fileStream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 256 * 1024 });
  const stream = gzip ? pipeline(fileStream, createGunzip(), () => {}) : fileStream;

  let lineNumber = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skippingBytes = -1; // ≥ 0 while discarding an over-long line
  let batch: LineEvent[] = [];

  const emitLine = (bytes: Buffer): void => {
    lineNumber++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    // A UTF-8 byte order mark starts some exported files; it is not text (and breaks JSON.parse).
    const bom = lineNumber === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    let view = bom ? bytes.subarray(3, end) : end === bytes.length ? bytes : bytes.subarray(0, end);
    if (view.includes(0)) {
      let count = 0;
      for (const byte of view) if (byte === 0) count++;
      view = Buffer.from(view.filter((byte) => byte !== 0));
      batch.push({
        kind: 'issue',
        issue: {
          reason: 'nul-bytes',
          action: 'repaired',
          file: label,
          line: lineNumber,
          count,
          message: `${label}:${lineNumber}: ${count} NUL byte(s) removed; the line was kept.`,
        },
      });
    }
    if (!isUtf8(view)) {
      if (invalidUtf8 === 'skip') {
        batch.push({
          kind: 'issue',
          issue: {
            reason: 'invalid-utf8',
            action: 'skipped',
            file: label,
            line: lineNumber,
            message: `${label}:${lineNumber}: invalid UTF-8; the line was skipped (invalidUtf8: 'skip'). Re-encode the file as UTF-8.`,
          },
        });
        return;
      }
      batch.push({
        kind: 'issue',
        issue: {
          reason: 'invalid-utf8',
          action: 'repaired',
          file: label,
          line: lineNumber,
          message: `${label}:${lineNumber}: invalid UTF-8 replaced by U+FFFD; the line was kept. Re-encode the file as UTF-8 to avoid this.`,
        },
      });
    }
    batch.push({ kind: 'line', text: view.toString('utf8'), line: lineNumber });
  };

  const reportLongLine = (bytes: number): void => {
    lineNumber++;
    batch.push({
      kind: 'issue',
      issue: {
        reason: 'line-too-long',
        action: 'skipped',
        file: label,
        line: lineNumber,
        message: `${label}:${lineNumber}: line of ${bytes} bytes exceeds maxLineBytes (${maxLineBytes}); it was skipped without being loaded. Raise maxLineBytes to keep it.`,
      },
    });
  };

  // Decoded bytes handed to `take` so far (a truncated gzip stream is re-read from this offset).
  let consumed = 0;
  /** Cuts a chunk of decoded bytes into lines. */
  const take = (chunk: Buffer): void => {
    consumed += chunk.length;
    let position = 0;
    while (position < chunk.length) {
      const newline = chunk.indexOf(0x0a, position);
      const end = newline === -1 ? chunk.length : newline;
      if (skippingBytes >= 0) {
        skippingBytes += end - position;
        if (newline !== -1) {
          reportLongLine(skippingBytes);
          skippingBytes = -1;
        }
      } else if (pendingBytes + (end - position) > maxLineBytes) {
        skippingBytes = pendingBytes + (end - position);
        pending = [];
        pendingBytes = 0;
        if (newline !== -1) {
          reportLongLine(skippingBytes);
          skippingBytes = -1;
        }
      } else if (newline === -1) {
        pending.push(chunk.subarray(position));
        pendingBytes += chunk.length - position;
      } else if (pendingBytes > 0) {
        pending.push(chunk.subarray(position, end));
        emitLine(Buffer.concat(pending, pendingBytes + (end - position)));
        pending = [];
        pendingBytes = 0;
      } else {
        emitLine(chunk.subarray(position, end));
      }
      position = newline === -1 ? chunk.length : newline + 1;
    }
  };

  let failure: unknown;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (options.signal?.aborted) break;
      take(chunk);
      options.onProgress?.(fileStream.bytesRead);
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined) {
    const code = errorCode(failure);
    const truncated = code === 'Z_BUF_ERROR' || (gzip && /unexpected end of file/i.test(String(failure)));
    if (truncated) {
      // The stream error can arrive while decoded data is still buffered (a slow reader loses it): decode the
      // file again, flushing what a truncated stream holds (as zcat does), and go on after what was read.
      let skip = consumed;
      const recovery = pipeline(
        createReadStream(path, { highWaterMark: options.chunkBytes ?? 256 * 1024 }),
        createGunzip({ finishFlush: constants.Z_SYNC_FLUSH }),
        () => {},
      );
      try {
        for await (const chunk of recovery as AsyncIterable<Buffer>) {
          if (options.signal?.aborted) break;
          if (skip >= chunk.length) {
            skip -= chunk.length;
            continue;
          }
          take(skip > 0 ? chunk.subarray(skip) : chunk);
          skip = 0;
          if (batch.length > 0) {
            yield batch;
            batch = [];
          }
        }
      } catch {
        // Nothing more can be decoded; report the truncation with what was read.
      }
    }
    const lost = pendingBytes > 0 || skippingBytes >= 0 ? ' the incomplete last line was dropped;' : '';
    let issue: InputIssue;
    if (truncated) {
      issue = {
        reason: 'truncated-gzip',
        action: 'skipped',
        file: label,
        line: lineNumber + 1,
        message: `${label}: gzip stream is truncated after line ${lineNumber};${lost} lines 1–${lineNumber} were read. Re-download or re-compress the file.`,
      };
    } else if (code?.startsWith('Z_')) {
      issue = {
        reason: 'corrupt-gzip',
        action: 'skipped',
        file: label,
        line: lineNumber + 1,
        message: `${label}: gzip data is corrupt after line ${lineNumber} (${describeFsError(failure)});${lost} the rest of the file was skipped.`,
      };
    } else {
      issue = {
        reason: lineNumber === 0 ? 'unreadable-file' : 'read-error',
        action: 'skipped',
        file: label,
        line: lineNumber + 1,
        message: `cannot read ${label} after line ${lineNumber}: ${describeFsError(failure)};${lost} the rest of the file was skipped.`,
      };
    }
    batch.push({ kind: 'issue', issue });
    yield batch;
    return;
  }
  if (skippingBytes >= 0) reportLongLine(skippingBytes);
  else if (pendingBytes > 0) emitLine(Buffer.concat(pending, pendingBytes));
  if (batch.length > 0) yield batch;
}
