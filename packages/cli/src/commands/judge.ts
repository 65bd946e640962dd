import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { JudgeItem, JudgeVerdict, Logger } from '@rlpt/spec';
import { ConfigError, judgeProviderFor } from '@rlpt/spec';
import { registerBuiltins } from '@rlpt/recipes';
import type { JudgeStats, JudgeWithStats } from '@rlpt/reward';
import type { Command } from 'commander';
import * as z from 'zod';
import { buildJudge } from '../build-judge.js';
import { flagError, integer } from '../flags.js';
import { createProgressBar, formatTable, stderrLogger } from '../ui.js';

/** Judge flags shared by `rlpt judge` and `rlpt serve reward`, as commander hands them over. */
export interface RawJudgeFlags {
  judge: string;
  judgeModel?: string;
  judgeApiKeyEnv?: string;
  mode: string;
  preset: string;
  template?: string;
  tolerance: string;
  scoring: string;
  minWords: string;
  hardening: boolean;
  concurrency: string;
  batchSize: string;
  retries: string;
  timeoutMs: string;
  onFailure: string;
  cacheSize: string;
  judgeMaxTokens?: string;
  /** Old name of --judge-max-tokens. */
  maxTokens?: string;
  judgeThinking: string;
  judgeExtraBody?: string;
  promptFormat: string;
  system?: string;
  rptWhitespace: string;
}

/** A judge spec that the registry resolves (built-ins, and plugins loaded before the flags are read). */
const judgeSpec = z.string().superRefine((value, context) => {
  registerBuiltins();
  try {
    judgeProviderFor(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** A JSON object given as a flag value, e.g. `--judge-extra-body '{"top_k": 1}'`. */
const jsonObject = z.string().transform((text, context) => {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  context.addIssue({ code: 'custom', message: `must be a JSON object, e.g. '{"top_k": 1}'; got ${text}` });
  return z.NEVER;
});

export const judgeFlagsSchema = z.object({
  judge: judgeSpec,
  judgeModel: z.string().min(1).optional(),
  judgeApiKeyEnv: z.string().min(1).optional(),
  mode: z.enum(['prefix', 'strict'], { error: "must be 'prefix' or 'strict'" }),
  preset: z.enum(['paper', 'tiny'], { error: "must be 'paper' or 'tiny'" }),
  template: z.string().min(1).optional(),
  tolerance: z.coerce.number({ error: 'must be a number' }).min(0).max(1, { error: 'must be in [0, 1]' }),
  scoring: z.enum(['binary', 'graded'], { error: "must be 'binary' or 'graded'" }),
  minWords: integer(0),
  hardening: z.boolean(),
  concurrency: integer(1),
  batchSize: integer(1),
  retries: integer(0),
  timeoutMs: integer(1),
  onFailure: z.enum(['exclude', 'zero'], { error: "must be 'exclude' or 'zero'" }),
  cacheSize: integer(0),
  judgeMaxTokens: integer(1).optional(),
  maxTokens: integer(1).optional(),
  judgeThinking: z.enum(['on', 'off'], { error: "must be 'on' or 'off'" }),
  judgeExtraBody: jsonObject.optional(),
  promptFormat: z.enum(['auto', 'chat', 'text'], { error: "must be 'auto', 'chat' or 'text'" }),
  system: z.string().optional(),
  rptWhitespace: z.enum(['trim', 'exact'], { error: "must be 'trim' or 'exact'" }),
});

export type JudgeSettings = z.infer<typeof judgeFlagsSchema>;

/** Checks the judge flags that depend on each other (after the schema). */
export function judgeFlagIssues(settings: JudgeSettings): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (
    settings.judgeMaxTokens !== undefined &&
    settings.maxTokens !== undefined &&
    settings.judgeMaxTokens !== settings.maxTokens
  ) {
    issues.push({
      path: '--max-tokens',
      message: `is the old name of --judge-max-tokens; give one of them (got ${settings.maxTokens} and ${settings.judgeMaxTokens})`,
    });
  }
  if (settings.judge.replace(/^generative:/, '').startsWith('openai:') && !settings.judgeModel) {
    issues.push({
      path: '--judge-model',
      message:
        'is required with --judge openai:<URL> (the model name the server serves; GET <URL>/models lists them)',
    });
  }
  return issues;
}

/** Options the commands add to themselves for choosing and tuning the judge. */
export function addJudgeOptions(command: Command): Command {
  return command
    .option(
      '--judge <spec>',
      "judge: 'lexical' (no model), 'rpt:<tokenizer>' (RPT's exact-prefix reward on the policy's token boundaries; the tokenizer is 'qwen3', a model folder or a tokenizer.json), or a generative judge on a backend: 'openai:<base URL>' (an OpenAI-compatible server), 'onnx:<model folder>', 'transformers:<model folder>', 'generative:<backend spec>', or a plugin's (RLPT_PLUGINS)",
      'lexical',
    )
    .option('--judge-model <name>', 'model name for an openai judge (required with openai:)')
    .option(
      '--judge-api-key-env <var>',
      'environment variable holding the judge server API key',
      'OPENAI_API_KEY',
    )
    .option('--mode <mode>', "'prefix' (the paper's reward) or 'strict'", 'prefix')
    .option('--preset <name>', "judge prompt preset: 'paper' or 'tiny'", 'paper')
    .option('--template <file>', 'your own judge prompt template for --mode ({reference} and {predicted})')
    .option('--tolerance <x>', 'lexical judge: word edits allowed per prediction word', '0.2')
    .option('--scoring <kind>', "lexical judge: 'binary' or 'graded'", 'binary')
    .option('--min-words <n>', 'predictions with fewer words score 0 without judging', '3')
    .option('--no-hardening', 'judge every prediction as is (not recommended: see the @rlpt/reward README)')
    .option('--concurrency <n>', 'openai judge: generate requests in flight', '8')
    .option('--batch-size <n>', 'openai judge: prompts per generate request', '16')
    .option('--retries <n>', 'openai judge: retries after a retryable error', '2')
    .option('--timeout-ms <ms>', 'openai judge: time limit per request', '60000')
    .option(
      '--on-failure <policy>',
      "what a judge failure becomes: 'exclude' (status failed) or 'zero'",
      'exclude',
    )
    .option('--cache-size <n>', 'verdicts kept in the LRU cache (0 disables)', '100000')
    .option(
      '--judge-max-tokens <n>',
      "openai judge: tokens of the judge's answer, thoughts included (default 4096 for chat prompts, 8 for text)",
    )
    .option('--max-tokens <n>', 'old name of --judge-max-tokens')
    .option(
      '--judge-thinking <on|off>',
      "openai judge: let a reasoning model (Qwen3, QwQ, R1) think before its verdict; 'off' sends chat_template_kwargs.enable_thinking=false",
      'off',
    )
    .option(
      '--judge-extra-body <json>',
      'openai judge: extra JSON fields of every request, e.g. \'{"chat_template_kwargs": {"reasoning_effort": "low"}}\'',
    )
    .option('--prompt-format <format>', "openai judge: 'auto', 'chat' or 'text'", 'auto')
    .option('--system <text>', 'openai judge: system message (chat format)')
    .option(
      '--rpt-whitespace <trim|exact>',
      "rpt judge: 'trim' ignores the prediction's outer and the reference's leading white space; 'exact' compares every byte",
      'trim',
    );
}

/** Builds the judge the flags describe. Packages are imported there, lazily. */
export function createJudgeFromSettings(settings: JudgeSettings, logger: Logger): Promise<JudgeWithStats> {
  const maxTokens = settings.judgeMaxTokens ?? settings.maxTokens;
  return buildJudge(
    {
      ...settings,
      spec: settings.judge,
      model: settings.judgeModel,
      apiKeyEnv: settings.judgeApiKeyEnv,
      ...(maxTokens !== undefined ? { maxTokens } : { maxTokens: undefined }),
      thinking: settings.judgeThinking === 'on',
      ...(settings.judgeExtraBody ? { extraBody: settings.judgeExtraBody } : {}),
    },
    logger,
  );
}

interface RawRunFlags extends RawJudgeFlags {
  input?: string;
  output?: string;
  summary?: string;
  chunkSize: string;
  verbose?: boolean;
}

const runSchema = judgeFlagsSchema.extend({
  input: z
    .string({
      error: 'is required: a JSONL file with prediction (or response) and reference (or label) fields',
    })
    .min(1),
  output: z.string().min(1).optional(),
  summary: z.string().min(1).optional(),
  chunkSize: integer(1),
  verbose: z.boolean().optional(),
});

export type JudgeRunSettings = z.infer<typeof runSchema>;

/** Validates `rlpt judge` flags; a `ConfigError` lists every bad flag. */
export function parseJudgeFlags(flags: RawRunFlags): JudgeRunSettings {
  const result = runSchema.safeParse(flags);
  if (!result.success) throw flagError('rlpt judge flags', result.error.issues);
  const issues = judgeFlagIssues(result.data);
  if (issues.length > 0) throw new ConfigError({ source: 'rlpt judge flags', issues });
  return result.data;
}

/** The summary `rlpt judge` prints and writes next to the verdicts. */
export interface JudgeRunSummary {
  input: string;
  output: string;
  judge: string;
  mode: string;
  lines: number;
  /** Lines that were not a JSON object (each still has a `failed` verdict line). */
  badLines: number;
  ok: number;
  skipped: number;
  failed: number;
  /** Mean score over lines that were judged or skipped (failures excluded). */
  meanScore: number;
  reasons: Record<string, number>;
  judgeStats: JudgeStats;
  seconds: number;
}

/** Counts newlines so the progress bar can show an ETA (skipped for files over 1 GiB). */
async function countLines(file: string): Promise<number | undefined> {
  const { size } = await stat(file);
  if (size > 2 ** 30) return undefined;
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file)) {
    const buffer = chunk as Buffer;
    for (let index = buffer.indexOf(10); index >= 0; index = buffer.indexOf(10, index + 1)) lines++;
    last = buffer[buffer.length - 1] ?? last;
  }
  return last === 10 ? lines : lines + 1;
}

/**
 * Judges every line of a JSONL file and writes one verdict line per input line (temp file + rename, so
 * an interrupted run never leaves a half-written output), then a JSON summary.
 */
export async function runJudge(
  settings: JudgeRunSettings,
  logger: Logger = stderrLogger(settings.verbose === true),
): Promise<JudgeRunSummary> {
  const input = resolve(settings.input);
  const output = resolve(settings.output ?? input.replace(/(\.jsonl)?$/, '.verdicts.jsonl'));
  const summaryPath = resolve(settings.summary ?? output.replace(/(\.jsonl)?$/, '.summary.json'));
  try {
    await stat(input);
  } catch (cause) {
    throw new ConfigError({
      source: 'rlpt judge flags',
      issues: [
        {
          path: '--input',
          message: `cannot read ${input}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
        },
      ],
    });
  }
  const { prepareRewardItem } = await import('@rlpt/reward');
  const judge = await createJudgeFromSettings(settings, logger);
  const started = performance.now();
  const total = await countLines(input);
  const progress = createProgressBar('rlpt judge', { unit: 'lines' });
  await mkdir(dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  const counts = { lines: 0, badLines: 0, ok: 0, skipped: 0, failed: 0, scoreSum: 0, scored: 0 };
  const reasons: Record<string, number> = {};
  let reported = 0;
  const report = (message: string) => {
    if (reported++ < 10) process.stderr.write(`rlpt judge: ${message}\n`);
  };

  type Pending = { line: number; id?: string; item?: JudgeItem; verdict?: JudgeVerdict };
  let chunk: Pending[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const toJudge = chunk.filter((entry) => entry.item);
    const verdicts = await judge.judge(toJudge.map((entry) => entry.item as JudgeItem));
    toJudge.forEach((entry, position) => {
      entry.verdict = verdicts[position] ?? { score: 0, status: 'failed', reason: 'missing-verdict' };
    });
    const lines: string[] = [];
    for (const entry of chunk) {
      const verdict = entry.verdict as JudgeVerdict;
      counts[verdict.status]++;
      if (verdict.status !== 'failed') {
        counts.scoreSum += verdict.score;
        counts.scored++;
      }
      if (verdict.reason) reasons[verdict.reason] = (reasons[verdict.reason] ?? 0) + 1;
      lines.push(
        JSON.stringify({ line: entry.line, ...(entry.id !== undefined ? { id: entry.id } : {}), ...verdict }),
      );
    }
    await handle.write(`${lines.join('\n')}\n`);
    chunk = [];
    progress.update(
      counts.lines,
      total,
      `${counts.ok} ok · ${counts.skipped} skipped · ${counts.failed} failed`,
    );
  };

  try {
    const reader = createInterface({
      input: createReadStream(input, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const text of reader) {
      counts.lines++;
      const line = counts.lines;
      const where = `${input}:${line}`;
      if (text.trim().length === 0) {
        counts.badLines++;
        report(`${where}: empty line (scored as failed, reason invalid-json)`);
        chunk.push({ line, verdict: { score: 0, status: 'failed', reason: 'invalid-json' } });
      } else {
        let record: unknown;
        try {
          record = JSON.parse(text);
        } catch (error) {
          counts.badLines++;
          report(`${where}: not valid JSON (${(error as Error).message}); scored as failed and skipped`);
          chunk.push({ line, verdict: { score: 0, status: 'failed', reason: 'invalid-json' } });
          record = undefined;
        }
        if (record !== undefined) {
          const prepared = prepareRewardItem(record, line - 1, settings.mode, where);
          if ('item' in prepared)
            chunk.push({ line, ...(prepared.item.id ? { id: prepared.item.id } : {}), item: prepared.item });
          else {
            if (prepared.failure.status === 'failed') report(prepared.message);
            chunk.push({ line, ...(prepared.id ? { id: prepared.id } : {}), verdict: prepared.failure });
          }
        }
      }
      if (chunk.length >= settings.chunkSize) await flush();
    }
    await flush();
    await handle.close();
    await rename(temporary, output);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  } finally {
    await judge.close();
  }
  if (reported > 10) process.stderr.write(`rlpt judge: … and ${reported - 10} more problem line(s)\n`);
  const summary: JudgeRunSummary = {
    input,
    output,
    judge: judge.name,
    mode: settings.mode,
    lines: counts.lines,
    badLines: counts.badLines,
    ok: counts.ok,
    skipped: counts.skipped,
    failed: counts.failed,
    meanScore: counts.scored > 0 ? counts.scoreSum / counts.scored : 0,
    reasons,
    judgeStats: judge.stats(),
    seconds: (performance.now() - started) / 1000,
  };
  const summaryTemporary = `${summaryPath}.${process.pid}.tmp`;
  await writeFile(summaryTemporary, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(summaryTemporary, summaryPath);
  progress.done(
    `${summary.lines} lines, ${(summary.lines / Math.max(summary.seconds, 1e-9)).toFixed(0)} lines/s`,
  );
  return summary;
}

/** Prints the summary table to stdout. */
export function printJudgeSummary(summary: JudgeRunSummary): void {
  const rows: (string | number)[][] = [
    ['lines', summary.lines],
    ['ok (judged)', summary.ok],
    ['skipped (scored 0 by hardening or extraction)', summary.skipped],
    ['failed (judge failures and bad lines)', summary.failed],
    ['mean score (failures excluded)', summary.meanScore.toFixed(4)],
    ['cache hits', summary.judgeStats.cacheHits],
    [
      'judge calls / requests / retries',
      `${summary.judgeStats.judgeCalls} / ${summary.judgeStats.requests} / ${summary.judgeStats.retries}`,
    ],
  ];
  for (const [reason, count] of Object.entries(summary.reasons).sort((a, b) => b[1] - a[1])) {
    rows.push([`  reason: ${reason}`, count]);
  }
  process.stdout.write(`${formatTable(['judge', summary.judge], rows)}\n`);
  process.stdout.write(`verdicts: ${summary.output}\n`);
}

/** `rlpt judge` — owned by the @rlpt/reward issue. */
export function register(program: Command): void {
  const command = program
    .command('judge')
    .description(
      'Judge predictions against references from a JSONL file (fields: id?, prediction | response, reference | label, target?, context?, mode?; a label written by `rlpt prepare` carries the target, so fragments of it score 0 as in `rlpt train`); writes one verdict line per input line and a summary.',
    )
    .option('--input <file>', 'JSONL file to judge; required')
    .option('--output <file>', 'verdicts JSONL (default: <input>.verdicts.jsonl)')
    .option('--summary <file>', 'summary JSON (default: <output>.summary.json)')
    .option('--chunk-size <n>', 'lines judged per batch', '256')
    .option('--verbose', 'log skipped predictions and retries');
  addJudgeOptions(command).action(async (flags: RawRunFlags) => {
    const settings = parseJudgeFlags(flags);
    const summary = await runJudge(settings);
    printJudgeSummary(summary);
    if (summary.lines > 0 && summary.failed === summary.lines) {
      process.stderr.write('rlpt judge: every line failed; check the judge URL/model and the input fields\n');
      process.exitCode = 1;
    }
  });
}
