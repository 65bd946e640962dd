import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AbortError,
  type EventHandler,
  type InferenceBackendV1,
  InvalidArgumentError,
  InvalidInputError,
  type Logger,
  type RlptEvent,
  silentLogger,
} from '@rlpt/spec';
import { BucketStore, leafBucketFiles, type SortedBucket, splits } from './buckets.js';
import { type BenchmarkSummary, type ContaminationIndex, loadBenchmarks } from './decontaminate.js';
import { hash64, hash64Hex } from './hash.js';
import { HashTable64 } from './hash-table.js';
import { type DocumentEvent, type RawDocument, readDocuments } from './io/documents.js';
import { resolveInputs, type ResolvedInput } from './io/inputs.js';
import type { InputIssue } from './io/issues.js';
import { DuplicateIndex, MinHasher } from './minhash.js';
import { addNormalizeCounts } from './normalize.js';
import { type PrepareOptions, type ResolvedPrepareOptions, resolvePrepareOptions } from './options.js';
import { createDocumentPool, type DocumentPool } from './pool.js';
import { proxyEntropies } from './next-token.js';
import { type DocumentResult, type PreparedSample, promptLimits } from './process.js';
import { loadPromptSetup, type PromptSetup } from './render.js';
import { addCounts, addToHistogram, mergeHistogram } from './stats.js';
import { type ExportSettings, type ShardInfo, ShardWriter } from './writers.js';
import {
  readWords,
  removePreviousOutputs,
  removeStaleTempFiles,
  workDirName,
  writeFileAtomic,
} from './prepare-files.js';
import { addEntropy, emptyStats, type PrepareStats, sizeOf, warningsOf } from './prepare-stats.js';

export type { BenchmarkReport, PrepareStats } from './prepare-stats.js';
export { markupWarningShare } from './prepare-stats.js';
export { removeStaleTempFiles, writeFileAtomic } from './prepare-files.js';

/** Callbacks of {@link prepare}. Libraries never print: progress and skipped input arrive as events. */
export interface PrepareHooks {
  logger?: Logger;
  onEvent?: EventHandler;
  /**
   * The next-token task's proxy model (RPT's difficulty filter): any backend whose `generate` returns top
   * logprobs. Candidates whose next-token entropy is below `nextToken.minEntropy` are skipped.
   */
  proxy?: InferenceBackendV1;
  /** Aborting stops reading, commits the work in flight, writes a checkpoint and throws `AbortError`. */
  signal?: AbortSignal;
}

/** What {@link prepare} returns: the absolute output folder and the run's `stats.json`. */
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

const shuffleBuckets = 256;
const encoder = new TextEncoder();
const examplesPerBenchmark = 5;

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

/** Everything known about a run once its options, inputs and any previous state are resolved. */
interface RunSetup {
  config: ResolvedPrepareOptions;
  hooks: PrepareHooks;
  logger: Logger;
  outDir: string;
  workDir: string;
  files: ResolvedInput[];
  fingerprint: string;
  /** The checkpointed state being resumed, if any. */
  state: State | undefined;
  stats: PrepareStats;
  contamination: ContaminationIndex | undefined;
  prompts: PromptSetup;
  /** Issues found before reading (patterns, benchmark files), recorded on a fresh run. */
  earlyIssues: InputIssue[];
}

/**
 * One `prepare` run: the scan phase (read in order → process on workers → commit in order into the
 * shuffle buckets, with checkpoints) and the finalize phase (sort buckets on workers → write shards).
 * All mutable run state lives here and is what `state.json` records.
 */
class PrepareRun {
  private readonly started = performance.now();
  private scanEnded = this.started;
  private readonly documentsBefore: number;
  private readonly statePath: string;
  private readonly bucketDir: string;
  private readonly issuesFd: number;
  private issuesBytes: number;
  private chunksCommitted: number;
  private checkpoint: number;
  private dedupFile: string | undefined;
  private bucketSizes: Record<string, number>;
  private shards: ShardInfo[];
  // The duplicate and id indexes live only during the scan (the finalize phase does not need them).
  private duplicates: DuplicateIndex | undefined;
  private ids: HashTable64 | undefined;

  constructor(private readonly setup: RunSetup) {
    const { state, workDir } = setup;
    this.statePath = join(workDir, 'state.json');
    this.bucketDir = join(workDir, 'buckets');
    mkdirSync(this.bucketDir, { recursive: true });
    this.documentsBefore = setup.stats.documents.read;
    this.chunksCommitted = state?.chunksCommitted ?? 0;
    this.checkpoint = state?.checkpoint ?? 0;
    this.dedupFile = state?.dedupFile;
    this.bucketSizes = state?.bucketSizes ?? {};
    this.shards = state?.shards ?? [];
    this.issuesBytes = state?.issuesBytes ?? 0;
    this.issuesFd = openSync(join(setup.outDir, 'issues.jsonl'), 'a+');
    ftruncateSync(this.issuesFd, this.issuesBytes);
    if (!state) for (const issue of setup.earlyIssues) this.recordIssue(issue);
  }

  private get config(): ResolvedPrepareOptions {
    return this.setup.config;
  }

  private get stats(): PrepareStats {
    return this.setup.stats;
  }

  private emit(event: RlptEvent): void {
    this.setup.hooks.onEvent?.(event);
  }

  /** The phase to continue with. */
  get phase(): 'scan' | 'finalize' {
    return this.setup.state?.phase === 'finalize' ? 'finalize' : 'scan';
  }

  /** Counts an input problem, lists it in issues.jsonl (up to the cap) and emits it. */
  private recordIssue(issue: InputIssue): void {
    const { stats, config } = this;
    stats.issues[issue.reason] ??= { skipped: 0, repaired: 0 };
    stats.issues[issue.reason]![issue.action] += issue.count ?? 1;
    if (issue.reason === 'unreadable-file' || issue.reason === 'unreadable-directory') {
      stats.inputs.unreadable.count++;
      if (stats.inputs.unreadable.list.length < 100)
        stats.inputs.unreadable.list.push({ file: issue.file ?? '', message: issue.message });
    }
    if (stats.issuesListed < config.maxIssuesListed) {
      const line = `${JSON.stringify(issue)}\n`;
      writeSync(this.issuesFd, line);
      this.issuesBytes += Buffer.byteLength(line);
      stats.issuesListed++;
    }
    this.emit({
      type: 'skipped-input',
      reason: issue.reason,
      message: issue.message,
      ...(issue.file !== undefined ? { file: issue.file } : {}),
      ...(issue.line !== undefined ? { line: issue.line } : {}),
      ...(issue.id !== undefined ? { id: issue.id } : {}),
    });
  }

  private saveState(phase: State['phase'], bytesRead: number): void {
    const next: State = {
      version: 1,
      fingerprint: this.setup.fingerprint,
      phase,
      chunksCommitted: this.chunksCommitted,
      documentsRead: this.stats.documents.read,
      bytesRead,
      bucketSizes: this.bucketSizes,
      issuesBytes: this.issuesBytes,
      checkpoint: this.checkpoint,
      stats: this.stats,
      shards: this.shards,
      ...(this.dedupFile ? { dedupFile: this.dedupFile } : {}),
    };
    writeFileAtomic(this.statePath, JSON.stringify(next));
  }

  /** Flushes buckets and issues, then writes the duplicate index and state.json atomically. */
  private writeCheckpoint(store: BucketStore, bytesRead: number): void {
    const { workDir, config } = this.setup;
    store.flush();
    fsyncSync(this.issuesFd);
    this.bucketSizes = store.sizes();
    this.checkpoint++;
    const name = `dedup-${this.checkpoint}.bin`;
    writeFileAtomic(join(workDir, name), this.duplicates!.serializedParts());
    if (config.idField)
      writeFileAtomic(join(workDir, `ids-${this.checkpoint}.bin`), this.ids!.serializedParts());
    const previous = this.dedupFile;
    this.dedupFile = name;
    this.saveState('scan', bytesRead);
    if (previous && previous !== name) {
      rmSync(join(workDir, previous), { force: true });
      rmSync(join(workDir, previous.replace('dedup-', 'ids-')), { force: true });
    }
  }

  /** Renames documents whose id was already used (`idField` only), reporting each. */
  private uniqueIds(chunk: Chunk): void {
    for (const [position, document] of chunk.documents.entries()) {
      const key = hash64(document.id);
      if (this.ids!.set(key.hi, key.lo)) continue;
      const renamed = `${document.id}~${chunk.firstOrdinal + position}`;
      const at = chunk.events.findIndex((event) => event.kind === 'document' && event.position === position);
      chunk.events.splice(at, 0, {
        kind: 'issue',
        issue: {
          reason: 'duplicate-id',
          action: 'repaired',
          file: document.file,
          line: document.line,
          id: renamed,
          message: `${document.file}:${document.line}: id '${document.id}' was already used; this document was kept as '${renamed}'.`,
        },
      });
      document.id = renamed;
    }
  }

  /** Applies one chunk's results in reader order: issues, dedup, decontamination, samples into buckets. */
  private async commit(store: BucketStore, chunk: Chunk, results: DocumentResult[]): Promise<void> {
    const { stats, config } = this;
    const nextToken: DocumentResult[] = [];
    for (const event of chunk.events) {
      if (event.kind === 'issue') {
        this.recordIssue(event.issue);
        continue;
      }
      const result = results[event.position]!;
      const where = `${result.file}:${result.line}`;
      stats.documents.read++;
      if (result.status === 'error') {
        stats.documents.skipped.error++;
        this.recordIssue({
          reason: 'processing-error',
          action: 'skipped',
          file: result.file,
          line: result.line,
          id: result.id,
          message: `${where}: document ${result.id} could not be processed (${result.error}); it was skipped.`,
        });
        continue;
      }
      addNormalizeCounts(stats.normalization, result.normalize);
      if (result.status === 'empty') {
        stats.documents.skipped.empty++;
        this.recordIssue({
          reason: 'empty-document',
          action: 'skipped',
          file: result.file,
          line: result.line,
          id: result.id,
          message: `${where}: document ${result.id} is empty after normalisation; it was skipped.`,
        });
        continue;
      }
      const duplicate =
        config.dedup.exact || config.dedup.near
          ? this.duplicates!.check(config.dedup.exact ? result.contentHash : undefined, result.bandKeys)
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
      if (result.nextToken) nextToken.push(result);
      else if (result.samples === 0) stats.documents.withoutSamples++;
      const ranges = result.bucketRanges;
      for (let at = 0; at < ranges.length; at += 3) {
        store.append(result.split, ranges[at]!, result.records.subarray(ranges[at + 1], ranges[at + 2]));
      }
      stats.samples.total += result.samples;
      stats.samples[result.split] += result.samples;
      stats.samples.asr += result.asr;
      stats.samples.msr += result.msr;
      stats.samples.contextTruncated += result.contextTruncated;
      mergeHistogram(stats.tokens.prompt, result.promptTokens);
      mergeHistogram(stats.tokens.context, result.contextTokens);
      stats.prompts.fitted += result.promptFitted;
      stats.prompts.dropped += result.promptDropped;
      addCounts(stats.prompts.over, result.promptOver);
      stats.markup.targets += result.markup.targets;
      stats.markup.dropped += result.markup.dropped;
      addCounts(stats.markup.kinds, result.markup.kinds);
    }
    if (nextToken.length > 0) await this.filterNextToken(store, nextToken);
    this.chunksCommitted = chunk.index + 1;
  }

  /**
   * RPT's difficulty filter over the next-token candidates of one chunk's kept documents: the proxy's
   * entropy at each position (in batches), then the candidates at or above `minEntropy` go into the
   * buckets. Without a proxy every candidate is kept. Runs before the chunk counts as committed, so a
   * checkpoint never holds half a chunk.
   */
  private async filterNextToken(store: BucketStore, results: DocumentResult[]): Promise<void> {
    const { stats, config } = this;
    const summary = stats.nextToken!;
    const candidates = results.flatMap((result) => result.nextToken!.candidates);
    // No abort signal here: the chunk in flight is finished, then the scan checkpoints (as for workers).
    const { proxy } = this.setup.hooks;
    const entropies = proxy
      ? await proxyEntropies(
          proxy,
          candidates.map((candidate) => candidate.proxyPrompt),
          { ...config.nextToken, seed: config.seed },
          undefined,
          () => {
            summary.shortDistributions++;
          },
        )
      : undefined;
    let at = 0;
    for (const result of results) {
      const counts = result.nextToken!.positions;
      for (const key of Object.keys(counts) as (keyof typeof counts)[]) summary.positions[key] += counts[key];
      let kept = 0;
      for (const candidate of result.nextToken!.candidates) {
        const entropy = entropies?.[at++];
        if (entropy !== undefined) {
          addEntropy(summary.entropies, entropy);
          if (!(entropy >= config.nextToken.minEntropy)) {
            summary.skipped.lowEntropy++;
            continue;
          }
        }
        kept++;
        store.append(result.split, candidate.bucket, encoder.encode(candidate.line));
        stats.samples.total++;
        stats.samples[result.split]++;
        stats.samples.nextToken++;
        if (candidate.contextTruncated) stats.samples.contextTruncated++;
        addToHistogram(stats.tokens.prompt, candidate.promptTokens);
        addToHistogram(stats.tokens.context, candidate.contextTokens);
        for (const over of [...promptLimits, ...(config.maxPromptTokens ? [config.maxPromptTokens] : [])]) {
          if (candidate.promptTokens > over) stats.prompts.over[over] = (stats.prompts.over[over] ?? 0) + 1;
        }
      }
      summary.kept += kept;
      if (kept === 0) stats.documents.withoutSamples++;
    }
  }

  /**
   * Reads the inputs in order, keeps up to two chunks per worker in flight, and commits results in chunk
   * order. Before a checkpoint everything in flight is committed, so a checkpoint is exactly "the first
   * `chunksCommitted` chunks" and a resumed run skips them.
   */
  async scan(pool: DocumentPool): Promise<void> {
    const { config, stats, hooks, files, workDir } = { ...this.setup, stats: this.stats };
    const { state } = this.setup;
    this.duplicates = this.dedupFile
      ? DuplicateIndex.deserialize(readWords(join(workDir, this.dedupFile)))
      : new DuplicateIndex();
    const idsFile = join(workDir, `ids-${this.checkpoint}.bin`);
    this.ids =
      config.idField && state && existsSync(idsFile)
        ? HashTable64.deserialize(readWords(idsFile))
        : new HashTable64(config.idField ? 1 << 12 : 16);
    const store = new BucketStore(this.bucketDir, shuffleBuckets, this.bucketSizes);
    const progress = { bytesDone: 0 };
    const maxInFlight = Math.max(2, pool.workers * 2);
    const inFlight: { chunk: Chunk; results: Promise<DocumentResult[]> }[] = [];
    const commitHead = async (): Promise<void> => {
      const head = inFlight.shift()!;
      await this.commit(store, head.chunk, await head.results);
      this.emit({
        type: 'progress',
        phase: 'read',
        done: head.chunk.bytesRead,
        total: stats.inputs.bytes,
        unit: 'bytes',
      });
      this.emit({ type: 'progress', phase: 'documents', done: stats.documents.read, unit: 'documents' });
    };
    let lastCheckpoint = performance.now();
    let aborted = false;
    try {
      for await (const chunk of chunksOf(files, config, hooks.signal, progress)) {
        if (chunk.index < this.chunksCommitted) continue;
        if (hooks.signal?.aborted) {
          aborted = true;
          break;
        }
        if (config.idField) this.uniqueIds(chunk);
        const request = { chunk: chunk.index, firstOrdinal: chunk.firstOrdinal, documents: chunk.documents };
        inFlight.push({ chunk, results: pool.run(request) });
        while (inFlight.length >= maxInFlight) await commitHead();
        if (performance.now() - lastCheckpoint >= config.checkpointSeconds * 1000) {
          while (inFlight.length > 0) await commitHead();
          this.writeCheckpoint(store, chunk.bytesRead);
          lastCheckpoint = performance.now();
        }
      }
      while (inFlight.length > 0) await commitHead();
      if (hooks.signal?.aborted) aborted = true;
      if (aborted) {
        this.writeCheckpoint(store, progress.bytesDone);
        throw new AbortError({
          message: `prepare was interrupted after ${stats.documents.read} documents; the work so far is saved in ${workDir}. Re-run with resume (--resume) to continue.`,
        });
      }
      this.writeCheckpoint(store, stats.inputs.bytes);
      this.saveState('finalize', stats.inputs.bytes);
    } finally {
      store.close();
      this.duplicates = undefined;
      this.ids = undefined;
    }
  }

  /**
   * Sorts the buckets of each split on the workers (a few ahead) and writes every format's shards here,
   * in key order. Each finished shard is journaled; a resumed run does not rewrite journaled shards.
   */
  async finalize(pool: DocumentPool): Promise<void> {
    this.scanEnded = performance.now();
    fsyncSync(this.issuesFd);
    const { config, outDir } = this.setup;
    const settings: ExportSettings = {
      dataSource: config.dataSource,
      ability: config.ability,
      inputKey: config.inputKey,
      labelKey: config.labelKey,
      ...(config.system !== undefined ? { system: config.system } : {}),
    };
    const doneShards = new Set(this.shards.map((shard) => shard.file));
    const onShard = (shard: ShardInfo) => {
      if (doneShards.has(shard.file)) return;
      this.shards = [...this.shards, shard];
      this.saveState('finalize', this.stats.inputs.bytes);
    };
    let written = 0;
    for (const split of splits) {
      const writers = new Map(
        config.formats.map((format) => [
          format,
          new ShardWriter(outDir, format, split, config.shardSize, settings, doneShards, onShard),
        ]),
      );
      const openrlhf = writers.has('openrlhf') ? settings : undefined;
      const decoder = new TextDecoder();
      const leaves = leafBucketFiles(this.bucketDir, split, shuffleBuckets, config.maxBucketBytes);
      const queue: { leaf: { file: string; temporary: boolean }; sorted: Promise<SortedBucket> }[] = [];
      const depth = pool.workers + 1;
      let exhausted = false;
      const refill = async (): Promise<void> => {
        while (!exhausted && queue.length < depth) {
          const next = await leaves.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          const sorted = pool.sort({ file: next.value.file, ...(openrlhf ? { openrlhf } : {}) });
          sorted.catch(() => {}); // awaited below, in order; this only silences early rejections
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
          writers.get('samples')?.add({ line });
          if (openrlhf) {
            const openrlhfEnd = bucket.openrlhfEnds![index]!;
            writers.get('openrlhf')!.add({ line: bucket.openrlhf!.subarray(openrlhfStart, openrlhfEnd) });
            openrlhfStart = openrlhfEnd;
          }
          const verl = writers.get('verl');
          if (verl) verl.add({ sample: JSON.parse(decoder.decode(line.subarray(0, -1))) as PreparedSample });
          start = end;
          written++;
        }
        this.emit({
          type: 'progress',
          phase: 'write',
          done: written,
          total: this.stats.samples.total,
          unit: 'samples',
        });
      }
      for (const writer of writers.values()) writer.finish();
    }
  }

  /** Writes stats.json, marks the run done and removes the working files. */
  finish(): PrepareResult {
    const { stats } = this;
    const { outDir, workDir } = this.setup;
    const order = (shard: ShardInfo) =>
      `${shard.format}/${shard.split === 'train' ? 0 : 1}/${String(shard.index).padStart(8, '0')}`;
    stats.outputs = [...this.shards].sort((a, b) => (order(a) < order(b) ? -1 : 1));
    stats.size = sizeOf(stats);
    stats.warnings = warningsOf(stats, this.config);
    for (const message of stats.warnings) this.emit({ type: 'warning', message });
    const ended = performance.now();
    const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
    const seconds = (ended - this.started) / 1000;
    stats.run.seconds = round(seconds);
    stats.run.scanSeconds = round((this.scanEnded - this.started) / 1000);
    stats.run.finalizeSeconds = round((ended - this.scanEnded) / 1000);
    stats.run.documentsPerSecond =
      seconds > 0 ? Math.round(((stats.documents.read - this.documentsBefore) / seconds) * 10) / 10 : 0;
    writeFileAtomic(join(outDir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    this.bucketSizes = {};
    this.saveState('done', stats.inputs.bytes);
    for (const name of readdirSync(workDir)) {
      if (name !== 'state.json') rmSync(join(workDir, name), { force: true, recursive: true });
    }
    this.setup.logger.info('prepare finished', {
      out: outDir,
      samples: stats.samples.total,
      seconds: stats.run.seconds,
    });
    return { outDir, stats };
  }

  close(): void {
    closeSync(this.issuesFd);
  }
}

/**
 * Resolves options, inputs, benchmarks and prompts, and decides between a fresh run, a resumed one, and
 * refusing (another run in `out`). Returns the previous result when `out` already holds this finished run
 * and `resume` was asked for.
 */
async function setUp(options: PrepareOptions, hooks: PrepareHooks): Promise<RunSetup | PrepareResult> {
  const config = resolvePrepareOptions(options);
  const logger = hooks.logger ?? silentLogger;
  checkProxy(config, hooks.proxy);
  const cwd = config.cwd ?? process.cwd();
  const outDir = resolve(cwd, config.out);
  const workDir = join(outDir, workDirName);
  const statePath = join(workDir, 'state.json');
  const stale = removeStaleTempFiles(outDir);
  if (stale.files > 0) {
    logger.info('removed stale temp files of an interrupted run', { files: stale.files, bytes: stale.bytes });
  }
  if (stale.kept.length > 0) {
    logger.warn('temp files of another running process were left alone', { files: stale.kept });
  }

  // Never read our own output back (`rlpt prepare corpus --out corpus/prepared`).
  const { files, issues: inputIssues } = await resolveInputs(config.inputs, { cwd, exclude: outDir });
  if (files.length === 0) {
    throw new InvalidArgumentError({
      argument: 'inputs',
      message: `no input files: ${inputIssues.map((issue) => issue.message).join('; ') || 'nothing matched'}`,
    });
  }
  const benchmarkFiles: string[] = [];
  const earlyIssues: InputIssue[] = [...inputIssues];
  if (config.benchmarks.length > 0) {
    const resolved = await resolveInputs(config.benchmarks, { cwd });
    benchmarkFiles.push(...resolved.files.map((file) => file.path));
    earlyIssues.push(...resolved.issues);
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
    } else if (previous.phase === 'done') {
      logger.info('prepare already finished in this folder', { out: outDir });
      return { outDir, stats: previous.stats };
    } else {
      state = previous;
    }
  } else if (config.resume) {
    logger.info('nothing to resume: starting a new run', { out: outDir });
  }
  mkdirSync(workDir, { recursive: true });

  let contamination: ContaminationIndex | undefined;
  let benchmarkSummaries: BenchmarkSummary[] = [];
  if (benchmarkFiles.length > 0) {
    const loaded = await loadBenchmarks(benchmarkFiles, config.decontamination);
    contamination = loaded.index;
    benchmarkSummaries = loaded.benchmarks;
    earlyIssues.push(...loaded.issues);
  }
  const prompts = await loadPromptSetup(config);
  const hasher = config.dedup.near ? new MinHasher(config.dedup) : undefined;
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
    staleTempFiles: { files: stale.files, bytes: stale.bytes },
  };
  // A state written before these fields existed.
  stats.inputs.unreadable ??= { count: 0, list: [] };
  stats.warnings ??= [];
  stats.prompts ??= { maxTokens: config.maxPromptTokens ?? null, fitted: 0, dropped: 0, over: {} };
  stats.markup ??= { targets: 0, dropped: 0, kinds: {} };
  stats.samples.nextToken ??= 0;
  stats.nextToken ??= null;
  if (stats.nextToken) stats.nextToken.shortDistributions ??= 0;
  return {
    config,
    hooks,
    logger,
    outDir,
    workDir,
    files,
    fingerprint,
    state,
    stats,
    contamination,
    prompts,
    earlyIssues,
  };
}

/**
 * Checks the next-token task's proxy against the options, and names it in `nextToken.proxy` (part of the
 * run's fingerprint, so a resumed run must use the same proxy).
 */
function checkProxy(config: ResolvedPrepareOptions, proxy: InferenceBackendV1 | undefined): void {
  if (proxy === undefined) {
    if (config.nextToken.minEntropy > 0 || config.nextToken.proxy !== undefined)
      throw new InvalidArgumentError({
        argument: 'proxy',
        message: `nextToken.minEntropy ${config.nextToken.minEntropy}${config.nextToken.proxy ? ` with proxy ${config.nextToken.proxy}` : ''} needs the proxy model: pass a backend as prepare's hooks.proxy (rlpt prepare --proxy <backend spec>).`,
      });
    return;
  }
  if (config.tasks !== 'next-token')
    throw new InvalidArgumentError({
      argument: 'proxy',
      message: `a proxy model filters next-token positions; it needs tasks: 'next-token' (got '${config.tasks}').`,
    });
  if (!proxy.capabilities.logprobs)
    throw new InvalidArgumentError({
      argument: 'proxy',
      message: `the proxy ${proxy.provider}:${proxy.modelId} cannot return logprobs, so not its next-token distribution; use one that can (openai: on vLLM, SGLang or rlpt serve model).`,
    });
  config.nextToken.proxy ??= `${proxy.provider}:${proxy.modelId}`;
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
  const setup = await setUp(options, hooks);
  if (!('config' in setup)) return setup;
  const run = new PrepareRun(setup);
  const { config } = setup;
  try {
    const pool = await createDocumentPool(
      {
        options: setup.config,
        ...(setup.contamination ? { contamination: setup.contamination.toShared() } : {}),
        prompts: setup.prompts,
        buckets: shuffleBuckets,
      },
      setup.config.workers,
    );
    try {
      if (run.phase === 'scan') await run.scan(pool);
      await run.finalize(pool);
      const result = run.finish();
      if (result.stats.documents.read === 0) {
        const { unreadable } = result.stats.inputs;
        throw new InvalidInputError({
          reason: 'no-documents',
          message: `no document could be read from ${config.inputs.join(', ')}${unreadable.count > 0 ? `: ${unreadable.list.map((entry) => entry.message).join(' ')}` : ''}. Details: ${join(result.outDir, 'issues.jsonl')}.`,
        });
      }
      return result;
    } finally {
      await pool.close();
    }
  } finally {
    run.close();
  }
}
