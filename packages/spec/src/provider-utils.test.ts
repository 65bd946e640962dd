import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from './backend.js';
import { AbortError, InvalidArgumentError, UnsupportedFunctionalityError } from './errors.js';
import {
  checkPromptLength,
  throwIfAborted,
  unsupportedSettingWarnings,
  validateGenerateRequest,
} from './provider-utils.js';

const ok: GenerateRequest = { prompts: ['hello'], maxTokens: 4 };

function argumentOf(request: unknown, options = {}): string | undefined {
  try {
    validateGenerateRequest(request as GenerateRequest, options);
  } catch (error) {
    if (InvalidArgumentError.isInstance(error)) return error.argument;
    if (UnsupportedFunctionalityError.isInstance(error)) return `unsupported:${error.functionality}`;
    throw error;
  }
  return undefined;
}

describe('validateGenerateRequest', () => {
  it('accepts a well-formed request of every prompt kind', () => {
    expect(
      argumentOf({
        ...ok,
        prompts: ['a', { messages: [{ role: 'user', content: 'hi' }] }, { tokenIds: new Int32Array([1, 2]) }],
        n: 2,
        temperature: 0,
        topP: 1,
        topK: 0,
        minP: 0,
        seed: 3,
        stop: ['.'],
        stopTokenIds: [0],
      }),
    ).toBeUndefined();
  });

  it.each([
    [{ ...ok, n: 0 }, 'n'],
    [{ ...ok, n: 1.5 }, 'n'],
    [{ ...ok, maxTokens: 0 }, 'maxTokens'],
    [{ ...ok, temperature: -1 }, 'temperature'],
    [{ ...ok, temperature: Number.NaN }, 'temperature'],
    [{ ...ok, topP: 0 }, 'topP'],
    [{ ...ok, topK: -1 }, 'topK'],
    [{ ...ok, minP: 2 }, 'minP'],
    [{ ...ok, seed: 0.5 }, 'seed'],
    [{ ...ok, stop: [''] }, 'stop'],
    [{ ...ok, stopTokenIds: [-1] }, 'stopTokenIds'],
    [{ ...ok, prompts: 'hello' }, 'prompts'],
    [{ ...ok, prompts: ['a', ''] }, 'prompts[1]'],
    [{ ...ok, prompts: ['a', { tokenIds: [] }] }, 'prompts[1]'],
    [{ ...ok, prompts: ['a', 'b', { tokenIds: [1, 2.5] }] }, 'prompts[2]'],
    [{ ...ok, prompts: [42] }, 'prompts[0]'],
    [{ ...ok, prompts: [{ messages: [] }] }, 'prompts[0]'],
  ])('rejects %j naming %s', (request, argument) => {
    expect(argumentOf(request)).toBe(argument);
  });

  it('rejects chat prompts when capabilities.chat is false, naming the prompt', () => {
    const request = { ...ok, prompts: ['a', { messages: [{ role: 'user', content: 'hi' }] }] };
    expect(() => validateGenerateRequest(request, { capabilities: { chat: false } })).toThrow(/prompts\[1\]/);
    expect(argumentOf(request, { capabilities: { chat: false } })).toBe('unsupported:chat prompts');
    expect(argumentOf(request, { capabilities: { chat: true } })).toBeUndefined();
  });

  it('checks token-id prompts against maxContextTokens', () => {
    const request = { ...ok, prompts: [{ tokenIds: [1, 2, 3] }] };
    expect(argumentOf(request, { maxContextTokens: 4 })).toBeUndefined();
    expect(argumentOf(request, { maxContextTokens: 3 })).toBe('prompts[0]');
    expect(() => checkPromptLength(10, 2, 8, 'toy')).toThrow(/^toy: prompts\[2\] has 10 tokens.*holds 8/);
  });
});

describe('unsupportedSettingWarnings', () => {
  it('warns for logprobs and seed a backend cannot honour, and for named settings it ignores', () => {
    const request: GenerateRequest = { ...ok, logprobs: true, seed: 1, minP: 0.1 };
    const settings = (capabilities: { logprobs: boolean; seed: boolean }, unsupported: 'minP'[] = []) =>
      unsupportedSettingWarnings(request, capabilities, unsupported).map((warning) => warning.setting);
    expect(settings({ logprobs: false, seed: false })).toEqual(['logprobs', 'seed']);
    expect(settings({ logprobs: true, seed: true })).toEqual([]);
    expect(settings({ logprobs: true, seed: true }, ['minP'])).toEqual(['minP']);
    expect(unsupportedSettingWarnings(ok, { logprobs: true, seed: true }, ['minP'])).toEqual([]);
  });
});

describe('throwIfAborted', () => {
  it('throws AbortError with the reason as cause, only when aborted', () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal)).not.toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    const reason = new Error('stop');
    controller.abort(reason);
    try {
      throwIfAborted(controller.signal);
      expect.unreachable();
    } catch (error) {
      expect(AbortError.isInstance(error)).toBe(true);
      expect((error as AbortError).cause).toBe(reason);
    }
  });
});
