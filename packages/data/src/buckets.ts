import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLines } from './io/lines.js';

/** The two output splits. */
export const splits = ['train', 'validation'] as const;
export type Split = (typeof splits)[number];

function bucketName(split: Split, bucket: number): string {
  return `${split}-${String(bucket).padStart(3, '0')}.tsv`;
}

function bucketFile(directory: string, split: Split, bucket: number): string {
  return join(directory, bucketName(split, bucket));
}

/**
 * Append-only bucket files for the external shuffle: each sample line (`${sortKey}\t${json}`) goes to the
 * bucket its key's first byte selects, so concatenating the sorted buckets gives all samples in key order
 * without ever holding them all in memory. Sizes are recorded at checkpoints; on resume each file is cut
 * back to its checkpointed size, discarding writes that had no checkpoint.
 */
export class BucketStore {
  private readonly fds = new Map<string, number>();
  private readonly buffers = new Map<string, Uint8Array[]>();
  private readonly bytes = new Map<string, number>();
  private buffered = 0;

  constructor(
    readonly directory: string,
    readonly buckets: number,
    sizes: Record<string, number> = {},
  ) {
    for (const split of splits) {
      for (let bucket = 0; bucket < buckets; bucket++) {
        const name = bucketName(split, bucket);
        const fd = openSync(join(directory, name), 'a+');
        const size = sizes[name] ?? 0;
        if (statSync(join(directory, name)).size !== size) ftruncateSync(fd, size);
        this.fds.set(name, fd);
        this.buffers.set(name, []);
        this.bytes.set(name, size);
      }
    }
  }

  /** Appends UTF-8 bytes (whole lines) to a bucket. */
  append(split: Split, bucket: number, bytes: Uint8Array): void {
    const file = bucketName(split, bucket);
    this.buffers.get(file)!.push(bytes);
    this.bytes.set(file, (this.bytes.get(file) ?? 0) + bytes.byteLength);
    this.buffered += bytes.byteLength;
    if (this.buffered >= 8 * 1024 * 1024) this.flush();
  }

  /** Writes buffered lines to the files. */
  flush(): void {
    for (const [file, buffer] of this.buffers) {
      if (buffer.length === 0) continue;
      writeFileSync(this.fds.get(file)!, Buffer.concat(buffer));
      buffer.length = 0;
    }
    this.buffered = 0;
  }

  /** Bytes per bucket file name (after {@link flush}, what is on disk). */
  sizes(): Record<string, number> {
    return Object.fromEntries(this.bytes);
  }

  close(): void {
    this.flush();
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/**
 * Yields the records of one split in global sort-key order, one sorted bucket at a time, as the bytes of
 * each line after its key (the sample's JSON, without the newline). Lines are sorted by their fixed-width
 * ASCII key without decoding the JSON. A bucket larger than `maxBucketBytes` is first partitioned by the
 * next hex digit of the key (streaming), so memory stays bounded by `maxBucketBytes` whatever the corpus.
 */
export async function* sortedRecords(
  directory: string,
  split: Split,
  buckets: number,
  maxBucketBytes: number,
): AsyncGenerator<Buffer[], void, undefined> {
  for (let bucket = 0; bucket < buckets; bucket++) {
    yield* sortFile(bucketFile(directory, split, bucket), 2, maxBucketBytes);
  }
}

/** Sorts the lines of a buffer by the key before their first tab; returns the parts after the tab. */
export function sortBucketBytes(data: Buffer): Buffer[] {
  const lines: { key: string; start: number; end: number }[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    const tab = data.indexOf(0x09, start);
    if (tab !== -1 && tab < end)
      lines.push({ key: data.toString('latin1', start, tab), start: tab + 1, end });
    start = end + 1;
  }
  lines.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return lines.map((line) => data.subarray(line.start, line.end));
}

async function* sortFile(
  file: string,
  depth: number,
  maxBytes: number,
): AsyncGenerator<Buffer[], void, undefined> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return;
  }
  if (size === 0) return;
  if (size <= maxBytes || depth >= 16) {
    yield sortBucketBytes(readFileSync(file));
    return;
  }
  const parts = Array.from({ length: 16 }, (_, digit) => `${file}.${digit.toString(16)}`);
  const fds = parts.map((part) => openSync(part, 'w'));
  try {
    for await (const batch of readLines(file, { maxLineBytes: Number.MAX_SAFE_INTEGER })) {
      const pending: string[][] = parts.map(() => []);
      for (const event of batch) {
        if (event.kind !== 'line') continue;
        pending[Number.parseInt(event.text[depth] ?? '0', 16)]!.push(event.text, '\n');
      }
      for (const [digit, lines] of pending.entries()) {
        if (lines.length > 0) writeFileSync(fds[digit]!, lines.join(''));
      }
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  for (const part of parts) {
    yield* sortFile(part, depth + 1, maxBytes);
    rmSync(part, { force: true });
  }
}
