import type { BackendCapabilities, GenerateRequest, Prompt, Warning } from './backend.js';
import { AbortError, InvalidArgumentError, UnsupportedFunctionalityError } from './errors.js';

/**
 * Helpers for backend authors (vercel/ai's provider-utils pattern): the request checks and warnings every
 * `InferenceBackendV1` needs, so each backend rejects the same bad input with the same `RlptError`s that
 * `@rlpt/conformance` checks for.
 */

export interface ValidateGenerateRequestOptions {
  /** What the backend supports: `{ messages }` prompts reject when `chat` is false. */
  capabilities?: Pick<BackendCapabilities, 'chat'>;
  /**
   * Most tokens the model accepts (prompt + completion). `{ tokenIds }` prompts longer than this reject
   * with an error naming the prompt (text prompts are checked by the backend after tokenising, see
   * {@link checkPromptLength}).
   */
  maxContextTokens?: number;
  /** Prefix of every message, e.g. `llamacpp generate`. Default `generate`. */
  label?: string;
}

function invalid(label: string, argument: string, message: string): never {
  throw new InvalidArgumentError({ argument, message: `${label}: ${message}` });
}

function isNumberArray(value: unknown): value is ArrayLike<number> {
  return (
    (Array.isArray(value) || ArrayBuffer.isView(value)) &&
    typeof (value as ArrayLike<number>).length === 'number'
  );
}

/**
 * Checks a `GenerateRequest` and throws an `InvalidArgumentError` (or `UnsupportedFunctionalityError` for a
 * chat prompt a backend cannot render) whose `argument` names what is wrong: `n`, `maxTokens`,
 * `temperature`, `topP`, `topK`, `minP`, `seed`, `stop`, `stopTokenIds`, or `prompts[i]` (empty, wrong
 * shape, non-integer token ids, longer than `maxContextTokens`). Call it first in `generate`.
 */
export function validateGenerateRequest(
  request: GenerateRequest,
  options: ValidateGenerateRequestOptions = {},
): void {
  const label = options.label ?? 'generate';
  if (typeof request !== 'object' || request === null)
    invalid(label, 'request', 'request must be an object.');
  if (!Array.isArray(request.prompts)) invalid(label, 'prompts', 'prompts must be an array.');
  if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)
    invalid(
      label,
      'maxTokens',
      `maxTokens must be an integer ≥ 1, got ${JSON.stringify(request.maxTokens)}.`,
    );
  if (request.n !== undefined && (!Number.isInteger(request.n) || request.n < 1))
    invalid(label, 'n', `n must be an integer ≥ 1, got ${JSON.stringify(request.n)}.`);
  if (
    request.temperature !== undefined &&
    !(request.temperature >= 0 && Number.isFinite(request.temperature))
  )
    invalid(
      label,
      'temperature',
      `temperature must be a finite number ≥ 0, got ${JSON.stringify(request.temperature)}.`,
    );
  if (request.topP !== undefined && !(request.topP > 0 && request.topP <= 1))
    invalid(label, 'topP', `topP must be in (0, 1], got ${JSON.stringify(request.topP)}.`);
  if (request.topK !== undefined && (!Number.isInteger(request.topK) || request.topK < 0))
    invalid(label, 'topK', `topK must be an integer ≥ 0 (0 disables), got ${JSON.stringify(request.topK)}.`);
  if (request.minP !== undefined && !(request.minP >= 0 && request.minP <= 1))
    invalid(label, 'minP', `minP must be in [0, 1], got ${JSON.stringify(request.minP)}.`);
  if (request.seed !== undefined && !Number.isSafeInteger(request.seed))
    invalid(label, 'seed', `seed must be an integer, got ${JSON.stringify(request.seed)}.`);
  if (
    request.stop !== undefined &&
    !(
      Array.isArray(request.stop) && request.stop.every((stop) => typeof stop === 'string' && stop.length > 0)
    )
  )
    invalid(label, 'stop', 'stop must be an array of non-empty strings.');
  if (
    request.stopTokenIds !== undefined &&
    !(
      Array.isArray(request.stopTokenIds) &&
      request.stopTokenIds.every((id) => Number.isInteger(id) && id >= 0)
    )
  )
    invalid(label, 'stopTokenIds', 'stopTokenIds must be an array of integers ≥ 0.');
  request.prompts.forEach((prompt: Prompt, index) => {
    const at = `prompts[${index}]`;
    if (typeof prompt === 'string') {
      if (prompt.length === 0) invalid(label, at, `${at} is empty; every prompt needs at least one token.`);
      return;
    }
    if (typeof prompt !== 'object' || prompt === null)
      invalid(label, at, `${at} must be a string, { messages } or { tokenIds }.`);
    if ('messages' in prompt) {
      if (!Array.isArray(prompt.messages) || prompt.messages.length === 0)
        invalid(label, at, `${at}.messages must be a non-empty array of { role, content }.`);
      if (options.capabilities && !options.capabilities.chat) {
        throw new UnsupportedFunctionalityError({
          functionality: 'chat prompts',
          message: `${label}: ${at} is a { messages } prompt, but this backend has no chat template (capabilities.chat is false); render it to text first.`,
        });
      }
      return;
    }
    if ('tokenIds' in prompt) {
      const ids = prompt.tokenIds;
      if (!isNumberArray(ids)) invalid(label, at, `${at}.tokenIds must be an array of integers.`);
      if (ids.length === 0) invalid(label, at, `${at} is empty; every prompt needs at least one token.`);
      for (let position = 0; position < ids.length; position++) {
        const id = ids[position] as number;
        if (!Number.isInteger(id) || id < 0)
          invalid(
            label,
            at,
            `${at}.tokenIds[${position}] is ${JSON.stringify(id)}; token ids are integers ≥ 0.`,
          );
      }
      if (options.maxContextTokens !== undefined)
        checkPromptLength(ids.length, index, options.maxContextTokens, label);
      return;
    }
    invalid(label, at, `${at} must be a string, { messages } or { tokenIds }.`);
  });
}

/**
 * Throws an `InvalidArgumentError` naming `prompts[index]` when a prompt of `promptTokens` tokens leaves no
 * room for one new token in a context of `maxContextTokens`.
 */
export function checkPromptLength(
  promptTokens: number,
  index: number,
  maxContextTokens: number,
  label = 'generate',
): void {
  if (promptTokens >= maxContextTokens) {
    invalid(
      label,
      `prompts[${index}]`,
      `prompts[${index}] has ${promptTokens} tokens; the model's context holds ${maxContextTokens} (prompt + completion). Shorten the prompt.`,
    );
  }
}

/**
 * Warnings for settings a backend ignores because a capability is false (reported, not thrown):
 * `logprobs` without `capabilities.logprobs`, `seed` without `capabilities.seed`, plus one warning per
 * name in `unsupported` that the request sets (e.g. `['minP']` for a server without min-p).
 */
export function unsupportedSettingWarnings(
  request: GenerateRequest,
  capabilities: Pick<BackendCapabilities, 'logprobs' | 'seed'>,
  unsupported: readonly (keyof GenerateRequest)[] = [],
): Warning[] {
  const warnings: Warning[] = [];
  if (request.logprobs && !capabilities.logprobs)
    warnings.push({
      type: 'unsupported-setting',
      setting: 'logprobs',
      message: 'logprobs were requested, but this backend gives none (capabilities.logprobs is false).',
    });
  if (request.seed !== undefined && !capabilities.seed)
    warnings.push({
      type: 'unsupported-setting',
      setting: 'seed',
      message: 'seed was set, but this backend cannot sample reproducibly (capabilities.seed is false).',
    });
  for (const setting of unsupported) {
    if (request[setting] !== undefined)
      warnings.push({
        type: 'unsupported-setting',
        setting,
        message: `${setting} is not supported by this backend and was ignored.`,
      });
  }
  return warnings;
}

/** Throws `AbortError` (with the signal's reason as `cause`) when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError({ cause: signal.reason });
}
