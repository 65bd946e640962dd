import { resolve } from 'node:path';
import type { EvalReport, RunEvalOptions } from '@rlpt/eval';
import { registerBuiltins } from '@rlpt/recipes';
import {
  backendProviderFor,
  ConfigError,
  createBackendFromSpec,
  type InferenceBackendV1,
  type RlptEvent,
} from '@rlpt/spec';
import type { Command } from 'commander';
import * as z from 'zod';
import { flagName, integer } from '../flags.js';
import { type ProgressBar, createProgressBar } from '../ui.js';

/** Flags of `rlpt eval`, as commander hands them over (strings until validated). */
export interface RawEvalFlags {
  backend?: string;
  model?: string;
  apiKeyEnv?: string;
  server?: string;
  benchmarks?: string;
  dataDir?: string;
  out?: string;
  n: string;
  temperature: string;
  topP: string;
  maxTokens?: string;
  k: string;
  seed?: string;
  shuffleSeed: string;
  limit?: string;
  concurrency: string;
  batchSize: string;
  fallback: string;
  percentage: string;
  saveCompletions: boolean;
  promptFormat: string;
  threads?: string;
  overwrite?: boolean;
}

/** The paper's max new tokens per sample (RLPT §6), the default of --max-tokens. */
export const PAPER_MAX_TOKENS = 32_768;

/** A backend spec the registry resolves: onnx:, openai:, transformers: or a plugin's. */
const backendSpec = z
  .string({ error: 'is required: onnx:<model folder> or openai:<base URL>' })
  .superRefine((value, context) => {
    registerBuiltins();
    try {
      backendProviderFor(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const benchmarkList = z
  .string({ error: 'is required: a comma-separated list, e.g. aime24,gsm8k (name=path for one file)' })
  .min(1)
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map((entry) => {
        const [name, ...rest] = entry.split('=');
        return { name: name!.trim(), path: rest.length ? rest.join('=').trim() : undefined };
      }),
  );

const kList = z
  .string()
  .transform((value) => value.split(',').map((entry) => Number(entry.trim())))
  .refine((values) => values.length > 0 && values.every((value) => Number.isInteger(value) && value >= 1), {
    error: 'must be comma-separated positive integers, e.g. 1,8',
  });

const flagsSchema = z.object({
  backend: backendSpec,
  model: z.string().min(1).optional(),
  apiKeyEnv: z.string().min(1).optional(),
  server: z.enum(['vllm', 'sglang', 'openai', 'generic'], {
    error: "must be 'vllm', 'sglang', 'openai' or 'generic'",
  }),
  benchmarks: benchmarkList,
  dataDir: z.string().min(1).optional(),
  out: z.string({ error: 'is required: the run folder (re-using it resumes)' }).min(1),
  n: integer(1),
  temperature: z.coerce.number({ error: 'must be a number' }).min(0, { error: 'must be at least 0' }),
  topP: z.coerce
    .number({ error: 'must be a number' })
    .gt(0, { error: 'must be in (0, 1]' })
    .max(1, { error: 'must be in (0, 1]' }),
  maxTokens: integer(1).optional(),
  k: kList,
  seed: integer(0).optional(),
  shuffleSeed: integer(0),
  limit: integer(1).optional(),
  concurrency: integer(1),
  batchSize: integer(1),
  fallback: z.enum(['last-number', 'none'], { error: "must be 'last-number' or 'none'" }),
  percentage: z.enum(['sign', 'always', 'never'], { error: "must be 'sign', 'always' or 'never'" }),
  saveCompletions: z.boolean(),
  promptFormat: z.enum(['chat', 'raw'], { error: "must be 'chat' or 'raw'" }),
  threads: integer(1).optional(),
  overwrite: z.boolean().optional(),
});

/**
 * The validated settings of `rlpt eval`. `maxTokensGiven`: --max-tokens was on the command line (a value
 * above the server's context is then refused; the default is lowered to it with a warning).
 */
export type EvalSettings = Omit<z.infer<typeof flagsSchema>, 'maxTokens'> & {
  maxTokens: number;
  maxTokensGiven: boolean;
};

/** Validates the flags; a `ConfigError` lists every bad flag. */
export function parseEvalFlags(flags: RawEvalFlags): EvalSettings {
  const result = flagsSchema.safeParse(flags);
  const issues = result.success
    ? []
    : result.error.issues.map((issue) => ({
        path: flagName(String(issue.path[0] ?? '')),
        message: issue.message,
      }));
  // Checks across flags, made on the raw values so they are listed together with the others.
  if (flags.backend?.startsWith('openai:') && !flags.model)
    issues.push({ path: '--model', message: 'is required with an openai: backend (the served model name)' });
  if (
    !flags.dataDir &&
    (flags.benchmarks ?? '').split(',').some((entry) => entry.trim() && !entry.includes('='))
  )
    issues.push({ path: '--data-dir', message: 'is required unless every benchmark is given as name=path' });
  if (!result.success || issues.length > 0) throw new ConfigError({ source: 'rlpt eval flags', issues });
  return {
    ...result.data,
    maxTokens: result.data.maxTokens ?? PAPER_MAX_TOKENS,
    maxTokensGiven: result.data.maxTokens !== undefined,
  };
}

/** The context length a backend can serve, and where it was learnt. */
export interface BackendContext {
  length: number;
  source: string;
}

/**
 * Learns the context length: for openai: the served model's `max_model_len` from `GET <base>/models`
 * (vLLM, SGLang and `rlpt serve model` report it); for onnx: `max_position_embeddings` of the folder's
 * config.json. Null when the server does not say (other OpenAI-compatible servers).
 */
export async function backendContext(settings: EvalSettings): Promise<BackendContext | null> {
  const local = /^(onnx|transformers):/.exec(settings.backend);
  if (local) {
    const { readModelConfig } = await import('@rlpt/model');
    const dir = resolve(settings.backend.slice(local[0].length));
    const { config } = await readModelConfig(dir);
    return { length: config.maxPositionEmbeddings, source: `${dir}/config.json max_position_embeddings` };
  }
  if (!settings.backend.startsWith('openai:')) return null;
  const base = settings.backend.slice('openai:'.length).replace(/\/+$/, '');
  const url = `${base}/models`;
  const key = process.env[settings.apiKeyEnv ?? 'OPENAI_API_KEY'];
  let body: unknown;
  try {
    const response = await fetch(url, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) return null;
    body = await response.json();
  } catch {
    return null;
  }
  const cards = (body as { data?: unknown })?.data;
  if (!Array.isArray(cards)) return null;
  const card = cards.find((entry) => (entry as { id?: unknown })?.id === settings.model) as
    | { max_model_len?: unknown }
    | undefined;
  const length = card?.max_model_len;
  return typeof length === 'number' && Number.isInteger(length) && length > 0
    ? { length, source: `GET ${url} max_model_len of ${settings.model}` }
    : null;
}

/**
 * Fits max tokens to the backend's context before any work: the default (the paper's 32768) is lowered
 * to the context with a warning; a --max-tokens given above it is a `ConfigError`.
 */
export function fitMaxTokens(
  settings: EvalSettings,
  context: BackendContext | null,
  warn: (message: string) => void,
): EvalSettings {
  if (!context || settings.maxTokens <= context.length) return settings;
  if (settings.maxTokensGiven) {
    throw new ConfigError({
      source: 'rlpt eval flags',
      issues: [
        {
          path: '--max-tokens',
          message: `is ${settings.maxTokens}, more than the model's context of ${context.length} tokens (${context.source}); give at most ${context.length}`,
        },
      ],
    });
  }
  warn(
    `--max-tokens defaults to the paper's ${settings.maxTokens}, more than the model's context of ${context.length} tokens (${context.source}); using ${context.length}`,
  );
  return { ...settings, maxTokens: context.length };
}

async function createBackend(settings: EvalSettings): Promise<InferenceBackendV1> {
  // Local model folders resolve against the working directory; every spec goes through the registry.
  const local = /^(onnx|transformers):/.exec(settings.backend);
  const spec = local ? `${local[1]}:${resolve(settings.backend.slice(local[0].length))}` : settings.backend;
  const backend = await createBackendFromSpec(spec, {
    model: settings.model,
    server: settings.server,
    ...(settings.apiKeyEnv ? { apiKeyEnv: settings.apiKeyEnv } : {}),
    ...(settings.threads ? { threads: settings.threads } : {}),
  });
  await (backend as { init?: () => Promise<void> }).init?.();
  return backend;
}

/** Output streams, replaceable in tests. */
export interface EvalIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

/** Loads the benchmarks, runs them against the backend, prints the results table. */
export async function runEvalCommand(
  flagSettings: EvalSettings,
  io: EvalIo = { stdout: process.stdout, stderr: process.stderr },
  signal?: AbortSignal,
): Promise<EvalReport> {
  // Before anything is loaded or written: a max tokens the backend cannot honour.
  const settings = fitMaxTokens(flagSettings, await backendContext(flagSettings), (message) =>
    io.stderr.write(`rlpt eval: warning: ${message}\n`),
  );
  const [{ loadBenchmark, runEval }, { rawChatTemplate }] = await Promise.all([
    import('@rlpt/eval'),
    import('@rlpt/prompts'),
  ]);
  let skipped = 0;
  const benchmarks = [];
  for (const { name, path } of settings.benchmarks) {
    benchmarks.push(
      await loadBenchmark(name, {
        ...(path ? { path: resolve(path) } : { dataDir: resolve(settings.dataDir!) }),
        ...(settings.limit ? { limit: settings.limit } : {}),
        seed: settings.shuffleSeed,
        onEvent: (event) => {
          if (event.type === 'skipped-input') {
            skipped++;
            if (skipped <= 5) io.stderr.write(`rlpt eval: skipped: ${event.message}\n`);
          }
        },
      }),
    );
  }
  if (skipped > 5)
    io.stderr.write(`rlpt eval: skipped ${skipped} malformed records in all (first 5 shown)\n`);
  const backend = await createBackend(settings);
  const bars = new Map<string, ProgressBar>();
  let backendErrors = 0;
  const onEvent = (event: RlptEvent) => {
    if (event.type === 'progress') {
      let bar = bars.get(event.phase);
      if (!bar) {
        bar = createProgressBar(event.phase, { unit: 'items', stream: io.stderr });
        bars.set(event.phase, bar);
      }
      bar.update(event.done, event.total);
      if (event.total !== undefined && event.done >= event.total) bar.done();
    } else if (event.type === 'warning') {
      io.stderr.write(`rlpt eval: warning: ${event.message}\n`);
    } else if (event.type === 'skipped-input' && event.reason === 'backend-error') {
      backendErrors++;
      if (backendErrors <= 5) io.stderr.write(`rlpt eval: backend error: ${event.message}\n`);
    }
  };
  const options: RunEvalOptions = {
    backend,
    benchmarks,
    outDir: resolve(settings.out),
    n: settings.n,
    temperature: settings.temperature,
    topP: settings.topP,
    maxTokens: settings.maxTokens,
    ks: settings.k,
    concurrency: settings.concurrency,
    batchSize: settings.batchSize,
    saveCompletions: settings.saveCompletions,
    ...(settings.overwrite ? { overwrite: true } : {}),
    // raw: plain prompt text (base models without a chat template); chat: the model's template applies.
    ...(settings.promptFormat === 'raw' ? { chatTemplate: rawChatTemplate } : {}),
    grading: { fallback: settings.fallback, percentage: settings.percentage },
    onEvent,
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    ...(signal ? { signal } : {}),
  };
  try {
    const report = await runEval(options);
    io.stdout.write(`\n${report.markdown}\n`);
    io.stdout.write(
      `rlpt eval: ${report.generatedItems} items generated, ${report.resumedItems} resumed; results in ${resolve(settings.out)}/results.md and results.json\n`,
    );
    return report;
  } finally {
    await backend.close?.();
  }
}

/** `rlpt eval` — the paper's benchmarks (pass@k, accuracy) against any backend. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('Evaluate a model on the paper’s benchmarks (pass@k, accuracy) with any backend.')
    .option(
      '--backend <spec>',
      "onnx:<model folder>, openai:<base URL> (vLLM, SGLang, rlpt serve model), transformers:<model folder>, or a plugin's (--plugin)",
    )
    .option('--model <name>', 'served model name (required for openai:)')
    .option(
      '--api-key-env <var>',
      'environment variable holding the API key (openai:; default OPENAI_API_KEY)',
    )
    .option('--server <kind>', 'openai: server dialect: vllm, sglang, openai, generic', 'generic')
    .option('--benchmarks <list>', 'comma-separated: aime24,gsm8k,… or name=path for a file (see README)')
    .option('--data-dir <dir>', 'folder with the benchmark files under their usual names')
    .option(
      '--out <dir>',
      'run folder; re-using it resumes (n, temperature, top-p, max tokens and seed must stay the same once it holds samples)',
    )
    .option('--overwrite', 'delete an earlier run in --out and start over')
    .option('--n <count>', 'samples per item', '64')
    .option('--temperature <t>', 'sampling temperature', '0.6')
    .option('--top-p <p>', 'nucleus sampling', '0.95')
    .option(
      '--max-tokens <count>',
      "max new tokens per sample (default 32768, the paper's; lowered to the server's context when that is smaller)",
    )
    .option('--k <list>', 'pass@k values to report', '1,8')
    .option('--seed <seed>', 'sampling seed passed to the backend')
    .option('--shuffle-seed <seed>', 'GPQA-Diamond option shuffle seed (recorded in results)', '0')
    .option('--limit <count>', 'first N items of each benchmark')
    .option('--concurrency <count>', 'generate calls in flight', '4')
    .option('--batch-size <count>', 'prompts per generate call', '1')
    .option('--fallback <mode>', 'answer without a box or "answer is": last-number or none', 'last-number')
    .option('--percentage <mode>', 'percent handling: sign, always (Qwen include_percentage), never', 'sign')
    .option('--no-save-completions', 'do not keep completion texts in results.jsonl')
    .option(
      '--prompt-format <format>',
      "chat (the model's chat template) or raw (plain text, base models)",
      'chat',
    )
    .option('--threads <count>', 'onnx: intra-op threads')
    .addHelpText(
      'after',
      `
Paper protocol (RLPT §6): n = 64, temperature 0.6, top-p 0.95, 32768 max tokens, Pass@1 and Pass@8:
  rlpt eval --backend openai:http://127.0.0.1:8000/v1 --model Qwen3-4B \\
    --benchmarks math-500,amc23,minerva-math,aime24,aime25 --data-dir data/benchmarks --out runs/eval-qwen3

Resuming: --k, --benchmarks, --limit, --concurrency and --batch-size may change; the model, --n,
--temperature, --top-p, --max-tokens and --seed may not once the folder holds samples (a folder where
every call failed takes new settings). --overwrite starts over.

Benchmarks: mmlu, mmlu-stem, mmlu-pro, gpqa-diamond, supergpqa, kor-bench, olympiadbench,
math-500, amc23, minerva-math, aime24, aime25, gsm8k.`,
    )
    .action(async (flags: RawEvalFlags) => {
      const settings = parseEvalFlags(flags);
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write(
          '\nrlpt eval: stopping; finished items are kept, run the same command to resume\n',
        );
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runEvalCommand(settings, undefined, controller.signal);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
