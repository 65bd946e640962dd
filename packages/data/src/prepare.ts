import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AbortError,
  type EventHandler,
  InvalidArgumentError,
  type Logger,
  type RlptEvent,
  silentLogger,
} from '@rlpt/spec';
import { BucketStore, leafBucketFiles, type SortedBucket, type Split, splits } from './buckets.js';
import { type BenchmarkSummary, type ContaminationIndex, loadBenchmarks } from './decontaminate.js';
import { hash64, hash64Hex } from './hash.js';
import { HashTable64 } from './hash-table.js';
import { type DocumentEvent, type RawDocument, readDocuments } from './io/documents.js';
import { resolveInputs, type ResolvedInput } from './io/inputs.js';
import type { InputIssue } from './io/issues.js';
import { DuplicateIndex, MinHasher } from './minhash.js';
import { addNormalizeCounts, emptyNormalizeCounts, type NormalizeCounts } from './normalize.js';
import { type PrepareOptions, type ResolvedPrepareOptions, resolvePrepareOptions } from './options.js';
import { createDocumentPool, type DocumentPool } from './pool.js';
import type { DocumentResult, PreparedSample } from './process.js';
import { loadPromptSetup } from './render.js';
import { addCounts, emptyHistogram, histogramLabels, mergeHistogram, type TokenHistogram } from './stats.js';
import { type ExportSettings, type ShardInfo, ShardWriter } from './writers.js';

/** Per-benchmark contamination report. */
export interface BenchmarkReport extends BenchmarkSummary {
  /** Documents dropped because they overlap this benchmark. */
  documents: number;
  /** The first few contaminated documents and one overlapping n-gram of each. */
  examples: { id: string; ngram: string }[];
}

/** `stats.json`: what `prepare` read, dropped, built and wrote. Everything but `run` is deterministic. */
export interface PrepareStats {
  version: 1;
  inputs: { files: number; bytes: number; list: { file: string; bytes: number }[] };
  documents: {
    /** Documents read from the inputs (after bad records were skipped). */
    read: number;
    /** Documents that passed dedup and decontamination. */
    kept: number;
    train: number;
    validation: number;
    /** Kept documents too short to yield a sample (fewer than 3 usable sentences). */
    withoutSamples: number;
    skipped: {
      empty: number;
      exactDuplicate: number;
      nearDuplicate: number;
      contaminated: number;
      error: number;
    };
  };
  /** Input problems by reason (`malformed-json`, `line-too-long`, …): records skipped and records repaired. */
  issues: Record<string, { skipped: number; repaired: number }>;
  /** Issues listed in `issues.jsonl` (at most `maxIssuesListed`). */
  issuesListed: number;
  normalization: NormalizeCounts;
  dedup: {
    exact: boolean;
    near: boolean;
    shingleSize: number;
    permutations: number;
    bands: number;
    rows: number;
    threshold: number;
  };
  contamination: { ngram: number; minMatches: number; benchmarks: BenchmarkReport[] };
  sentences: { total: number; kept: number; filtered: Record<string, number> };
  samples: {
    total: number;
    train: number;
    validation: number;
    asr: number;
    msr: number;
    contextTruncated: number;
  };
  tokens: { tokenizer: string; bins: string[]; prompt: TokenHistogram; context: TokenHistogram };
  outputs: ShardInfo[];
  run: {
    /** Wall-clock seconds of this invocation (a resumed run counts only its own time). */
    seconds: number;
    /** Seconds reading and processing documents, and sorting and writing shards. */
    scanSeconds: number;
    finalizeSeconds: number;
    workers: number;
    resumed: boolean;
    documentsPerSecond: number;
  };
}

/** Callbacks of {@link prepare}. Libraries never print: progress and skipped input arrive as events. */
export interface PrepareHooks {
  logger?: Logger;
  onEvent?: EventHandler;
  /** Aborting stops reading, commits the work in flight, writes a checkpoint and throws `AbortError`. */
  signal?: AbortSignal;
}

export interface PrepareResult {
  outDir: string;
  stats: PrepareStats;
}

interface Chunk {
  index: number;
  firstOrdinal: number;
  documents: RawDocument[];
  /** Reader order: document positions and issues interleaved. */
  events: ({ kind: 'document'; position: number } | { kind: 'issue'; issue: InputIssue })[];
  bytesRead: number;
}

interface State {
  version: 1;
  fingerprint: string;
  phase: 'scan' | 'finalize' | 'done';
  chunksCommitted: number;
  documentsRead: number;
  bytesRead: number;
  bucketSizes: Record<string, number>;
  issuesBytes: number;
  dedupFile?: string;
  checkpoint: number;
  stats: PrepareStats;
  shards: ShardInfo[];
}

const shuffleBuckets = 64;
const workDirName = '.rlpt-prepare';
const examplesPerBenchmark = 5;

/** Writes a file atomically: temp file, fsync, rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

function emptyStats(
  options: ResolvedPrepareOptions,
  files: ResolvedInput[],
  hasher: MinHasher | undefined,
): PrepareStats {
  return {
    version: 1,
    inputs: {
      files: files.length,
      bytes: files.reduce((sum, file) => sum + file.bytes, 0),
      list: files.map((file) => ({ file: file.label, bytes: file.bytes })),
    },
    documents: {
      read: 0,
      kept: 0,
      train: 0,
      validation: 0,
      withoutSamples: 0,
      skipped: { empty: 0, exactDuplicate: 0, nearDuplicate: 0, contaminated: 0, error: 0 },
    },
    issues: {},
    issuesListed: 0,
    normalization: emptyNormalizeCounts(),
    dedup: {
      exact: options.dedup.exact,
      near: options.dedup.near,
      shingleSize: options.dedup.shingleSize,
      permutations: options.dedup.permutations,
      bands: hasher?.bands ?? 0,
      rows: hasher?.rows ?? 0,
      threshold: options.dedup.threshold,
    },
    contamination: {
      ngram: options.decontamination.ngram,
      minMatches: options.decontamination.minMatches,
      benchmarks: [],
    },
    sentences: { total: 0, kept: 0, filtered: {} },
    samples: { total: 0, train: 0, validation: 0, asr: 0, msr: 0, contextTruncated: 0 },
    tokens: {
      tokenizer: options.tokenizer,
      bins: histogramLabels(),
      prompt: emptyHistogram(),
      context: emptyHistogram(),
    },
    outputs: [],
    run: {
      seconds: 0,
      scanSeconds: 0,
      finalizeSeconds: 0,
      workers: options.workers,
      resumed: false,
      documentsPerSecond: 0,
    },
  };
}

/** Options that change the output; a resumed run must match them exactly. */
function fingerprintOf(
  options: ResolvedPrepareOptions,
  files: ResolvedInput[],
  benchmarks: string[],
): string {
  const { workers, resume, overwrite, checkpointSeconds, maxBucketBytes, cwd, out, ...relevant } = options;
  return hash64Hex(
    JSON.stringify({
      relevant,
      files: files.map((file) => [file.label, file.bytes, Math.round(file.mtimeMs)]),
      benchmarks,
    }),
  );
}

/** Removes what a previous `prepare` wrote into `outDir` (and nothing else). */
function removePreviousOutputs(outDir: string): void {
  for (const name of [workDirName, 'samples', 'verl', 'openrlhf', 'stats.json', 'issues.jsonl']) {
    rmSync(join(outDir, name), { recursive: true, force: true });
  }
}

async function* chunksOf(
  files: ResolvedInput[],
  options: ResolvedPrepareOptions,
  signal: AbortSignal | undefined,
  progress: { bytesDone: number },
): AsyncGenerator<Chunk, void, undefined> {
  let chunk: Chunk = { index: 0, firstOrdinal: 0, documents: [], events: [], bytesRead: 0 };
  let chars = 0;
  let ordinal = 0;
  const close = (): Chunk => {
    const done = chunk;
    done.bytesRead = progress.bytesDone;
    chunk = { index: done.index + 1, firstOrdinal: ordinal, documents: [], events: [], bytesRead: 0 };
    chars = 0;
    return done;
  };
  for (const file of files) {
    let fileBytes = 0;
    const base = progress.bytesDone;
    const events: AsyncGenerator<DocumentEvent[], void, undefined> = readDocuments(file, {
      format: options.format,
      documentSplit: options.documentSplit,
      ...(options.documentSeparator !== undefined ? { documentSeparator: options.documentSeparator } : {}),
      turnsPerDocument: options.turnsPerDocument,
      keepHeadings: options.keepHeadings,
      joinLines: options.joinLines,
      textField: options.textField,
      ...(options.idField ? { idField: options.idField } : {}),
      ...(options.sourceField ? { sourceField: options.sourceField } : {}),
      maxLineBytes: options.maxLineBytes,
      maxDocumentChars: options.maxDocumentChars,
      invalidUtf8: options.invalidUtf8,
      ...(signal ? { signal } : {}),
      onProgress: (bytes) => {
        fileBytes = bytes;
        progress.bytesDone = base + bytes;
      },
    });
    for await (const batch of events) {
      for (const event of batch) {
        if (event.kind === 'issue') {
          chunk.events.push(event);
          continue;
        }
        chunk.events.push({ kind: 'document', position: chunk.documents.length });
        chunk.documents.push(event.document);
        ordinal++;
        chars += event.document.text.length;
        if (chunk.documents.length >= options.chunkDocuments || chars >= 64 * 1024) yield close();
      }
      if (signal?.aborted) return;
    }
    progress.bytesDone = base + Math.max(fileBytes, file.bytes);
  }
  if (chunk.events.length > 0) yield close();
}

/**
 * Turns raw corpora into RLPT training sets: read (text, JSONL, Parquet, gzip) → normalise → exact and
 * MinHash near-duplicate removal → n-gram decontamination → sentences, D_s samples, ASR/MSR by λ, prompts →
 * train/validation split by document → seeded shuffle → shards (`samples`, `verl`, `openrlhf`) and
 * `stats.json`. Documents are processed on worker threads; the output is byte-identical whatever the
 * worker count. Interrupted runs continue with `resume: true` from the last checkpoint.
 *
 * @throws ConfigError for invalid options; InvalidArgumentError when nothing can be read or the output
 *   folder holds another run; AbortError when `signal` aborts (after checkpointing).
 */
export async function prepare(options: PrepareOptions, hooks: PrepareHooks = {}): Promise<PrepareResult> {
  const started = performance.now();
  const config = resolvePrepareOptions(options);
  const logger = hooks.logger ?? silentLogger;
  const emit = (event: RlptEvent) => hooks.onEvent?.(event);
  const cwd = config.cwd ?? process.cwd();
  const outDir = resolve(cwd, config.out);
  const workDir = join(outDir, workDirName);
  const statePath = join(workDir, 'state.json');

  // Never read our own output back (`rlpt prepare corpus --out corpus/prepared`).
  const { files, issues: inputIssues } = await resolveInputs(config.inputs, { cwd, exclude: outDir });
  if (files.length === 0) {
    throw new InvalidArgumentError({
      argument: 'inputs',
      message: `no input files: ${inputIssues.map((issue) => issue.message).join('; ') || 'nothing matched'}`,
    });
  }
  const benchmarkFiles: string[] = [];
  const benchmarkIssues: InputIssue[] = [];
  if (config.benchmarks.length > 0) {
    const resolved = await resolveInputs(config.benchmarks, { cwd });
    benchmarkFiles.push(...resolved.files.map((file) => file.path));
    benchmarkIssues.push(...resolved.issues);
  }
  const fingerprint = fingerprintOf(config, files, benchmarkFiles);

  let state: State | undefined;
  if (existsSync(statePath)) {
    const previous = JSON.parse(readFileSync(statePath, 'utf8')) as State;
    if (config.overwrite) {
      removePreviousOutputs(outDir);
    } else if (!config.resume) {
      throw new InvalidArgumentError({
        argument: 'out',
        message:
          previous.phase === 'done'
            ? `${outDir} already holds a finished prepare run; pass overwrite (--overwrite) to replace it or choose another folder.`
            : `${outDir} holds an unfinished prepare run; pass resume (--resume) to continue it or overwrite (--overwrite) to start over.`,
      });
    } else if (previous.fingerprint !== fingerprint) {
      throw new InvalidArgumentError({
        argument: 'resume',
        message: `cannot resume in ${outDir}: the options or input files changed since that run started. Use the same options, or overwrite (--overwrite) to start over.`,
      });
    } else {
      state = previous;
    }
  } else if (config.resume) {
    logger.info('nothing to resume: starting a new run', { out: outDir });
  }
  if (state?.phase === 'done') {
    logger.info('prepare already finished in this folder', { out: outDir });
    return { outDir, stats: state.stats };
  }
  mkdirSync(workDir, { recursive: true });

  const hasher = config.dedup.near ? new MinHasher(config.dedup) : undefined;
  let contamination: ContaminationIndex | undefined;
  let benchmarkSummaries: BenchmarkSummary[] = [];
  if (benchmarkFiles.length > 0) {
    const loaded = await loadBenchmarks(benchmarkFiles, config.decontamination);
    contamination = loaded.index;
    benchmarkSummaries = loaded.benchmarks;
    benchmarkIssues.push(...loaded.issues);
  }
  const prompts = await loadPromptSetup(config);
  const stats: PrepareStats = state?.stats ?? emptyStats(config, files, hasher);
  if (!state) {
    stats.contamination.benchmarks = benchmarkSummaries.map((summary) => ({
      ...summary,
      documents: 0,
      examples: [],
    }));
  }
  stats.run = {
    seconds: 0,
    scanSeconds: 0,
    finalizeSeconds: 0,
    workers: config.workers,
    resumed: state !== undefined,
    documentsPerSecond: 0,
  };
  const documentsBefore = stats.documents.read;

  // --- issues.jsonl --------------------------------------------------------------------------------------
  const issuesPath = join(outDir, 'issues.jsonl');
  const issuesFd = openSync(issuesPath, 'a+');
  ftruncateSync(issuesFd, state?.issuesBytes ?? 0);
  let issuesBytes = state?.issuesBytes ?? 0;
  const recordIssue = (issue: InputIssue): void => {
    stats.issues[issue.reason] ??= { skipped: 0, repaired: 0 };
    const entry = stats.issues[issue.reason]!;
    entry[issue.action] += issue.count ?? 1;
    if (stats.issuesListed < config.maxIssuesListed) {
      const line = `${JSON.stringify(issue)}\n`;
      writeSync(issuesFd, line);
      issuesBytes += Buffer.byteLength(line);
      stats.issuesListed++;
    }
    emit({
      type: 'skipped-input',
      reason: issue.reason,
      message: issue.message,
      ...(issue.file !== undefined ? { file: issue.file } : {}),
      ...(issue.line !== undefined ? { line: issue.line } : {}),
      ...(issue.id !== undefined ? { id: issue.id } : {}),
    });
  };
  if (!state) for (const issue of [...inputIssues, ...benchmarkIssues]) recordIssue(issue);

  // --- scan: read, process on workers, commit in order ----------------------------------------------------
  const duplicates = state?.dedupFile
    ? DuplicateIndex.deserialize(
        new Uint32Array(readFileSync(join(workDir, state.dedupFile)).buffer.slice(0)),
      )
    : new DuplicateIndex();
  const idsFile = state ? join(workDir, `ids-${state.checkpoint}.bin`) : undefined;
  const ids =
    config.idField && idsFile && existsSync(idsFile)
      ? HashTable64.deserialize(new Uint32Array(readFileSync(idsFile).buffer.slice(0)))
      : new HashTable64(config.idField ? 1 << 12 : 16);
  let chunksCommitted = state?.chunksCommitted ?? 0;
  let checkpoint = state?.checkpoint ?? 0;
  let dedupFile = state?.dedupFile;
  let shards: ShardInfo[] = state?.shards ?? [];
  const bucketDir = join(workDir, 'buckets');
  mkdirSync(bucketDir, { recursive: true });

  const saveState = (phase: State['phase'], bucketSizes: Record<string, number>, bytesRead: number): void => {
    const next: State = {
      version: 1,
      fingerprint,
      phase,
      chunksCommitted,
      documentsRead: stats.documents.read,
      bytesRead,
      bucketSizes,
      issuesBytes,
      checkpoint,
      stats,
      shards,
      ...(dedupFile ? { dedupFile } : {}),
    };
    writeFileAtomic(statePath, JSON.stringify(next));
  };

  const pool: DocumentPool = await createDocumentPool(
    {
      options: config,
      ...(contamination ? { contamination: contamination.toShared() } : {}),
      prompts,
      buckets: shuffleBuckets,
    },
    config.workers,
  );
  try {
    return await scanAndFinalize(pool);
  } finally {
    await pool.close();
  }

  async function scanAndFinalize(pool: DocumentPool): Promise<PrepareResult> {
    if (!state || state.phase === 'scan') {
      const store = new BucketStore(bucketDir, shuffleBuckets, state?.bucketSizes ?? {});
      const writeCheckpoint = (bytesRead: number): void => {
        store.flush();
        fsyncSync(issuesFd);
        checkpoint++;
        const name = `dedup-${checkpoint}.bin`;
        writeFileAtomic(join(workDir, name), new Uint8Array(duplicates.serialize().buffer));
        if (config.idField)
          writeFileAtomic(join(workDir, `ids-${checkpoint}.bin`), new Uint8Array(ids.serialize().buffer));
        const previous = dedupFile;
        dedupFile = name;
        saveState('scan', store.sizes(), bytesRead);
        if (previous && previous !== name) {
          rmSync(join(workDir, previous), { force: true });
          rmSync(join(workDir, previous.replace('dedup-', 'ids-')), { force: true });
        }
      };

      const commit = (chunk: Chunk, results: DocumentResult[]): void => {
        for (const event of chunk.events) {
          if (event.kind === 'issue') {
            recordIssue(event.issue);
            continue;
          }
          const result = results[event.position]!;
          stats.documents.read++;
          if (result.status === 'error') {
            stats.documents.skipped.error++;
            recordIssue({
              reason: 'processing-error',
              action: 'skipped',
              file: result.file,
              line: result.line,
              id: result.id,
              message: `${result.file}:${result.line}: document ${result.id} could not be processed (${result.error}); it was skipped.`,
            });
            continue;
          }
          addNormalizeCounts(stats.normalization, result.normalize);
          if (result.status === 'empty') {
            stats.documents.skipped.empty++;
            recordIssue({
              reason: 'empty-document',
              action: 'skipped',
              file: result.file,
              line: result.line,
              id: result.id,
              message: `${result.file}:${result.line}: document ${result.id} is empty after normalisation; it was skipped.`,
            });
            continue;
          }
          const duplicate =
            config.dedup.exact || config.dedup.near
              ? duplicates.check(config.dedup.exact ? result.contentHash : undefined, result.bandKeys)
              : 'unique';
          if (duplicate === 'exact') {
            stats.documents.skipped.exactDuplicate++;
            continue;
          }
          if (duplicate === 'near') {
            stats.documents.skipped.nearDuplicate++;
            continue;
          }
          if (result.contamination) {
            stats.documents.skipped.contaminated++;
            for (const [position, report] of stats.contamination.benchmarks.entries()) {
              if ((result.contamination.mask & (1 << position)) === 0) continue;
              report.documents++;
              if (report.examples.length < examplesPerBenchmark) {
                report.examples.push({ id: result.id, ngram: result.contamination.examples[position] ?? '' });
              }
            }
            continue;
          }
          stats.documents.kept++;
          stats.documents[result.split]++;
          stats.sentences.total += result.sentences.total;
          stats.sentences.kept += result.sentences.kept;
          addCounts(stats.sentences.filtered, result.sentences.filtered);
          if (result.samples === 0) stats.documents.withoutSamples++;
          const ranges = result.bucketRanges;
          for (let position = 0; position < ranges.length; position += 3) {
            store.append(
              result.split,
              ranges[position]!,
              result.records.subarray(ranges[position + 1], ranges[position + 2]),
            );
          }
          stats.samples.total += result.samples;
          stats.samples[result.split] += result.samples;
          stats.samples.asr += result.asr;
          stats.samples.msr += result.msr;
          stats.samples.contextTruncated += result.contextTruncated;
          mergeHistogram(stats.tokens.prompt, result.promptTokens);
          mergeHistogram(stats.tokens.context, result.contextTokens);
        }
        chunksCommitted = chunk.index + 1;
      };

      const progress = { bytesDone: 0 };
      let lastCheckpoint = performance.now();
      let aborted = false;
      {
        const maxInFlight = Math.max(2, pool.workers * 2);
        const inFlight: { chunk: Chunk; results: Promise<DocumentResult[]> }[] = [];
        const commitHead = async (): Promise<void> => {
          const head = inFlight.shift()!;
          commit(head.chunk, await head.results);
          emit({
            type: 'progress',
            phase: 'read',
            done: head.chunk.bytesRead,
            total: stats.inputs.bytes,
            unit: 'bytes',
          });
          emit({ type: 'progress', phase: 'documents', done: stats.documents.read, unit: 'documents' });
        };
        for await (const chunk of chunksOf(files, config, hooks.signal, progress)) {
          if (chunk.index < chunksCommitted) continue;
          if (hooks.signal?.aborted) {
            aborted = true;
            break;
          }
          if (config.idField) {
            for (const [position, document] of chunk.documents.entries()) {
              const key = hash64(document.id);
              if (ids.set(key.hi, key.lo)) continue;
              const renamed = `${document.id}~${chunk.firstOrdinal + position}`;
              chunk.events.splice(
                chunk.events.findIndex((event) => event.kind === 'document' && event.position === position),
                0,
                {
                  kind: 'issue',
                  issue: {
                    reason: 'duplicate-id',
                    action: 'repaired',
                    file: document.file,
                    line: document.line,
                    id: renamed,
                    message: `${document.file}:${document.line}: id '${document.id}' was already used; this document was kept as '${renamed}'.`,
                  },
                },
              );
              document.id = renamed;
            }
          }
          inFlight.push({
            chunk,
            results: pool.run({
              chunk: chunk.index,
              firstOrdinal: chunk.firstOrdinal,
              documents: chunk.documents,
            }),
          });
          while (inFlight.length >= maxInFlight) await commitHead();
          if (performance.now() - lastCheckpoint >= config.checkpointSeconds * 1000) {
            while (inFlight.length > 0) await commitHead();
            writeCheckpoint(chunk.bytesRead);
            lastCheckpoint = performance.now();
          }
        }
        while (inFlight.length > 0) await commitHead();
        if (hooks.signal?.aborted) aborted = true;
      }
      if (aborted) {
        writeCheckpoint(progress.bytesDone);
        store.close();
        closeSync(issuesFd);
        throw new AbortError({
          message: `prepare was interrupted after ${stats.documents.read} documents; the work so far is saved in ${workDir}. Re-run with resume (--resume) to continue.`,
        });
      }
      store.close();
      writeCheckpoint(stats.inputs.bytes);
      saveState('finalize', store.sizes(), stats.inputs.bytes);
    }
    fsyncSync(issuesFd);
    closeSync(issuesFd);

    const scanEnded = performance.now();
    // --- finalize: sort buckets, write shards ---------------------------------------------------------------
    const settings: ExportSettings = {
      dataSource: config.dataSource,
      ability: config.ability,
      inputKey: config.inputKey,
      labelKey: config.labelKey,
      ...(config.system !== undefined ? { system: config.system } : {}),
    };
    const doneShards = new Set(shards.map((shard) => shard.file));
    const bucketSizes = state?.bucketSizes ?? {};
    let written = 0;
    for (const split of splits) {
      const writers = config.formats.map(
        (format) =>
          new ShardWriter(outDir, format, split as Split, config.shardSize, settings, doneShards, (shard) => {
            if (!doneShards.has(shard.file)) {
              shards = [...shards, shard];
              saveState('finalize', bucketSizes, stats.inputs.bytes);
            }
          }),
      );
      const byFormat = new Map(config.formats.map((format, index) => [format, writers[index]!]));
      const openrlhf = byFormat.has('openrlhf') ? settings : undefined;
      const verl = byFormat.get('verl');
      const decoder = new TextDecoder();
      // Buckets are sorted (and encoded) on the workers, a few ahead; shards are written here, in key order.
      const leaves = leafBucketFiles(bucketDir, split, shuffleBuckets, config.maxBucketBytes);
      const queue: { leaf: { file: string; temporary: boolean }; sorted: Promise<SortedBucket> }[] = [];
      const depth = Math.max(2, pool.workers * 2);
      let exhausted = false;
      const refill = async (): Promise<void> => {
        while (!exhausted && queue.length < depth) {
          const next = await leaves.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          const sorted = pool.sort({ file: next.value.file, ...(openrlhf ? { openrlhf } : {}) });
          sorted.catch(() => {});
          queue.push({ leaf: next.value, sorted });
        }
      };
      await refill();
      while (queue.length > 0) {
        const head = queue.shift()!;
        const bucket = await head.sorted;
        if (head.leaf.temporary) rmSync(head.leaf.file, { force: true });
        await refill();
        let start = 0;
        let openrlhfStart = 0;
        for (let index = 0; index < bucket.ends.length; index++) {
          const end = bucket.ends[index]!;
          const line = bucket.samples.subarray(start, end);
          byFormat.get('samples')?.add({ line });
          if (openrlhf) {
            const openrlhfEnd = bucket.openrlhfEnds![index]!;
            byFormat.get('openrlhf')!.add({ line: bucket.openrlhf!.subarray(openrlhfStart, openrlhfEnd) });
            openrlhfStart = openrlhfEnd;
          }
          if (verl)
            verl.add({
              sample: JSON.parse(decoder.decode(line.subarray(0, line.length - 1))) as PreparedSample,
            });
          start = end;
          written++;
        }
        emit({
          type: 'progress',
          phase: 'write',
          done: written,
          total: stats.samples.total,
          unit: 'samples',
        });
      }
      for (const writer of writers) writer.finish();
    }
    const order = (shard: ShardInfo) =>
      `${shard.format}/${shard.split === 'train' ? 0 : 1}/${String(shard.index).padStart(8, '0')}`;
    stats.outputs = [...shards].sort((a, b) => (order(a) < order(b) ? -1 : 1));
    const ended = performance.now();
    const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
    const seconds = (ended - started) / 1000;
    stats.run.seconds = round(seconds);
    stats.run.scanSeconds = round((scanEnded - started) / 1000);
    stats.run.finalizeSeconds = round((ended - scanEnded) / 1000);
    stats.run.documentsPerSecond =
      seconds > 0 ? Math.round(((stats.documents.read - documentsBefore) / seconds) * 10) / 10 : 0;
    writeFileAtomic(join(outDir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    saveState('done', {}, stats.inputs.bytes);
    rmSync(bucketDir, { recursive: true, force: true });
    for (const name of readdirSync(workDir))
      if (name !== 'state.json') rmSync(join(workDir, name), { force: true, recursive: true });
    logger.info('prepare finished', {
      out: outDir,
      samples: stats.samples.total,
      seconds: stats.run.seconds,
    });
    return { outDir, stats };
  }
}
