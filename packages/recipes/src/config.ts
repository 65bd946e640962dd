/**
 * The configuration of `rlpt train`: one zod schema for the YAML/JSON file, with CLI flags overriding its
 * keys. Every problem is collected (schema, cross-field rules, files that must exist) and reported in one
 * `ConfigError`, each with its dotted path and, when a flag set it, the flag.
 */
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname, join, resolve } from 'node:path';
import {
  type GrpoPreset,
  presets as grpoPresets,
  resolveAdvantageOptions,
  resolveObjectiveConfig,
} from '@rlpt/grpo';
import { ConfigError, type ConfigIssue } from '@rlpt/spec';
import * as z from 'zod';

const int = (min: number) =>
  z
    .number()
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` });
const positive = z.number().positive({ error: 'must be greater than 0' });
const ratio = z.number().min(0, { error: 'must be in [0, 1]' }).max(1, { error: 'must be in [0, 1]' });
const path = z.string().min(1, { error: 'must be a non-empty path' });
const schedule = z.enum(['constant', 'cosine'], { error: "must be 'constant' or 'cosine'" });

/** Learning-rate settings every training stage has (defaults differ per stage type). */
function optimizer(defaults: { learningRate: number; schedule: 'constant' | 'cosine' }) {
  return {
    learningRate: positive.default(defaults.learningRate),
    schedule: schedule.default(defaults.schedule),
    warmupSteps: int(0).default(0),
    minLearningRateRatio: ratio.default(0.1),
  };
}

const pretrainStage = z.strictObject({
  type: z.literal('pretrain'),
  name: z.string().min(1).optional(),
  steps: int(1),
  batchSize: int(1).default(8),
  maxTokens: int(2).default(512),
  ...optimizer({ learningRate: 1e-3, schedule: 'cosine' }),
  /** Documents: `.txt` (blank-line separated) or `.jsonl` (`textField`). Default: `<data.path>/corpus/train.jsonl`. */
  data: path.optional(),
  textField: z.string().min(1).default('text'),
});

const sftStage = z.strictObject({
  type: z.literal('sft'),
  name: z.string().min(1).optional(),
  steps: int(1),
  batchSize: int(1).default(8),
  maxTokens: int(1).default(1024),
  ...optimizer({ learningRate: 2e-5, schedule: 'cosine' }),
  /** JSONL of `{ prompt, completion }`. Default: the training samples with their gold predictions. */
  data: path.optional(),
});

const grpoPresetNames = Object.keys(grpoPresets) as [
  keyof typeof grpoPresets,
  ...(keyof typeof grpoPresets)[],
];

const grpoSettings = z
  .strictObject({
    preset: z
      .enum(grpoPresetNames, { error: `must be one of ${grpoPresetNames.join(', ')}` })
      .default('paper'),
    /** Overrides of the preset's advantage options (`@rlpt/grpo` `AdvantageOptions`). */
    advantage: z.record(z.string(), z.unknown()).optional(),
    /** Overrides of the preset's objective (`@rlpt/grpo` `ObjectiveConfig`). */
    objective: z.record(z.string(), z.unknown()).optional(),
  })
  .prefault({});

function rlStage<T extends 'rlpt' | 'rlvr'>(type: T) {
  return z.strictObject({
    type: z.literal(type),
    name: z.string().min(1).optional(),
    steps: int(1),
    promptsPerStep: int(1).default(512),
    rolloutsPerPrompt: int(2).default(8),
    temperature: z.number().min(0, { error: 'must be at least 0' }).default(1),
    topP: z.number().gt(0, { error: 'must be in (0, 1]' }).max(1, { error: 'must be in (0, 1]' }).optional(),
    topK: int(0).optional(),
    maxTokens: int(1).default(8192),
    ...optimizer({ learningRate: 1e-6, schedule: 'constant' }),
    grpo: grpoSettings,
    /** λ as a loss weight on MSR advantages (the alternative to mixing by prompt share in `rlpt prepare`). */
    msrLossWeight: z.number().min(0, { error: 'must be at least 0' }).optional(),
    samplesEvery: int(0).default(10),
    /** rlpt: samples JSONL or prepare folder instead of `data.path`; rlvr (required): JSONL with a prompt and an answer. */
    data: path.optional(),
    promptField: z.string().min(1).default('prompt'),
    answerField: z.string().min(1).default('answer'),
  });
}

/** RLP (METHOD.md §8): thoughts rewarded by the information gain on the real continuation; no judge. */
const rlpStage = z.strictObject({
  type: z.literal('rlp'),
  name: z.string().min(1).optional(),
  steps: int(1),
  promptsPerStep: int(1).default(64),
  /** Thoughts per context: the group of the group-relative advantages. */
  thoughtsPerPrompt: int(2).default(8),
  /** Token budget of a thought. */
  thoughtTokens: int(1).default(256),
  temperature: z.number().min(0, { error: 'must be at least 0' }).default(1),
  ...optimizer({ learningRate: 1e-6, schedule: 'constant' }),
  grpo: grpoSettings,
  /** `mean` (default) or `sum` of the continuation's token log-likelihoods on each side. */
  aggregate: z.enum(['mean', 'sum'], { error: "must be 'mean' or 'sum'" }).default('mean'),
  /** EMA decay of the teacher the learner keeps (φ ← decay·φ + (1 − decay)·θ after every step). */
  emaDecay: z
    .number()
    .gt(0, { error: 'must be in (0, 1)' })
    .lt(1, { error: 'must be in (0, 1)' })
    .default(0.999),
  thinkOpen: z.string().min(1).default('<think>'),
  thinkClose: z.string().min(1).default('</think>'),
  samplesEvery: int(0).default(10),
  /** Samples JSONL or prepare folder instead of `data.path` (next-token or next-segment samples: context and reference). */
  data: path.optional(),
});

const stageSchema = z.discriminatedUnion(
  'type',
  [pretrainStage, sftStage, rlStage('rlpt'), rlStage('rlvr'), rlpStage],
  {
    error: "must have a type: 'pretrain', 'sft', 'rlpt', 'rlvr' or 'rlp'",
  },
);

const backendSpec = z
  .string()
  .refine((value) => /^openai:https?:\/\/.+/.test(value) || /^onnx:.+/.test(value), {
    error: "must be 'openai:<base URL>' (e.g. openai:http://127.0.0.1:8000/v1) or 'onnx:<model folder>'",
  });

const serverKind = z.enum(['vllm', 'sglang', 'openai', 'generic'], {
  error: "must be 'vllm', 'sglang', 'openai' or 'generic'",
});

const modelSchema = z
  .strictObject({
    /** A model folder the learner loads: config.json, model.safetensors, tokenizer files. */
    dir: path.optional(),
    /** Or build a seeded tiny model (in `<runDir>/init-model`). */
    init: z
      .strictObject({
        tokenizer: z
          .enum(['words', 'char', 'qwen3'], { error: "must be 'words', 'char' or 'qwen3'" })
          .default('words'),
        architecture: z
          .enum(['qwen3', 'qwen2', 'llama'], { error: "must be 'qwen3', 'qwen2' or 'llama'" })
          .default('qwen3'),
        hiddenSize: int(1).default(64),
        layers: int(1).default(2),
        heads: int(1).default(4),
        kvHeads: int(1).default(2),
        intermediateSize: int(1).optional(),
        maxPositionEmbeddings: int(8).default(512),
        tieWordEmbeddings: z.boolean().default(true),
        std: positive.default(0.02),
        seed: int(0).optional(),
      })
      .optional(),
    adam: z
      .strictObject({
        beta1: z.number().min(0).lt(1, { error: 'must be in [0, 1)' }).optional(),
        beta2: z.number().min(0).lt(1, { error: 'must be in [0, 1)' }).optional(),
        eps: positive.optional(),
        weightDecay: z.number().min(0, { error: 'must be at least 0' }).optional(),
      })
      .optional(),
    maxGradNorm: positive.default(1),
    microBatchTokens: int(1).optional(),
    threadSpinning: z.boolean().optional(),
    executionProviders: z
      .array(z.enum(['cpu', 'cuda'], { error: "must be 'cpu' or 'cuda'" }))
      .min(1)
      .optional(),
  })
  .prefault({});

/** A section given as a string is its `backend` (`learner: tinker:URL`, `policy: openai:URL`). */
const shorthand = (value: unknown) => (typeof value === 'string' ? { backend: value } : value);

const learnerSchema = z.preprocess(
  shorthand,
  z
    .strictObject({
      /**
       * `onnx` (default: `@rlpt/learner-onnx` in this process) or `tinker:<server URL>` (the Tinker API:
       * hosted Tinker, SkyRL's Tinker server, `rlpt serve tinker`; the weights stay on the server).
       */
      backend: z
        .string()
        .refine((value) => value === 'onnx' || /^tinker:https?:\/\/.+/.test(value), {
          error: "must be 'onnx' or 'tinker:<server URL>' (e.g. tinker:http://127.0.0.1:8000)",
        })
        .default('onnx'),
      /** Tinker: the base model as the server names it (`get_server_capabilities`), e.g. Qwen/Qwen3-8B. */
      baseModel: z.string().min(1).optional(),
      /** Tinker: LoRA rank (default 32, the SDK's; `rlpt serve tinker` trains all parameters whatever it is). */
      loraRank: int(1).optional(),
      /** Tinker: the environment variable holding the API key (sent as X-API-Key, never logged). */
      apiKeyEnv: z.string().min(1).default('TINKER_API_KEY'),
      /** Tinker: `auto` (protobuf when the server asks for it), `json` or `protobuf`. */
      encoding: z
        .enum(['auto', 'json', 'protobuf'], { error: "must be 'auto', 'json' or 'protobuf'" })
        .default('auto'),
      /**
       * Tinker: send `optim_step` behind `forward_backward` without waiting (saves a round trip per step; the
       * step's grad norm is then not reported). Default false: metrics match the in-process learner's.
       */
      pipeline: z.boolean().default(false),
    })
    .prefault({}),
);

const policySchema = z
  .strictObject({
    /**
     * `onnx` (the learner's exported weights, reloaded after every update), `openai:<base URL>`, or
     * `tinker:<server URL>` (sampling from the weights a tinker learner saved after every update).
     */
    backend: z
      .string()
      .refine(
        (value) =>
          value === 'onnx' || /^openai:https?:\/\/.+/.test(value) || /^tinker:https?:\/\/.+/.test(value),
        {
          error:
            "must be 'onnx', 'openai:<base URL>' (e.g. openai:http://127.0.0.1:8000/v1) or 'tinker:<server URL>'",
        },
      )
      .default('onnx'),
    model: z.string().min(1).optional(),
    apiKeyEnv: z.string().min(1).default('OPENAI_API_KEY'),
    server: serverKind.default('vllm'),
    /**
     * openai policy: `false` (default) pushes the learner's weights to the server after every update
     * (`POST /update_weights_from_disk`: `rlpt serve model`, SGLang; the exported folder must be readable by
     * the server); `true` leaves the served weights alone, so every update after the first is off-policy.
     */
    offPolicy: z.boolean().default(false),
    threads: int(1).optional(),
    maxBatchSize: int(1).optional(),
  })
  .prefault({});
const policySection = z.preprocess(shorthand, policySchema);

const judgeSchema = z
  .strictObject({
    /**
     * `lexical` (word alignment, no model), `generative` (an LLM judge, the paper's), or `rpt` (RPT's reward:
     * an exact prefix of the reference ending on one of its token boundaries; trains next-token samples too).
     */
    type: z
      .enum(['lexical', 'generative', 'rpt'], { error: "must be 'lexical', 'generative' or 'rpt'" })
      .default('lexical'),
    /** rpt: the tokenizer whose token ends count — `qwen3`, a model folder or a tokenizer.json. Default: the model's. */
    tokenizer: z.string().min(1).optional(),
    /** rpt: `trim` (default: leading/trailing whitespace of the prediction is ignored) or `exact`. */
    whitespace: z.enum(['trim', 'exact'], { error: "must be 'trim' or 'exact'" }).optional(),
    /** Generative judges: `openai:<base URL>` or `onnx:<model folder>`. */
    backend: backendSpec.optional(),
    model: z.string().min(1).optional(),
    apiKeyEnv: z.string().min(1).default('OPENAI_API_KEY'),
    server: serverKind.default('vllm'),
    mode: z.enum(['prefix', 'strict'], { error: "must be 'prefix' or 'strict'" }).default('prefix'),
    preset: z.enum(['paper', 'tiny'], { error: "must be 'paper' or 'tiny'" }).default('paper'),
    template: path.optional(),
    tolerance: ratio.default(0.2),
    scoring: z.enum(['binary', 'graded'], { error: "must be 'binary' or 'graded'" }).default('binary'),
    minWords: int(0).default(3),
    hardening: z.boolean().default(true),
    concurrency: int(1).default(8),
    batchSize: int(1).default(16),
    retries: int(0).default(3),
    timeoutMs: int(1).default(60_000),
    onFailure: z.enum(['exclude', 'zero'], { error: "must be 'exclude' or 'zero'" }).default('exclude'),
    /** Tokens of the judge's answer, thoughts included. Default: 4096 for chat prompts, 8 for text. */
    maxTokens: int(1).optional(),
    /** Let a reasoning judge think before its verdict (`false` sends enable_thinking=false). */
    thinking: z.boolean().default(false),
    /** Extra JSON fields of every request to an openai: judge (e.g. chat_template_kwargs). */
    extraBody: z.record(z.string(), z.unknown()).optional(),
    /** Stop training when more than this share of judge calls failed over the last `failureWindow` RL steps. */
    maxFailureRate: ratio.default(0.2),
    /** RL steps over which the judge failure rate is measured. */
    failureWindow: int(1).default(3),
    promptFormat: z
      .enum(['auto', 'chat', 'text'], { error: "must be 'auto', 'chat' or 'text'" })
      .default('auto'),
    system: z.string().optional(),
    cacheSize: int(0).default(100_000),
    threads: int(1).optional(),
  })
  .prefault({});

const dataSchema = z
  .strictObject({
    /** An `rlpt prepare` output folder, or a samples JSONL file. */
    path: path.optional(),
    /** Split of a prepare folder the RL and default SFT data come from. */
    split: z.string().min(1).default('train'),
    /** Held-out samples for evaluation (default: the prepare folder's `validation` split). */
    heldOut: path.optional(),
    /** Read at most this many training samples. */
    limit: int(1).optional(),
  })
  .prefault({});

const evalSchema = z.strictObject({
  /** Held-out prompts evaluated (the first N). */
  items: int(1).default(100),
  /** Evaluate every N steps of each RL stage (0: never during stages). */
  every: int(0).default(0),
  /** Evaluate before the first RL stage (the cold start) too. */
  atStart: z.boolean().default(false),
  /** Evaluate after the last stage. */
  final: z.boolean().default(true),
  n: int(1).default(8),
  temperature: z.number().min(0, { error: 'must be at least 0' }).default(1),
  topP: z.number().gt(0, { error: 'must be in (0, 1]' }).max(1, { error: 'must be in (0, 1]' }).optional(),
  /** Default: the first RL stage's maxTokens (else 256). */
  maxTokens: int(1).optional(),
  greedy: z.boolean().default(false),
  /** Reward of the evaluation (default the judge's mode); `strict` compares with s_i alone. */
  mode: z.enum(['prefix', 'strict'], { error: "must be 'prefix' or 'strict'" }).optional(),
});

export const trainConfigSchema = z.strictObject({
  runDir: path,
  seed: int(0).default(0),
  resume: z.boolean().default(false),
  checkpointEvery: int(1).default(50),
  /** onnxruntime threads of the onnx policy, and of the learner with `fast` (fix it: results depend on it). Default: all cores. */
  threads: int(1).optional(),
  /**
   * Train with `threads` learner threads too. Faster, but not reproducible: onnxruntime's multi-threaded
   * scatter-add (the embedding gradient) sums in a load-dependent order. Default false: one learner thread.
   */
  fast: z.boolean().default(false),
  model: modelSchema,
  learner: learnerSchema,
  policy: policySection,
  judge: judgeSchema,
  data: dataSchema,
  stages: z.array(stageSchema).min(1, { error: 'needs at least one stage' }),
  eval: evalSchema.optional(),
});

/** The configuration as parsed (defaults filled in). */
export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type StageConfig = TrainConfig['stages'][number];
export type RlStageConfig = Extract<StageConfig, { type: 'rlpt' | 'rlvr' }>;
export type RlpStageConfig = Extract<StageConfig, { type: 'rlp' }>;

/** The configuration after validation: thread count and stage names resolved, paths absolute. */
export type ResolvedTrainConfig = TrainConfig & {
  threads: number;
  stages: (StageConfig & { name: string })[];
};

/** Flags of `rlpt train` that override config keys (strings as commander hands them over). */
export interface TrainFlags {
  config?: string;
  runDir?: string;
  resume?: boolean;
  fast?: boolean;
  seed?: string;
  checkpointEvery?: string;
  threads?: string;
  model?: string;
  learner?: string;
  policy?: string;
  judge?: string;
  data?: string;
  set?: string[];
}

/** Config key each override flag sets, for error messages. */
const flagKeys: Record<string, keyof TrainFlags> = {
  runDir: 'runDir',
  resume: 'resume',
  fast: 'fast',
  seed: 'seed',
  checkpointEvery: 'checkpointEvery',
  threads: 'threads',
  'model.dir': 'model',
  'learner.backend': 'learner',
  'policy.backend': 'policy',
  'data.path': 'data',
};

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** Reads a YAML (`.yaml`/`.yml`, default) or JSON (`.json`) config file into a plain object. */
export async function readTrainConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError({
      source: file,
      issues: [
        {
          path: '--config',
          message: `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
        },
      ],
    });
  }
  let value: unknown;
  try {
    if (extname(file).toLowerCase() === '.json') value = JSON.parse(text);
    else {
      const yaml = await import('yaml');
      const document = yaml.parseDocument(text, { prettyErrors: true });
      if (document.errors.length > 0) {
        throw new ConfigError({
          source: file,
          issues: document.errors.map((error) => ({
            path: error.linePos ? `line ${error.linePos[0].line}` : '(root)',
            message: error.message.split('\n')[0] ?? error.message,
          })),
        });
      }
      value = document.toJS();
    }
  } catch (cause) {
    if (ConfigError.isInstance(cause)) throw cause;
    throw new ConfigError({ source: file, issues: [{ path: '(root)', message: (cause as Error).message }] });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError({
      source: file,
      issues: [
        { path: '(root)', message: 'the file must hold a mapping of settings (runDir, model, stages, …)' },
      ],
    });
  }
  return value as Record<string, unknown>;
}

/** Parses a flag or `--set` value as YAML, so numbers, booleans and lists keep their type. */
async function parseValue(text: string): Promise<unknown> {
  const yaml = await import('yaml');
  try {
    return yaml.parse(text);
  } catch {
    return text;
  }
}

/** Sets `object[a][b][c] = value` for the path `a.b.c` (numeric parts index arrays), creating containers. */
export function setPath(object: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node: Record<string, unknown> | unknown[] = object;
  parts.forEach((part, index) => {
    const key: string | number = Array.isArray(node) && /^\d+$/.test(part) ? Number(part) : part;
    if (index === parts.length - 1) {
      (node as Record<string | number, unknown>)[key] = value;
      return;
    }
    let next = (node as Record<string | number, unknown>)[key];
    if (typeof next !== 'object' || next === null) {
      next = /^\d+$/.test(parts[index + 1]!) ? [] : {};
      (node as Record<string | number, unknown>)[key] = next;
    }
    node = next as Record<string, unknown> | unknown[];
  });
}

/**
 * Merges flags over the file's settings. Returns the raw object to validate and, for each key a flag set,
 * the flag (so errors name it).
 */
export async function applyFlags(
  file: Record<string, unknown>,
  flags: TrainFlags,
): Promise<{ raw: Record<string, unknown>; sources: Map<string, string>; issues: ConfigIssue[] }> {
  const raw = structuredClone(file);
  // `learner: tinker:URL` / `policy: openai:URL` are shorthands for { backend }, so flags can set keys inside.
  for (const key of ['learner', 'policy']) raw[key] = shorthand(raw[key]);
  if (raw.learner === undefined) delete raw.learner;
  if (raw.policy === undefined) delete raw.policy;
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [key, flag] of Object.entries(flagKeys)) {
    const value = flags[flag];
    if (value === undefined || value === false) continue;
    setPath(raw, key, typeof value === 'string' ? await parseValue(value) : value);
    sources.set(key, `--${kebab(flag)}`);
  }
  if (typeof flags.judge === 'string') {
    // --judge lexical | openai:URL | onnx:DIR
    const value = flags.judge;
    if (value === 'lexical') setPath(raw, 'judge.type', 'lexical');
    else {
      setPath(raw, 'judge.type', 'generative');
      setPath(raw, 'judge.backend', value);
      sources.set('judge.backend', '--judge');
    }
    sources.set('judge.type', '--judge');
  }
  for (const assignment of flags.set ?? []) {
    const equals = assignment.indexOf('=');
    if (equals <= 0) {
      issues.push({
        path: `--set ${assignment}`,
        message: 'must be key.path=value, e.g. --set stages.2.steps=100',
      });
      continue;
    }
    const key = assignment.slice(0, equals).trim();
    setPath(raw, key, await parseValue(assignment.slice(equals + 1)));
    sources.set(key, `--set ${key}`);
  }
  return { raw, sources, issues };
}

function issuePath(parts: readonly PropertyKey[]): string {
  return parts.map(String).join('.');
}

/** Labels a path with the flag that set it (or its closest parent). */
function label(path: string, sources: Map<string, string>): string {
  for (let cut = path; cut; cut = cut.includes('.') ? cut.slice(0, cut.lastIndexOf('.')) : '') {
    const flag = sources.get(cut);
    if (flag) return `${path} (${flag})`;
  }
  return path;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isFile(),
    () => false,
  );
}
async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/** The GRPO preset of an RL stage with its overrides applied (validated by `checkConfig`). */
export function grpoOf(stage: RlStageConfig | RlpStageConfig): GrpoPreset {
  const preset = grpoPresets[stage.grpo.preset];
  return {
    advantage: { ...preset.advantage, ...(stage.grpo.advantage ?? {}) },
    objective: { ...preset.objective, ...(stage.grpo.objective ?? {}) },
  };
}

/** Default stage names: the type, numbered from the second stage of a type on (`sft`, `sft-2`). */
function stageNames(stages: readonly { type?: unknown; name?: unknown }[]): string[] {
  const seen = new Map<string, number>();
  return stages.map((stage) => {
    if (typeof stage.name === 'string' && stage.name) return stage.name;
    const type = String(stage.type);
    const count = (seen.get(type) ?? 0) + 1;
    seen.set(type, count);
    return count === 1 ? type : `${type}-${count}`;
  });
}

/** The raw stage entries, as far as they are objects (for names, even of stages with errors). */
function rawStages(raw: Record<string, unknown>): { type?: unknown; name?: unknown }[] {
  return Array.isArray(raw.stages)
    ? raw.stages.map((stage) => (typeof stage === 'object' && stage !== null ? stage : {}))
    : [];
}

/** The sections that parsed (a section with schema errors is absent; so is each invalid stage). */
interface ParsedSections {
  model?: TrainConfig['model'];
  learner?: TrainConfig['learner'];
  policy?: TrainConfig['policy'];
  judge?: TrainConfig['judge'];
  data?: TrainConfig['data'];
  eval?: TrainConfig['eval'] | undefined;
  /** Per stage index: the parsed stage, or undefined when it has schema errors. */
  stages: (StageConfig | undefined)[];
  /** Per stage index: its name (given, or the default from its type). */
  names: string[];
}

/** Rules across keys and checks of the files the run needs, on every section that parsed. */
async function checkConfig(config: ParsedSections, cwd: string): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const at = (file: string) => resolve(cwd, file);

  const model = config.model;
  if (model) {
    if (model.dir && model.init)
      add('model', 'give either dir (a model folder) or init (a tiny model), not both');
    if (!model.dir && !model.init)
      add('model', 'needs dir (a model folder for the learner) or init (build a tiny model)');
    if (model.dir && !(await isFile(join(at(model.dir), 'config.json')))) {
      add(
        'model.dir',
        `${at(model.dir)} is not a model folder (no config.json); convert one with rlpt model convert`,
      );
    }
    const init = model.init;
    if (init && init.heads % init.kvHeads !== 0)
      add('model.init.kvHeads', `must divide heads (${init.heads})`);
    if (init && init.hiddenSize % init.heads !== 0)
      add('model.init.hiddenSize', `must be a multiple of heads (${init.heads})`);
  }

  const policy = config.policy;
  if (policy?.backend.startsWith('openai:')) {
    if (!policy.model) add('policy.model', 'is required with an openai policy (the served model name)');
  }
  const learner = config.learner;
  const tinkerLearner = learner?.backend.startsWith('tinker:') ?? false;
  if (learner && tinkerLearner) {
    if (!learner.baseModel)
      add('learner.baseModel', 'is required with a tinker learner (the base model as the server names it)');
    if (model?.init)
      add(
        'model.init',
        "cannot be used with a tinker learner (the weights live on the server): set model.dir to a folder with the base model's tokenizer files",
      );
    if (policy && !policy.backend.startsWith('tinker:'))
      add(
        'policy',
        `must be tinker:<server URL> with a tinker learner (its weights live on the server; e.g. policy: ${learner.backend})`,
      );
  }
  if (learner && policy?.backend.startsWith('tinker:') && !tinkerLearner)
    add(
      'policy',
      'tinker:<server URL> samples the weights a tinker learner saves: set learner to tinker:<server URL> too',
    );

  const judge = config.judge;
  if (judge?.type === 'generative') {
    if (!judge.backend)
      add(
        'judge.backend',
        "is required for a generative judge: 'openai:<base URL>' or 'onnx:<model folder>'",
      );
    else if (judge.backend.startsWith('openai:') && !judge.model)
      add('judge.model', 'is required with an openai judge (the served model name)');
    else if (judge.backend.startsWith('onnx:') && !(await isDirectory(at(judge.backend.slice(5))))) {
      add('judge.backend', `${at(judge.backend.slice(5))} is not a folder`);
    }
  }
  if (judge?.template && !(await isFile(at(judge.template))))
    add('judge.template', `${at(judge.template)} does not exist`);

  const data = config.data;
  const dataPath = data?.path ? at(data.path) : undefined;
  const dataIsFolder = dataPath ? await isDirectory(dataPath) : false;
  // A data.path that does not exist is reported once, not again by every check that reads it.
  const dataMissing = dataPath !== undefined && !dataIsFolder && !(await isFile(dataPath));
  if (dataMissing) add('data.path', `${dataPath} does not exist`);
  if (data?.heldOut && !(await isFile(at(data.heldOut))) && !(await isDirectory(at(data.heldOut)))) {
    add('data.heldOut', `${at(data.heldOut)} does not exist`);
  }

  const valid = config.stages.filter((stage): stage is StageConfig => stage !== undefined);
  const firstUse = new Map<string, number>();
  for (const [index, name] of config.names.entries()) {
    if (firstUse.has(name)) {
      add(
        `stages.${index}.name`,
        `"${name}" is also the name of stage ${firstUse.get(name)}; stage names must be unique (checkpoints and resume use them)`,
      );
    } else firstUse.set(name, index);
  }
  for (const [index, stage] of config.stages.entries()) {
    if (!stage) continue;
    const where = `stages.${index}`;
    if (stage.data && !(await isFile(at(stage.data))) && !(await isDirectory(at(stage.data))))
      add(`${where}.data`, `${at(stage.data)} does not exist`);
    if (stage.type === 'pretrain' && !stage.data && data && !dataMissing) {
      if (!dataIsFolder)
        add(
          `${where}.data`,
          'is required: a .txt or .jsonl file of documents (or data.path: a prepare folder with corpus/train.jsonl)',
        );
      else if (!(await isFile(join(dataPath!, 'corpus', 'train.jsonl')))) {
        add(
          `${where}.data`,
          `is required: ${dataPath} has no corpus/train.jsonl (only rlpt prepare --demo writes one); give a .txt or .jsonl file of documents`,
        );
      }
    }
    if (
      (stage.type === 'sft' || stage.type === 'rlpt' || stage.type === 'rlp') &&
      !stage.data &&
      data &&
      !dataPath
    ) {
      add(
        `${where}.data`,
        'needs training samples: set data.path (an rlpt prepare folder or samples JSONL) or this stage’s data',
      );
    }
    if (stage.type === 'rlvr' && !stage.data)
      add(
        `${where}.data`,
        `is required for rlvr: a JSONL file with ${stage.promptField} and ${stage.answerField} fields`,
      );
    if (stage.type === 'rlpt' || stage.type === 'rlvr' || stage.type === 'rlp') {
      const grpo = grpoOf(stage);
      for (const [part, check] of [
        ['advantage', () => resolveAdvantageOptions(grpo.advantage, `${where}.grpo.advantage`)],
        ['objective', () => resolveObjectiveConfig(grpo.objective, `${where}.grpo.objective`)],
      ] as const) {
        try {
          check();
        } catch (error) {
          const argument = String((error as { argument?: string }).argument ?? '').replace(
            /^(options|config)\.?/,
            '',
          );
          add(
            `${where}.grpo.${part}${argument ? `.${argument}` : ''}`,
            (error as Error).message.replace(/^[^:]*: /, ''),
          );
        }
      }
    }
  }
  const rlpStages = valid.filter((stage) => stage.type === 'rlp');
  if (new Set(rlpStages.map((stage) => stage.emaDecay)).size > 1)
    add('stages', "rlp stages share the learner's one EMA teacher: give them the same emaDecay");
  if (rlpStages.length > 0 && config.learner?.backend.startsWith('tinker:'))
    add(
      'learner',
      'rlp stages need the EMA teacher of the in-process learner (learner: onnx); the Tinker API has none',
    );
  if (config.eval && data && !data.heldOut && !dataIsFolder && !dataMissing) {
    add(
      'eval',
      'needs held-out samples: set data.heldOut (a samples JSONL) or make data.path a prepare folder (its validation split)',
    );
  }
  if (
    config.eval &&
    config.eval.every > 0 &&
    config.stages.every((stage) => stage !== undefined) &&
    !valid.some((stage) => stage.type === 'rlpt' || stage.type === 'rlvr')
  ) {
    add('eval.every', 'evaluates during RL stages, but there is none');
  }
  return issues;
}

/** The value at a dotted path of the raw config (to tell a missing key from a wrong one). */
function valueAt(raw: unknown, parts: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const part of parts) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[part as string];
  }
  return node;
}

/**
 * Validates a raw config (file merged with flags) into the resolved configuration, or throws a
 * `ConfigError` listing every problem. Each section (and each stage) is validated on its own, so the
 * rules across keys still run for the sections that are fine. Relative paths resolve against `cwd`.
 */
export async function resolveTrainConfig(
  raw: Record<string, unknown>,
  options: { source: string; sources?: Map<string, string>; cwd?: string; extraIssues?: ConfigIssue[] },
): Promise<ResolvedTrainConfig> {
  const cwd = options.cwd ?? process.cwd();
  const sources = options.sources ?? new Map<string, string>();
  const issues: ConfigIssue[] = [...(options.extraIssues ?? [])];
  const schemaIssue = (prefix: PropertyKey[], issue: z.core.$ZodIssue) => {
    const parts = [...prefix, ...issue.path];
    const missing = issue.code === 'invalid_type' && valueAt(raw, parts) === undefined;
    issues.push({
      path: label(issuePath(parts) || '(root)', sources),
      message: missing ? 'is required' : issue.message,
    });
  };
  const shape = trainConfigSchema.shape;
  const sections: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in shape))
      schemaIssue([], {
        code: 'unrecognized_keys',
        keys: [key],
        path: [],
        message: `Unrecognized key: "${key}"`,
      } as z.core.$ZodIssue);
  }
  for (const [key, schema] of Object.entries(shape)) {
    if (key === 'stages') continue;
    const result = (schema as z.ZodType).safeParse(raw[key]);
    if (result.success) sections[key] = result.data;
    else for (const issue of result.error.issues) schemaIssue([key], issue);
  }
  const stages: (StageConfig | undefined)[] = [];
  if (!Array.isArray(raw.stages) || raw.stages.length === 0) {
    issues.push({
      path: label('stages', sources),
      message: Array.isArray(raw.stages)
        ? 'needs at least one stage'
        : 'is required: a list of stages (pretrain, sft, rlpt, rlvr, rlp)',
    });
  } else {
    for (const [index, stage] of raw.stages.entries()) {
      const result = stageSchema.safeParse(stage);
      if (result.success) stages.push(result.data);
      else {
        stages.push(undefined);
        for (const issue of result.error.issues) schemaIssue(['stages', index], issue);
      }
    }
  }
  const checks = await checkConfig(
    {
      ...(sections.model ? { model: sections.model as TrainConfig['model'] } : {}),
      ...(sections.learner ? { learner: sections.learner as TrainConfig['learner'] } : {}),
      ...(sections.policy ? { policy: sections.policy as TrainConfig['policy'] } : {}),
      ...(sections.judge ? { judge: sections.judge as TrainConfig['judge'] } : {}),
      ...(sections.data ? { data: sections.data as TrainConfig['data'] } : {}),
      eval: sections.eval as TrainConfig['eval'],
      stages,
      names: stageNames(rawStages(raw)),
    },
    cwd,
  );
  for (const issue of checks) issues.push({ ...issue, path: label(issue.path, sources) });
  if (issues.length > 0) throw new ConfigError({ source: options.source, issues });
  const config = trainConfigSchema.parse(raw);
  const names = stageNames(config.stages);
  const absolute = (file: string | undefined) => (file === undefined ? undefined : resolve(cwd, file));
  const withBackendPath = (spec: string | undefined) =>
    spec?.startsWith('onnx:') ? `onnx:${resolve(cwd, spec.slice(5))}` : spec;
  return {
    ...config,
    runDir: resolve(cwd, config.runDir),
    threads: config.threads ?? availableParallelism(),
    model: { ...config.model, ...(config.model.dir ? { dir: absolute(config.model.dir) } : {}) },
    judge: {
      ...config.judge,
      ...(config.judge.backend ? { backend: withBackendPath(config.judge.backend) } : {}),
      ...(config.judge.template ? { template: absolute(config.judge.template) } : {}),
    },
    data: {
      ...config.data,
      ...(config.data.path ? { path: absolute(config.data.path) } : {}),
      ...(config.data.heldOut ? { heldOut: absolute(config.data.heldOut) } : {}),
    },
    stages: config.stages.map((stage, index) => ({
      ...stage,
      name: names[index]!,
      ...(stage.data ? { data: absolute(stage.data) } : {}),
    })),
  } as ResolvedTrainConfig;
}

/**
 * Flags + optional config file → the resolved configuration. With `--resume` and no `--config`, the
 * run directory's `config.json` is the file.
 */
export async function loadTrainConfig(flags: TrainFlags, cwd = process.cwd()): Promise<ResolvedTrainConfig> {
  let file: Record<string, unknown> = {};
  let source = 'rlpt train flags';
  if (flags.config) {
    file = await readTrainConfigFile(resolve(cwd, flags.config));
    source = `${flags.config} and rlpt train flags`;
  } else if (flags.resume && flags.runDir) {
    const stored = join(resolve(cwd, flags.runDir), 'config.json');
    if (await isFile(stored)) {
      file = await readTrainConfigFile(stored);
      source = `${stored} and rlpt train flags`;
    }
  }
  const { raw, sources, issues } = await applyFlags(file, flags);
  if (!flags.config && Object.keys(file).length === 0 && raw.stages === undefined) {
    issues.push({
      path: '--config',
      message: 'is required: a YAML or JSON file with model, data and stages (see examples/train/run.yaml)',
    });
  }
  return resolveTrainConfig(raw, { source, sources, cwd, extraIssues: issues });
}
