// Building a judge from its settings, shared by `rlpt judge`, `rlpt serve reward` and `rlpt train`.
import type { ServerKind } from '@rlpt/backend-openai';
import type { PromptTemplate } from '@rlpt/prompts';
import type { JudgeWithStats } from '@rlpt/reward';
import type { EventHandler, InferenceBackendV1, Logger } from '@rlpt/spec';

/** What a judge is built from; the judge flags and `rlpt train`'s `judge` section both map onto it. */
export interface JudgeBuildSettings {
  /** `lexical`, `openai:<base URL>` or `onnx:<model folder>`. */
  spec: string;
  /** openai: the served model name. */
  model?: string;
  /** openai: environment variable holding the API key (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
  /** openai: server dialect (default generic). */
  server?: ServerKind;
  /** onnx: intra-op threads (default 1). */
  threads?: number;
  mode: 'prefix' | 'strict';
  tolerance: number;
  scoring: 'binary' | 'graded';
  hardening: boolean;
  minWords: number;
  cacheSize: number;
  preset: 'paper' | 'tiny';
  template?: string;
  /** Default: 4096 for chat prompts, 8 for text (the judge's own defaults). */
  maxTokens?: number | undefined;
  /** Let a reasoning model think before its verdict (default false: thinking off). */
  thinking?: boolean;
  /** openai: extra JSON fields of every request body. */
  extraBody?: Record<string, unknown>;
  promptFormat: 'auto' | 'chat' | 'text';
  system?: string;
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
  const reward = await import('@rlpt/reward');
  const hardening = settings.hardening ? { minWords: settings.minWords } : (false as const);
  const cache = settings.cacheSize > 0 ? { maxEntries: settings.cacheSize } : (false as const);
  if (settings.spec === 'lexical') {
    return reward.createLexicalJudge({
      mode: settings.mode,
      tolerance: settings.tolerance,
      scoring: settings.scoring,
      hardening,
      cache,
      logger,
      onEvent,
    });
  }
  let backend: InferenceBackendV1;
  if (settings.spec.startsWith('openai:')) {
    const { createOpenAIBackend } = await import('@rlpt/backend-openai');
    backend = createOpenAIBackend({
      baseURL: settings.spec.slice('openai:'.length),
      model: settings.model as string,
      apiKeyEnv: settings.apiKeyEnv,
      server: settings.server,
      // The judge retries and times out itself; the backend should not multiply that.
      maxRetries: 0,
      concurrency: settings.concurrency * settings.batchSize,
      logger,
    });
  } else {
    const { createOnnxBackend } = await import('@rlpt/backend-onnx');
    backend = createOnnxBackend({
      modelDir: settings.spec.slice('onnx:'.length),
      threads: settings.threads ?? 1,
      logger,
      onEvent,
    });
  }
  let template: PromptTemplate | undefined;
  if (settings.template) {
    const { loadTemplate } = await import('@rlpt/prompts');
    template = await loadTemplate(settings.template, {
      kind: settings.mode === 'prefix' ? 'grmPrefix' : 'grmStrict',
    });
  }
  const judge = reward.createGenerativeJudge({
    backend,
    mode: settings.mode,
    preset: settings.preset,
    ...(template ? { template } : {}),
    ...(settings.maxTokens !== undefined ? { maxTokens: settings.maxTokens } : {}),
    thinking: settings.thinking ?? false,
    ...(settings.extraBody ? { extraBody: settings.extraBody } : {}),
    promptFormat: settings.promptFormat,
    ...(settings.system !== undefined ? { system: settings.system } : {}),
    batchSize: settings.batchSize,
    concurrency: settings.concurrency,
    retries: settings.retries,
    timeoutMs: settings.timeoutMs,
    onFailure: settings.onFailure,
    cache,
    hardening,
    logger,
    onEvent,
  });
  return {
    ...judge,
    async close() {
      await judge.close();
      await backend.close?.();
    },
  };
}
