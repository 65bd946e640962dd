import type { GenerateRequest, InferenceBackendV1 } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import {
  backendConformanceCases,
  backendConformanceRequirements,
  ConformanceFailure,
  prepareBackendConformance,
  runBackendConformanceCase,
} from './backend.js';

/** A backend whose greedy output changes from call to call, and that gives logprobs that are not its own. */
function flakyBackend(): InferenceBackendV1 {
  let calls = 0;
  return {
    specificationVersion: 'v1',
    provider: 'flaky',
    modelId: 'flaky',
    capabilities: { logprobs: true, tokenIds: true, chat: false, seed: false, score: false },
    async generate(request: GenerateRequest) {
      calls++;
      const results = request.prompts.map(() => ({
        promptTokenIds: [1, 2],
        completions: Array.from({ length: request.n ?? 1 }, (_, index) => ({
          text: 'ab',
          tokenIds: [3, 4],
          finishReason: 'length' as const,
          logprobs: Float32Array.from([-0.1 * (calls + index), -0.2]),
        })),
      }));
      const count = results.length * (request.n ?? 1);
      return {
        results: calls % 2 ? results : results.map((entry) => ({ ...entry, promptTokenIds: [1, 2, 9] })),
        usage: { promptTokens: results.length * (calls % 2 ? 2 : 3), completionTokens: 2 * count },
        warnings: [],
      };
    },
  };
}

describe('case selection and requirements', () => {
  it('lists requirements only for cases that exist', () => {
    const ids = new Set(backendConformanceCases.map((entry) => entry.id));
    for (const id of Object.keys(backendConformanceRequirements)) expect(ids.has(id), id).toBe(true);
    expect(ids.has('greedy-repeatable')).toBe(true);
    expect(ids.has('logprobs-self-consistent')).toBe(true);
  });

  it('skips cases outside `only` and in `skip`, with the reason as the note', async () => {
    const prepared = await prepareBackendConformance(
      'flaky',
      { backend: flakyBackend() },
      { only: ['interface', 'n'], skip: { n: 'known: the server repeats samples' } },
    );
    await expect(runBackendConformanceCase(prepared, 'interface')).resolves.toEqual({
      status: 'passed',
      notes: [],
    });
    await expect(runBackendConformanceCase(prepared, 'n')).resolves.toEqual({
      status: 'skipped',
      notes: ['options.skip: known: the server repeats samples'],
    });
    await expect(runBackendConformanceCase(prepared, 'max-tokens')).resolves.toMatchObject({
      status: 'skipped',
    });
  });

  it('rejects unknown case ids in options', async () => {
    await expect(
      prepareBackendConformance('flaky', { backend: flakyBackend() }, { only: ['no-such-case'] }),
    ).rejects.toThrow(/no case 'no-such-case'/);
  });

  it('fails greedy-repeatable and logprobs-self-consistent on a backend that is not consistent', async () => {
    for (const id of ['greedy-repeatable', 'logprobs-self-consistent']) {
      const prepared = await prepareBackendConformance('flaky', { backend: flakyBackend() });
      const outcome = await runBackendConformanceCase(prepared, id).catch((error: unknown) => error);
      expect(outcome, id).toBeInstanceOf(ConformanceFailure);
      expect((outcome as Error).message).toMatch(/^\[flaky\] /);
    }
  });
});
