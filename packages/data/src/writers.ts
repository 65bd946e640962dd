import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { snappyCompressor } from 'hysnappy';
import type { Split } from './buckets.js';
import { writeAll } from './io/write.js';
import type { OutputFormat } from './options.js';
import type { PreparedSample } from './process.js';

/** A finished output shard. */
export interface ShardInfo {
  format: OutputFormat;
  split: Split;
  index: number;
  /** Path relative to the output folder, e.g. `verl/train-00000.parquet`. */
  file: string;
  rows: number;
  bytes: number;
}

/** Settings of the verl and OpenRLHF exports. */
export interface ExportSettings {
  /** verl `data_source` (selects the reward function). Default `rlpt`. */
  dataSource: string;
  /** verl `ability`. Default `next-segment-reasoning`. */
  ability: string;
  /** OpenRLHF `--data.input_key`. Default `input`. */
  inputKey: string;
  /** OpenRLHF `--data.label_key`. Default `label`. */
  labelKey: string;
  /** System message for the verl chat messages. */
  system?: string;
}

/**
 * The reward label of a sample as a JSON string: `{"reference", "target", "task", "id"}` — the shape
 * `@rlpt/reward` parses (`parseRewardLabel`), used for the OpenRLHF label column and verl's
 * `reward_model.ground_truth`.
 */
export function rewardLabel(sample: PreparedSample): string {
  return JSON.stringify({
    reference: sample.reference,
    target: sample.target,
    task: sample.task,
    id: sample.id,
  });
}

const utf8 = (name: string): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  repetition_type: 'OPTIONAL',
});

/**
 * The Parquet schema of verl RL datasets (`docs/preparation/prepare_data.rst`): `data_source`, `prompt` (a
 * list of `{role, content}` chat messages), `ability`, `reward_model {style, ground_truth}` and
 * `extra_info {index, split, id, task, reference, target, next, source, document_id, context_truncated}`,
 * laid out as pyarrow writes a pandas frame (3-level LIST, optional fields).
 */
export const verlSchema: SchemaElement[] = [
  { name: 'root', num_children: 5 },
  utf8('data_source'),
  { name: 'prompt', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  utf8('role'),
  utf8('content'),
  utf8('ability'),
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 2 },
  utf8('style'),
  utf8('ground_truth'),
  { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 10 },
  { name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' },
  utf8('split'),
  utf8('id'),
  utf8('task'),
  utf8('reference'),
  utf8('target'),
  utf8('next'),
  utf8('source'),
  utf8('document_id'),
  { name: 'context_truncated', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
];

/** One verl row for a sample; `index` is the row's position in its split. */
export function verlRow(sample: PreparedSample, index: number, settings: ExportSettings) {
  const content = sample.userPrompt ?? sample.prompt;
  const prompt = settings.system
    ? [
        { role: 'system', content: settings.system },
        { role: 'user', content },
      ]
    : [{ role: 'user', content }];
  return {
    data_source: settings.dataSource,
    prompt,
    ability: settings.ability,
    reward_model: { style: 'model', ground_truth: rewardLabel(sample) },
    extra_info: {
      index: BigInt(index),
      split: sample.split,
      id: sample.id,
      task: sample.task,
      reference: sample.reference,
      target: sample.target,
      next: sample.next,
      source: sample.source,
      document_id: sample.documentId,
      context_truncated: sample.flags.includes('context-truncated'),
    },
  };
}

/** One OpenRLHF JSONL line: the prompt under `inputKey`, the reward label JSON under `labelKey`. */
export function openrlhfLine(sample: PreparedSample, settings: ExportSettings): string {
  return JSON.stringify({
    [settings.inputKey]: sample.prompt,
    [settings.labelKey]: rewardLabel(sample),
    id: sample.id,
    task: sample.task,
  });
}

const extensions: Record<OutputFormat, string> = { samples: 'jsonl', verl: 'parquet', openrlhf: 'jsonl' };

/** Relative path of a shard. */
export function shardPath(format: OutputFormat, split: Split, index: number): string {
  return `${format}/${split}-${String(index).padStart(5, '0')}.${extensions[format]}`;
}

interface OpenShard {
  index: number;
  temp: string;
  rows: number;
  skip: boolean;
  fd?: number;
  pending: Uint8Array[];
  pendingBytes: number;
  parquet?: ParquetWriter;
  columns?: Record<string, unknown[]>;
}

const rowGroupRows = 1000;
let compressor: ((input: Uint8Array) => Uint8Array) | undefined;

/** One WebAssembly snappy instance per thread, created on first use. */
function snappy(): (input: Uint8Array) => Uint8Array {
  compressor ??= snappyCompressor();
  return compressor;
}

/** The line a JSONL format writes for a sample, newline included. */
export function encodeLine(
  format: 'samples' | 'openrlhf',
  sample: PreparedSample,
  settings: ExportSettings,
): Buffer {
  return Buffer.from(`${format === 'samples' ? JSON.stringify(sample) : openrlhfLine(sample, settings)}\n`);
}

/**
 * Writes one format of one split as numbered shards of `shardSize` rows. Each shard is written to a temp
 * file and renamed into place when complete, so a crash never leaves a partial shard; shards already listed
 * as done (from a resumed run's journal) are not rewritten.
 */
export class ShardWriter {
  private current: OpenShard | undefined;
  private nextIndex = 0;
  private rowInSplit = 0;
  readonly finished: ShardInfo[] = [];

  constructor(
    private readonly outDir: string,
    private readonly format: OutputFormat,
    private readonly split: Split,
    private readonly shardSize: number,
    private readonly settings: ExportSettings,
    private readonly done: ReadonlySet<string>,
    private readonly onShard: (shard: ShardInfo) => void,
  ) {
    mkdirSync(join(outDir, format), { recursive: true });
  }

  private open(): OpenShard {
    const index = this.nextIndex++;
    const relative = shardPath(this.format, this.split, index);
    const final = join(this.outDir, relative);
    const skip = this.done.has(relative) && existsSync(final);
    const temp = `${final}.tmp-${process.pid}`;
    const shard: OpenShard = { index, temp, rows: 0, skip, pending: [], pendingBytes: 0 };
    if (skip) return shard;
    rmSync(temp, { force: true });
    if (this.format === 'verl') {
      shard.parquet = new ParquetWriter({
        writer: fileWriter(temp),
        schema: verlSchema,
        createdBy: 'rlpt prepare',
        // hysnappy's WebAssembly snappy: about 4x faster than the pure-JS one on prompt-sized strings.
        compressors: { SNAPPY: snappy() },
      });
      shard.columns = { data_source: [], prompt: [], ability: [], reward_model: [], extra_info: [] };
    } else {
      shard.fd = openSync(temp, 'w');
    }
    return shard;
  }

  private flushRowGroup(shard: OpenShard): void {
    if (!shard.parquet || !shard.columns) return;
    const rows = shard.columns.data_source!.length;
    if (rows === 0) return;
    shard.parquet.write({
      columnData: Object.entries(shard.columns).map(([name, data]) => ({ name, data })),
      rowGroupSize: rows,
    });
    for (const column of Object.values(shard.columns)) column.length = 0;
  }

  private flushLines(shard: OpenShard): void {
    if (shard.fd === undefined || shard.pending.length === 0) return;
    writeAll(shard.fd, shard.pending);
    shard.pending = [];
    shard.pendingBytes = 0;
  }

  /**
   * Adds one row: for `verl` the parsed `sample`; for the JSONL formats (`samples`, `openrlhf`) its encoded
   * `line`, newline included (see {@link encodeLine}).
   */
  add(row: { sample?: PreparedSample; line?: Uint8Array }): void {
    this.current ??= this.open();
    const shard = this.current;
    const rowIndex = this.rowInSplit++;
    shard.rows++;
    if (!shard.skip) {
      if (this.format === 'verl') {
        if (!row.sample) throw new Error('ShardWriter(verl).add needs the sample');
        const values = verlRow(row.sample, rowIndex, this.settings);
        for (const [name, value] of Object.entries(values)) shard.columns![name]!.push(value);
        if (shard.columns!.data_source!.length >= rowGroupRows) this.flushRowGroup(shard);
      } else {
        if (!row.line) throw new Error(`ShardWriter(${this.format}).add needs the encoded line`);
        shard.pending.push(row.line);
        shard.pendingBytes += row.line.length;
        if (shard.pendingBytes >= 1 << 20) this.flushLines(shard);
      }
    }
    if (shard.rows >= this.shardSize) this.closeShard();
  }

  private closeShard(): void {
    const shard = this.current;
    if (!shard) return;
    this.current = undefined;
    const relative = shardPath(this.format, this.split, shard.index);
    const final = join(this.outDir, relative);
    if (!shard.skip) {
      if (shard.parquet) {
        this.flushRowGroup(shard);
        shard.parquet.finish();
        const fd = openSync(shard.temp, 'r+');
        fsyncSync(fd);
        closeSync(fd);
      } else if (shard.fd !== undefined) {
        this.flushLines(shard);
        fsyncSync(shard.fd);
        closeSync(shard.fd);
      }
      renameSync(shard.temp, final);
    }
    const info: ShardInfo = {
      format: this.format,
      split: this.split,
      index: shard.index,
      file: relative,
      rows: shard.rows,
      bytes: statSync(final).size,
    };
    this.finished.push(info);
    this.onShard(info);
  }

  /** Closes the last shard. A split without samples gets no file. */
  finish(): ShardInfo[] {
    this.closeShard();
    return this.finished;
  }
}
