// stats.json of a prepare run: its shape, its empty state, and what is derived at the end (sizes, warnings).
import type { BenchmarkSummary } from './decontaminate.js';
import type { ResolvedInput } from './io/inputs.js';
import type { MinHasher } from './minhash.js';
import { emptyNormalizeCounts, type NormalizeCounts } from './normalize.js';
import type { ResolvedPrepareOptions } from './options.js';
import { emptyHistogram, histogramLabels, type TokenHistogram } from './stats.js';
import type { ShardInfo } from './writers.js';
import type { EntropyEstimate, PositionCounts } from './next-token.js';

/** `stats.nextToken`: positions considered, and kept or skipped by the proxy's entropy. */
export interface NextTokenStats {
  /** `proxy` (its spec or provider:model), or null without a difficulty filter. */
  proxy: string | null;
  entropy: EntropyEstimate;
  /** Positions with a proxy entropy below this (nats) were skipped. */
  minEntropy: number;
  topLogprobs: number;
  /** Token ends of the kept documents and why they were or were not candidates. */
  positions: PositionCounts;
  /** Candidates kept (entropy ≥ minEntropy, or every candidate without a proxy). */
  kept: number;
  /** Candidates skipped: `lowEntropy` (below minEntropy). */
  skipped: { lowEntropy: number };
  /**
   * Candidates for which the proxy returned fewer than `topLogprobs` alternatives — an OpenAI-compatible
   * server that keys top logprobs by token text merges tokens that decode alike; their entropy is then
   * computed over the wrong set (a warning names the fix).
   */
  shortDistributions: number;
  /** The proxy entropies of all candidates (nats): count, sum (mean = sum / count), min, max, and bins. */
  entropies: { count: number; sum: number; min: number; max: number; bins: Record<string, number> };
}

/** Upper edges (nats) of the entropy bins in `stats.nextToken.entropies.bins`. */
export const entropyBinEdges: readonly number[] = [0.1, 0.5, 1, 2, 3, 4];

export function emptyNextTokenStats(options: ResolvedPrepareOptions): NextTokenStats {
  return {
    proxy: options.nextToken.proxy ?? null,
    entropy: options.nextToken.entropy,
    minEntropy: options.nextToken.minEntropy,
    topLogprobs: options.nextToken.topLogprobs,
    positions: { tokens: 0, insideCharacter: 0, tooEarly: 0, whitespace: 0, notPicked: 0, candidates: 0 },
    kept: 0,
    skipped: { lowEntropy: 0 },
    shortDistributions: 0,
    entropies: { count: 0, sum: 0, min: 0, max: 0, bins: {} },
  };
}

/** Adds one entropy to the summary (bins named `<0.1`, `<0.5`, …, `>=4`). */
export function addEntropy(stats: NextTokenStats['entropies'], entropy: number): void {
  stats.min = stats.count === 0 ? entropy : Math.min(stats.min, entropy);
  stats.max = stats.count === 0 ? entropy : Math.max(stats.max, entropy);
  stats.count++;
  stats.sum += entropy;
  const edge = entropyBinEdges.find((bound) => entropy < bound);
  const bin = edge === undefined ? `>=${entropyBinEdges[entropyBinEdges.length - 1]}` : `<${edge}`;
  stats.bins[bin] = (stats.bins[bin] ?? 0) + 1;
}

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
  inputs: {
    files: number;
    bytes: number;
    list: { file: string; bytes: number }[];
    /**
     * Inputs that could not be read at all — files, and folders that could not be listed (their files were
     * skipped, the rest of the input was read): how many, and each path with what went wrong (first 100).
     */
    unreadable: { count: number; list: { file: string; message: string }[] };
  };
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
    /** Next-token samples (RPT's task) kept by the difficulty filter. */
    nextToken: number;
    contextTruncated: number;
  };
  /** The next-token task: where positions came from and what the proxy's entropy filter did. */
  nextToken: NextTokenStats | null;
  tokens: { tokenizer: string; bins: string[]; prompt: TokenHistogram; context: TokenHistogram };
  /** Prompt lengths against limits (estimated tokens of the rendered prompt, as in `tokens.prompt`). */
  prompts: {
    /** `maxPromptTokens`, or null when prompts are not bounded. */
    maxTokens: number | null;
    /** Prompts whose context was left-truncated further so the prompt fits `maxTokens`. */
    fitted: number;
    /** Samples dropped because their prompt would not fit `maxTokens` even with an empty context. */
    dropped: number;
    /** Prompts over each common engine limit (512, 1024, 2048, 4096, 8192) and over `maxTokens`. */
    over: Record<string, number>;
  };
  /** Samples whose target holds markup or placeholders (`<unk>`, `@-@`, HTML tags, entities), by kind. */
  markup: { targets: number; dropped: number; kinds: Record<string, number> };
  /** Output size against input size: bytes written per input byte, in all and per format. */
  size: {
    inputBytes: number;
    outputBytes: number;
    outputPerInputByte: number;
    formats: Record<string, { bytes: number; perInputByte: number }>;
  };
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
    /** `*.tmp-<pid>` files of killed runs removed from the output folder when this run started. */
    staleTempFiles: { files: number; bytes: number };
  };
  /** Things the user should act on (unreadable inputs, markup in targets, prompt lengths …), one line each. */
  warnings: string[];
}

export function emptyStats(
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
      unreadable: { count: 0, list: [] },
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
    samples: { total: 0, train: 0, validation: 0, asr: 0, msr: 0, nextToken: 0, contextTruncated: 0 },
    nextToken: options.tasks === 'next-token' ? emptyNextTokenStats(options) : null,
    tokens: {
      tokenizer: options.tokenizer,
      bins: histogramLabels(),
      prompt: emptyHistogram(),
      context: emptyHistogram(),
    },
    prompts: { maxTokens: options.maxPromptTokens ?? null, fitted: 0, dropped: 0, over: {} },
    markup: { targets: 0, dropped: 0, kinds: {} },
    size: { inputBytes: 0, outputBytes: 0, outputPerInputByte: 0, formats: {} },
    outputs: [],
    run: {
      seconds: 0,
      scanSeconds: 0,
      finalizeSeconds: 0,
      workers: options.workers,
      resumed: false,
      documentsPerSecond: 0,
      staleTempFiles: { files: 0, bytes: 0 },
    },
    warnings: [],
  };
}

const ratio = (bytes: number, per: number) => (per > 0 ? Math.round((bytes / per) * 100) / 100 : 0);

/** Output bytes per input byte, in all and per format. */
export function sizeOf(stats: PrepareStats): PrepareStats['size'] {
  const inputBytes = stats.inputs.bytes;
  const formats: PrepareStats['size']['formats'] = {};
  let outputBytes = 0;
  for (const shard of stats.outputs) {
    formats[shard.format] ??= { bytes: 0, perInputByte: 0 };
    formats[shard.format]!.bytes += shard.bytes;
    outputBytes += shard.bytes;
  }
  for (const format of Object.values(formats)) format.perInputByte = ratio(format.bytes, inputBytes);
  return { inputBytes, outputBytes, outputPerInputByte: ratio(outputBytes, inputBytes), formats };
}

/** A markup share at or above this (of samples) is worth a loud warning. */
export const markupWarningShare = 0.05;

const percent = (part: number, whole: number) => `${whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0}%`;

/** What the user should act on, one line each (the CLI prints them after the summary). */
export function warningsOf(stats: PrepareStats, config: ResolvedPrepareOptions): string[] {
  const warnings: string[] = [];
  const { unreadable } = stats.inputs;
  if (unreadable.count > 0) {
    const shown = unreadable.list.slice(0, 5).map((entry) => entry.file);
    warnings.push(
      `${unreadable.count} input path(s) could not be read and were skipped: ${shown.join(', ')}${unreadable.count > shown.length ? ', …' : ''} (all in issues.jsonl). Fix their permissions and re-run with --overwrite.`,
    );
  }
  const markupSamples = stats.samples.total + stats.markup.dropped;
  if (stats.markup.targets > 0 && stats.markup.targets >= markupWarningShare * markupSamples) {
    const kinds = Object.entries(stats.markup.kinds)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    warnings.push(
      config.dropMarkup
        ? `${stats.markup.dropped} of ${markupSamples} samples (${percent(stats.markup.dropped, markupSamples)}) were dropped: their target holds markup or placeholders (${kinds}).`
        : `${percent(stats.markup.targets, markupSamples)} of the samples (${stats.markup.targets} of ${markupSamples}) have a target with markup or placeholders (${kinds}): no policy can predict <unk>. Clean the corpus, or pass --drop-markup (dropMarkup: true) to drop them.`,
    );
  }
  if (config.maxPromptTokens === undefined) {
    const over = stats.prompts.over['2048'] ?? 0;
    if (stats.samples.total > 0 && stats.tokens.prompt.max > 512) {
      warnings.push(
        `prompts are up to ${stats.tokens.prompt.max} tokens (${stats.prompts.over['512'] ?? 0} over 512, ${stats.prompts.over['1024'] ?? 0} over 1024, ${over} over 2048): an engine with a lower prompt limit drops or cuts them. Pass --max-prompt-tokens <the engine's limit> (verl data.max_prompt_length, OpenRLHF's prompt max length).`,
      );
    }
  } else {
    if (stats.prompts.dropped > 0) {
      warnings.push(
        `${stats.prompts.dropped} sample(s) were dropped: even with an empty context their prompt exceeds --max-prompt-tokens ${config.maxPromptTokens} (a long template, system message or following sentence).`,
      );
    }
    if (config.formats.includes('verl') && !config.chatTemplate) {
      warnings.push(
        `verl applies the policy's chat template to the prompt, which --max-prompt-tokens did not count: pass --chat-template <model folder> so the bound includes it.`,
      );
    }
  }
  if (stats.samples.total === 0 && stats.documents.kept > 0) {
    // Nothing to train on, though documents were read: say why, with the flag to change.
    const positions = stats.nextToken?.positions;
    const why =
      positions && positions.tokens > 0 && positions.tooEarly >= positions.tokens * 0.9
        ? `${positions.tooEarly} of ${positions.tokens} token positions come before --min-context-tokens ${config.nextToken.minContextTokens}: the documents are shorter than that; lower it`
        : positions && (stats.nextToken?.skipped.lowEntropy ?? 0) > 0 && (stats.nextToken?.kept ?? 0) === 0
          ? `every candidate position was below --min-entropy ${config.nextToken.minEntropy} of the proxy; lower it`
          : `${stats.documents.withoutSamples} of ${stats.documents.kept} kept documents gave no sample (too few sentences or tokens for the task)`;
    warnings.push(`no samples were written: ${why}.`);
  }
  const short = stats.nextToken?.shortDistributions ?? 0;
  if (short > 0) {
    warnings.push(
      `the proxy returned fewer than ${config.nextToken.topLogprobs} top logprobs for ${short} of ${stats.nextToken?.positions.candidates} positions, so their entropy is computed over an incomplete set: a server that keys top logprobs by token text merges tokens that decode alike — ask for token ids (--proxy-server vllm for vLLM and rlpt serve model, sglang), or lower --top-logprobs to what the server returns.`,
    );
  }
  return warnings;
}
