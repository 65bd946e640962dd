import { availableParallelism } from 'node:os';
import { ConfigError } from '@rlpt/spec';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const fraction = z.number().min(0).max(1);

/** Output formats of `prepare`. */
export const outputFormats = ['samples', 'verl', 'openrlhf'] as const;
/** `samples` (rlpt's JSONL), `verl` (Parquet) or `openrlhf` (JSONL). */
export type OutputFormat = (typeof outputFormats)[number];

/**
 * The options of {@link prepare} (and of `rlpt prepare`, whose flags and YAML/JSON config file resolve to
 * this object). Every field but `inputs` and `out` has a default; see the package README for each.
 */
export const prepareOptionsSchema = z
  .object({
    /** Files, folders (read recursively) and glob patterns. */
    inputs: z.array(z.string().min(1)).min(1),
    /** Output folder. */
    out: z.string().min(1),
    /** Folder relative paths and globs are resolved against. Default: the process's. */
    cwd: z.string().optional(),

    format: z.enum(['auto', 'text', 'jsonl', 'parquet']).default('auto'),
    documentSplit: z
      .enum(['auto', 'blank-line', 'line', 'file', 'wikitext', 'script', 'separator'])
      .default('auto'),
    documentSeparator: z.string().optional(),
    turnsPerDocument: positiveInt.default(32),
    keepHeadings: z.boolean().default(false),
    joinLines: z.enum(['space', 'newline']).default('space'),
    textField: z.string().min(1).default('text'),
    idField: z.string().min(1).optional(),
    sourceField: z.string().min(1).optional(),
    maxLineBytes: positiveInt.default(8 * 1024 * 1024),
    maxDocumentChars: positiveInt.default(1_000_000),
    invalidUtf8: z.enum(['replace', 'skip']).default('replace'),

    unicode: z.enum(['NFC', 'NFKC', 'none']).default('NFC'),
    /** `auto`: detokenise documents read with the `wikitext` split; `true`/`false`: all or none. */
    wikitext: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    wikitextPunctuation: z.boolean().default(true),

    dedup: z
      .object({
        exact: z.boolean().default(true),
        near: z.boolean().default(true),
        shingleSize: positiveInt.default(5),
        permutations: positiveInt.max(1024).default(128),
        threshold: z.number().gt(0).lt(1).default(0.8),
        bands: positiveInt.optional(),
        rows: positiveInt.optional(),
        seed: z.number().int().default(1),
      })
      .strict()
      .default({
        exact: true,
        near: true,
        shingleSize: 5,
        permutations: 128,
        threshold: 0.8,
        seed: 1,
      }),

    benchmarks: z.array(z.string().min(1)).default([]),
    decontamination: z
      .object({
        ngram: positiveInt.default(13),
        fields: z.array(z.string().min(1)).optional(),
        minMatches: positiveInt.default(1),
      })
      .strict()
      .default({ ngram: 13, minMatches: 1 }),

    /** Sentence filters and sample construction (passed to `@rlpt/segment`). */
    minChars: z.number().int().min(0).default(20),
    minWords: z.number().int().min(0).default(4),
    minTokens: z.number().int().min(0).default(0),
    contextTokens: positiveInt.default(2048),
    referenceSegments: positiveInt.default(3),
    referenceTokens: positiveInt.default(512),
    segmentEngine: z.enum(['scanner', 'sentence-splitter']).default('scanner'),
    lineBreaks: z.enum(['auto', 'split', 'join']).default('auto'),
    shortSentences: z.enum(['context', 'drop']).default('context'),

    lambda: z.number().gt(0).default(0.5),
    tasks: z.enum(['mix', 'both', 'asr', 'msr', 'next-token']).default('mix'),
    /**
     * RPT's next-token task (`tasks: 'next-token'`, METHOD.md §8): positions per document, the texts cut
     * around them, and the difficulty filter on a proxy model's next-token entropy (the proxy backend is
     * passed to `prepare` in its hooks; `proxy` names it here, so a resumed run checks it is the same).
     */
    nextToken: z
      .object({
        positionsPerDocument: positiveInt.default(16),
        minContextTokens: positiveInt.default(32),
        referenceTokens: positiveInt.default(32),
        proxyContextTokens: positiveInt.default(512),
        /** Skip positions whose proxy entropy (nats) is below this. 0 keeps every position. */
        minEntropy: z.number().min(0).default(0),
        entropy: z.enum(['bound', 'top-k']).default('bound'),
        topLogprobs: z.number().int().min(1).max(20).default(16),
        batchSize: positiveInt.default(16),
        proxy: z.string().min(1).optional(),
      })
      .strict()
      .default({
        positionsPerDocument: 16,
        minContextTokens: 32,
        referenceTokens: 32,
        proxyContextTokens: 512,
        minEntropy: 0,
        entropy: 'bound',
        topLogprobs: 16,
        batchSize: 16,
      }),
    preset: z.string().min(1).default('paper'),
    asrTemplate: z.string().min(1).optional(),
    msrTemplate: z.string().min(1).optional(),
    chatTemplate: z.string().min(1).optional(),
    system: z.string().optional(),
    enableThinking: z.boolean().optional(),
    tokenizer: z.string().min(1).default('qwen3'),
    /**
     * Upper bound on every rendered prompt (template, chat template and system message included), in tokens
     * of `tokenizer`: the context is left-truncated (whole sentences first) until the prompt fits. Set it to
     * the engine's limit (verl `data.max_prompt_length`, OpenRLHF's prompt max length) so none is dropped.
     */
    maxPromptTokens: positiveInt.optional(),
    /** Drop samples whose target holds markup or placeholders (`<unk>`, `@-@`, HTML tags …). */
    dropMarkup: z.boolean().default(false),

    validationFraction: fraction.default(0.02),
    seed: z.number().int().default(0),
    formats: z.array(z.enum(outputFormats)).min(1).default(['samples']),
    shardSize: positiveInt.default(100_000),
    dataSource: z.string().min(1).default('rlpt'),
    ability: z.string().min(1).default('next-segment-reasoning'),
    inputKey: z.string().min(1).default('input'),
    labelKey: z.string().min(1).default('label'),

    workers: z.number().int().min(0).optional(),
    resume: z.boolean().default(false),
    overwrite: z.boolean().default(false),
    checkpointSeconds: z.number().positive().default(30),
    chunkDocuments: positiveInt.default(64),
    maxIssuesListed: z.number().int().min(0).default(10_000),
    maxBucketBytes: positiveInt.default(32 * 1024 * 1024),
  })
  .strict()
  .superRefine((options, context) => {
    if (options.documentSplit === 'separator' && !options.documentSeparator) {
      context.addIssue({
        code: 'custom',
        path: ['documentSeparator'],
        message: "documentSplit 'separator' needs documentSeparator (the line that ends a document)",
      });
    }
    const { bands, rows, permutations } = options.dedup;
    if ((bands === undefined) !== (rows === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['dedup'],
        message: 'give both dedup.bands and dedup.rows, or neither',
      });
    } else if (bands !== undefined && rows !== undefined && bands * rows > permutations) {
      context.addIssue({
        code: 'custom',
        path: ['dedup'],
        message: `dedup.bands × dedup.rows (${bands} × ${rows}) must not exceed dedup.permutations (${permutations})`,
      });
    }
    if (options.resume && options.overwrite) {
      context.addIssue({
        code: 'custom',
        path: ['resume'],
        message: 'resume and overwrite exclude each other',
      });
    }
    if (options.tasks === 'next-token' && options.tokenizer === 'whitespace') {
      context.addIssue({
        code: 'custom',
        path: ['tokenizer'],
        message:
          "the next-token task cuts texts at the policy's token boundaries: give its tokenizer ('qwen3', a tokenizer.json or a model folder), not 'whitespace'",
      });
    }
    if (options.tasks !== 'next-token' && options.nextToken.minEntropy > 0) {
      context.addIssue({
        code: 'custom',
        path: ['nextToken', 'minEntropy'],
        message: "the entropy filter applies to tasks: 'next-token' only",
      });
    }
    if (new Set(options.formats).size !== options.formats.length) {
      context.addIssue({ code: 'custom', path: ['formats'], message: 'a format is listed twice' });
    }
  });

/** What a caller passes (defaults optional). */
export type PrepareOptions = z.input<typeof prepareOptionsSchema>;
/** Options with every default filled in. */
export type ResolvedPrepareOptions = z.output<typeof prepareOptionsSchema> & { workers: number };

/**
 * Validates options and fills in defaults. `workers` defaults to all cores.
 *
 * @throws ConfigError listing every problem (with its dotted path), not just the first.
 */
export function resolvePrepareOptions(options: unknown, source?: string): ResolvedPrepareOptions {
  const parsed = prepareOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigError({
      issues: parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
      ...(source ? { source } : {}),
    });
  }
  return { ...parsed.data, workers: parsed.data.workers ?? availableParallelism() };
}
