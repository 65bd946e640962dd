import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '@rlpt/spec';
import type { Command } from 'commander';
import * as z from 'zod';
import { flagError, integer } from '../flags.js';
import { createProgressBar, formatTable } from '../ui.js';

const positive = z.coerce.number({ error: 'must be a number' }).positive({ error: 'must be > 0' });

const initSchema = z.object({
  out: z.string({ error: 'is required: the model folder to create' }).min(1),
  tokenizer: z
    .string()
    .refine((value) => value === 'char' || value === 'qwen3' || value.startsWith('words:'), {
      error: "must be 'char', 'qwen3' or 'words:<file: one word per line, or a JSON array>'",
    }),
  addedTokens: z.string().optional(),
  architecture: z.enum(['llama', 'qwen2', 'qwen3'], { error: "must be 'llama', 'qwen2' or 'qwen3'" }),
  hiddenSize: integer(2),
  layers: integer(0),
  heads: integer(1),
  kvHeads: integer(1).optional(),
  headDim: integer(2).optional(),
  intermediateSize: integer(1).optional(),
  maxPositions: integer(2),
  ropeTheta: positive,
  seed: integer(0),
  std: positive,
  untied: z.boolean().optional(),
  safetensors: z.boolean(),
  standardOnnx: z.boolean().optional(),
  overwrite: z.boolean().optional(),
});

/** Validated `rlpt model init` settings. */
export type ModelInitSettings = z.infer<typeof initSchema>;

const convertSchema = z.object({
  checkpoint: z.string({ error: 'is required: a Hugging Face checkpoint folder' }).min(1),
  out: z.string({ error: 'is required: the ONNX model folder to create' }).min(1),
  externalData: z.enum(['auto', 'on', 'off'], { error: "must be 'auto', 'on' or 'off'" }),
  safetensors: z.boolean().optional(),
  standardOnnx: z.boolean().optional(),
  overwrite: z.boolean().optional(),
});

/** Validated `rlpt model convert` settings. */
export type ModelConvertSettings = z.infer<typeof convertSchema>;

/** Validates `rlpt model init` flags; a `ConfigError` lists every bad flag. */
export function parseModelInitFlags(flags: Record<string, unknown>): ModelInitSettings {
  const result = initSchema.safeParse(flags);
  if (!result.success) throw flagError('rlpt model init flags', result.error.issues);
  return result.data;
}

/** Validates `rlpt model convert` flags. */
export function parseModelConvertFlags(flags: Record<string, unknown>): ModelConvertSettings {
  const result = convertSchema.safeParse(flags);
  if (!result.success) throw flagError('rlpt model convert flags', result.error.issues);
  return result.data;
}

async function readWords(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError({
      source: 'rlpt model init flags',
      issues: [
        {
          path: '--tokenizer',
          message: `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
        },
      ],
    });
  }
  if (file.toLowerCase().endsWith('.json')) {
    // A JSON array of words, e.g. the vocab.json that `rlpt prepare --demo` writes.
    let words: unknown;
    try {
      words = JSON.parse(text);
    } catch (cause) {
      words = cause;
    }
    if (!Array.isArray(words) || !words.every((word) => typeof word === 'string')) {
      throw new ConfigError({
        source: 'rlpt model init flags',
        issues: [
          {
            path: '--tokenizer',
            message: `${file} must be a JSON array of strings (or a text file, one word per line)`,
          },
        ],
      });
    }
    return (words as string[]).map((word) => word.trim()).filter((word) => word.length > 0);
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** Plain standard ONNX: no onnxruntime contrib kernels, no `num_logits_to_keep` input. */
const standardGraph = { norm: 'primitive', linear: 'matmul', numLogitsToKeep: false } as const;

/** Writes a seeded random model folder; returns what was written. */
export async function runModelInit(settings: ModelInitSettings) {
  const model = await import('@rlpt/model');
  let tokenizer: import('@rlpt/model').TinyTokenizer;
  if (settings.tokenizer === 'char' || settings.tokenizer === 'qwen3') tokenizer = settings.tokenizer;
  else {
    const words = await readWords(resolve(settings.tokenizer.slice('words:'.length)));
    const addedTokens = settings.addedTokens
      ?.split(',')
      .map((token) => token.trim())
      .filter(Boolean);
    tokenizer = { words, ...(addedTokens ? { addedTokens } : {}) };
  }
  return model.createTinyModel({
    dir: settings.out,
    tokenizer,
    architecture: settings.architecture,
    hiddenSize: settings.hiddenSize,
    layers: settings.layers,
    heads: settings.heads,
    ...(settings.kvHeads !== undefined ? { kvHeads: settings.kvHeads } : {}),
    ...(settings.headDim !== undefined ? { headDim: settings.headDim } : {}),
    ...(settings.intermediateSize !== undefined ? { intermediateSize: settings.intermediateSize } : {}),
    maxPositionEmbeddings: settings.maxPositions,
    ropeTheta: settings.ropeTheta,
    seed: settings.seed,
    std: settings.std,
    tieWordEmbeddings: settings.untied !== true,
    safetensors: settings.safetensors,
    overwrite: settings.overwrite === true,
    ...(settings.standardOnnx ? { graph: standardGraph } : {}),
  });
}

/** Converts a checkpoint with a progress bar on stderr. */
export async function runModelConvert(settings: ModelConvertSettings) {
  const { convertCheckpoint } = await import('@rlpt/model');
  const progress = createProgressBar('rlpt model convert', { unit: 'tensors' });
  const folder = await convertCheckpoint({
    checkpoint: settings.checkpoint,
    out: settings.out,
    externalData: settings.externalData === 'auto' ? 'auto' : settings.externalData === 'on',
    // model.safetensors by default: rlpt train's learner reads the weights from it.
    safetensors: settings.safetensors !== false,
    overwrite: settings.overwrite === true,
    ...(settings.standardOnnx ? { graph: standardGraph } : {}),
    onEvent: (event) => {
      if (event.type !== 'progress') return;
      progress.update(
        event.done,
        event.total,
        event.phase === 'write-model' ? 'writing the ONNX folder' : 'reading weights',
      );
    },
  });
  progress.done(folder.dir);
  return folder;
}

async function printFolder(folder: {
  dir: string;
  config: import('@rlpt/model').DecoderConfig;
  files: string[];
}) {
  const { countParameters } = await import('@rlpt/model');
  const { config } = folder;
  const rows: (string | number)[][] = [
    ['folder', folder.dir],
    ['model_type', config.modelType],
    ['parameters', countParameters(config).toLocaleString('en-US')],
    ['vocab / hidden / layers', `${config.vocabSize} / ${config.hiddenSize} / ${config.numHiddenLayers}`],
    [
      'heads / kv heads / head dim',
      `${config.numAttentionHeads} / ${config.numKeyValueHeads} / ${config.headDim}`,
    ],
    ['max positions', config.maxPositionEmbeddings],
    ['files', folder.files.join(', ')],
  ];
  process.stdout.write(`${formatTable(['model', ''], rows)}\n`);
}

/** `rlpt model` — owned by the @rlpt/model issue. */
export function register(program: Command): void {
  const model = program
    .command('model')
    .description('Create (init) and convert (safetensors → ONNX) model folders.');
  model
    .command('init')
    .description(
      'Write a small seeded random Llama/Qwen model folder (ONNX + tokenizer) for tests, examples and the demo.',
    )
    .option('--out <dir>', 'model folder to create; required')
    .option(
      '--tokenizer <kind>',
      "'char', 'qwen3' (real Qwen3 tokenizer, 151,936 vocab) or 'words:<file>' (one word per line, or a JSON array such as rlpt prepare --demo's vocab.json)",
      'char',
    )
    .option(
      '--added-tokens <list>',
      "words tokenizer: comma-separated tokens matched verbatim, e.g. '<|startofprediction|>,<|endofprediction|>'",
    )
    .option('--architecture <type>', "'llama', 'qwen2' or 'qwen3'", 'qwen3')
    .option('--hidden-size <n>', 'hidden size', '64')
    .option('--layers <n>', 'decoder layers', '2')
    .option('--heads <n>', 'attention heads', '4')
    .option('--kv-heads <n>', 'key/value heads (default: min(2, heads))')
    .option('--head-dim <n>', 'head size (default: hidden size / heads)')
    .option('--intermediate-size <n>', 'MLP width (default: 2 × hidden size)')
    .option('--max-positions <n>', 'max_position_embeddings', '2048')
    .option('--rope-theta <x>', 'rotary base', '10000')
    .option('--seed <n>', 'random-init seed', '0')
    .option('--std <x>', 'std of the normal init (larger = peakier outputs)', '0.02')
    .option('--untied', 'separate LM head (default: tied to the embedding)')
    .option('--no-safetensors', 'skip model.safetensors (the learner reads weights from it)')
    .option(
      '--standard-onnx',
      'plain ONNX ops and exactly the Optimum inputs (no onnxruntime kernels, no num_logits_to_keep)',
    )
    .option('--overwrite', 'replace an existing folder')
    .action(async (flags: Record<string, unknown>) => {
      const folder = await runModelInit(parseModelInitFlags(flags));
      await printFolder(folder);
    });
  model
    .command('convert')
    .description(
      'Convert a Hugging Face checkpoint (config.json + safetensors + tokenizer) to an ONNX model folder.',
    )
    .option('--checkpoint <dir>', 'Hugging Face checkpoint folder; required')
    .option('--out <dir>', 'ONNX model folder to create; required')
    .option(
      '--external-data <mode>',
      "weights in onnx/model.onnx_data: 'auto' (above 1.5 GB), 'on' or 'off'",
      'auto',
    )
    .option('--safetensors', 'write float32 model.safetensors, which rlpt train reads (the default)')
    .option('--no-safetensors', 'skip model.safetensors: an inference-only folder (rlpt train cannot use it)')
    .option(
      '--standard-onnx',
      'plain ONNX ops and exactly the Optimum inputs (no onnxruntime kernels, no num_logits_to_keep)',
    )
    .option('--overwrite', 'replace an existing output folder')
    .action(async (flags: Record<string, unknown>) => {
      const folder = await runModelConvert(parseModelConvertFlags(flags));
      await printFolder(folder);
    });
}
