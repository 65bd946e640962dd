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
import {
  AbortError,
  type Completion,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Prompt,
  RlptError,
} from '@rlpt/spec';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  argmax,
  logitsRow,
  logSoftmaxAt,
  openUncachedForward,
  type SequenceLogits,
  type UncachedForward,
} from './uncached.js';

/** What a backend's test returns to the suite (from the `setup` function, called once per suite). */
export interface BackendConformanceSetup {
  /** The backend under test. */
  backend: InferenceBackendV1;
  /**
   * The model folder the backend runs, when it is a decoder ONNX in the Hugging Face Optimum layout
   * (`rlpt model init` folders, Optimum exports). Enables the checks against an independent uncached
   * forward in onnxruntime-node: greedy choices are the argmax and logprobs agree to `logprobTolerance`.
   * Without it those checks fall back to the backend's own `score()` or are skipped with a note.
   */
  modelDir?: string;
  /** ONNX file inside `modelDir` (default: the first of `onnx/model.onnx`, `model.onnx`, …). */
  modelFile?: string;
  /** Another backend on the same model: greedy outputs (and logprobs, when both give them) must match. */
  reference?: InferenceBackendV1;
  /** Name of `reference` in messages (default: its `provider`). */
  referenceName?: string;
  /**
   * Most tokens the model accepts (prompt + completion). Default: `max_position_embeddings` from
   * `modelDir/config.json`. Needed by the over-long prompt case (skipped with a note when unknown).
   */
  maxContextTokens?: number;
  /** Runs after the suite. Default: `close()` on `backend` and `reference`. */
  teardown?: () => void | Promise<void>;
}

/** Knobs for {@link runBackendConformance}; the defaults suit the tiny models of `@rlpt/model`. */
export interface BackendConformanceOptions {
  /**
   * Prompts of different lengths (at least 2; the default has 4, from 1 to ~20 tokens). Use text your
   * model's tokenizer handles; the suite never assumes a tokenizer.
   */
  prompts?: string[];
  /** New tokens per completion in most cases (default 12). Larger values make the suite slower. */
  maxTokens?: number;
  /** Most tokens the mid-generation abort case asks for (default 256, capped by the context). */
  abortMaxTokens?: number;
  /** Largest allowed |backend logprob − reference logprob| (default 1e-4). */
  logprobTolerance?: number;
  /**
   * Two logits closer than this count as a tie: a greedy choice of either is accepted and the sequences
   * are not compared past it (default 1e-4). Only used where an uncached reference is available.
   */
  tieTolerance?: number;
  /**
   * Which distribution sampled logprobs are under: `scaled` (default) = log softmax(logits / T), as
   * `@rlpt/backend-onnx` and `@rlpt/backend-transformers`; `raw` = log softmax(logits) whatever T is.
   * Greedy (T = 0) logprobs are always checked under T = 1.
   */
  logprobTemperature?: 'scaled' | 'raw';
  /** Per-test timeout in ms (default 120 000). */
  timeoutMs?: number;
  /** Run only these case ids (default: every case). */
  only?: string[];
  /**
   * Cases to skip, by id, each with the reason shown next to the skipped test (a known limitation of your
   * server, say). Skips stay visible in the report; nothing is passed silently.
   */
  skip?: Record<string, string>;
}

/** The resolved options (defaults filled in). */
export type ResolvedConformanceOptions = Required<BackendConformanceOptions>;

/** A case failed: the message names the suite, the case, the prompt and the token where it went wrong. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

/** Thrown inside a case to skip it with a visible note (a capability is false, an input is missing). */
export class ConformanceSkip extends Error {
  override readonly name = 'ConformanceSkip';
}

/** Everything a case gets. */
export interface ConformanceCaseContext {
  /** The suite's name (the backend under test). */
  readonly suite: string;
  readonly backend: InferenceBackendV1;
  readonly reference: InferenceBackendV1 | undefined;
  readonly referenceName: string;
  readonly uncached: UncachedForward | undefined;
  readonly maxContextTokens: number | undefined;
  readonly options: ResolvedConformanceOptions;
  /** Records a note shown next to the test (a near-tie accepted, a fallback used). */
  note(message: string): void;
}

/** One conformance case. */
export interface BackendConformanceCase {
  /** Stable id, e.g. `stop-strings`. */
  id: string;
  /** The test's name. */
  title: string;
  run(context: ConformanceCaseContext, fail: Failer): Promise<void>;
}

/** Failure helpers bound to one case (messages are prefixed with the suite and case names). */
export interface Failer {
  fail(message: string, cause?: unknown): never;
  check(condition: unknown, message: string): asserts condition;
  skip(note: string): never;
}

const defaultPrompts = [
  'The capital of France is',
  'a',
  'Once upon a time, in a small village by the sea, there lived an old fisherman who',
  '1, 2, 3, 4,',
];

/** Default {@link BackendConformanceOptions}. */
export const defaultConformanceOptions: ResolvedConformanceOptions = {
  prompts: defaultPrompts,
  maxTokens: 12,
  abortMaxTokens: 256,
  logprobTolerance: 1e-4,
  tieTolerance: 1e-4,
  logprobTemperature: 'scaled',
  timeoutMs: 120_000,
  only: [],
  skip: {},
};

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

// ---------------------------------------------------------------------------------------------------
// Small helpers

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function preview(text: string, max = 60): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}

function formatIds(ids: readonly number[], max = 24): string {
  return ids.length > max ? `[${ids.slice(0, max).join(', ')}, … (${ids.length})]` : `[${ids.join(', ')}]`;
}

/** Settles a promise into `{ value }` or `{ error }`. */
async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Index of the first position where `a` and `b` differ within their common length, or -1. */
export function firstDivergence(a: readonly number[], b: readonly number[]): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) return index;
  return -1;
}

function describeRequest(request: GenerateRequest): string {
  const parts = [`${request.prompts.length} prompt(s)`, `maxTokens ${request.maxTokens}`];
  if (request.n !== undefined) parts.push(`n ${request.n}`);
  if (request.temperature !== undefined) parts.push(`temperature ${request.temperature}`);
  if (request.seed !== undefined) parts.push(`seed ${request.seed}`);
  if (request.stop) parts.push(`stop ${JSON.stringify(request.stop)}`);
  if (request.stopTokenIds) parts.push(`stopTokenIds ${JSON.stringify(request.stopTokenIds)}`);
  if (request.logprobs) parts.push('logprobs');
  return parts.join(', ');
}

const finishReasons = new Set(['stop', 'length', 'abort', 'error']);

/**
 * Calls `generate` and checks the result's shape against the request and the declared capabilities:
 * one result per prompt in order, `n` completions each, valid finish reasons, token ids and logprobs
 * where promised, and usage consistent with the token ids.
 */
async function generateChecked(
  context: ConformanceCaseContext,
  failer: Failer,
  request: GenerateRequest,
  backend: InferenceBackendV1 = context.backend,
  label = context.suite,
): Promise<GenerateResult> {
  const what = `${label}: generate(${describeRequest(request)})`;
  const outcome = await settle(backend.generate(request));
  if ('error' in outcome) failer.fail(`${what} rejected: ${describeError(outcome.error)}`, outcome.error);
  const result = outcome.value;
  const fail: Failer['fail'] = failer.fail;
  const check: Failer['check'] = failer.check;
  check(result && Array.isArray(result.results), `${what} returned no \`results\` array.`);
  check(
    result.results.length === request.prompts.length,
    `${what} returned ${result.results.length} results for ${request.prompts.length} prompts (one per prompt, in order).`,
  );
  check(Array.isArray(result.warnings), `${what}: \`warnings\` must be an array (empty when none).`);
  const n = request.n ?? 1;
  const capabilities = backend.capabilities;
  let completionTokens = 0;
  let promptTokens = 0;
  for (const [promptIndex, entry] of result.results.entries()) {
    const where = `${what}, prompts[${promptIndex}]`;
    check(
      entry && Array.isArray(entry.completions) && entry.completions.length === n,
      `${where}: expected ${n} completion(s), got ${entry?.completions?.length ?? 'none'}.`,
    );
    if (capabilities.tokenIds) {
      const ids = entry.promptTokenIds;
      check(
        Array.isArray(ids) && ids.length > 0 && ids.every((id) => Number.isInteger(id) && id >= 0),
        `${where}: capabilities.tokenIds is true but promptTokenIds is ${JSON.stringify(ids)?.slice(0, 80)}.`,
      );
      promptTokens += ids.length;
    }
    for (const [sampleIndex, completion] of entry.completions.entries()) {
      const at = `${where}.completions[${sampleIndex}]`;
      check(typeof completion.text === 'string', `${at}: text must be a string.`);
      check(
        finishReasons.has(completion.finishReason),
        `${at}: finishReason ${JSON.stringify(completion.finishReason)} is not one of stop, length, abort, error.`,
      );
      if (capabilities.tokenIds) {
        const ids = completion.tokenIds;
        check(
          Array.isArray(ids) && ids.every((id) => Number.isInteger(id) && id >= 0),
          `${at}: capabilities.tokenIds is true but tokenIds is ${JSON.stringify(ids)?.slice(0, 80)}.`,
        );
        check(
          ids.length <= request.maxTokens,
          `${at}: ${ids.length} tokens exceed maxTokens ${request.maxTokens}.`,
        );
        completionTokens += ids.length;
      }
      if (request.logprobs && capabilities.logprobs) {
        const logprobs = completion.logprobs;
        check(
          logprobs instanceof Float32Array,
          `${at}: logprobs were requested and capabilities.logprobs is true, but logprobs is ${Object.prototype.toString.call(logprobs)} (want a Float32Array).`,
        );
        if (completion.tokenIds) {
          check(
            logprobs.length === completion.tokenIds.length,
            `${at}: ${logprobs.length} logprobs for ${completion.tokenIds.length} tokens.`,
          );
        }
        const bad = logprobs.findIndex((value) => !Number.isFinite(value) || value > 1e-6);
        if (bad >= 0) fail(`${at}: logprobs[${bad}] = ${logprobs[bad]} is not a finite value ≤ 0.`);
      }
    }
  }
  const usage = result.usage;
  check(
    usage && Number.isInteger(usage.promptTokens) && Number.isInteger(usage.completionTokens),
    `${what}: usage must have integer promptTokens and completionTokens, got ${JSON.stringify(usage)}.`,
  );
  if (capabilities.tokenIds) {
    check(
      usage.completionTokens === completionTokens,
      `${what}: usage.completionTokens is ${usage.completionTokens} but the completions hold ${completionTokens} token ids.`,
    );
    check(
      usage.promptTokens === promptTokens,
      `${what}: usage.promptTokens is ${usage.promptTokens} but the prompts have ${promptTokens} token ids (each prompt counted once).`,
    );
  }
  return result;
}

function completionsOf(result: GenerateResult): Completion[][] {
  return result.results.map((entry) => entry.completions);
}

/** Token ids of a completion, or undefined when the backend gives none. */
function idsOf(completion: Completion | undefined): number[] | undefined {
  return completion?.tokenIds;
}

function sameCompletion(a: Completion, b: Completion): boolean {
  if (a.tokenIds && b.tokenIds && firstDivergence(a.tokenIds, b.tokenIds) >= 0) return false;
  if (a.tokenIds && b.tokenIds && a.tokenIds.length !== b.tokenIds.length) return false;
  return a.text === b.text && a.finishReason === b.finishReason;
}

/** Is `chosen` within `tieTolerance` of the best logit of the position after `prefix`? */
async function nearTie(
  context: ConformanceCaseContext,
  prefix: readonly number[],
  first: number,
  second: number,
): Promise<{ tie: boolean; detail: string }> {
  const uncached = context.uncached;
  if (!uncached) return { tie: false, detail: 'no modelDir, so near-ties cannot be told apart' };
  const logits = await uncached.logits(prefix);
  const row = logitsRow(logits, logits.positions - 1);
  const best = argmax(row);
  const a = row[first] as number;
  const b = row[second] as number;
  const top = row[best] as number;
  const tolerance = context.options.tieTolerance;
  const tie = Math.abs(a - b) <= tolerance && top - Math.min(a, b) <= tolerance;
  const detail = `uncached logits: token ${first} ${a.toFixed(7)}, token ${second} ${b.toFixed(7)}, argmax ${best} ${top.toFixed(7)}`;
  return { tie, detail };
}

/**
 * Compares two greedy completions of the same prompt. Identical token ids (and text) pass; a divergence
 * passes only where the uncached reference shows a near-tie between the two chosen tokens (noted).
 */
async function compareGreedy(
  context: ConformanceCaseContext,
  failer: Failer,
  where: string,
  promptIds: readonly number[] | undefined,
  actual: Completion,
  expected: Completion,
  labels: [string, string],
): Promise<'same' | 'tie'> {
  const a = idsOf(actual);
  const b = idsOf(expected);
  if (a && b) {
    const at = firstDivergence(a, b);
    if (at < 0) {
      if (a.length !== b.length) {
        failer.fail(
          `${where}: ${labels[0]} gave ${a.length} tokens ${formatIds(a)} (${actual.finishReason}), ${labels[1]} gave ${b.length} ${formatIds(b)} (${expected.finishReason}); one stopped early.`,
        );
      }
      failer.check(
        actual.text === expected.text,
        `${where}: same token ids but different text: ${labels[0]} ${preview(actual.text)} vs ${labels[1]} ${preview(expected.text)}.`,
      );
      failer.check(
        actual.finishReason === expected.finishReason,
        `${where}: same tokens but finishReason ${actual.finishReason} (${labels[0]}) vs ${expected.finishReason} (${labels[1]}).`,
      );
      return 'same';
    }
    if (promptIds) {
      const prefix = [...promptIds, ...a.slice(0, at)];
      const { tie, detail } = await nearTie(context, prefix, a[at] as number, b[at] as number);
      if (tie) {
        context.note(
          `${where}: greedy near-tie at token ${at} (${labels[0]} ${a[at]}, ${labels[1]} ${b[at]}; ${detail}); not compared beyond it.`,
        );
        return 'tie';
      }
      failer.fail(
        `${where}: greedy outputs differ at token ${at}: ${labels[0]} ${formatIds(a)} vs ${labels[1]} ${formatIds(b)} (${detail}).`,
      );
    }
    failer.fail(
      `${where}: greedy outputs differ at token ${at}: ${labels[0]} ${formatIds(a)} vs ${labels[1]} ${formatIds(b)}.`,
    );
  }
  failer.check(
    actual.text === expected.text,
    `${where}: greedy text differs: ${labels[0]} ${preview(actual.text)} vs ${labels[1]} ${preview(expected.text)}.`,
  );
  return 'same';
}

/** A small deterministic PRNG (mulberry32) for the randomised PIT, so the suite's verdicts are repeatable. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Randomised probability integral transform of `token` under softmax(row / temperature) restricted to
 * the `topK` largest logits (0 = all): with tokens ordered by probability (ties by id),
 * u = P(tokens before it) + v · P(token). Under correct sampling u is Uniform(0, 1), and successive tokens
 * give independent u's. Returns undefined when the token is outside the top-k set (probability 0).
 * Linear in the vocabulary (one typed-array sort when `topK` is set).
 */
export function samplingPit(
  row: ArrayLike<number>,
  token: number,
  temperature: number,
  topK: number,
  uniform: number,
): number | undefined {
  let threshold = Number.NEGATIVE_INFINITY;
  if (topK > 0 && topK < row.length) threshold = Float64Array.from(row).sort()[row.length - topK] as number;
  const own = row[token] as number;
  if (own < threshold) return undefined;
  let max = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < row.length; index++) max = Math.max(max, (row[index] as number) / temperature);
  let total = 0;
  let before = 0;
  for (let index = 0; index < row.length; index++) {
    const value = row[index] as number;
    if (value < threshold) continue;
    const weight = Math.exp(value / temperature - max);
    total += weight;
    if (value > own || (value === own && index < token)) before += weight;
  }
  const probability = Math.exp(own / temperature - max);
  return (before + uniform * probability) / total;
}

/** Kolmogorov–Smirnov distance between the empirical distribution of `values` and Uniform(0, 1). */
export function ksUniform(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  let distance = 0;
  for (const [index, value] of sorted.entries()) {
    distance = Math.max(distance, (index + 1) / sorted.length - value, value - index / sorted.length);
  }
  return distance;
}

function requireTokenIds(context: ConformanceCaseContext, failer: Failer, why: string): void {
  if (!context.backend.capabilities.tokenIds)
    failer.skip(`capabilities.tokenIds is false: ${why} needs token ids.`);
}

function greedy(context: ConformanceCaseContext, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { prompts: context.options.prompts, maxTokens: context.options.maxTokens, temperature: 0, ...extra };
}

function checkRejection(
  failer: Failer,
  what: string,
  outcome: { value: unknown } | { error: unknown },
  pattern: RegExp,
  hint: string,
): void {
  if (!('error' in outcome)) failer.fail(`${what} resolved; it must reject with an RlptError (${hint}).`);
  const error = outcome.error;
  failer.check(
    RlptError.isInstance(error),
    `${what} rejected with ${describeError(error)}, which is not an RlptError from @rlpt/spec (${hint}).`,
  );
  failer.check(
    pattern.test(error.message) || (InvalidArgumentError.isInstance(error) && pattern.test(error.argument)),
    `${what} rejected with ${describeError(error)}; the message must name what was wrong (${hint}; expected to match ${pattern}).`,
  );
}

/** Checks one completion's logprobs against log softmax of an uncached forward. Returns tokens checked. */
async function checkLogprobsUncached(
  context: ConformanceCaseContext,
  failer: Failer,
  where: string,
  promptIds: readonly number[],
  tokenIds: readonly number[],
  logprobs: ArrayLike<number>,
  temperature: number,
): Promise<number> {
  const uncached = context.uncached as UncachedForward;
  if (tokenIds.length === 0) return 0;
  const logits: SequenceLogits = await uncached.logits([...promptIds, ...tokenIds]);
  for (const [step, token] of tokenIds.entries()) {
    const expected = logSoftmaxAt(logitsRow(logits, promptIds.length - 1 + step), token, temperature);
    const got = logprobs[step] as number;
    if (!(Math.abs(got - expected) <= context.options.logprobTolerance)) {
      failer.fail(
        `${where}: logprob of token ${step} (id ${token}) is ${got}, an uncached forward gives ${expected} under T = ${temperature} (|Δ| = ${Math.abs(got - expected).toExponential(2)} > ${context.options.logprobTolerance}).`,
      );
    }
  }
  return tokenIds.length;
}

// ---------------------------------------------------------------------------------------------------
// The cases

const cases: BackendConformanceCase[] = [
  {
    id: 'interface',
    title: 'declares specificationVersion v1, provider, modelId and boolean capabilities',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      const check: Failer['check'] = failer.check;
      check(
        backend.specificationVersion === 'v1',
        `specificationVersion is ${backend.specificationVersion}.`,
      );
      check(
        typeof backend.provider === 'string' && backend.provider.length > 0,
        'provider must be a non-empty string.',
      );
      check(
        typeof backend.modelId === 'string' && backend.modelId.length > 0,
        'modelId must be a non-empty string.',
      );
      for (const key of ['logprobs', 'tokenIds', 'chat', 'seed', 'score'] as const) {
        check(
          typeof backend.capabilities?.[key] === 'boolean',
          `capabilities.${key} must be a boolean, got ${JSON.stringify(backend.capabilities?.[key])}.`,
        );
      }
      check(typeof backend.generate === 'function', 'generate must be a function.');
      if (backend.capabilities.score)
        check(typeof backend.score === 'function', 'capabilities.score is true but score() is missing.');
    },
  },
  {
    id: 'greedy-repeatable',
    title: 'greedy output is repeatable: the same request twice gives the same completions',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const first = await generateChecked(context, failer, greedy(context));
      const second = await generateChecked(context, failer, greedy(context));
      for (const [index, entry] of second.results.entries()) {
        await compareGreedy(
          context,
          failer,
          `prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          first.results[index]?.completions[0] as Completion,
          ['second call', 'first call'],
        );
        if (context.backend.capabilities.tokenIds) {
          const a = entry.promptTokenIds ?? [];
          const b = first.results[index]?.promptTokenIds ?? [];
          failer.check(
            a.length === b.length && firstDivergence(a, b) < 0,
            `prompts[${index}]: promptTokenIds differ between two identical calls: ${formatIds(a)} vs ${formatIds(b)}.`,
          );
        }
      }
    },
  },
  {
    id: 'greedy-uncached',
    title: 'greedy tokens are the argmax of an uncached full forward',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'comparing greedy tokens with an uncached forward');
      if (!context.uncached)
        failer.skip('setup.modelDir not given: no uncached forward to compare greedy tokens with.');
      const result = await generateChecked(context, failer, greedy(context));
      const uncached = context.uncached;
      let checked = 0;
      for (const [promptIndex, entry] of result.results.entries()) {
        const promptIds = entry.promptTokenIds as number[];
        const completion = entry.completions[0] as Completion;
        const tokens = completion.tokenIds as number[];
        const where = `prompts[${promptIndex}] ${preview(context.options.prompts[promptIndex] ?? '', 30)}`;
        if (completion.finishReason === 'length') {
          failer.check(
            tokens.length === context.options.maxTokens,
            `${where}: finishReason length after ${tokens.length} of ${context.options.maxTokens} tokens.`,
          );
        }
        const logits = await uncached.logits([...promptIds, ...tokens]);
        for (const [step, token] of tokens.entries()) {
          const row = logitsRow(logits, promptIds.length - 1 + step);
          const best = argmax(row);
          const gap = (row[best] as number) - (row[token] as number);
          if (gap > context.options.tieTolerance) {
            failer.fail(
              `${where}: greedy token ${step} is ${token} (uncached logit ${(row[token] as number).toFixed(6)}) but the uncached argmax is ${best} (${(row[best] as number).toFixed(6)}); tokens ${formatIds(tokens)}.`,
            );
          }
          if (best !== token)
            context.note(
              `${where}: token ${step} is a near-tie (${token} vs ${best}, gap ${gap.toExponential(2)}).`,
            );
          checked++;
        }
      }
      failer.check(checked > 0, 'no greedy tokens were generated to check.');
    },
  },
  {
    id: 'reference-greedy',
    title: 'greedy output is identical to the reference backend on the same model',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const reference = context.reference;
      if (!reference)
        failer.skip('setup.reference not given: no second backend to compare greedy output with.');
      const prompts: Prompt[] = [...context.options.prompts];
      const withChat = context.backend.capabilities.chat && reference.capabilities.chat;
      if (withChat) prompts.push({ messages: [{ role: 'user', content: 'Name three colours.' }] });
      else context.note('chat prompts not compared: capabilities.chat is false on one of the backends.');
      const request: GenerateRequest = { ...greedy(context), prompts, logprobs: true };
      const ours = await generateChecked(context, failer, request);
      const theirs = await generateChecked(context, failer, request, reference, context.referenceName);
      const labels: [string, string] = [context.suite, context.referenceName];
      let logprobsCompared = 0;
      for (const [index, entry] of ours.results.entries()) {
        const other = theirs.results[index];
        const where = `prompts[${index}]${index >= context.options.prompts.length ? ' (chat)' : ''}`;
        if (entry.promptTokenIds && other?.promptTokenIds) {
          failer.check(
            firstDivergence(entry.promptTokenIds, other.promptTokenIds) < 0 &&
              entry.promptTokenIds.length === other.promptTokenIds.length,
            `${where}: prompt token ids differ: ${labels[0]} ${formatIds(entry.promptTokenIds)} vs ${labels[1]} ${formatIds(other.promptTokenIds)} (tokenizer or chat template rendering differs).`,
          );
        }
        const a = entry.completions[0] as Completion;
        const b = other?.completions[0] as Completion;
        const outcome = await compareGreedy(context, failer, where, entry.promptTokenIds, a, b, labels);
        if (outcome === 'same' && a.logprobs && b.logprobs) {
          for (const [step, value] of a.logprobs.entries()) {
            const delta = Math.abs(value - (b.logprobs[step] as number));
            if (!(delta <= context.options.logprobTolerance)) {
              failer.fail(
                `${where}: greedy logprob of token ${step} is ${value} (${labels[0]}) vs ${b.logprobs[step]} (${labels[1]}), |Δ| ${delta.toExponential(2)}.`,
              );
            }
            logprobsCompared++;
          }
        }
      }
      if (logprobsCompared === 0) context.note('logprobs not compared (one backend gives none).');
    },
  },
  {
    id: 'logprobs',
    title: 'logprobs agree with an uncached full forward (sampled, temperature-scaled and greedy)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      if (!backend.capabilities.logprobs) failer.skip('capabilities.logprobs is false.');
      requireTokenIds(context, failer, 'checking logprobs token by token');
      if (!context.uncached && !backend.capabilities.score) {
        failer.skip('no setup.modelDir and capabilities.score is false: nothing to check logprobs against.');
      }
      if (!context.uncached)
        context.note('no setup.modelDir: logprobs compared with the backend’s own score().');
      const seed = backend.capabilities.seed ? { seed: 7 } : {};
      const requests: { request: GenerateRequest; temperature: number }[] = [
        { request: { ...greedy(context), temperature: 1, n: 2, logprobs: true, ...seed }, temperature: 1 },
        {
          request: { ...greedy(context), temperature: 0.6, logprobs: true, ...seed },
          temperature: options.logprobTemperature === 'scaled' ? 0.6 : 1,
        },
        { request: { ...greedy(context), logprobs: true }, temperature: 1 },
      ];
      let checked = 0;
      for (const { request, temperature } of requests) {
        const result = await generateChecked(context, failer, request);
        for (const [promptIndex, entry] of result.results.entries()) {
          const promptIds = entry.promptTokenIds as number[];
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const where = `generate(T = ${request.temperature}) prompts[${promptIndex}].completions[${sampleIndex}]`;
            const tokens = completion.tokenIds as number[];
            const logprobs = completion.logprobs as Float32Array;
            if (context.uncached) {
              checked += await checkLogprobsUncached(
                context,
                failer,
                where,
                promptIds,
                tokens,
                logprobs,
                temperature,
              );
              continue;
            }
            const scored = await backend.score?.({
              items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: tokens } }],
              temperature,
            });
            const values = scored?.results[0]?.logprobs;
            failer.check(
              values && values.length === tokens.length,
              `${where}: score() returned no logprobs.`,
            );
            for (const [step, value] of logprobs.entries()) {
              const delta = Math.abs(value - (values[step] as number));
              if (!(delta <= options.logprobTolerance)) {
                failer.fail(
                  `${where}: generate logprob of token ${step} is ${value}, score() gives ${values[step]} (|Δ| ${delta.toExponential(2)}).`,
                );
              }
              checked++;
            }
          }
        }
      }
      failer.check(checked > 0, 'no tokens were generated to check.');
    },
  },
  {
    id: 'logprobs-self-consistent',
    title:
      'logprobs are consistent with themselves: same prefix and temperature, same logprob (no ONNX copy needed)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      if (!backend.capabilities.logprobs) failer.skip('capabilities.logprobs is false.');
      requireTokenIds(context, failer, 'comparing logprobs token by token');
      // Two calls may each be off by logprobTolerance from the exact value.
      const tolerance = 2 * options.logprobTolerance;
      // Greedy twice: identical tokens must carry identical logprobs.
      const first = await generateChecked(context, failer, greedy(context, { logprobs: true }));
      const second = await generateChecked(context, failer, greedy(context, { logprobs: true }));
      // Greedy logprobs are under T = 1; so are sampled ones at T = 1, whatever `logprobTemperature` is.
      const seed = backend.capabilities.seed ? { seed: 11 } : {};
      const sampled = await generateChecked(context, failer, {
        ...greedy(context),
        temperature: 1,
        n: 4,
        logprobs: true,
        ...seed,
      });
      let compared = 0;
      const compare = (where: string, a: Completion, b: Completion): void => {
        const ids = a.tokenIds as number[];
        const other = b.tokenIds as number[];
        const shared =
          firstDivergence(ids, other) < 0 ? Math.min(ids.length, other.length) : firstDivergence(ids, other);
        for (let step = 0; step < shared; step++) {
          const x = (a.logprobs as Float32Array)[step] as number;
          const y = (b.logprobs as Float32Array)[step] as number;
          if (!(Math.abs(x - y) <= tolerance))
            failer.fail(
              `${where}: token ${step} (id ${ids[step]}) after the same prefix has logprob ${x} in one completion and ${y} in the other (|Δ| = ${Math.abs(x - y).toExponential(2)} > ${tolerance}); logprobs are misaligned or depend on the batch.`,
            );
          compared++;
        }
      };
      for (const [index, entry] of first.results.entries()) {
        const greedyA = entry.completions[0] as Completion;
        compare(
          `greedy twice, prompts[${index}]`,
          greedyA,
          second.results[index]?.completions[0] as Completion,
        );
        const samples = sampled.results[index]?.completions ?? [];
        for (const [sampleIndex, sample] of samples.entries()) {
          compare(`prompts[${index}] sample ${sampleIndex} vs greedy (both T = 1)`, sample, greedyA);
          for (const other of samples.slice(sampleIndex + 1))
            compare(`prompts[${index}] samples sharing a prefix`, sample, other);
        }
        // The greedy token is the most likely one: no sample's first token may be more likely.
        const top = (greedyA.logprobs as Float32Array)[0];
        for (const sample of samples) {
          const lp = (sample.logprobs as Float32Array)[0];
          if (top !== undefined && lp !== undefined)
            failer.check(
              lp <= top + tolerance,
              `prompts[${index}]: a sampled first token has logprob ${lp} (T = 1), above the greedy first token's ${top}: the greedy token must be the most likely.`,
            );
        }
      }
      failer.check(compared > 0, 'no two completions shared a prefix: nothing was compared.');
    },
  },
  {
    id: 'sampling-distribution',
    title: 'sampled tokens follow softmax(logits / T) restricted to top-k (randomised PIT, KS test)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'testing the sampling distribution');
      const uncached = context.uncached;
      if (!uncached) failer.skip('setup.modelDir not given: no uncached forward to test samples against.');
      const seed = context.backend.capabilities.seed ? { seed: 2024 } : {};
      if (!context.backend.capabilities.seed)
        context.note('capabilities.seed is false: this statistical test fails by chance 0.1% of the time.');
      const uniform = mulberry32(17);
      for (const setting of [
        { temperature: 1, topK: 0 },
        { temperature: 0.7, topK: 5 },
      ]) {
        const result = await generateChecked(context, failer, {
          ...greedy(context),
          n: 8,
          temperature: setting.temperature,
          ...(setting.topK > 0 ? { topK: setting.topK } : {}),
          ...seed,
        });
        if (setting.topK > 0 && result.warnings.some((warning) => warning.setting === 'topK')) {
          context.note(`topK ${setting.topK} came back as an unsupported setting: that draw is not tested.`);
          continue;
        }
        const values: number[] = [];
        for (const [promptIndex, entry] of result.results.entries()) {
          const promptIds = entry.promptTokenIds as number[];
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const tokens = completion.tokenIds as number[];
            if (tokens.length === 0) continue;
            const logits = await uncached.logits([...promptIds, ...tokens]);
            for (const [step, token] of tokens.entries()) {
              const row = logitsRow(logits, promptIds.length - 1 + step);
              const value = samplingPit(row, token, setting.temperature, setting.topK, uniform());
              if (value === undefined) {
                failer.fail(
                  `T = ${setting.temperature}, topK ${setting.topK}: prompts[${promptIndex}].completions[${sampleIndex}] token ${step} (id ${token}) is outside the ${setting.topK} most likely tokens.`,
                );
              }
              values.push(value);
            }
          }
        }
        if (values.length < 40) failer.skip(`only ${values.length} sampled tokens: too few for the test.`);
        // Asymptotic KS critical value at α = 0.001.
        const critical = 1.949 / Math.sqrt(values.length);
        const distance = ksUniform(values);
        failer.check(
          distance <= critical,
          `T = ${setting.temperature}, topK ${setting.topK}: the ${values.length} sampled tokens do not follow softmax(logits / T) over the top-k set (KS distance of their PIT values ${distance.toFixed(3)} > ${critical.toFixed(3)} at α = 0.001); look for an implicit top-k (transformers.js defaults to 50), a wrong temperature, or a biased sampler.`,
        );
        context.note(
          `T = ${setting.temperature}, topK ${setting.topK}: KS distance ${distance.toFixed(3)} (critical ${critical.toFixed(3)}) over ${values.length} tokens.`,
        );
      }
    },
  },
  {
    id: 'score',
    title: 'score() gives teacher-forced logprobs that agree with an uncached forward',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      if (!backend.capabilities.score || !backend.score) failer.skip('capabilities.score is false.');
      requireTokenIds(context, failer, 'checking score() token by token');
      const base = await generateChecked(context, failer, greedy(context));
      const items = base.results.map((entry) => ({
        prompt: { tokenIds: entry.promptTokenIds as number[] },
        completion: { tokenIds: (entry.completions[0] as Completion).tokenIds as number[] },
      }));
      for (const temperature of [1, 0.8]) {
        const outcome = await settle(backend.score({ items, temperature }));
        if ('error' in outcome)
          failer.fail(`score() rejected: ${describeError(outcome.error)}`, outcome.error);
        const results = outcome.value.results;
        failer.check(
          Array.isArray(results) && results.length === items.length,
          `score() returned ${results?.length} results for ${items.length} items.`,
        );
        for (const [index, item] of items.entries()) {
          const got = results[index];
          const where = `score(T = ${temperature}) items[${index}]`;
          failer.check(
            got && got.tokenIds.length === item.completion.tokenIds.length,
            `${where}: tokenIds ${JSON.stringify(got?.tokenIds)} do not echo the completion's ${item.completion.tokenIds.length} tokens.`,
          );
          failer.check(
            firstDivergence(got.tokenIds, item.completion.tokenIds) < 0,
            `${where}: tokenIds ${formatIds(got.tokenIds)} differ from the given ${formatIds(item.completion.tokenIds)}.`,
          );
          failer.check(
            got.logprobs instanceof Float32Array && got.logprobs.length === got.tokenIds.length,
            `${where}: logprobs must be a Float32Array with one value per token.`,
          );
          if (context.uncached) {
            await checkLogprobsUncached(
              context,
              failer,
              where,
              item.prompt.tokenIds,
              item.completion.tokenIds,
              got.logprobs,
              temperature,
            );
          }
        }
      }
      if (!context.uncached) {
        context.note('no setup.modelDir: score() checked for shape only (the logprobs case compares it).');
      }
      // A string completion is tokenised without special tokens and scored the same way.
      const text = base.results[0]?.completions[0]?.text ?? '';
      if (text.length > 0) {
        const scored = await backend.score({
          items: [{ prompt: context.options.prompts[0] as string, completion: text }],
        });
        const got = scored.results[0];
        failer.check(
          got && got.tokenIds.length > 0 && got.logprobs.length === got.tokenIds.length,
          `score() of a string completion ${preview(text)} returned ${JSON.stringify(got?.tokenIds)}.`,
        );
      }
    },
  },
  {
    id: 'seed-reproducible',
    title: 'seeded sampling is reproducible: the same seed gives the same completions',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.seed) failer.skip('capabilities.seed is false.');
      const request: GenerateRequest = { ...greedy(context), temperature: 1, n: 3, seed: 1234 };
      const first = await generateChecked(context, failer, request);
      const second = await generateChecked(context, failer, request);
      for (const [promptIndex, completions] of completionsOf(first).entries()) {
        for (const [sampleIndex, completion] of completions.entries()) {
          const again = second.results[promptIndex]?.completions[sampleIndex] as Completion;
          failer.check(
            sameCompletion(completion, again),
            `prompts[${promptIndex}].completions[${sampleIndex}] with seed 1234 differs between two identical calls: ${formatIds(idsOf(completion) ?? [])} ${preview(completion.text)} vs ${formatIds(idsOf(again) ?? [])} ${preview(again.text)}.`,
          );
        }
      }
    },
  },
  {
    id: 'seed-varies',
    title: 'different seeds (and unseeded calls) give different samples on a high-entropy model',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.seed) failer.skip('capabilities.seed is false.');
      const request: GenerateRequest = { ...greedy(context), temperature: 1, n: 2 };
      const runs = [
        await generateChecked(context, failer, { ...request, seed: 1 }),
        await generateChecked(context, failer, { ...request, seed: 2 }),
        await generateChecked(context, failer, request),
        await generateChecked(context, failer, request),
      ];
      const signature = (result: GenerateResult) =>
        JSON.stringify(completionsOf(result).map((list) => list.map((c) => [c.tokenIds ?? null, c.text])));
      const [one, two, unseededA, unseededB] = runs.map(signature);
      const total = context.options.prompts.length * 2;
      failer.check(
        one !== two,
        `seeds 1 and 2 gave the same ${total} completions: the seed does not reach the sampler (or the model is near-deterministic: run the suite on a high-entropy model, e.g. a createTinyModel default).`,
      );
      failer.check(
        unseededA !== unseededB,
        `two unseeded calls gave the same ${total} completions: without a seed, sampling must not replay a fixed stream (e.g. a global RNG left seeded by an earlier call).`,
      );
    },
  },
  {
    id: 'n',
    title: '`n` completions per prompt: greedy copies agree, samples differ',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const greedyResult = await generateChecked(context, failer, greedy(context, { n: 3 }));
      for (const [promptIndex, entry] of greedyResult.results.entries()) {
        const first = entry.completions[0] as Completion;
        for (const [sampleIndex, completion] of entry.completions.entries()) {
          await compareGreedy(
            context,
            failer,
            `greedy n = 3, prompts[${promptIndex}].completions[${sampleIndex}]`,
            entry.promptTokenIds,
            completion,
            first,
            [`completion ${sampleIndex}`, 'completion 0'],
          );
        }
      }
      const seed = context.backend.capabilities.seed ? { seed: 99 } : {};
      const sampled = await generateChecked(context, failer, {
        ...greedy(context),
        temperature: 1,
        n: 4,
        ...seed,
      });
      const distinct = sampled.results.map(
        (entry) => new Set(entry.completions.map((c) => JSON.stringify([c.tokenIds ?? null, c.text]))).size,
      );
      failer.check(
        distinct.some((count) => count > 1),
        `n = 4 at temperature 1 gave 4 identical completions for every prompt (distinct per prompt: ${distinct.join(', ')}): the n samples must be drawn independently.`,
      );
    },
  },
  {
    id: 'stop-strings',
    title: 'stop strings end generation before their first occurrence (not included in text)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const maxTokens = Math.max(context.options.maxTokens, 16);
      const base = await generateChecked(context, failer, greedy(context, { maxTokens }));
      // One stop string per prompt, taken from the middle of its greedy text (all sent in one request).
      const stops: string[] = [];
      for (const entry of base.results) {
        const text = (entry.completions[0] as Completion).text;
        for (let start = Math.floor(text.length / 3); start + 2 <= text.length; start++) {
          const candidate = text.slice(start, start + 2);
          if (!candidate.includes('\uFFFD') && !stops.includes(candidate)) {
            stops.push(candidate);
            break;
          }
        }
      }
      if (stops.length === 0) failer.skip('the greedy texts are too short to take a stop string from.');
      const stopped = await generateChecked(context, failer, greedy(context, { maxTokens, stop: stops }));
      let cut = 0;
      for (const [index, entry] of stopped.results.entries()) {
        const original = base.results[index]?.completions[0] as Completion;
        const completion = entry.completions[0] as Completion;
        const where = `prompts[${index}] (stop ${JSON.stringify(stops)})`;
        const positions = stops.map((stop) => original.text.indexOf(stop)).filter((at) => at >= 0);
        const expectedText =
          positions.length > 0 ? original.text.slice(0, Math.min(...positions)) : original.text;
        const ids = idsOf(completion);
        const originalIds = idsOf(original);
        if (ids && originalIds) {
          const at = firstDivergence(ids, originalIds);
          if (at >= 0) {
            const { tie, detail } = await nearTie(
              context,
              [...(entry.promptTokenIds ?? []), ...ids.slice(0, at)],
              ids[at] as number,
              originalIds[at] as number,
            );
            if (tie) {
              context.note(`${where}: near-tie at token ${at} (${detail}); prompt not checked.`);
              continue;
            }
            failer.fail(
              `${where}: tokens ${formatIds(ids)} are not a prefix of the unstopped greedy tokens ${formatIds(originalIds)}.`,
            );
          }
        }
        for (const stop of stops) {
          failer.check(
            !completion.text.includes(stop),
            `${where}: text ${preview(completion.text)} contains the stop string ${JSON.stringify(stop)}.`,
          );
        }
        failer.check(
          completion.text === expectedText,
          `${where}: text is ${preview(completion.text)}; the unstopped greedy text is ${preview(original.text)}, so it must be ${preview(expectedText)} (everything before the first stop string).`,
        );
        if (positions.length > 0) {
          failer.check(
            completion.finishReason === 'stop',
            `${where}: finishReason is ${completion.finishReason}, want stop (a stop string occurred).`,
          );
          cut++;
        }
      }
      failer.check(cut > 0, `no prompt's output contained a stop string of ${JSON.stringify(stops)}.`);
    },
  },
  {
    id: 'stop-token-ids',
    title: 'stop token ids end generation; text excludes the stop token',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'choosing stop token ids from a greedy output');
      const maxTokens = Math.max(context.options.maxTokens, 16);
      const base = await generateChecked(context, failer, greedy(context, { maxTokens }));
      const stopTokenIds: number[] = [];
      for (const entry of base.results) {
        const ids = (entry.completions[0] as Completion).tokenIds as number[];
        const candidate = ids[Math.min(3, ids.length - 1)];
        if (ids.length >= 2 && candidate !== undefined && !stopTokenIds.includes(candidate))
          stopTokenIds.push(candidate);
      }
      if (stopTokenIds.length === 0)
        failer.skip('the greedy outputs are too short to take a stop token from.');
      const stopped = await generateChecked(context, failer, greedy(context, { maxTokens, stopTokenIds }));
      let checked = 0;
      for (const [index, entry] of stopped.results.entries()) {
        const originalIds = base.results[index]?.completions[0]?.tokenIds ?? [];
        const completion = entry.completions[0] as Completion;
        const ids = completion.tokenIds as number[];
        const where = `prompts[${index}] (stopTokenIds ${JSON.stringify(stopTokenIds)})`;
        const stopAt = originalIds.findIndex((id) => stopTokenIds.includes(id));
        const at = firstDivergence(ids, originalIds);
        if (at >= 0 && (stopAt < 0 || at <= stopAt)) {
          const { tie, detail } = await nearTie(
            context,
            [...(entry.promptTokenIds ?? []), ...ids.slice(0, at)],
            ids[at] as number,
            originalIds[at] as number,
          );
          if (tie) {
            context.note(`${where}: near-tie at token ${at} (${detail}); prompt not checked.`);
            continue;
          }
          failer.fail(
            `${where}: tokens ${formatIds(ids)} do not follow the greedy tokens ${formatIds(originalIds)}.`,
          );
        }
        if (stopAt < 0) continue;
        failer.check(
          completion.finishReason === 'stop',
          `${where}: the greedy output has stop token ${originalIds[stopAt]} at position ${stopAt}, but finishReason is ${completion.finishReason}.`,
        );
        failer.check(
          ids.length === stopAt || ids.length === stopAt + 1,
          `${where}: generation must end at the stop token (position ${stopAt}); got ${ids.length} tokens ${formatIds(ids)}.`,
        );
        // The text is what the tokens before the stop token decode to: generate exactly that many.
        let prefixText = '';
        if (stopAt > 0) {
          const prefixRun = await generateChecked(context, failer, {
            prompts: [context.options.prompts[index] as string],
            maxTokens: stopAt,
            temperature: 0,
          });
          const prefix = prefixRun.results[0]?.completions[0] as Completion;
          const prefixIds = prefix.tokenIds as number[];
          const drift = firstDivergence(prefixIds, originalIds);
          if (drift >= 0) {
            const { tie, detail } = await nearTie(
              context,
              [...(entry.promptTokenIds ?? []), ...prefixIds.slice(0, drift)],
              prefixIds[drift] as number,
              originalIds[drift] as number,
            );
            if (tie) {
              context.note(
                `${where}: near-tie at token ${drift} alone vs in the batch (${detail}); text not checked.`,
              );
              checked++;
              continue;
            }
            failer.fail(
              `${where}: the same prompt alone gave tokens ${formatIds(prefixIds)}, in the batch ${formatIds(originalIds)}.`,
            );
          }
          prefixText = prefix.text;
        }
        failer.check(
          completion.text === prefixText,
          `${where}: text ${preview(completion.text)} must be the text of the ${stopAt} tokens before the stop token, ${preview(prefixText)}.`,
        );
        checked++;
      }
      failer.check(checked > 0, 'no prompt stopped on a stop token id.');
    },
  },
  {
    id: 'max-tokens',
    title: 'maxTokens is respected and ends completions with finishReason length',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const maxTokens = 5;
      for (const temperature of [0, 1]) {
        const result = await generateChecked(context, failer, {
          ...greedy(context),
          maxTokens,
          temperature,
          n: 2,
        });
        let atLength = 0;
        for (const [index, entry] of result.results.entries()) {
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const where = `T = ${temperature}, prompts[${index}].completions[${sampleIndex}]`;
            const ids = completion.tokenIds;
            if (completion.finishReason === 'length') {
              atLength++;
              if (ids) {
                failer.check(
                  ids.length === maxTokens,
                  `${where}: finishReason length after ${ids.length} tokens; maxTokens is ${maxTokens}.`,
                );
              }
            } else if (ids) {
              failer.check(
                ids.length <= maxTokens,
                `${where}: ${ids.length} tokens exceed maxTokens ${maxTokens}.`,
              );
            }
          }
        }
        failer.check(
          atLength > 0,
          `T = ${temperature}: no completion of ${result.results.length * 2} ended with finishReason length at maxTokens ${maxTokens}.`,
        );
        failer.check(
          result.usage.completionTokens <= maxTokens * result.results.length * 2,
          `usage.completionTokens ${result.usage.completionTokens} exceeds ${maxTokens} × ${result.results.length * 2} completions.`,
        );
      }
    },
  },
  {
    id: 'abort-before',
    title: 'an already-aborted signal rejects with AbortError',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const controller = new AbortController();
      controller.abort();
      const outcome = await settle(context.backend.generate(greedy(context), { signal: controller.signal }));
      if (!('error' in outcome))
        failer.fail('generate() with an aborted signal resolved; it must reject with AbortError.');
      failer.check(
        AbortError.isInstance(outcome.error),
        `generate() with an aborted signal rejected with ${describeError(outcome.error)}; want @rlpt/spec's AbortError.`,
      );
      if (context.backend.capabilities.score && context.backend.score) {
        const scored = await settle(
          context.backend.score(
            { items: [{ prompt: context.options.prompts[0] as string, completion: ' and' }] },
            { signal: controller.signal },
          ),
        );
        failer.check(
          'error' in scored && AbortError.isInstance(scored.error),
          `score() with an aborted signal ${'error' in scored ? `rejected with ${describeError(scored.error)}` : 'resolved'}; want AbortError.`,
        );
      }
    },
  },
  {
    id: 'abort-mid',
    title: 'aborting mid-generation rejects with AbortError and the backend keeps working',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      const baseline = await generateChecked(context, failer, greedy(context));
      let longest = Math.max(...options.prompts.map((prompt) => prompt.length));
      if (backend.capabilities.tokenIds)
        longest = Math.max(...baseline.results.map((entry) => entry.promptTokenIds?.length ?? 0));
      const room = context.maxContextTokens ? context.maxContextTokens - longest - 1 : options.abortMaxTokens;
      const maxTokens = Math.min(options.abortMaxTokens, room);
      if (maxTokens < 48)
        failer.skip(`the context leaves only ${room} new tokens; too short to abort mid-generation.`);
      const request: GenerateRequest = { prompts: options.prompts, n: 2, temperature: 1, maxTokens };
      const started = performance.now();
      await generateChecked(context, failer, { ...request, maxTokens: 4 });
      const short = performance.now() - started;
      const delay = Math.min(2000, Math.max(1, 2 * short));
      const controller = new AbortController();
      const pending = settle(backend.generate(request, { signal: controller.signal }));
      const timer = setTimeout(() => controller.abort(new Error('conformance abort')), delay);
      const outcome = await pending;
      clearTimeout(timer);
      if (!('error' in outcome)) {
        const lengths = completionsOf(outcome.value).flatMap((list) =>
          list.map((c) => c.tokenIds?.length ?? -1),
        );
        failer.fail(
          `generate(maxTokens ${maxTokens}) resolved although the signal was aborted ${delay.toFixed(1)} ms after the call (4 tokens took ${short.toFixed(1)} ms; completion lengths ${lengths.join(', ')}): the signal must stop generation.`,
        );
      }
      failer.check(
        AbortError.isInstance(outcome.error),
        `generate() aborted mid-way rejected with ${describeError(outcome.error)}; want @rlpt/spec's AbortError.`,
      );
      const after = await generateChecked(context, failer, greedy(context));
      for (const [index, entry] of after.results.entries()) {
        await compareGreedy(
          context,
          failer,
          `after the abort, prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          baseline.results[index]?.completions[0] as Completion,
          ['after abort', 'before abort'],
        );
      }
    },
  },
  {
    id: 'empty-prompt',
    title: 'an empty prompt rejects with an RlptError naming the prompt',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const prompts: Prompt[] = [context.options.prompts[0] as string, ''];
      checkRejection(
        failer,
        `generate(prompts ["…", ""])`,
        await settle(context.backend.generate({ prompts, maxTokens: 4, temperature: 0 })),
        /prompts?\W{0,3}1\b/i,
        'name the prompt, e.g. "prompts[1] is empty"',
      );
      if (context.backend.capabilities.tokenIds) {
        checkRejection(
          failer,
          'generate(prompts ["…", { tokenIds: [] }])',
          await settle(
            context.backend.generate({
              prompts: [context.options.prompts[0] as string, { tokenIds: [] }],
              maxTokens: 4,
              temperature: 0,
            }),
          ),
          /prompts?\W{0,3}1\b/i,
          'name the prompt, e.g. "prompts[1] is empty"',
        );
      }
    },
  },
  {
    id: 'overlong-prompt',
    title: 'a prompt longer than the context rejects with an RlptError naming the prompt',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const limit = context.maxContextTokens;
      if (!limit)
        failer.skip('context length unknown: pass setup.maxContextTokens or setup.modelDir (config.json).');
      // ≥ 8 characters per token of context: longer than the context for any tokenizer of English text.
      const sentence = 'The quick brown fox jumps over the lazy dog. ';
      const text = sentence.repeat(Math.ceil((8 * limit + 64) / sentence.length));
      checkRejection(
        failer,
        `generate(prompts ["…", <${text.length} characters>])`,
        await settle(
          context.backend.generate({
            prompts: [context.options.prompts[0] as string, text],
            maxTokens: 4,
            temperature: 0,
          }),
        ),
        /prompts?\W{0,3}1\b/i,
        `name the prompt and the limit (${limit} tokens)`,
      );
      if (context.backend.capabilities.tokenIds) {
        const first = await generateChecked(context, failer, greedy(context, { maxTokens: 1 }));
        const id = first.results[0]?.promptTokenIds?.[0] as number;
        checkRejection(
          failer,
          `generate(prompts ["…", { tokenIds: <${limit + 1} ids> }])`,
          await settle(
            context.backend.generate({
              prompts: [
                context.options.prompts[0] as string,
                { tokenIds: new Array<number>(limit + 1).fill(id) },
              ],
              maxTokens: 4,
              temperature: 0,
            }),
          ),
          /prompts?\W{0,3}1\b/i,
          `name the prompt and the limit (${limit} tokens)`,
        );
      }
    },
  },
  {
    id: 'invalid-arguments',
    title: 'invalid n, maxTokens and temperature reject with an RlptError naming the argument',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const prompts = [context.options.prompts[0] as string];
      const bad: [string, GenerateRequest, RegExp][] = [
        ['n: 0', { prompts, maxTokens: 4, n: 0 }, /\bn\b/],
        ['maxTokens: 0', { prompts, maxTokens: 0 }, /maxTokens|max_tokens/i],
        ['temperature: -1', { prompts, maxTokens: 4, temperature: -1 }, /temperature/i],
      ];
      for (const [label, request, pattern] of bad) {
        checkRejection(
          failer,
          `generate({ ${label} })`,
          await settle(context.backend.generate(request)),
          pattern,
          `name the argument (${label})`,
        );
      }
    },
  },
  {
    id: 'batch-vs-single',
    title: 'a batch of prompts of different lengths gives the same greedy outputs as one by one',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const batch = await generateChecked(context, failer, greedy(context));
      for (const [index, prompt] of context.options.prompts.entries()) {
        const single = await generateChecked(context, failer, greedy(context, { prompts: [prompt] }));
        const alone = single.results[0];
        const together = batch.results[index];
        if (alone?.promptTokenIds && together?.promptTokenIds) {
          failer.check(
            firstDivergence(alone.promptTokenIds, together.promptTokenIds) < 0 &&
              alone.promptTokenIds.length === together.promptTokenIds.length,
            `prompts[${index}]: prompt token ids differ between batch and single calls.`,
          );
        }
        await compareGreedy(
          context,
          failer,
          `prompts[${index}] ${preview(prompt, 30)}`,
          together?.promptTokenIds,
          together?.completions[0] as Completion,
          alone?.completions[0] as Completion,
          ['in the batch', 'alone'],
        );
      }
    },
  },
  {
    id: 'token-id-prompts',
    title: '{ tokenIds } prompts give the same greedy output as the text they came from',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, '{ tokenIds } prompts');
      const text = await generateChecked(context, failer, greedy(context));
      const ids = text.results.map((entry) => ({ tokenIds: entry.promptTokenIds as number[] }));
      const fromIds = await generateChecked(context, failer, greedy(context, { prompts: ids }));
      for (const [index, entry] of fromIds.results.entries()) {
        failer.check(
          firstDivergence(entry.promptTokenIds ?? [], ids[index]?.tokenIds ?? []) < 0 &&
            entry.promptTokenIds?.length === ids[index]?.tokenIds.length,
          `prompts[${index}]: promptTokenIds ${formatIds(entry.promptTokenIds ?? [])} do not echo the given ${formatIds(ids[index]?.tokenIds ?? [])}.`,
        );
        await compareGreedy(
          context,
          failer,
          `prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          text.results[index]?.completions[0] as Completion,
          ['from token ids', 'from text'],
        );
      }
    },
  },
  {
    id: 'chat-prompts',
    title: '{ messages } prompts are rendered and generated from',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.chat) failer.skip('capabilities.chat is false.');
      const messages = [{ role: 'user', content: 'Name three colours.' }];
      const result = await generateChecked(context, failer, {
        prompts: [{ messages }, context.options.prompts[0] as string],
        maxTokens: 4,
        temperature: 0,
      });
      const entry = result.results[0];
      if (context.backend.capabilities.tokenIds) {
        failer.check(
          (entry?.promptTokenIds?.length ?? 0) > 0,
          'the chat prompt has no promptTokenIds (it must be rendered with the chat template and tokenised).',
        );
      }
    },
  },
  {
    id: 'declared-false',
    title: 'capabilities declared false are reported, not faked',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      const off = (['logprobs', 'seed', 'score', 'chat'] as const).filter(
        (key) => !backend.capabilities[key],
      );
      if (off.length === 0) failer.skip('every checked capability (logprobs, seed, score, chat) is true.');
      for (const key of off) {
        if (key === 'score') {
          failer.check(backend.score === undefined, 'capabilities.score is false but score() is defined.');
          continue;
        }
        if (key === 'chat') {
          const outcome = await settle(
            backend.generate({ prompts: [{ messages: [{ role: 'user', content: 'Hi' }] }], maxTokens: 2 }),
          );
          failer.check(
            'error' in outcome && RlptError.isInstance(outcome.error),
            'capabilities.chat is false, so a { messages } prompt must reject with an RlptError (e.g. UnsupportedFunctionalityError).',
          );
          continue;
        }
        const extra = key === 'logprobs' ? { logprobs: true } : { seed: 3, temperature: 1 };
        const result = await generateChecked(context, failer, {
          ...greedy(context, { maxTokens: 2 }),
          ...extra,
        });
        failer.check(
          result.warnings.some((warning) => warning.setting === key),
          `capabilities.${key} is false, so a request with ${key} must come back with a warning whose setting is '${key}' (got ${JSON.stringify(result.warnings)}).`,
        );
      }
    },
  },
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
