/**
 * The backend conformance suite: behaviours every `InferenceBackendV1` must show, whatever it runs on.
 * Call it from a vitest test file of the package that implements the backend:
 *
 * ```ts
 * import { runBackendConformance } from '@rlpt/conformance';
 * runBackendConformance('onnx (tiny char model)', async () => ({
 *   backend: createOnnxBackend({ modelDir }),
 *   modelDir, // optional: enables the checks against an uncached onnxruntime forward
 * }));
 * ```
 *
 * Every case is also a plain async function ({@link runBackendConformanceCase}), so a backend author can
 * run one case in a script, and the suite's own tests can show that each case fails on a broken backend.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openUncachedForward } from './uncached.js';
import {
  type BackendConformanceCase,
  type BackendConformanceOptions,
  type BackendConformanceSetup,
  type ConformanceCaseContext,
  ConformanceFailure,
  ConformanceSkip,
  defaultConformanceOptions,
  type Failer,
  type ResolvedConformanceOptions,
} from './backend-types.js';
import { basicsCases } from './cases/basics.js';
import { logprobsCases } from './cases/logprobs.js';
import { samplingCases } from './cases/sampling.js';
import { stoppingCases } from './cases/stopping.js';
import { inputsCases } from './cases/inputs.js';

export {
  ConformanceFailure,
  ConformanceSkip,
  defaultConformanceOptions,
} from './backend-types.js';
export type {
  BackendConformanceCase,
  BackendConformanceOptions,
  BackendConformanceSetup,
  ConformanceCaseContext,
  Failer,
  ResolvedConformanceOptions,
} from './backend-types.js';
export { firstDivergence, ksUniform, samplingPit } from './backend-checks.js';

function resolveOptions(options: BackendConformanceOptions): ResolvedConformanceOptions {
  const resolved = { ...defaultConformanceOptions, ...options };
  if (!Array.isArray(resolved.prompts) || resolved.prompts.length < 2)
    throw new Error('conformance: options.prompts needs at least 2 prompts of different lengths.');
  if (resolved.prompts.some((prompt) => typeof prompt !== 'string' || prompt.length === 0))
    throw new Error('conformance: options.prompts must be non-empty strings.');
  if (!Number.isInteger(resolved.maxTokens) || resolved.maxTokens < 4)
    throw new Error('conformance: options.maxTokens must be an integer ≥ 4.');
  const known = new Set(cases.map((entry) => entry.id));
  for (const id of [...resolved.only, ...Object.keys(resolved.skip)]) {
    if (!known.has(id))
      throw new Error(
        `conformance: no case '${id}' in options.only/options.skip (cases: ${[...known].join(', ')}).`,
      );
  }
  return resolved;
}

const cases: BackendConformanceCase[] = [
  ...basicsCases,
  ...logprobsCases,
  ...samplingCases,
  ...stoppingCases,
  ...inputsCases,
];

/** Every case of the suite, in the order it runs them. */
export const backendConformanceCases: readonly BackendConformanceCase[] = cases;

/** What a case needs besides `generate`: a capability flag or a setup field. */
export type ConformanceRequirement =
  | 'logprobs'
  | 'tokenIds'
  | 'chat'
  | 'seed'
  | 'score'
  | 'modelDir'
  | 'reference'
  | 'maxContextTokens';

/**
 * The capability flags and setup fields each case needs (`any` of a list where noted in the case's
 * skip note). A case whose needs are missing is skipped with a note, never passed. Cases not listed need
 * only `generate`.
 */
export const backendConformanceRequirements: Readonly<Record<string, readonly ConformanceRequirement[]>> = {
  'greedy-uncached': ['modelDir', 'tokenIds'],
  'reference-greedy': ['reference'],
  logprobs: ['logprobs', 'tokenIds', 'score'],
  'logprobs-self-consistent': ['logprobs', 'tokenIds'],
  'sampling-distribution': ['modelDir', 'tokenIds'],
  score: ['score'],
  'seed-reproducible': ['seed'],
  'seed-varies': ['seed'],
  'stop-token-ids': ['tokenIds'],
  'overlong-prompt': ['maxContextTokens'],
  'token-id-prompts': ['tokenIds'],
  'chat-prompts': ['chat'],
};

function makeFailer(suite: string, title: string): Failer {
  const prefix = `[${suite}] ${title}: `;
  const fail = (message: string, cause?: unknown): never => {
    throw new ConformanceFailure(prefix + message, cause === undefined ? undefined : { cause });
  };
  return {
    fail,
    check(condition, message) {
      if (!condition) fail(message);
    },
    skip(note: string): never {
      throw new ConformanceSkip(note);
    },
  };
}

/** A prepared suite: the backend, the optional uncached reference, and the resolved options. */
export interface PreparedConformance {
  context: Omit<ConformanceCaseContext, 'note'>;
  close(): Promise<void>;
}

/** Resolves a setup for {@link runBackendConformanceCase}: opens the uncached forward when `modelDir` is set. */
export async function prepareBackendConformance(
  suite: string,
  setup: BackendConformanceSetup,
  options: BackendConformanceOptions = {},
): Promise<PreparedConformance> {
  const resolved = resolveOptions(options);
  if (!setup || typeof setup.backend?.generate !== 'function')
    throw new Error(`conformance (${suite}): setup must return { backend } with a generate() method.`);
  const uncached = setup.modelDir
    ? await openUncachedForward(setup.modelDir, setup.modelFile ? { modelFile: setup.modelFile } : {})
    : undefined;
  return {
    context: {
      suite,
      backend: setup.backend,
      reference: setup.reference,
      referenceName: setup.referenceName ?? setup.reference?.provider ?? 'reference',
      uncached,
      maxContextTokens: setup.maxContextTokens ?? uncached?.maxPositions,
      options: resolved,
    },
    async close() {
      await uncached?.close();
    },
  };
}

/**
 * Runs one case by id outside vitest's `it`: resolves with `{ status: 'passed' | 'skipped', notes }` and
 * rejects with a {@link ConformanceFailure} naming the suite, the case and what went wrong.
 */
export async function runBackendConformanceCase(
  prepared: PreparedConformance,
  id: string,
): Promise<{ status: 'passed' | 'skipped'; notes: string[] }> {
  const found = cases.find((entry) => entry.id === id);
  if (!found)
    throw new Error(`conformance: no case '${id}' (cases: ${cases.map((entry) => entry.id).join(', ')}).`);
  const notes: string[] = [];
  const context: ConformanceCaseContext = { ...prepared.context, note: (message) => notes.push(message) };
  const { only, skip } = prepared.context.options;
  if (only.length > 0 && !only.includes(id)) return { status: 'skipped', notes: ['not in options.only.'] };
  const reason = skip[id];
  if (reason !== undefined) return { status: 'skipped', notes: [`options.skip: ${reason}`] };
  try {
    await found.run(context, makeFailer(context.suite, found.title));
    return { status: 'passed', notes };
  } catch (error) {
    if (error instanceof ConformanceSkip) return { status: 'skipped', notes: [...notes, error.message] };
    throw error;
  }
}

/**
 * Registers the backend conformance tests (one vitest test per case) for the backend `setup` returns.
 * `setup` runs once, in `beforeAll`; cases run in order against the same backend. A case that needs a
 * capability the backend declares false (or an input the setup lacks) is skipped with a note saying why.
 */
export function runBackendConformance(
  name: string,
  setup: () => BackendConformanceSetup | Promise<BackendConformanceSetup>,
  options: BackendConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? defaultConformanceOptions.timeoutMs;
  describe(`InferenceBackendV1 conformance: ${name}`, () => {
    let given: BackendConformanceSetup | undefined;
    let prepared: PreparedConformance | undefined;
    beforeAll(async () => {
      given = await setup();
      prepared = await prepareBackendConformance(name, given, options);
    }, timeout);
    afterAll(async () => {
      await prepared?.close();
      if (given?.teardown) await given.teardown();
      else await Promise.all([given?.backend.close?.(), given?.reference?.close?.()]);
    }, timeout);

    for (const entry of cases) {
      it(entry.title, { timeout }, async (test) => {
        if (!prepared) throw new Error(`conformance (${name}): setup did not complete.`);
        const result = await runBackendConformanceCase(prepared, entry.id);
        const skipNote = result.status === 'skipped' ? result.notes.pop() : undefined;
        for (const note of result.notes) await test.annotate(note, 'notice');
        if (result.status === 'skipped') test.skip(`${entry.id}: ${skipNote ?? 'skipped'}`);
      });
    }
  });
}
