import { type GenerateRequest, InvalidArgumentError, type Warning } from '@rlpt/spec';

/** A validated `generate` request with defaults filled in. */
export interface ResolvedRequest {
  n: number;
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** What transformers.js gets as `top_k` (0 = the full vocabulary). */
  topK: number;
  /** `undefined` = draw a fresh seed from the OS. */
  seed: number | undefined;
  stop: string[];
  stopTokenIds: number[];
  logprobs: boolean;
  chatVariables: Record<string, unknown>;
  enableThinking: boolean | undefined;
  addSpecialTokens: boolean | undefined;
}

/** `providerOptions` keys this backend reads. */
export const knownProviderOptions = ['chatTemplateKwargs', 'enableThinking', 'addSpecialTokens'] as const;

export function fail(argument: string, message: string): never {
  throw new InvalidArgumentError({ argument, message });
}

export function checkInteger(value: unknown, argument: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(argument, `${argument} must be an integer ≥ ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * Validates a request (throws `InvalidArgumentError` naming the argument) and collects warnings for
 * settings transformers.js 4.3 cannot honour (top-p, min-p, unknown provider options).
 */
export function resolveRequest(request: GenerateRequest, warnings: Warning[]): ResolvedRequest {
  if (!request || !Array.isArray(request.prompts))
    fail('prompts', 'generate: `prompts` must be an array of prompts.');
  const n = checkInteger(request.n ?? 1, 'n', 1);
  const maxTokens = checkInteger(request.maxTokens, 'maxTokens', 1);
  const temperature = request.temperature ?? 1;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    fail(
      'temperature',
      `temperature must be a finite number ≥ 0 (0 = greedy), got ${JSON.stringify(request.temperature)}.`,
    );
  }
  const topK = checkInteger(request.topK ?? 0, 'topK', 0);
  const topP = request.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1))
    fail('topP', `topP must be in (0, 1], got ${JSON.stringify(request.topP)}.`);
  if (topP < 1) {
    warnings.push({
      type: 'unsupported-setting',
      setting: 'topP',
      message: `topP ${topP} is ignored: transformers.js 4.3 has no top-p sampling (use @rlpt/backend-onnx for nucleus sampling).`,
    });
  }
  const minP = request.minP ?? 0;
  if (typeof minP !== 'number' || !(minP >= 0 && minP <= 1))
    fail('minP', `minP must be in [0, 1], got ${JSON.stringify(request.minP)}.`);
  if (minP > 0) {
    warnings.push({
      type: 'unsupported-setting',
      setting: 'minP',
      message: `minP ${minP} is ignored: transformers.js 4.3 has no min-p sampling.`,
    });
  }
  const seed = request.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0))
    fail('seed', `seed must be a non-negative safe integer, got ${JSON.stringify(seed)}.`);
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.some((entry) => typeof entry !== 'string' || entry.length === 0))
    fail('stop', 'stop must be an array of non-empty strings.');
  const stopTokenIds = request.stopTokenIds ?? [];
  if (!Array.isArray(stopTokenIds) || stopTokenIds.some((id) => !Number.isInteger(id) || id < 0))
    fail('stopTokenIds', 'stopTokenIds must be an array of non-negative integer token ids.');
  const providerOptions = request.providerOptions ?? {};
  for (const key of Object.keys(providerOptions)) {
    if (!(knownProviderOptions as readonly string[]).includes(key)) {
      warnings.push({
        type: 'unsupported-setting',
        setting: `providerOptions.${key}`,
        message: `providerOptions.${key} is not used by the transformers backend (known: ${knownProviderOptions.join(', ')}).`,
      });
    }
  }
  const kwargs = providerOptions.chatTemplateKwargs;
  const enableThinking = providerOptions.enableThinking;
  const addSpecialTokens = providerOptions.addSpecialTokens;
  return {
    n,
    maxTokens,
    temperature,
    topK,
    seed,
    stop,
    stopTokenIds,
    logprobs: request.logprobs === true,
    chatVariables: typeof kwargs === 'object' && kwargs !== null ? (kwargs as Record<string, unknown>) : {},
    enableThinking: typeof enableThinking === 'boolean' ? enableThinking : undefined,
    addSpecialTokens: typeof addSpecialTokens === 'boolean' ? addSpecialTokens : undefined,
  };
}
