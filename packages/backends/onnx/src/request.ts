/** A `generate` request checked and resolved (defaults filled in), and the argument errors it raises. */
import { AbortError, type GenerateRequest, InvalidArgumentError, type Warning } from '@rlpt/spec';
import type { SamplingSettings } from './sampler.js';

export interface ResolvedRequest {
  n: number;
  maxTokens: number;
  sampling: SamplingSettings;
  seed: number;
  stop: string[];
  stopTokenIds: Set<number>;
  logprobs: boolean;
  chatVariables: Record<string, unknown>;
  enableThinking: boolean | undefined;
  addSpecialTokens: boolean | undefined;
}

export const knownProviderOptions = new Set(['chatTemplateKwargs', 'enableThinking', 'addSpecialTokens']);

export function fail(argument: string, message: string): never {
  throw new InvalidArgumentError({ argument, message });
}

export function checkInteger(value: unknown, argument: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(argument, `${argument} must be an integer ≥ ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

export function resolveRequest(request: GenerateRequest, warnings: Warning[]): ResolvedRequest {
  if (!request || !Array.isArray(request.prompts))
    fail('prompts', 'generate: `prompts` must be an array of prompts.');
  const n = checkInteger(request.n ?? 1, 'n', 1);
  const maxTokens = checkInteger(request.maxTokens, 'maxTokens', 1);
  const temperature = request.temperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) {
    fail(
      'temperature',
      `temperature must be a finite number ≥ 0 (0 = greedy), got ${JSON.stringify(request.temperature)}.`,
    );
  }
  const topK = checkInteger(request.topK ?? 0, 'topK', 0);
  const topP = request.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1))
    fail('topP', `topP must be in (0, 1], got ${JSON.stringify(request.topP)}.`);
  const minP = request.minP ?? 0;
  if (typeof minP !== 'number' || !(minP >= 0 && minP <= 1))
    fail('minP', `minP must be in [0, 1], got ${JSON.stringify(request.minP)}.`);
  const seedValue = request.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (typeof seedValue !== 'number' || !Number.isSafeInteger(seedValue) || seedValue < 0) {
    fail('seed', `seed must be a non-negative safe integer, got ${JSON.stringify(request.seed)}.`);
  }
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.some((entry) => typeof entry !== 'string' || entry.length === 0)) {
    fail('stop', 'stop must be an array of non-empty strings.');
  }
  const stopTokenIds = request.stopTokenIds ?? [];
  if (!Array.isArray(stopTokenIds) || stopTokenIds.some((id) => !Number.isInteger(id) || id < 0)) {
    fail('stopTokenIds', 'stopTokenIds must be an array of non-negative integer token ids.');
  }
  const providerOptions = request.providerOptions ?? {};
  for (const key of Object.keys(providerOptions)) {
    if (!knownProviderOptions.has(key)) {
      warnings.push({
        type: 'unsupported-setting',
        setting: `providerOptions.${key}`,
        message: `providerOptions.${key} is not used by the onnx backend (known: ${[...knownProviderOptions].join(', ')}).`,
      });
    }
  }
  const kwargs = providerOptions.chatTemplateKwargs;
  const enableThinking = providerOptions.enableThinking;
  const addSpecialTokens = providerOptions.addSpecialTokens;
  return {
    n,
    maxTokens,
    sampling: { temperature, topK, topP, minP },
    seed: seedValue,
    stop,
    stopTokenIds: new Set(stopTokenIds),
    logprobs: request.logprobs === true,
    chatVariables: typeof kwargs === 'object' && kwargs !== null ? (kwargs as Record<string, unknown>) : {},
    enableThinking: typeof enableThinking === 'boolean' ? enableThinking : undefined,
    addSpecialTokens: typeof addSpecialTokens === 'boolean' ? addSpecialTokens : undefined,
  };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError({ message: 'Generation was aborted.', cause: signal.reason });
}
