/**
 * The judge author's kit: `defineJudge` turns a function that scores one well-formed item into a full
 * `JudgeV1` (item checks, per-item failures, abort, concurrency), and `withHardening`, `withCache` and
 * `withRetry` wrap any `JudgeV1` with the rules rlpt's own judges apply. Compose them outside-in:
 *
 * ```ts
 * const judge = withRetry(withHardening(withCache(defineJudge({ name: 'overlap', judgeItem }))));
 * ```
 */
import type { CallOptions, JudgeItem, JudgeMode, JudgeV1, JudgeVerdict } from '@rlpt/spec';
import { AbortError, InvalidArgumentError, silentLogger } from '@rlpt/spec';
import { createJudgeCache, type JudgeCache, type JudgeCacheOptions } from './cache.js';
import {
  assertInteger,
  assertMode,
  checkItem,
  failedVerdict,
  type JudgeObservability,
  throwIfAborted,
} from './common.js';
import { type HardeningOptions, hardenPrediction, resolveHardeningOptions } from './harden.js';

/** An item that passed the shape checks: strings where strings belong, a known mode, a non-empty reference. */
export type CheckedJudgeItem = JudgeItem & { mode: JudgeMode };

/** What a judge function returns: a score in [0, 1] (status `ok`), or a whole verdict. */
export type JudgeItemResult = number | JudgeVerdict;

export interface DefineJudgeOptions extends JudgeObservability {
  /** Stable name used in caches and logs. */
  name: string;
  /** Mode of items without their own. Default `prefix`. */
  mode?: JudgeMode;
  /**
   * Scores one well-formed item. Throwing (or rejecting) gives that item a `failed` verdict with reason
   * `error`; the other items are still judged. Give either this or `judgeBatch`.
   */
  judgeItem?: (item: CheckedJudgeItem, options: CallOptions) => JudgeItemResult | Promise<JudgeItemResult>;
  /**
   * Scores the well-formed items of one `judge()` call at once (one result per item, in order). A
   * rejection fails every item of the call with reason `error`.
   */
  judgeBatch?: (items: CheckedJudgeItem[], options: CallOptions) => Promise<JudgeItemResult[]>;
  /** Items `judgeItem` scores at once. Default 8. */
  concurrency?: number;
  /** Releases what the judge holds (sockets, backends). */
  close?: () => Promise<void>;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return AbortError.isInstance(error) || (signal?.aborted ?? false);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns what a judge function returned into a valid verdict (an out-of-range score fails the item). */
function toVerdict(result: unknown): JudgeVerdict {
  if (typeof result === 'number') {
    if (!(Number.isFinite(result) && result >= 0 && result <= 1))
      return failedVerdict('invalid-score', `score ${result} is not in [0, 1]`);
    return { score: result, status: 'ok' };
  }
  if (result === null || typeof result !== 'object')
    return failedVerdict('invalid-score', `judge returned ${JSON.stringify(result)}`);
  const verdict = result as JudgeVerdict;
  if (verdict.status !== 'ok' && verdict.status !== 'skipped' && verdict.status !== 'failed')
    return failedVerdict('invalid-score', `status ${JSON.stringify(verdict.status)}`);
  if (verdict.status !== 'ok') return { ...verdict, score: 0 };
  if (!(Number.isFinite(verdict.score) && verdict.score >= 0 && verdict.score <= 1))
    return failedVerdict('invalid-score', `score ${verdict.score} is not in [0, 1]`);
  return verdict;
}

/**
 * Builds a `JudgeV1` from a function that scores one item (or a batch). The result follows the JudgeV1
 * rules `@rlpt/conformance` checks: one verdict per item in order; a malformed item (non-string
 * prediction, empty reference, unknown mode) gets `failed` with reason `invalid-item`/`empty-reference`
 * and never reaches your function; an item your function throws on gets `failed` with reason `error`;
 * an aborted signal rejects the call with `AbortError`. Add hardening, caching and retries with
 * {@link withHardening}, {@link withCache} and {@link withRetry}.
 */
export function defineJudge(options: DefineJudgeOptions): JudgeV1 {
  if (typeof options?.name !== 'string' || options.name.length === 0)
    throw new InvalidArgumentError({
      argument: 'name',
      message: 'defineJudge: name must be a non-empty string.',
    });
  if ((options.judgeItem === undefined) === (options.judgeBatch === undefined))
    throw new InvalidArgumentError({
      argument: 'judgeItem',
      message: 'defineJudge: give exactly one of judgeItem and judgeBatch.',
    });
  const defaultMode = assertMode(options.mode ?? 'prefix', 'mode');
  const concurrency = assertInteger(options.concurrency ?? 8, 'concurrency', 1);
  const logger = options.logger ?? silentLogger;
  const { name } = options;

  const reportFailure = (item: JudgeItem | undefined, reason: string, message: string): void => {
    logger.warn(message, { judge: name, id: item?.id });
    options.onEvent?.({ type: 'judge-error', id: item?.id, reason, message });
  };

  return {
    specificationVersion: 'v1',
    name,
    async judge(items, callOptions = {}) {
      const signal = callOptions.signal;
      throwIfAborted(signal);
      const verdicts: JudgeVerdict[] = new Array(items.length);
      const checked: { index: number; item: CheckedJudgeItem }[] = [];
      for (const [index, item] of items.entries()) {
        const result = checkItem(item, index, defaultMode);
        if ('reason' in result) {
          reportFailure(item, result.reason, `${name}: ${result.message}`);
          verdicts[index] = failedVerdict(result.reason);
        } else checked.push({ index, item: { ...item, mode: result.mode } });
      }
      const fail = (index: number, item: JudgeItem, error: unknown): void => {
        const message = `${name}: item ${index}${item.id ? ` (id ${item.id})` : ''}: ${describe(error)}`;
        reportFailure(item, 'error', message);
        verdicts[index] = failedVerdict('error', describe(error));
      };
      if (options.judgeBatch) {
        try {
          const results = await options.judgeBatch(
            checked.map((entry) => entry.item),
            callOptions,
          );
          if (!Array.isArray(results) || results.length !== checked.length)
            throw new Error(
              `judgeBatch returned ${Array.isArray(results) ? results.length : typeof results} results for ${checked.length} items.`,
            );
          for (const [position, entry] of checked.entries())
            verdicts[entry.index] = toVerdict(results[position]);
        } catch (error) {
          if (isAbort(error, signal))
            throw AbortError.isInstance(error) ? error : new AbortError({ cause: error });
          for (const entry of checked) fail(entry.index, entry.item, error);
        }
      } else {
        const judgeItem = options.judgeItem as NonNullable<DefineJudgeOptions['judgeItem']>;
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < checked.length) {
            const entry = checked[next++] as (typeof checked)[number];
            throwIfAborted(signal);
            try {
              verdicts[entry.index] = toVerdict(await judgeItem(entry.item, callOptions));
            } catch (error) {
              if (isAbort(error, signal))
                throw AbortError.isInstance(error) ? error : new AbortError({ cause: error });
              fail(entry.index, entry.item, error);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, checked.length) }, worker));
      }
      for (const [index, verdict] of verdicts.entries()) {
        if (verdict.status === 'failed' && verdict.reason === 'invalid-score')
          reportFailure(
            items[index],
            'invalid-score',
            `${name}: item ${index}: ${verdict.raw ?? 'invalid score'}`,
          );
      }
      return verdicts;
    },
    async close() {
      await options.close?.();
    },
  };
}

/** Options of {@link withHardening}: the rules of `hardenPrediction` plus the default mode. */
export interface WithHardeningOptions extends HardeningOptions {
  /** Mode of items without their own (only used to check items). Default `prefix`. */
  mode?: JudgeMode;
}

/**
 * Hardening before the judge sees a prediction (the rules `@rlpt/reward`'s judges apply, METHOD.md §7):
 * an empty, too short, too long, control-text, injection, context-copying, repetitive or beyond-the-reference
 * prediction is `skipped` with score 0 and a stable `reason`, without calling `judge`; the rest reach it
 * neutralised (invisible characters removed, line endings normalised). Malformed items pass through
 * unchanged, so the wrapped judge gives them their `failed` verdict.
 */
export function withHardening(judge: JudgeV1, options: WithHardeningOptions = {}): JudgeV1 {
  const { mode, ...rules } = options;
  const defaultMode = assertMode(mode ?? 'prefix', 'mode');
  const hardening = resolveHardeningOptions(rules);
  return {
    specificationVersion: 'v1',
    name: judge.name,
    async judge(items, callOptions) {
      throwIfAborted(callOptions?.signal);
      const verdicts: JudgeVerdict[] = new Array(items.length);
      const forwarded: { index: number; item: JudgeItem }[] = [];
      for (const [index, item] of items.entries()) {
        if ('reason' in checkItem(item, index, defaultMode)) {
          forwarded.push({ index, item });
          continue;
        }
        const result = hardenPrediction(item, hardening);
        if (result.action === 'skip')
          verdicts[index] = { score: 0, status: 'skipped', reason: result.reason };
        else forwarded.push({ index, item: { ...item, prediction: result.prediction } });
      }
      if (forwarded.length > 0) {
        const inner = await judge.judge(
          forwarded.map((entry) => entry.item),
          callOptions,
        );
        for (const [position, entry] of forwarded.entries())
          verdicts[entry.index] = inner[position] ?? failedVerdict('missing-verdict');
      }
      return verdicts;
    },
    async close() {
      await judge.close?.();
    },
  };
}

export interface WithCacheOptions {
  /** A cache (shareable between judges) or options for an own one. Default: an own cache of 100 000 verdicts. */
  cache?: JudgeCache | JudgeCacheOptions;
  /**
   * What else decides a verdict besides the item: the judge's prompt template, model, settings. Part of
   * every key, so changing it never serves stale verdicts. Default `''`.
   */
  template?: string;
  /** Mode of items without their own (part of the key). Default `prefix`. */
  mode?: JudgeMode;
}

/**
 * Caches `ok` verdicts by (judge name, `template`, mode, reference, target, context, prediction): hits come
 * back with `cached: true` without calling `judge`, and identical items in one batch are asked once.
 * `failed` and `skipped` verdicts are never cached (a failure is asked again next time).
 */
export function withCache(judge: JudgeV1, options: WithCacheOptions = {}): JudgeV1 {
  const cache: JudgeCache =
    options.cache && 'scope' in options.cache ? options.cache : createJudgeCache(options.cache ?? {});
  const defaultMode = assertMode(options.mode ?? 'prefix', 'mode');
  const template = options.template ?? '';
  const scopes = {
    prefix: cache.scope(judge.name, template, 'prefix'),
    strict: cache.scope(judge.name, template, 'strict'),
  };
  const keyOf = (item: JudgeItem): string =>
    `${item.reference}\u241f${item.target ?? ''}\u241f${item.context ?? ''}`;
  return {
    specificationVersion: 'v1',
    name: judge.name,
    async judge(items, callOptions) {
      throwIfAborted(callOptions?.signal);
      const verdicts: JudgeVerdict[] = new Array(items.length);
      const asked: JudgeItem[] = [];
      const waiting = new Map<string, number[]>();
      const unkeyed = new Set<number>();
      for (const [index, item] of items.entries()) {
        const checked = checkItem(item, index, defaultMode);
        if ('reason' in checked) {
          unkeyed.add(index);
          asked.push(item);
          continue;
        }
        const scope = scopes[checked.mode];
        const hit = scope.get(keyOf(item), item.prediction);
        if (hit) {
          verdicts[index] = { ...hit, cached: true };
          continue;
        }
        const key = `${checked.mode}\u241f${keyOf(item)}\u241f${item.prediction}`;
        const same = waiting.get(key);
        if (same) same.push(index);
        else {
          waiting.set(key, [index]);
          asked.push(item);
        }
      }
      if (asked.length > 0) {
        const inner = await judge.judge(asked, callOptions);
        const targets = [...[...unkeyed].map((index) => [index]), ...waiting.values()].sort(
          (a, b) => (a[0] as number) - (b[0] as number),
        );
        for (const [position, indices] of targets.entries()) {
          const verdict = inner[position] ?? failedVerdict('missing-verdict');
          const first = indices[0] as number;
          const item = items[first] as JudgeItem;
          if (verdict.status === 'ok' && !unkeyed.has(first)) {
            const mode = item.mode ?? defaultMode;
            scopes[mode === 'strict' ? 'strict' : 'prefix'].set(keyOf(item), item.prediction, verdict);
          }
          for (const index of indices) verdicts[index] = verdict;
        }
      }
      return verdicts;
    },
    async close() {
      await judge.close?.();
    },
  };
}

export interface WithRetryOptions {
  /** Extra attempts after the first. Default 2. */
  retries?: number;
  /** First backoff delay in ms (doubled per attempt, full jitter). Default 100. */
  baseDelayMs?: number;
  /** Longest backoff delay in ms. Default 5000. */
  maxDelayMs?: number;
  /**
   * Which `failed` reasons are worth asking again. Default: all but `invalid-item`, `empty-reference`
   * and `invalid-score` (asking again cannot change those).
   */
  retryReason?: (reason: string | undefined) => boolean;
}

const permanentReasons = new Set(['invalid-item', 'empty-reference', 'invalid-score']);

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError({ cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError({ cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Asks again, with exponential backoff and full jitter: a whole call that rejects (other than with
 * `AbortError`) is repeated; items that come back `failed` for a transient reason (`timeout`, `error`,
 * `unparseable`, …) are asked again on their own. After the last attempt a rejected call gives every item a
 * `failed` verdict with reason `judge-error` instead of rejecting (JudgeV1 never rejects for its items).
 * An aborted signal rejects with `AbortError` at once, also during a backoff wait.
 */
export function withRetry(judge: JudgeV1, options: WithRetryOptions = {}): JudgeV1 {
  const retries = assertInteger(options.retries ?? 2, 'retries', 0);
  const baseDelayMs = assertInteger(options.baseDelayMs ?? 100, 'baseDelayMs', 0);
  const maxDelayMs = assertInteger(options.maxDelayMs ?? 5000, 'maxDelayMs', 0);
  const retryReason = options.retryReason ?? ((reason) => !permanentReasons.has(reason ?? ''));
  const delay = (attempt: number): number =>
    Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return {
    specificationVersion: 'v1',
    name: judge.name,
    async judge(items, callOptions) {
      const signal = callOptions?.signal;
      throwIfAborted(signal);
      const verdicts: JudgeVerdict[] = new Array(items.length);
      let pending = items.map((_, index) => index);
      let lastError: unknown;
      for (let attempt = 0; attempt <= retries && pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(delay(attempt), signal);
        let inner: JudgeVerdict[];
        try {
          inner = await judge.judge(
            pending.map((index) => items[index] as JudgeItem),
            callOptions,
          );
        } catch (error) {
          if (AbortError.isInstance(error) || signal?.aborted) throw error;
          lastError = error;
          continue;
        }
        lastError = undefined;
        const again: number[] = [];
        for (const [position, index] of pending.entries()) {
          const verdict = inner[position] ?? failedVerdict('missing-verdict');
          verdicts[index] = verdict;
          if (verdict.status === 'failed' && retryReason(verdict.reason)) again.push(index);
        }
        pending = again;
      }
      if (lastError !== undefined) {
        for (const index of pending) verdicts[index] = failedVerdict('judge-error', describe(lastError));
      }
      return verdicts;
    },
    async close() {
      await judge.close?.();
    },
  };
}
