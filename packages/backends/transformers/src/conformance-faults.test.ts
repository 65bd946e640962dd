// The conformance suite must catch broken backends: each case runs against this backend with one
// deliberate fault and has to fail with a ConformanceFailure that names the case. (The healthy backend
// passes every case in conformance.test.ts.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BackendConformanceSetup,
  backendConformanceCases,
  ConformanceFailure,
  prepareBackendConformance,
  runBackendConformanceCase,
} from '@rlpt/conformance';
import { createTinyModel, type TinyModel } from '@rlpt/model';
import type {
  BackendCapabilities,
  CallOptions,
  GenerateRequest,
  GenerateResult,
  InferenceBackendV1,
  ScoreRequest,
  ScoreResult,
} from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformersBackend, type TransformersBackend } from './backend.js';

let root: string;
let tiny: TinyModel;
let other: TinyModel;
let healthy: TransformersBackend;
let otherModel: TransformersBackend;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-conformance-faults-'));
  tiny = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    seed: 11,
    std: 0.2,
    safetensors: false,
  });
  other = await createTinyModel({
    dir: join(root, 'other'),
    tokenizer: 'char',
    seed: 12,
    std: 0.2,
    safetensors: false,
  });
  healthy = createTransformersBackend({ modelDir: tiny.dir, threads: 1 });
  otherModel = createTransformersBackend({ modelDir: other.dir, threads: 1 });
});
afterAll(async () => {
  await Promise.all([healthy?.close(), otherModel?.close()]);
  await rm(root, { recursive: true, force: true });
});

interface Patch {
  generate?: (request: GenerateRequest, options?: CallOptions) => Promise<GenerateResult>;
  score?: (request: ScoreRequest, options?: CallOptions) => Promise<ScoreResult>;
  capabilities?: Partial<BackendCapabilities>;
  specificationVersion?: string;
}

/** The healthy backend with one behaviour replaced. */
function faulty(patch: Patch): InferenceBackendV1 {
  return {
    specificationVersion: (patch.specificationVersion ?? 'v1') as 'v1',
    provider: 'faulty',
    modelId: tiny.dir,
    capabilities: { ...healthy.capabilities, ...patch.capabilities },
    generate: patch.generate ?? ((request, options) => healthy.generate(request, options)),
    score: patch.score ?? ((request, options) => healthy.score(request, options)),
  };
}

const generate = (request: GenerateRequest, options?: CallOptions) => healthy.generate(request, options);
const shift = (values: Float32Array | undefined) => values?.map((value) => value - 1e-3);

/** Case id → the fault it must catch. */
const faults: Record<string, { what: string; setup: () => Partial<BackendConformanceSetup> }> = {
  interface: {
    what: 'declares specificationVersion v2',
    setup: () => ({ backend: faulty({ specificationVersion: 'v2' }) }),
  },
  'greedy-uncached': {
    what: 'samples at T = 0.7 when asked for greedy',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate(
            { ...request, ...(request.temperature === 0 ? { temperature: 0.7, seed: 5 } : {}) },
            options,
          ),
      }),
    }),
  },
  'greedy-repeatable': {
    what: 'samples with a fresh seed every call when asked for greedy',
    setup: () => {
      let call = 0;
      return {
        backend: faulty({
          generate: (request, options) =>
            generate(
              { ...request, ...(request.temperature === 0 ? { temperature: 1, seed: 100 + call++ } : {}) },
              options,
            ),
        }),
      };
    },
  },
  'logprobs-self-consistent': {
    what: 'returns logprobs shifted by a different amount on every call',
    setup: () => {
      let call = 0;
      return {
        backend: faulty({
          generate: async (request, options) => {
            const result = await generate(request, options);
            const offset = 0.05 * ++call;
            for (const entry of result.results)
              for (const completion of entry.completions)
                completion.logprobs = completion.logprobs?.map((value) => value - offset);
            return result;
          },
        }),
      };
    },
  },
  'reference-greedy': {
    what: 'runs another model than the reference',
    setup: () => ({ backend: otherModel, reference: healthy }),
  },
  logprobs: {
    what: 'returns logprobs 1e-3 too low',
    setup: () => ({
      backend: faulty({
        generate: async (request, options) => {
          const result = await generate(request, options);
          for (const entry of result.results)
            for (const completion of entry.completions) completion.logprobs = shift(completion.logprobs);
          return result;
        },
      }),
    }),
  },
  'sampling-distribution': {
    what: 'samples with top-k 50 unless told otherwise (transformers.js’s default)',
    setup: () => ({
      backend: faulty({
        generate: (request, options) => generate({ ...request, topK: request.topK || 50 }, options),
      }),
    }),
  },
  score: {
    what: 'scores 1e-3 too low',
    setup: () => ({
      backend: faulty({
        score: async (request, options) => {
          const result = await healthy.score(request, options);
          return {
            results: result.results.map((entry) => ({
              ...entry,
              logprobs: shift(entry.logprobs) as Float32Array,
            })),
          };
        },
      }),
    }),
  },
  'seed-reproducible': {
    what: 'ignores the seed',
    setup: () => ({
      backend: faulty({ generate: ({ seed: _seed, ...request }, options) => generate(request, options) }),
    }),
  },
  'seed-varies': {
    what: 'always samples with seed 0',
    setup: () => ({
      backend: faulty({ generate: (request, options) => generate({ ...request, seed: 0 }, options) }),
    }),
  },
  n: {
    what: 'copies one sample n times',
    setup: () => ({
      backend: faulty({
        generate: async (request, options) => {
          const result = await generate({ ...request, n: 1 }, options);
          for (const entry of result.results)
            entry.completions = Array.from({ length: request.n ?? 1 }, () => entry.completions[0] as never);
          result.usage.completionTokens *= request.n ?? 1;
          return result;
        },
      }),
    }),
  },
  'stop-strings': {
    what: 'ignores stop strings',
    setup: () => ({
      backend: faulty({ generate: ({ stop: _stop, ...request }, options) => generate(request, options) }),
    }),
  },
  'stop-token-ids': {
    what: 'ignores stop token ids',
    setup: () => ({
      backend: faulty({
        generate: ({ stopTokenIds: _ids, ...request }, options) => generate(request, options),
      }),
    }),
  },
  'max-tokens': {
    what: 'generates two tokens more than maxTokens',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate({ ...request, maxTokens: request.maxTokens + (request.maxTokens === 5 ? 2 : 0) }, options),
      }),
    }),
  },
  'abort-before': {
    what: 'ignores the abort signal',
    setup: () => ({ backend: faulty({ generate: (request) => generate(request) }) }),
  },
  'abort-mid': {
    what: 'ignores the abort signal',
    setup: () => ({ backend: faulty({ generate: (request) => generate(request) }) }),
  },
  'empty-prompt': {
    what: 'replaces an empty prompt with a space',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate(
            { ...request, prompts: request.prompts.map((prompt) => (prompt === '' ? ' ' : prompt)) },
            options,
          ),
      }),
    }),
  },
  'overlong-prompt': {
    what: 'silently keeps the last 100 characters of a long prompt',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate(
            {
              ...request,
              prompts: request.prompts.map((prompt) =>
                typeof prompt === 'string' ? prompt.slice(-100) : prompt,
              ),
            },
            options,
          ),
      }),
    }),
  },
  'invalid-arguments': {
    what: 'clamps n, maxTokens and temperature instead of rejecting them',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate(
            {
              ...request,
              n: Math.max(1, request.n ?? 1),
              maxTokens: Math.max(1, request.maxTokens),
              temperature: Math.max(0, request.temperature ?? 1),
            },
            options,
          ),
      }),
    }),
  },
  'batch-vs-single': {
    what: 'treats the first prompt of a batch differently (a padding-style bug)',
    setup: () => ({
      backend: faulty({
        generate: async (request, options) => {
          if (request.prompts.length < 2) return generate(request, options);
          const result = await generate(request, options);
          const rerun = await generate(
            { ...request, prompts: [request.prompts[1] as string], temperature: 0 },
            options,
          );
          (result.results[0] as (typeof result.results)[0]).completions = (
            rerun.results[0] as (typeof result.results)[0]
          ).completions;
          return result;
        },
      }),
    }),
  },
  'token-id-prompts': {
    what: 'drops the last id of { tokenIds } prompts',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          generate(
            {
              ...request,
              prompts: request.prompts.map((prompt) =>
                typeof prompt === 'object' && 'tokenIds' in prompt && prompt.tokenIds.length > 1
                  ? { tokenIds: Array.from(prompt.tokenIds).slice(0, -1) }
                  : prompt,
              ),
            },
            options,
          ),
      }),
    }),
  },
  'chat-prompts': {
    what: 'claims chat but cannot render messages',
    setup: () => ({
      backend: faulty({
        generate: (request, options) =>
          request.prompts.some((prompt) => typeof prompt === 'object' && 'messages' in prompt)
            ? Promise.reject(new Error('no chat template'))
            : generate(request, options),
      }),
    }),
  },
  'declared-false': {
    what: 'declares seed false but ignores a seed without a warning',
    setup: () => ({ backend: faulty({ capabilities: { seed: false } }) }),
  },
};

describe('the backend conformance suite catches faults', () => {
  it('has a fault for every case', () => {
    expect(Object.keys(faults).sort()).toEqual(backendConformanceCases.map((entry) => entry.id).sort());
  });

  for (const entry of backendConformanceCases) {
    const fault = faults[entry.id];
    if (!fault) continue;
    it(`${entry.id}: fails a backend that ${fault.what}`, async () => {
      const suite = `faulty: ${fault.what}`;
      const prepared = await prepareBackendConformance(suite, {
        backend: healthy,
        modelDir: tiny.dir,
        ...fault.setup(),
      });
      try {
        const error = await runBackendConformanceCase(prepared, entry.id).then(
          (outcome) => new Error(`case ${entry.id} ${outcome.status}: ${outcome.notes.join(' | ')}`),
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(ConformanceFailure);
        expect((error as Error).message.startsWith(`[${suite}] ${entry.title}: `)).toBe(true);
      } finally {
        await prepared.close();
      }
    });
  }
});
