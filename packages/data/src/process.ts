import type { TaskKind } from '@rlpt/spec';
import {
  type ContaminationMatch,
  ContaminationIndex,
  type SharedContaminationIndex,
} from './decontaminate.js';
import { hash64, hash64Hex, hashToUnit } from './hash.js';
import type { RawDocument } from './io/documents.js';
import { MinHasher } from './minhash.js';
import { type NormalizeCounts, normalizeText } from './normalize.js';
import type { ResolvedPrepareOptions } from './options.js';
import { createPromptRenderer, type PromptRenderer, type PromptSetup } from './render.js';
import { markupKindsOf } from './markup.js';
import { segmentDocument } from './segmenting.js';
import { addToHistogram, emptyHistogram, type TokenHistogram } from './stats.js';
import { pickPositions, type PositionCounts } from './next-token.js';
import { tokenEnds } from './token-boundaries.js';
import {
  loadBoundaryTokenizer,
  loadTokenCounter,
  memoizeTokenCounter,
  type TokenCounter,
} from './tokenizer.js';

/** The task of a prepared sample: RLPT's ASR and MSR, or RPT's next token. */
export type SampleTask = TaskKind | 'next-token';

/** One output sample in rlpt's own schema (`samples/*.jsonl`). */
export interface PreparedSample {
  /** `${documentId}:${index}` (with `#asr`/`#msr` appended when `tasks: 'both'`; `${documentId}:t${index}` for next-token). */
  id: string;
  task: SampleTask;
  /** The rendered prompt (template, then the chat template when one is used). */
  prompt: string;
  /** s_<i (possibly left-truncated to the token budget; see `flags`). */
  context: string;
  /** s_i. */
  target: string;
  /** s_{i+1}. */
  next: string;
  /** The reference window s_i, s_{i+1}, … for the prefix reward. */
  reference: string;
  /** Where the document came from. */
  source: string;
  /** `context-truncated` when the context was cut to the budget. */
  flags: string[];
  split: 'train' | 'validation';
  documentId: string;
  /** 0-based index of the target sentence in its document (next-token: tokens before the position). */
  index: number;
  contextSegments: number;
  referenceSegments: number;
  /** Token counts; `prompt` is estimated as template overhead + segment counts (see README). */
  tokens: { prompt: number; context: number; target: number; reference: number };
  /** The task prompt before the chat template (present only when a chat template is used). */
  userPrompt?: string;
}

/** Everything a worker needs; plain data (structured-clone safe). */
export interface ProcessorConfig {
  options: ResolvedPrepareOptions;
  contamination?: SharedContaminationIndex;
  prompts: PromptSetup;
  /** Number of shuffle buckets (a power of two ≤ 256). */
  buckets: number;
}

/** The outcome of one document, committed in corpus order by the main thread. */
export interface DocumentResult {
  ordinal: number;
  id: string;
  file: string;
  line: number;
  status: 'ok' | 'empty' | 'error';
  /** For `error`: what went wrong. */
  error?: string;
  contentHash: { hi: number; lo: number };
  bandKeys?: Uint32Array;
  contamination?: ContaminationMatch;
  split: 'train' | 'validation';
  normalize: NormalizeCounts;
  sentences: { total: number; kept: number; filtered: Record<string, number> };
  /** Number of samples built. */
  samples: number;
  /**
   * The samples as UTF-8 bucket lines (`${sortKey}\t${json}\n`), grouped by shuffle bucket; transferred,
   * not copied, from the worker, and appended to the bucket files as bytes.
   */
  records: Uint8Array;
  /** `[bucket, start, end, …]`: the byte range of `records` that goes to each bucket. */
  bucketRanges: Int32Array;
  asr: number;
  msr: number;
  contextTruncated: number;
  promptTokens: TokenHistogram;
  contextTokens: TokenHistogram;
  /** Samples whose target holds markup or placeholders, by kind (a sample may count under several kinds). */
  markup: { targets: number; dropped: number; kinds: Record<string, number> };
  /** `maxPromptTokens`: prompts whose context was shortened to fit, and samples that could not fit at all. */
  promptFitted: number;
  promptDropped: number;
  /** Prompts over each of {@link promptLimits} (and `maxPromptTokens`), by the limit. */
  promptOver: Record<string, number>;
  /**
   * Next-token task: the picked positions as samples not yet in any bucket — the main thread keeps those
   * the proxy's entropy filter passes (in document order), then appends them — and why the others were not.
   */
  nextToken?: { candidates: NextTokenCandidate[]; positions: PositionCounts };
}

/** A next-token sample waiting for the difficulty filter. */
export interface NextTokenCandidate {
  /** `${sortKey}\t${json}\n`, the bucket line if kept. */
  line: string;
  bucket: number;
  /** What the proxy model reads. */
  proxyPrompt: string;
  promptTokens: number;
  contextTokens: number;
  contextTruncated: boolean;
}

/** Common engine prompt limits the stats count prompts over (verl's default 512, OpenRLHF's 1024, …). */
export const promptLimits: readonly number[] = [512, 1024, 2048, 4096, 8192];

/** A loaded per-thread document processor. */
export interface DocumentProcessor {
  process(document: RawDocument, ordinal: number): DocumentResult;
}

/** The share of MSR samples for a given λ (METHOD.md §7: ASR:MSR = 1:λ). */
export function msrShare(lambda: number): number {
  return lambda / (1 + lambda);
}

/** Deterministic task of a sample: MSR with probability λ/(1+λ), by hash of seed and sample id. */
export function assignTask(sampleId: string, lambda: number, seed: number): TaskKind {
  return hashToUnit(`task:${sampleId}`, seed) < msrShare(lambda) ? 'msr' : 'asr';
}

/** Deterministic split of a document by hash of seed and document id. */
export function assignSplit(
  documentId: string,
  validationFraction: number,
  seed: number,
): 'train' | 'validation' {
  return hashToUnit(`split:${documentId}`, seed) < validationFraction ? 'validation' : 'train';
}

/**
 * The sort key of a sample: a keyed hash (so sorting by it is a seeded shuffle, whatever the worker count)
 * followed by the document ordinal, index and task as tie-breakers. Fixed width, so string order is key order.
 */
export function sampleSortKey(
  sampleId: string,
  seed: number,
  ordinal: number,
  index: number,
  task: SampleTask,
): string {
  return `${hash64Hex(`order:${sampleId}`, seed)}${ordinal.toString(16).padStart(12, '0')}${index
    .toString(16)
    .padStart(6, '0')}${task === 'asr' ? 'a' : task === 'msr' ? 'm' : 'n'}`;
}

export function bucketOf(sortKey: string, buckets: number): number {
  return Math.floor((Number.parseInt(sortKey.slice(0, 2), 16) * buckets) / 256);
}

/** Encodes bucket lines as one UTF-8 array with per-bucket byte ranges, in bucket order. */
function encodeBuckets(byBucket: Map<number, string[]>): [Uint8Array, Int32Array] {
  const buckets = [...byBucket.keys()].sort((a, b) => a - b);
  const texts = buckets.map((bucket) => byBucket.get(bucket)!.join(''));
  const lengths = texts.map((text) => Buffer.byteLength(text));
  const records = new Uint8Array(lengths.reduce((sum, length) => sum + length, 0));
  const ranges = new Int32Array(buckets.length * 3);
  let offset = 0;
  for (const [position, bucket] of buckets.entries()) {
    const written = Buffer.from(records.buffer, records.byteOffset + offset, lengths[position]).write(
      texts[position]!,
    );
    ranges[position * 3] = bucket;
    ranges[position * 3 + 1] = offset;
    ranges[position * 3 + 2] = offset + written;
    offset += written;
  }
  return [records, ranges];
}

/** The output fields of a document result before any sentence is kept: no samples, zero counts. */
function noOutput() {
  return {
    sentences: { total: 0, kept: 0, filtered: {} },
    samples: 0,
    records: new Uint8Array(0),
    bucketRanges: new Int32Array(0),
    asr: 0,
    msr: 0,
    contextTruncated: 0,
    promptTokens: emptyHistogram(),
    contextTokens: emptyHistogram(),
    markup: { targets: 0, dropped: 0, kinds: {} },
    promptFitted: 0,
    promptDropped: 0,
    promptOver: {},
  };
}

/** The shortest tail of `text` (from a word start) whose tokens fit `budget`; '' when not even a word fits. */
function tailWithin(text: string, budget: number, count: (text: string) => number): string {
  if (count(text) <= budget) return text;
  const starts: number[] = [];
  for (let index = 1; index < text.length; index++) {
    if (/\s/.test(text[index - 1]!) && !/\s/.test(text[index]!)) starts.push(index);
  }
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (count(text.slice(starts[middle]!)) <= budget) high = middle;
    else low = middle + 1;
  }
  return low < starts.length ? text.slice(starts[low]!) : '';
}

/** Loads the tokenizer, templates and indexes once per thread. */
export async function createDocumentProcessor(config: ProcessorConfig): Promise<DocumentProcessor> {
  const { options } = config;
  const rawCounter = await loadTokenCounter(options.tokenizer);
  const counter: TokenCounter = memoizeTokenCounter(rawCounter);
  const limits = [
    ...new Set([...promptLimits, ...(options.maxPromptTokens ? [options.maxPromptTokens] : [])]),
  ];
  const renderer: PromptRenderer = await createPromptRenderer(config.prompts, counter);
  const boundaryTokenizer =
    options.tasks === 'next-token' ? await loadBoundaryTokenizer(options.tokenizer) : undefined;
  const hasher = options.dedup.near ? new MinHasher(options.dedup) : undefined;
  const contamination = config.contamination
    ? ContaminationIndex.fromShared(config.contamination)
    : undefined;

  const process = (document: RawDocument, ordinal: number): DocumentResult => {
    const detokenize = options.wikitext === 'auto' ? document.split === 'wikitext' : options.wikitext;
    const { text, counts } = normalizeText(document.text, {
      unicode: options.unicode,
      wikitext: detokenize,
      wikitextPunctuation: options.wikitextPunctuation,
    });
    const split = assignSplit(document.id, options.validationFraction, options.seed);
    const result: DocumentResult = {
      ordinal,
      id: document.id,
      file: document.file,
      line: document.line,
      status: 'ok',
      contentHash: hash64(text.replace(/\s+/g, ' ')),
      split,
      normalize: counts,
      ...noOutput(),
    };
    if (text === '') {
      result.status = 'empty';
      return result;
    }
    if (hasher) {
      const signature = hasher.signature(text);
      if (signature) result.bandKeys = hasher.bandKeys(signature);
    }
    const match = contamination?.match(text);
    if (match) result.contamination = match;
    if (boundaryTokenizer) {
      nextTokenSamples(result, document, text, boundaryTokenizer);
      return result;
    }

    const segmented = segmentDocument(
      { id: document.id, text, source: document.source },
      {
        minChars: options.minChars,
        minWords: options.minWords,
        minTokens: options.minTokens,
        contextTokens: options.contextTokens,
        referenceSegments: options.referenceSegments,
        referenceTokens: options.referenceTokens,
        segmentEngine: options.segmentEngine,
        lineBreaks: options.lineBreaks,
        shortSentences: options.shortSentences,
        countTokens: counter.count,
      },
    );
    result.sentences = segmented.sentences;
    const byBucket = new Map<number, string[]>();
    for (const sample of segmented.samples) {
      const tasks: TaskKind[] =
        options.tasks === 'both'
          ? ['asr', 'msr']
          : options.tasks === 'mix'
            ? [assignTask(sample.id, options.lambda, options.seed)]
            : [options.tasks as TaskKind]; // next-token documents returned above
      const markup = markupKindsOf(sample.target);
      for (const task of tasks) {
        const id = options.tasks === 'both' ? `${sample.id}#${task}` : sample.id;
        if (markup.length > 0) {
          result.markup.targets++;
          for (const kind of markup) result.markup.kinds[kind] = (result.markup.kinds[kind] ?? 0) + 1;
          if (options.dropMarkup) {
            result.markup.dropped++;
            continue;
          }
        }
        let context = sample.context;
        let contextSegments = sample.contextSegments;
        let contextTruncated = sample.contextTruncated;
        let rendered = renderer.render(task, context, sample.next);
        let contextTokens = segmented.contextTokens.get(sample.index) ?? counter.count(context);
        const fixed = renderer.overhead(task) + (task === 'msr' ? counter.count(sample.next) : 0);
        let promptTokens = fixed + contextTokens;
        const limit = options.maxPromptTokens;
        if (limit !== undefined) {
          // The estimate (overhead + sentence counts) can be off by about a token where pieces meet; keep a
          // margin of one token per junction plus 4, and count exactly when the estimate is within it.
          const margin = (segments: number) => segments + (task === 'msr' ? 2 : 1) + 4;
          let fits = promptTokens + margin(contextSegments) <= limit;
          if (!fits && promptTokens <= limit) {
            const exact = rawCounter.count(rendered.prompt);
            fits = exact <= limit;
            if (fits) promptTokens = exact;
          }
          if (!fits) {
            // Left-truncate: drop the oldest sentences until the prompt fits, else keep a tail of the last one.
            const parts = segmented.contextParts(sample);
            let start = 0;
            let tokens = parts.tokens.reduce((sum, value) => sum + value, 0);
            while (
              start < parts.texts.length &&
              fixed + tokens + margin(parts.texts.length - start) > limit
            ) {
              tokens -= parts.tokens[start]!;
              start++;
            }
            if (start < parts.texts.length) {
              context = parts.texts.slice(start).join(' ');
              contextSegments = parts.texts.length - start;
              contextTokens = tokens;
            } else {
              const last = parts.texts[parts.texts.length - 1] ?? '';
              context = tailWithin(last, limit - fixed - margin(1), rawCounter.count);
              contextSegments = 1;
              contextTokens = context === '' ? 0 : rawCounter.count(context);
            }
            if (context === '') {
              result.promptDropped++;
              continue;
            }
            contextTruncated = true;
            rendered = renderer.render(task, context, sample.next);
            promptTokens = fixed + contextTokens;
            result.promptFitted++;
          }
        }
        const record: PreparedSample = {
          id,
          task,
          prompt: rendered.prompt,
          context,
          target: sample.target,
          next: sample.next,
          reference: sample.reference,
          source: document.source,
          flags: contextTruncated ? ['context-truncated'] : [],
          split,
          documentId: document.id,
          index: sample.index,
          contextSegments,
          referenceSegments: sample.referenceSegments,
          tokens: {
            prompt: promptTokens,
            context: contextTokens,
            target: counter.count(sample.target),
            reference: segmented.referenceTokens.get(sample.index) ?? counter.count(sample.reference),
          },
        };
        if (rendered.userPrompt !== undefined) record.userPrompt = rendered.userPrompt;
        const key = sampleSortKey(id, options.seed, ordinal, sample.index, task);
        const bucket = bucketOf(key, config.buckets);
        let lines = byBucket.get(bucket);
        if (!lines) {
          lines = [];
          byBucket.set(bucket, lines);
        }
        lines.push(`${key}\t${JSON.stringify(record)}\n`);
        result.samples++;
        if (task === 'asr') result.asr++;
        else result.msr++;
        if (contextTruncated) result.contextTruncated++;
        for (const over of limits) {
          if (promptTokens > over) result.promptOver[over] = (result.promptOver[over] ?? 0) + 1;
        }
        addToHistogram(result.promptTokens, promptTokens);
        addToHistogram(result.contextTokens, contextTokens);
      }
    }
    if (result.samples > 0) [result.records, result.bucketRanges] = encodeBuckets(byBucket);
    return result;
  };

  /** Next-token candidates of one document (the difficulty filter runs on the main thread). */
  const nextTokenSamples = (
    result: DocumentResult,
    document: RawDocument,
    text: string,
    tokenizer: NonNullable<typeof boundaryTokenizer>,
  ): void => {
    const ends = tokenEnds(tokenizer, text);
    if (typeof ends === 'string') throw new Error(`the tokenizer does not reproduce the text: ${ends}`);
    const overhead = renderer.overhead('next-token');
    // A prompt bound leaves the context what the template does not use (one token of margin per junction).
    const contextTokens =
      options.maxPromptTokens === undefined
        ? options.contextTokens
        : Math.min(options.contextTokens, options.maxPromptTokens - overhead - 6);
    const { positions, counts } = pickPositions(text, ends, document.id, {
      ...options.nextToken,
      contextTokens: Math.max(1, contextTokens),
      seed: options.seed,
    });
    const candidates: NextTokenCandidate[] = [];
    if (contextTokens < options.nextToken.minContextTokens) {
      result.promptDropped += positions.length;
      positions.length = 0;
    }
    for (const position of positions) {
      const id = `${document.id}:t${position.tokenIndex}`;
      const rendered = renderer.render('next-token', position.context, '');
      const promptTokens = overhead + position.contextTokens;
      const record: PreparedSample = {
        id,
        task: 'next-token',
        prompt: rendered.prompt,
        context: position.context,
        target: position.target,
        next: '',
        reference: position.reference,
        source: document.source,
        flags: position.contextTruncated ? ['context-truncated'] : [],
        split: result.split,
        documentId: document.id,
        index: position.tokenIndex,
        contextSegments: 0,
        referenceSegments: 0,
        tokens: {
          prompt: promptTokens,
          context: position.contextTokens,
          target: counter.count(position.target),
          reference: position.referenceTokens,
        },
      };
      if (rendered.userPrompt !== undefined) record.userPrompt = rendered.userPrompt;
      const key = sampleSortKey(id, options.seed, result.ordinal, position.tokenIndex, 'next-token');
      candidates.push({
        line: `${key}\t${JSON.stringify(record)}\n`,
        bucket: bucketOf(key, config.buckets),
        proxyPrompt: position.proxyPrompt,
        promptTokens,
        contextTokens: position.contextTokens,
        contextTruncated: position.contextTruncated,
      });
    }
    result.nextToken = { candidates, positions: counts };
  };

  return {
    process(document, ordinal) {
      try {
        return process(document, ordinal);
      } catch (error) {
        return {
          ordinal,
          id: document.id,
          file: document.file,
          line: document.line,
          status: 'error',
          error: error instanceof Error ? error.message : String(error),
          contentHash: { hi: 0, lo: 0 },
          split: 'train',
          normalize: {
            nulBytes: 0,
            controlChars: 0,
            loneSurrogates: 0,
            unicodeChanged: 0,
            wikitextMarkers: 0,
          },
          ...noOutput(),
        };
      }
    },
  };
}
