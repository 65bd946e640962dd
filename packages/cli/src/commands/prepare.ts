import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { DemoStats, PrepareOptions, PrepareStats } from '@rlpt/data';
import { AbortError, ConfigError, type InferenceBackendV1, type RlptEvent } from '@rlpt/spec';
import { type Command, Option } from 'commander';
import { flagName } from '../flags.js';
import { abortOnInterrupt } from '../signals.js';
import { createProgressBar, formatTable, type ProgressBar, stderrLogger } from '../ui.js';

/** Flags of `rlpt prepare` as commander hands them over (strings until validated). */
export interface PrepareFlags {
  out?: string;
  config?: string;
  demo?: boolean;
  format?: string[];
  benchmarks?: string[];
  workers?: string;
  resume?: boolean;
  overwrite?: boolean;
  tokenizer?: string;
  maxPromptTokens?: string;
  dropMarkup?: boolean;
  preset?: string;
  asrTemplate?: string;
  msrTemplate?: string;
  chatTemplate?: string;
  system?: string;
  enableThinking?: boolean;
  lambda?: string;
  tasks?: string;
  validationFraction?: string;
  seed?: string;
  shardSize?: string;
  inputFormat?: string;
  documentSplit?: string;
  documentSeparator?: string;
  turnsPerDocument?: string;
  keepHeadings?: boolean;
  joinLines?: string;
  textField?: string;
  idField?: string;
  sourceField?: string;
  maxLineBytes?: string;
  maxDocumentChars?: string;
  invalidUtf8?: string;
  unicode?: string;
  wikitext?: string;
  wikitextPunctuation?: boolean;
  dedup?: boolean;
  nearDedup?: boolean;
  minhashThreshold?: string;
  minhashPermutations?: string;
  shingleSize?: string;
  lshBands?: string;
  lshRows?: string;
  ngram?: string;
  minMatches?: string;
  benchmarkFields?: string;
  minChars?: string;
  minWords?: string;
  minTokens?: string;
  contextTokens?: string;
  referenceSegments?: string;
  referenceTokens?: string;
  segmentEngine?: string;
  lineBreaks?: string;
  shortSentences?: string;
  dataSource?: string;
  ability?: string;
  inputKey?: string;
  labelKey?: string;
  checkpointSeconds?: string;
  maxIssues?: string;
  trainDocuments?: string;
  heldOutDocuments?: string;
  json?: boolean;
  positionsPerDocument?: string;
  minContextTokens?: string;
  continuationTokens?: string;
  proxy?: string;
  proxyModel?: string;
  proxyServer?: string;
  proxyContextTokens?: string;
  minEntropy?: string;
  entropy?: string;
  topLogprobs?: string;
  proxyBatchSize?: string;
}

/** Option key → the flag that sets it, for error messages. */
const flagNames: Record<string, string> = {
  formats: '--format',
  format: '--input-format',
  maxIssuesListed: '--max-issues',
  'dedup.exact': '--no-dedup',
  'dedup.near': '--no-near-dedup',
  'dedup.threshold': '--minhash-threshold',
  'dedup.permutations': '--minhash-permutations',
  'dedup.shingleSize': '--shingle-size',
  'dedup.bands': '--lsh-bands',
  'dedup.rows': '--lsh-rows',
  'decontamination.ngram': '--ngram',
  'decontamination.minMatches': '--min-matches',
  'decontamination.fields': '--benchmark-fields',
  inputs: '<inputs...>',
  'nextToken.positionsPerDocument': '--positions-per-document',
  'nextToken.minContextTokens': '--min-context-tokens',
  'nextToken.referenceTokens': '--continuation-tokens',
  'nextToken.proxyContextTokens': '--proxy-context-tokens',
  'nextToken.minEntropy': '--min-entropy',
  'nextToken.entropy': '--entropy',
  'nextToken.topLogprobs': '--top-logprobs',
  'nextToken.batchSize': '--proxy-batch-size',
  'nextToken.proxy': '--proxy',
};

function flagOf(path: string): string {
  return flagNames[path] ?? flagName(path);
}

/** A number flag: kept as NaN when unparsable, so validation reports it with its flag. */
function number(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return value.trim() === '' ? Number.NaN : Number(value);
}

function list(values: string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  return values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Reads a YAML or JSON config file (keys as in `PrepareOptions`). */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError({
      source: path,
      issues: [{ path: '--config', message: `cannot read ${path}: ${(cause as Error).message}` }],
    });
  }
  try {
    const value: unknown =
      extname(path).toLowerCase() === '.json' ? JSON.parse(text) : (await import('yaml')).parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('the file must hold a mapping of option names to values');
    }
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError({
      source: path,
      issues: [{ path: '(root)', message: (cause as Error).message }],
    });
  }
}

/**
 * Turns positional inputs, flags and an optional config file into `prepare` options (flags win over the
 * file). Validation happens in `@rlpt/data`; its `ConfigError` is re-labelled with flag names.
 */
export function flagsToOptions(
  inputs: string[],
  flags: PrepareFlags,
  file: Record<string, unknown> = {},
): PrepareOptions {
  const fileDedup = (file.dedup ?? {}) as Record<string, unknown>;
  const fileDecontamination = (file.decontamination ?? {}) as Record<string, unknown>;
  const fileNextToken = (file.nextToken ?? {}) as Record<string, unknown>;
  const nextToken = defined({
    ...fileNextToken,
    ...defined({
      positionsPerDocument: number(flags.positionsPerDocument),
      minContextTokens: number(flags.minContextTokens),
      referenceTokens: number(flags.continuationTokens),
      proxyContextTokens: number(flags.proxyContextTokens),
      minEntropy: number(flags.minEntropy),
      entropy: flags.entropy,
      topLogprobs: number(flags.topLogprobs),
      batchSize: number(flags.proxyBatchSize),
      proxy: flags.proxy,
    }),
  });
  const dedup = defined({
    ...fileDedup,
    ...defined({
      exact: flags.dedup === false ? false : undefined,
      near: flags.dedup === false || flags.nearDedup === false ? false : undefined,
      threshold: number(flags.minhashThreshold),
      permutations: number(flags.minhashPermutations),
      shingleSize: number(flags.shingleSize),
      bands: number(flags.lshBands),
      rows: number(flags.lshRows),
    }),
  });
  const decontamination = defined({
    ...fileDecontamination,
    ...defined({
      ngram: number(flags.ngram),
      minMatches: number(flags.minMatches),
      fields: flags.benchmarkFields ? list([flags.benchmarkFields]) : undefined,
    }),
  });
  const fromFlags = defined({
    inputs: inputs.length > 0 ? inputs : undefined,
    out: flags.out,
    formats: list(flags.format),
    benchmarks: list(flags.benchmarks),
    workers: number(flags.workers),
    resume: flags.resume,
    overwrite: flags.overwrite,
    tokenizer: flags.tokenizer,
    maxPromptTokens: number(flags.maxPromptTokens),
    dropMarkup: flags.dropMarkup,
    preset: flags.preset,
    asrTemplate: flags.asrTemplate,
    msrTemplate: flags.msrTemplate,
    chatTemplate: flags.chatTemplate,
    system: flags.system,
    enableThinking: flags.enableThinking,
    lambda: number(flags.lambda),
    tasks: flags.tasks,
    validationFraction: number(flags.validationFraction),
    seed: number(flags.seed),
    shardSize: number(flags.shardSize),
    format: flags.inputFormat,
    documentSplit: flags.documentSplit,
    documentSeparator: flags.documentSeparator,
    turnsPerDocument: number(flags.turnsPerDocument),
    keepHeadings: flags.keepHeadings,
    joinLines: flags.joinLines,
    textField: flags.textField,
    idField: flags.idField,
    sourceField: flags.sourceField,
    maxLineBytes: number(flags.maxLineBytes),
    maxDocumentChars: number(flags.maxDocumentChars),
    invalidUtf8: flags.invalidUtf8,
    unicode: flags.unicode,
    wikitext:
      flags.wikitext === undefined ? undefined : flags.wikitext === 'auto' ? 'auto' : flags.wikitext === 'on',
    wikitextPunctuation: flags.wikitextPunctuation === false ? false : undefined,
    minChars: number(flags.minChars),
    minWords: number(flags.minWords),
    minTokens: number(flags.minTokens),
    contextTokens: number(flags.contextTokens),
    referenceSegments: number(flags.referenceSegments),
    referenceTokens: number(flags.referenceTokens),
    segmentEngine: flags.segmentEngine,
    lineBreaks: flags.lineBreaks,
    shortSentences: flags.shortSentences,
    dataSource: flags.dataSource,
    ability: flags.ability,
    inputKey: flags.inputKey,
    labelKey: flags.labelKey,
    checkpointSeconds: number(flags.checkpointSeconds),
    maxIssuesListed: number(flags.maxIssues),
  });
  const options: Record<string, unknown> = { ...file, ...fromFlags };
  if (Object.keys(dedup).length > 0) options.dedup = dedup;
  if (Object.keys(decontamination).length > 0) options.decontamination = decontamination;
  if (Object.keys(nextToken).length > 0) options.nextToken = nextToken;
  return options as PrepareOptions;
}

/** Re-labels a `ConfigError` from `@rlpt/data` with the flags that set each option. */
function relabel(error: unknown, source: string): unknown {
  if (!ConfigError.isInstance(error)) return error;
  return new ConfigError({
    source,
    issues: error.issues.map((issue) => ({ path: flagOf(issue.path), message: issue.message })),
  });
}

function megabytes(bytes: number): number {
  return Math.round((bytes / 1e6) * 10) / 10;
}

function progressHandler(): { onEvent: (event: RlptEvent) => void; finish: () => void } {
  let read: ProgressBar | undefined;
  let write: ProgressBar | undefined;
  let documents = 0;
  let warnings = 0;
  const maxWarnings = 10;
  return {
    onEvent(event) {
      if (event.type === 'skipped-input') {
        warnings++;
        if (warnings <= maxWarnings) process.stderr.write(`\r\u001b[Kwarning: ${event.message}\n`);
        else if (warnings === maxWarnings + 1) {
          process.stderr.write('\r\u001b[Kwarning: more input problems; see issues.jsonl and the summary\n');
        }
        return;
      }
      if (event.type !== 'progress') return;
      if (event.phase === 'documents') documents = event.done;
      else if (event.phase === 'read') {
        read ??= createProgressBar('prepare', { unit: 'MB' });
        read.update(
          megabytes(event.done),
          event.total === undefined ? undefined : megabytes(event.total),
          `${documents} docs`,
        );
      } else if (event.phase === 'write') {
        if (read) {
          read.done(`${documents} documents`);
          read = undefined;
        }
        write ??= createProgressBar('write', { unit: 'samples' });
        write.update(event.done, event.total);
      }
    },
    finish() {
      read?.done(`${documents} documents`);
      write?.done();
    },
  };
}

/** The printed summary of a `prepare` run. */
export function formatPrepareSummary(stats: PrepareStats, outDir: string): string {
  const { documents, samples } = stats;
  const sections: string[] = [];
  sections.push(
    formatTable(
      ['documents', 'count'],
      [
        ['read', documents.read],
        ['kept', documents.kept],
        ['  train', documents.train],
        ['  validation', documents.validation],
        ['  without samples (too few sentences)', documents.withoutSamples],
        ['skipped: empty', documents.skipped.empty],
        ['skipped: exact duplicate', documents.skipped.exactDuplicate],
        ['skipped: near duplicate', documents.skipped.nearDuplicate],
        ['skipped: contaminated', documents.skipped.contaminated],
        ['skipped: processing error', documents.skipped.error],
        ...(stats.inputs.unreadable?.count
          ? [['unreadable inputs (files, folders)', stats.inputs.unreadable.count] as [string, number]]
          : []),
      ],
    ),
  );
  const issues = Object.entries(stats.issues);
  if (issues.length > 0) {
    sections.push(
      formatTable(
        ['input problem', 'skipped', 'repaired'],
        issues.map(([reason, counts]) => [reason, counts.skipped, counts.repaired]),
      ),
    );
  }
  if (stats.contamination.benchmarks.length > 0) {
    sections.push(
      formatTable(
        [
          `benchmark (${stats.contamination.ngram}-grams)`,
          'records',
          'n-grams',
          'contaminated docs',
          'example',
        ],
        stats.contamination.benchmarks.map((benchmark) => [
          benchmark.name,
          benchmark.records,
          benchmark.ngrams,
          benchmark.documents,
          benchmark.examples[0] ? `${benchmark.examples[0].id}: "${benchmark.examples[0].ngram}"` : '',
        ]),
      ),
    );
  }
  const filtered = Object.entries(stats.sentences.filtered)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  sections.push(
    formatTable(
      ['samples', 'count'],
      [
        [
          'sentences (kept as targets)',
          `${stats.sentences.total} (${stats.sentences.kept})${filtered ? `; filtered: ${filtered}` : ''}`,
        ],
        ['samples', samples.total],
        ['  train / validation', `${samples.train} / ${samples.validation}`],
        ...(stats.nextToken
          ? ([
              ['  next-token', samples.nextToken],
              [
                '  positions: candidates / kept / skipped (low entropy)',
                `${stats.nextToken.positions.candidates} / ${stats.nextToken.kept} / ${stats.nextToken.skipped.lowEntropy}${
                  stats.nextToken.proxy
                    ? ` (proxy ${stats.nextToken.proxy}, ${stats.nextToken.entropy} entropy < ${stats.nextToken.minEntropy} nats skipped${
                        stats.nextToken.entropies.count > 0
                          ? `; mean ${(stats.nextToken.entropies.sum / stats.nextToken.entropies.count).toFixed(2)}`
                          : ''
                      })`
                    : ' (no proxy: all kept)'
                }`,
              ],
              [
                '  token ends: inside a character / too early / whitespace / not picked',
                `${stats.nextToken.positions.insideCharacter} / ${stats.nextToken.positions.tooEarly} / ${stats.nextToken.positions.whitespace} / ${stats.nextToken.positions.notPicked}`,
              ],
            ] as [string, string | number][])
          : [['  ASR / MSR', `${samples.asr} / ${samples.msr}`] as [string, string]]),
        ['  context truncated', samples.contextTruncated],
        ...(stats.prompts?.maxTokens
          ? [
              [`  fitted to --max-prompt-tokens ${stats.prompts.maxTokens}`, stats.prompts.fitted],
              ['  dropped: prompt cannot fit', stats.prompts.dropped],
            ]
          : []),
        ...(stats.markup
          ? [
              [
                '  targets with markup',
                `${stats.markup.targets}${
                  Object.keys(stats.markup.kinds).length > 0
                    ? ` (${Object.entries(stats.markup.kinds)
                        .map(([kind, count]) => `${kind} ${count}`)
                        .join(', ')})`
                    : ''
                }${stats.markup.dropped > 0 ? `; dropped ${stats.markup.dropped}` : ''}`,
              ],
            ]
          : []),
      ],
    ),
  );
  const prompt = stats.tokens.prompt;
  if (prompt.count > 0) {
    const rows = stats.tokens.bins
      .map((bin, index) => [bin, prompt.counts[index] ?? 0] as [string, number])
      .filter(([, count]) => count > 0);
    sections.push(
      formatTable(
        [
          `prompt tokens (${stats.tokens.tokenizer}; mean ${Math.round(prompt.sum / prompt.count)}, max ${prompt.max})`,
          'samples',
        ],
        rows,
      ),
    );
  }
  sections.push(
    formatTable(
      ['output', 'rows', 'MB'],
      stats.outputs.map((shard) => [join(outDir, shard.file), shard.rows, megabytes(shard.bytes)]),
    ),
  );
  if (stats.size) {
    const formats = Object.entries(stats.size.formats)
      .map(([format, size]) => `${format} ${size.perInputByte}`)
      .join(', ');
    sections.push(
      `output: ${megabytes(stats.size.outputBytes)} MB from ${megabytes(stats.size.inputBytes)} MB of input, ${stats.size.outputPerInputByte} bytes per input byte${formats ? ` (${formats})` : ''}`,
    );
  }
  const stale = stats.run.staleTempFiles;
  if (stale && stale.files > 0) {
    sections.push(
      `removed ${stale.files} stale temp file(s) (${megabytes(stale.bytes)} MB) left by an interrupted run`,
    );
  }
  sections.push(
    `stats: ${join(outDir, 'stats.json')}${stats.issuesListed > 0 ? ` · input problems listed in ${join(outDir, 'issues.jsonl')}` : ''} · ${stats.run.seconds}s, ${stats.run.documentsPerSecond} docs/s on ${stats.run.workers} worker(s)`,
  );
  return `${sections.join('\n\n')}\n`;
}

function formatDemoSummary(stats: DemoStats, outDir: string): string {
  return `${[
    formatTable(
      [`demo corpus (seed ${stats.seed})`, 'train', 'held-out'],
      [
        ['documents', stats.documents.train, stats.documents.heldOut],
        [
          'inferable targets',
          stats.targets.train,
          `${stats.targets.heldOut} (${stats.targets.droppedHeldOut} dropped: context seen in training)`,
        ],
        ...Object.entries(stats.perTemplate).map(([template, counts]) => [
          `  ${template}`,
          counts.train,
          counts.validation,
        ]),
        ['samples ASR / MSR', `${stats.samples.asr} / ${stats.samples.msr}`, ''],
      ],
    ),
    formatTable(
      ['output', 'rows', 'MB'],
      stats.outputs.map((shard) => [join(outDir, shard.file), shard.rows, megabytes(shard.bytes)]),
    ),
    `corpus: ${join(outDir, 'corpus')} · vocabulary (${stats.vocabulary} words): ${join(outDir, 'vocab.json')} · stats: ${join(outDir, 'stats.json')}`,
  ].join('\n\n')}\n`;
}

/** Runs `rlpt prepare`; resolves to the exit code. */
export async function runPrepare(inputs: string[], flags: PrepareFlags): Promise<number> {
  const data = await import('@rlpt/data');
  const progress = progressHandler();
  const interrupt = abortOnInterrupt(
    '\r\u001b[Krlpt prepare: interrupted, saving a checkpoint (press Ctrl-C again to quit now)\n',
  );
  try {
    if (flags.demo) {
      const source = 'rlpt prepare --demo flags';
      let result: Awaited<ReturnType<typeof data.prepareDemo>>;
      try {
        result = await data.prepareDemo(
          defined({
            out: flags.out ?? 'data/demo',
            seed: number(flags.seed),
            trainDocuments: number(flags.trainDocuments),
            heldOutDocuments: number(flags.heldOutDocuments),
            referenceSegments: number(flags.referenceSegments),
            lambda: number(flags.lambda),
            tasks: flags.tasks as never,
            preset: flags.preset,
            formats: list(flags.format) as never,
            shardSize: number(flags.shardSize),
            dataSource: flags.dataSource,
            ability: flags.ability,
            inputKey: flags.inputKey,
            labelKey: flags.labelKey,
            overwrite: flags.overwrite,
          }) as never,
          { onEvent: progress.onEvent },
        );
      } catch (error) {
        throw relabel(error, source);
      }
      progress.finish();
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(result.stats, null, 2)}\n`
          : formatDemoSummary(result.stats, result.outDir),
      );
      return 0;
    }
    const file = flags.config ? await readConfigFile(flags.config) : {};
    const options = flagsToOptions(inputs, flags, file);
    const source = flags.config ? `rlpt prepare flags and ${flags.config}` : 'rlpt prepare flags';
    let result: Awaited<ReturnType<typeof data.prepare>>;
    // The next-token task's proxy model (RPT's difficulty filter), from the registry like judges.
    const proxySpec = (options.nextToken as { proxy?: string } | undefined)?.proxy;
    let proxy: InferenceBackendV1 | undefined;
    if (proxySpec) {
      const { createBackendFromSpec, registerBuiltins } = await import('@rlpt/recipes');
      registerBuiltins();
      try {
        proxy = await createBackendFromSpec(proxySpec, {
          ...(flags.proxyModel ? { model: flags.proxyModel } : {}),
          ...(flags.proxyServer ? { server: flags.proxyServer } : {}),
          logger: stderrLogger(false),
        });
      } catch (error) {
        throw new ConfigError({
          source,
          issues: [{ path: '--proxy', message: (error as Error).message }],
        });
      }
    }
    try {
      result = await data.prepare(options, {
        onEvent: progress.onEvent,
        signal: interrupt.signal,
        ...(proxy ? { proxy } : {}),
      });
    } catch (error) {
      progress.finish();
      if (AbortError.isInstance(error)) {
        process.stderr.write(`rlpt prepare: ${error.message}\n`);
        return 130;
      }
      throw relabel(error, source);
    } finally {
      await proxy?.close?.();
    }
    progress.finish();
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(result.stats, null, 2)}\n`
        : formatPrepareSummary(result.stats, result.outDir),
    );
    for (const warning of result.stats.warnings ?? []) process.stderr.write(`\nWARNING: ${warning}\n`);
    return 0;
  } finally {
    interrupt.dispose();
  }
}

/** `rlpt prepare` — turns raw corpora (or the built-in demo corpus) into RLPT training sets. */
export function register(program: Command): void {
  program
    .command('prepare')
    .description(
      'Turn raw corpora into RLPT training sets: samples JSONL, verl Parquet and OpenRLHF JSONL, with a stats report.',
    )
    .argument('[inputs...]', 'files, folders and glob patterns (text, JSONL, Parquet, .gz)')
    .option('-o, --out <dir>', 'output folder (required; --demo defaults to data/demo)')
    .option('-c, --config <file>', 'YAML or JSON file of prepare options (flags win)')
    .option(
      '--demo',
      'build the built-in demo corpus (inferable word-level stories) instead of reading inputs',
    )
    .option(
      '-f, --format <formats>',
      'output formats: samples, verl, openrlhf (comma-separated or repeated; default samples)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '-b, --benchmarks <files...>',
      'decontaminate against these benchmark files or globs (JSONL, Parquet, text); give inputs before it',
    )
    .option('-w, --workers <n>', 'worker threads (default: all cores; 0 processes on the main thread)')
    .option('--resume', 'continue an interrupted run in --out from its last checkpoint')
    .option('--overwrite', 'replace a previous run in --out')
    .option(
      '--tokenizer <name>',
      'token counter: qwen3 (default), whitespace, or a tokenizer.json / model folder',
    )
    .option(
      '--max-prompt-tokens <n>',
      "bound every rendered prompt (template + chat template + system) to n tokens of --tokenizer by left-truncating the context; set it to the engine's limit (verl data.max_prompt_length, OpenRLHF prompt max length)",
    )
    .option(
      '--drop-markup',
      'drop samples whose target holds markup or placeholders (<unk>, @-@, @,@, HTML tags, entities); they are counted either way',
    )
    .option('--preset <name>', 'prompt template preset: paper (default; tiny for --demo)')
    .option('--asr-template <file>', 'your ASR template file ({context})')
    .option('--msr-template <file>', 'your MSR template file ({prompt}, {next_step})')
    .option(
      '--chat-template <path>',
      "wrap prompts in a model's chat template (model folder, tokenizer_config.json or .jinja)",
    )
    .option('--system <text>', 'system message (with --chat-template, and in verl prompts)')
    .option('--enable-thinking', 'pass enable_thinking=true to the chat template')
    .option('--lambda <x>', 'λ of METHOD.md §7: ASR:MSR = 1:λ (default 0.5, i.e. one MSR prompt in three)')
    .option(
      '--tasks <mode>',
      "mix (default: each sample ASR or MSR by λ), both, asr, msr, or next-token (RPT's task: positions at the --tokenizer's token ends)",
    )
    .option('--positions-per-document <n>', 'next-token: positions picked per document (default 16)')
    .option('--min-context-tokens <n>', 'next-token: tokens a position needs before it (default 32)')
    .option('--continuation-tokens <n>', 'next-token: tokens of the reference continuation (default 32)')
    .option(
      '--proxy <backend spec>',
      "next-token: RPT's difficulty filter — a proxy model whose next-token entropy skips easy positions: any backend that returns top logprobs, e.g. openai:<base URL> (vLLM, SGLang, rlpt serve model; with --proxy-model) or a plugin's",
    )
    .option('--proxy-model <name>', 'next-token: the served model name of an openai: proxy')
    .addOption(
      new Option(
        '--proxy-server <kind>',
        "next-token: an openai: proxy's server (vllm for vLLM and rlpt serve model, sglang): top logprobs then come keyed by token id, so tokens that decode alike (byte pieces) are not merged",
      ).choices(['vllm', 'sglang', 'openai', 'generic']),
    )
    .option(
      '--min-entropy <nats>',
      'next-token: skip positions whose proxy entropy is below this (default 0)',
    )
    .option(
      '--entropy <estimate>',
      "next-token: 'bound' (default: a lower bound of the full entropy from the top-k logprobs) or 'top-k' (the top k renormalised, as RPT describes)",
    )
    .option('--top-logprobs <k>', 'next-token: alternatives asked of the proxy, 1–20 (default 16)')
    .option('--proxy-context-tokens <n>', 'next-token: tokens of context the proxy reads (default 512)')
    .option('--proxy-batch-size <n>', 'next-token: prompts per proxy request (default 16)')
    .option('--validation-fraction <x>', 'share of documents in the validation split (default 0.02)')
    .option('--seed <n>', 'seed of splits, task assignment and shuffling (default 0)')
    .option('--shard-size <n>', 'rows per output file (default 100000)')
    .option('--input-format <format>', 'auto (default, by extension), text, jsonl or parquet')
    .option(
      '--document-split <mode>',
      'plain text: auto (default), blank-line, line, file, wikitext, script, separator',
    )
    .option('--document-separator <line>', 'the line that ends a document (with --document-split separator)')
    .option('--turns-per-document <n>', 'speaker turns per document for scripts (default 32)')
    .option('--keep-headings', 'keep WikiText section headings as paragraphs')
    .option('--join-lines <mode>', 'join lines inside a paragraph with a space (default) or a newline')
    .option('--text-field <path>', 'JSONL/Parquet field with the text (default text; dotted paths work)')
    .option('--id-field <path>', 'JSONL/Parquet field with the document id (default file:line)')
    .option('--source-field <path>', 'JSONL/Parquet field naming the source (default the file)')
    .option('--max-line-bytes <n>', 'longer lines are skipped and reported (default 8388608)')
    .option('--max-document-chars <n>', 'longer documents are cut into parts (default 1000000)')
    .option('--invalid-utf8 <mode>', 'replace (default: U+FFFD, line kept) or skip')
    .option('--unicode <form>', 'NFC (default), NFKC or none')
    .addOption(
      new Option(
        '--wikitext <mode>',
        'undo WikiText tokenisation: auto (default: WikiText files), on, off',
      ).choices(['auto', 'on', 'off']),
    )
    .option('--no-wikitext-punctuation', 'keep the spaces WikiText puts around punctuation')
    .option('--no-dedup', 'keep exact and near duplicates')
    .option('--no-near-dedup', 'remove exact duplicates only')
    .option('--minhash-threshold <x>', 'Jaccard similarity of near duplicates (default 0.8)')
    .option('--minhash-permutations <n>', 'MinHash signature length (default 128)')
    .option('--shingle-size <n>', 'words per shingle (default 5)')
    .option('--lsh-bands <n>', 'LSH bands (with --lsh-rows; default derived from the threshold)')
    .option('--lsh-rows <n>', 'rows per LSH band')
    .option('--ngram <n>', 'decontamination n-gram length in words (default 13)')
    .option('--min-matches <n>', 'distinct benchmark n-grams that make a document contaminated (default 1)')
    .option(
      '--benchmark-fields <list>',
      'benchmark fields to check (comma-separated; default every string field)',
    )
    .option('--min-chars <n>', 'shortest target sentence in characters (default 20)')
    .option('--min-words <n>', 'shortest target sentence in words (default 4)')
    .option('--min-tokens <n>', 'shortest target sentence in tokens (default 0: off)')
    .option('--context-tokens <n>', 'context budget in tokens, left-truncated (default 2048)')
    .option('--reference-segments <n>', 'sentences in the prefix-reward reference window (default 3)')
    .option('--reference-tokens <n>', 'token cap of the reference window (default 512)')
    .option('--segment-engine <name>', 'scanner (default) or sentence-splitter')
    .option('--line-breaks <mode>', 'single line breaks: auto (default), split or join')
    .option('--short-sentences <mode>', 'context (default: short sentences stay as context) or drop')
    .option('--data-source <name>', 'verl data_source (default rlpt)')
    .option('--ability <name>', 'verl ability (default next-segment-reasoning)')
    .option('--input-key <key>', 'OpenRLHF input key (default input)')
    .option('--label-key <key>', 'OpenRLHF label key (default label)')
    .option('--checkpoint-seconds <s>', 'seconds between resume checkpoints (default 30)')
    .option('--max-issues <n>', 'input problems listed in issues.jsonl (all are counted; default 10000)')
    .option('--train-documents <n>', '--demo: training documents (default 3000)')
    .option('--held-out-documents <n>', '--demo: held-out documents (default 600)')
    .option('--json', 'print stats.json instead of the summary tables')
    .addHelpText(
      'after',
      `
Examples:
  rlpt prepare --demo --out data/demo
  rlpt prepare ../shared/data/corpora --out data/corpora --format verl,openrlhf \\
    --benchmarks '../shared/data/benchmarks/*.jsonl'
  rlpt prepare 'crawl/*.jsonl.gz' --out data/crawl --text-field content --id-field url --resume
  rlpt prepare corpus/ --out data/verl --format verl --chat-template /models/Qwen3-4B \\
    --max-prompt-tokens 2048 --drop-markup     # with verl data.max_prompt_length=2048

Unreadable files and folders are reported (stats.json inputs.unreadable, issues.jsonl) and the rest is
read; the run fails only when no document at all could be read. Warnings are printed after the summary.
`,
    )
    .action(async (inputs: string[], flags: PrepareFlags) => {
      if (!flags.demo && !flags.out && !flags.config) {
        throw new ConfigError({
          source: 'rlpt prepare flags',
          issues: [{ path: '--out', message: 'is required: the folder to write the training set to' }],
        });
      }
      process.exitCode = await runPrepare(inputs, flags);
    });
}
