// Building a judge from its settings, shared by `rlpt judge`, `rlpt serve reward` and `rlpt train`: one
// registry (`@rlpt/recipes`) resolves the spec, so a plugin's judges and backends work in every command.
import type { ServerKind } from '@rlpt/backend-openai';
import type { JudgeWithStats } from '@rlpt/reward';
import type { EventHandler, Logger } from '@rlpt/spec';

/** What a judge is built from; the judge flags and `rlpt train`'s `judge` section both map onto it. */
export interface JudgeBuildSettings {
  /**
   * A judge spec: `lexical`, `generative:<backend spec>`, or a backend spec alone (`openai:<base URL>`,
   * `onnx:<model folder>`, `transformers:<model folder>`, or a plugin's), meaning a generative judge on it.
   */
  spec: string;
  /** openai: the served model name. */
  model?: string | undefined;
  /** openai: environment variable holding the API key (default OPENAI_API_KEY). */
  apiKeyEnv?: string | undefined;
  /** openai: server dialect (default generic). */
  server?: ServerKind;
  /** onnx/transformers: intra-op threads (default 1). */
  threads?: number | undefined;
  mode: 'prefix' | 'strict';
  tolerance: number;
  scoring: 'binary' | 'graded';
  hardening: boolean;
  minWords: number;
  cacheSize: number;
  preset: 'paper' | 'tiny';
  template?: string | undefined;
  /** Default: 4096 for chat prompts, 8 for text (the judge's own defaults). */
  maxTokens?: number | undefined;
  /** Let a reasoning model think before its verdict (default false: thinking off). */
  thinking?: boolean;
  /** openai: extra JSON fields of every request body. */
  extraBody?: Record<string, unknown>;
  promptFormat: 'auto' | 'chat' | 'text';
  system?: string | undefined;
  batchSize: number;
  concurrency: number;
  retries: number;
  timeoutMs: number;
  onFailure: 'exclude' | 'zero';
}

/** Builds the judge the settings describe; `close` releases its backend too. Packages are imported lazily. */
export async function buildJudge(
  settings: JudgeBuildSettings,
  logger: Logger,
  onEvent?: EventHandler,
): Promise<JudgeWithStats> {
  const { createJudgeFromSpec, registerBuiltins } = await import('@rlpt/recipes');
  registerBuiltins();
  const { spec, ...options } = settings;
  const judge = await createJudgeFromSpec(spec, {
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    thinking: settings.thinking ?? false,
    logger,
    ...(onEvent ? { onEvent } : {}),
  });
  return judge as JudgeWithStats;
}
