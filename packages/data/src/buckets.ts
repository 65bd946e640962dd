import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { readLines } from './io/lines.js';
import { writeAll } from './io/write.js';
import { type ExportSettings, openrlhfLine } from './writers.js';

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
  private readonly buffers = new Map<string, Uint8Array[]>();
  private readonly bytes = new Map<string, number>();
  private buffered = 0;

  constructor(
    readonly directory: string,
    readonly buckets: number,
    sizes: Record<string, number> = {},
  ) {
    // Files are opened only while flushing (256 buckets × 2 splits would be many descriptors).
    for (const name of readdirSync(directory)) {
      const size = sizes[name] ?? 0;
      if (size === 0) rmSync(join(directory, name), { force: true });
      else if (statSync(join(directory, name)).size !== size) truncateSync(join(directory, name), size);
    }
    for (const [name, size] of Object.entries(sizes)) if (size > 0) this.bytes.set(name, size);
  }

  /** Appends UTF-8 bytes (whole lines) to a bucket. */
  append(split: Split, bucket: number, bytes: Uint8Array): void {
    const file = bucketName(split, bucket);
    let buffer = this.buffers.get(file);
    if (!buffer) {
      buffer = [];
      this.buffers.set(file, buffer);
    }
    buffer.push(bytes);
    this.bytes.set(file, (this.bytes.get(file) ?? 0) + bytes.byteLength);
    this.buffered += bytes.byteLength;
    if (this.buffered >= 8 * 1024 * 1024) this.flush();
  }

  /** Writes buffered lines to the files. */
  flush(): void {
    for (const [file, buffer] of this.buffers) {
      if (buffer.length === 0) continue;
      const fd = openSync(join(this.directory, file), 'a');
      try {
        writeAll(fd, buffer);
      } finally {
        closeSync(fd);
      }
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
  }
}

/** One bucket's samples in key order, encoded as the JSONL outputs write them. */
export interface SortedBucket {
  /** `samples`-format lines (the sample JSON and a newline), in key order. */
  samples: Uint8Array;
  /** End offset (after the newline) of each line of `samples`. */
  ends: Int32Array;
  /** The OpenRLHF lines of the same samples, in the same order, when asked for. */
  openrlhf?: Uint8Array;
  openrlhfEnds?: Int32Array;
}

/**
 * Sorts one bucket file by the fixed-width ASCII keys before each tab, without decoding the JSON after it,
 * and returns the JSON lines in that order (and their OpenRLHF lines, which needs parsing, when
 * `openrlhf` settings are given). Runs on worker threads during the finalize phase.
 */
export function sortBucketFile(file: string, openrlhf?: ExportSettings): SortedBucket {
  const data = readFileSync(file);
  const lines: { key: string; start: number; end: number }[] = [];
  let start = 0;
  let bytes = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end === -1) end = data.length;
    const tab = data.indexOf(0x09, start);
    if (tab !== -1 && tab < end) {
      lines.push({ key: data.toString('latin1', start, tab), start: tab + 1, end });
      bytes += end - tab;
    }
    start = end + 1;
  }
  lines.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const samples = new Uint8Array(bytes);
  const ends = new Int32Array(lines.length);
  let offset = 0;
  for (const [index, line] of lines.entries()) {
    samples.set(data.subarray(line.start, line.end), offset);
    offset += line.end - line.start;
    samples[offset++] = 0x0a;
    ends[index] = offset;
  }
  const sorted: SortedBucket = { samples, ends };
  if (openrlhf) {
    const decoder = new TextDecoder();
    const encoded = lines.map((line) =>
      Buffer.from(
        `${openrlhfLine(JSON.parse(decoder.decode(data.subarray(line.start, line.end))), openrlhf)}\n`,
      ),
    );
    const openrlhfEnds = new Int32Array(lines.length);
    let total = 0;
    for (const [index, line] of encoded.entries()) {
      total += line.length;
      openrlhfEnds[index] = total;
    }
    sorted.openrlhf = Buffer.concat(encoded, total);
    sorted.openrlhfEnds = openrlhfEnds;
  }
  return sorted;
}

/**
 * The bucket files of one split in key order, each small enough to sort in memory: a bucket larger than
 * `maxBucketBytes` is first partitioned (streaming) by the first hex digit of its keys that varies inside
 * it, into temporary files, recursively (each part is a contiguous key range, so order is kept). So memory stays bounded by `maxBucketBytes` whatever the corpus size. The caller removes
 * `temporary` files once it has used them.
 */
export async function* leafBucketFiles(
  directory: string,
  split: Split,
  buckets: number,
  maxBucketBytes: number,
): AsyncGenerator<{ file: string; temporary: boolean }, void, undefined> {
  // Bucket b holds the keys whose first byte is in [b·256/B, (b+1)·256/B): with B = 2^k buckets the
  // first ⌊k/4⌋ hex digits are the same for the whole bucket, so partitioning starts at the next one.
  const fixedDigits = Math.floor(Math.log2(buckets) / 4);
  for (let bucket = 0; bucket < buckets; bucket++) {
    yield* leaves(bucketFile(directory, split, bucket), fixedDigits, maxBucketBytes, false);
  }
}

async function* leaves(
  file: string,
  depth: number,
  maxBytes: number,
  temporary: boolean,
): AsyncGenerator<{ file: string; temporary: boolean }, void, undefined> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return;
  }
  if (size === 0) {
    if (temporary) rmSync(file, { force: true });
    return;
  }
  if (size <= maxBytes || depth >= 16) {
    yield { file, temporary };
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
  if (temporary) rmSync(file, { force: true });
  for (const part of parts) yield* leaves(part, depth + 1, maxBytes, true);
}
