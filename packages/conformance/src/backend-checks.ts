/** Checks the backend conformance cases share: checked `generate` calls, greedy comparison, statistics. */
import {
  type Completion,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  RlptError,
} from '@rlpt/spec';
import { argmax, logitsRow, logSoftmaxAt, type SequenceLogits, type UncachedForward } from './uncached.js';
import type { ConformanceCaseContext, Failer } from './backend-types.js';

// ---------------------------------------------------------------------------------------------------
// Small helpers

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export function preview(text: string, max = 60): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}

export function formatIds(ids: readonly number[], max = 24): string {
  return ids.length > max ? `[${ids.slice(0, max).join(', ')}, … (${ids.length})]` : `[${ids.join(', ')}]`;
}

/** Settles a promise into `{ value }` or `{ error }`. */
export async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
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

export function describeRequest(request: GenerateRequest): string {
  const parts = [`${request.prompts.length} prompt(s)`, `maxTokens ${request.maxTokens}`];
  if (request.n !== undefined) parts.push(`n ${request.n}`);
  if (request.temperature !== undefined) parts.push(`temperature ${request.temperature}`);
  if (request.seed !== undefined) parts.push(`seed ${request.seed}`);
  if (request.stop) parts.push(`stop ${JSON.stringify(request.stop)}`);
  if (request.stopTokenIds) parts.push(`stopTokenIds ${JSON.stringify(request.stopTokenIds)}`);
  if (request.logprobs) parts.push('logprobs');
  return parts.join(', ');
}

export const finishReasons = new Set(['stop', 'length', 'abort', 'error']);

/**
 * Calls `generate` and checks the result's shape against the request and the declared capabilities:
 * one result per prompt in order, `n` completions each, valid finish reasons, token ids and logprobs
 * where promised, and usage consistent with the token ids.
 */
export async function generateChecked(
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

export function completionsOf(result: GenerateResult): Completion[][] {
  return result.results.map((entry) => entry.completions);
}

/** Token ids of a completion, or undefined when the backend gives none. */
export function idsOf(completion: Completion | undefined): number[] | undefined {
  return completion?.tokenIds;
}

export function sameCompletion(a: Completion, b: Completion): boolean {
  if (a.tokenIds && b.tokenIds && firstDivergence(a.tokenIds, b.tokenIds) >= 0) return false;
  if (a.tokenIds && b.tokenIds && a.tokenIds.length !== b.tokenIds.length) return false;
  return a.text === b.text && a.finishReason === b.finishReason;
}

/** Is `chosen` within `tieTolerance` of the best logit of the position after `prefix`? */
export async function nearTie(
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
export async function compareGreedy(
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
export function mulberry32(seed: number): () => number {
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

export function requireTokenIds(context: ConformanceCaseContext, failer: Failer, why: string): void {
  if (!context.backend.capabilities.tokenIds)
    failer.skip(`capabilities.tokenIds is false: ${why} needs token ids.`);
}

export function greedy(
  context: ConformanceCaseContext,
  extra: Partial<GenerateRequest> = {},
): GenerateRequest {
  return { prompts: context.options.prompts, maxTokens: context.options.maxTokens, temperature: 0, ...extra };
}

export function checkRejection(
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
export async function checkLogprobsUncached(
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
