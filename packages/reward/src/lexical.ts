import type { JudgeItem, JudgeMode, JudgeVerdict } from '@rlpt/spec';
import { InvalidArgumentError, silentLogger } from '@rlpt/spec';
import { type JudgeCache, type JudgeCacheScope, type JudgeCacheOptions, createJudgeCache } from './cache.js';
import { type JudgeObservability, assertMode, checkItem, failedVerdict, throwIfAborted } from './common.js';
import { type HardeningOptions, hardenPrediction, resolveHardeningOptions } from './harden.js';
import { type JudgeWithStats, countReason, emptyStats, snapshotStats } from './stats.js';
import { isNumericToken, normalizeWords, normalizeWordsMemoised } from './text.js';

export interface LexicalJudgeOptions extends JudgeObservability {
  /** Default mode for items without their own. Default `prefix`. */
  mode?: JudgeMode;
  /**
   * Word edits (insertions, deletions, substitutions) allowed per prediction word: the prediction
   * matches when `edits ≤ floor(tolerance × words)`. 0 demands an exact (normalised) match. Default 0.2.
   */
  tolerance?: number;
  /** `binary` (default): 1 on a match, else 0. `graded`: `max(0, 1 − edits / words)`, 0 on a numeric mismatch. */
  scoring?: 'binary' | 'graded';
  /** Numbers must match exactly: a numeric word can never be substituted, dropped or added. Default true. */
  exactNumbers?: boolean;
  /** Hardening rules applied before matching, or `false` to match every prediction as is. */
  hardening?: HardeningOptions | false;
  /** A verdict cache (shared or own), options for an own one, or `false` (default: no cache; matching is cheap). */
  cache?: JudgeCache | JudgeCacheOptions | false;
  /** Judge name in caches and logs. Default `lexical`. */
  name?: string;
  /**
   * In prefix mode, when an item carries its `target` (s_i), the prediction must cover the whole target
   * (within the tolerance) — a fragment like "Now Mia has" is a prefix of the reference but earns
   * nothing; predicting s_i and then part of s_{i+1} still scores. Default true. Items without a `target`
   * are judged as plain prefixes.
   */
  coverTarget?: boolean;
}

/** Result of aligning a prediction with the reference. */
export interface LexicalMatch {
  /** Minimum word edits between the prediction and the best reference prefix (or the whole target); `Infinity` when numbers cannot be aligned. */
  edits: number;
  /** Edits allowed for this prediction. */
  allowed: number;
  /** Prediction length in words. */
  words: number;
  /** Reference words the prediction was aligned with. */
  referenceWords: number;
}

const unreachable = Number.POSITIVE_INFINITY;

/**
 * Word-level edit distance between `prediction` and `reference` (normalised words). In `prefix` mode the
 * prediction is aligned with the best prefix of the reference; in `strict` mode with all of it.
 * With `exactNumbers`, numeric words only align with the identical number.
 */
export function lexicalMatch(
  predictionWords: readonly string[],
  referenceWords: readonly string[],
  mode: JudgeMode,
  options: { tolerance: number; exactNumbers: boolean },
): LexicalMatch {
  const n = predictionWords.length;
  const baseLength = mode === 'strict' ? Math.max(n, referenceWords.length) : n;
  const allowed = Math.floor(options.tolerance * baseLength + 1e-9);
  // In prefix mode the aligned reference prefix is at most n + allowed words long.
  const columns = mode === 'prefix' ? Math.min(referenceWords.length, n + allowed) : referenceWords.length;
  // Insertion/deletion cost per word: 1, or unreachable for numbers (which must align exactly).
  const predictionCost = indelCosts(predictionWords, n, options.exactNumbers);
  const referenceCost = indelCosts(referenceWords, columns, options.exactNumbers);
  let previous = new Float64Array(columns + 1);
  let current = new Float64Array(columns + 1);
  for (let column = 1; column <= columns; column++) {
    previous[column] = (previous[column - 1] as number) + (referenceCost[column - 1] as number);
  }
  for (let row = 1; row <= n; row++) {
    const word = predictionWords[row - 1];
    const wordCost = predictionCost[row - 1] as number;
    current[0] = (previous[0] as number) + wordCost;
    for (let column = 1; column <= columns; column++) {
      const otherCost = referenceCost[column - 1] as number;
      const substitution =
        word === referenceWords[column - 1] ? 0 : wordCost === 1 && otherCost === 1 ? 1 : unreachable;
      current[column] = Math.min(
        (previous[column - 1] as number) + substitution,
        (previous[column] as number) + wordCost,
        (current[column - 1] as number) + otherCost,
      );
    }
    [previous, current] = [current, previous];
  }
  let edits = previous[columns] ?? unreachable;
  let referenceWordsUsed = columns;
  if (mode === 'prefix') {
    for (let column = 0; column <= columns; column++) {
      const value = previous[column] ?? unreachable;
      if (value < edits) {
        edits = value;
        referenceWordsUsed = column;
      }
    }
  }
  return { edits, allowed, words: n, referenceWords: referenceWordsUsed };
}

function indelCosts(words: readonly string[], count: number, exactNumbers: boolean): Float64Array {
  const costs = new Float64Array(count).fill(1);
  if (exactNumbers) {
    for (let index = 0; index < count; index++) {
      if (isNumericToken(words[index] as string)) costs[index] = unreachable;
    }
  }
  return costs;
}

/**
 * A judge without a model: normalised word-level match of the prediction against the reference prefix
 * (`prefix`) or the whole target (`strict`), tolerant of a few word edits, exact on numbers.
 * Deterministic and fast; the embedded demo's default judge.
 */
export function createLexicalJudge(options: LexicalJudgeOptions = {}): JudgeWithStats {
  const defaultMode = assertMode(options.mode ?? 'prefix', 'mode');
  const tolerance = options.tolerance ?? 0.2;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 1) {
    throw new InvalidArgumentError({
      argument: 'tolerance',
      message: `tolerance must be a number in [0, 1] (edits per prediction word); got ${String(tolerance)}.`,
    });
  }
  const scoring = options.scoring ?? 'binary';
  if (scoring !== 'binary' && scoring !== 'graded') {
    throw new InvalidArgumentError({
      argument: 'scoring',
      message: `scoring must be 'binary' or 'graded'; got ${JSON.stringify(scoring)}.`,
    });
  }
  const exactNumbers = options.exactNumbers ?? true;
  const hardening = options.hardening === false ? undefined : resolveHardeningOptions(options.hardening);
  const cache =
    options.cache === undefined || options.cache === false
      ? undefined
      : 'get' in options.cache
        ? options.cache
        : createJudgeCache(options.cache);
  const logger = options.logger ?? silentLogger;
  const name = options.name ?? 'lexical';
  const coverTarget = options.coverTarget ?? true;
  const settingsKey = `t=${tolerance};s=${scoring};n=${exactNumbers};c=${coverTarget}`;
  const cacheScopes: Record<JudgeMode, JudgeCacheScope | undefined> = {
    prefix: cache?.scope(name, settingsKey, 'prefix'),
    strict: cache?.scope(name, settingsKey, 'strict'),
  };
  let stats = emptyStats();

  const judgeOne = (item: JudgeItem, index: number): JudgeVerdict => {
    const checked = checkItem(item, index, defaultMode);
    if ('reason' in checked) {
      stats.failed++;
      countReason(stats, checked.reason);
      logger.warn(checked.message, { judge: name, id: item?.id });
      options.onEvent?.({
        type: 'judge-error',
        id: item?.id,
        reason: checked.reason,
        message: checked.message,
      });
      return failedVerdict(checked.reason);
    }
    let prediction = item.prediction;
    if (hardening) {
      const result = hardenPrediction(item, hardening);
      if (result.action === 'skip') {
        stats.skipped++;
        countReason(stats, result.reason);
        logger.debug(`prediction skipped: ${result.reason} (${result.detail})`, { judge: name, id: item.id });
        return { score: 0, status: 'skipped', reason: result.reason };
      }
      prediction = result.prediction;
    }
    const scope = checked.mode === 'prefix' ? cacheScopes.prefix : cacheScopes.strict;
    // Words of s_i the prediction must cover (prefix mode with a known target).
    const targetWords =
      coverTarget && checked.mode === 'prefix' && typeof item.target === 'string' && item.target.trim()
        ? normalizeWordsMemoised(item.target).length
        : 0;
    const referenceKey = targetWords > 0 ? `${targetWords}\u241f${item.reference}` : item.reference;
    const hit = scope?.get(referenceKey, prediction);
    if (hit) {
      stats.cacheHits++;
      stats.ok++;
      if (hit.score > 0) stats.positives++;
      return { ...hit, cached: true };
    }
    const match = lexicalMatch(
      normalizeWords(prediction),
      normalizeWordsMemoised(item.reference),
      checked.mode,
      {
        tolerance,
        exactNumbers,
      },
    );
    const coversTarget = match.referenceWords >= targetWords - match.allowed;
    const score = !coversTarget
      ? 0
      : scoring === 'binary'
        ? match.words > 0 && match.edits <= match.allowed
          ? 1
          : 0
        : match.words > 0 && Number.isFinite(match.edits)
          ? Math.max(0, 1 - match.edits / match.words)
          : 0;
    const verdict: JudgeVerdict = {
      score,
      status: 'ok',
      raw: `edits=${match.edits} allowed=${match.allowed} words=${match.words} referenceWords=${match.referenceWords}${targetWords ? ` targetWords=${targetWords}` : ''}`,
      ...(coversTarget ? {} : { reason: 'partial-target' }),
    };
    scope?.set(referenceKey, prediction, verdict);
    stats.ok++;
    if (score > 0) stats.positives++;
    return verdict;
  };

  return {
    specificationVersion: 'v1',
    name,
    async judge(items, callOptions) {
      throwIfAborted(callOptions?.signal);
      const verdicts: JudgeVerdict[] = new Array(items.length);
      for (let index = 0; index < items.length; index++) {
        // Yield to the event loop now and then so huge batches stay abortable and do not starve servers.
        if (index > 0 && index % 512 === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          throwIfAborted(callOptions?.signal);
        }
        stats.items++;
        verdicts[index] = judgeOne(items[index] as JudgeItem, index);
      }
      return verdicts;
    },
    stats: () => snapshotStats(stats),
    resetStats() {
      stats = emptyStats();
    },
    async close() {},
  };
}
