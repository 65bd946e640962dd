import type { JudgeV1 } from '@rlpt/spec';

/**
 * Counters every rlpt judge keeps. Outcomes, not statuses: a judge failure is counted in `failed` even
 * when `onFailure: 'zero'` turned it into a 0 with status `ok`.
 */
export interface JudgeStats {
  /** Items passed to `judge()`. */
  items: number;
  /** Items the judge decided (score 0 or 1, or a graded score). */
  ok: number;
  /** Items scored 0 by hardening without asking the judge. */
  skipped: number;
  /** Items the judge could not decide (unparseable output, timeouts, API errors, bad items). */
  failed: number;
  /** Decided items that scored above 0. */
  positives: number;
  /** Items answered from the cache. */
  cacheHits: number;
  /** Items that shared the judgement of an identical item already queued or in flight. */
  deduplicated: number;
  /** Judge prompts sent to the backend (generative judges). */
  judgeCalls: number;
  /** `generate` requests sent (each carries up to `batchSize` prompts). */
  requests: number;
  /** Judge prompts sent again after a retryable error (a failed batch split, a rate limit, a retry). */
  retries: number;
  /** Rate-limit answers received (HTTP 429, or 503 with `Retry-After`). */
  rateLimited: number;
  /** The last few failures (most recent last, at most 8), with the judge's raw output when there was one. */
  lastFailures: JudgeFailureRecord[];
  /** Skipped and failed items by reason code (`too-short`, `unparseable`, `timeout`, …). */
  reasons: Record<string, number>;
}

/** One judge failure as kept in {@link JudgeStats.lastFailures}. */
export interface JudgeFailureRecord {
  reason: string;
  message: string;
  /** The judge's raw output, when it answered (cut to 500 characters). */
  raw?: string;
  /** The item's id, when it had one. */
  id?: string;
}

/** A `JudgeV1` that also reports its counters. Both rlpt judges are one. */
export interface JudgeWithStats extends JudgeV1 {
  /** A snapshot of the counters since creation (or the last `resetStats`). */
  stats(): JudgeStats;
  /** Sets every counter back to 0. */
  resetStats(): void;
  /** Releases the judge (fails calls still queued); idempotent. */
  close(): Promise<void>;
}

export function emptyStats(): JudgeStats {
  return {
    items: 0,
    ok: 0,
    skipped: 0,
    failed: 0,
    positives: 0,
    cacheHits: 0,
    deduplicated: 0,
    judgeCalls: 0,
    requests: 0,
    retries: 0,
    rateLimited: 0,
    lastFailures: [],
    reasons: {},
  };
}

const keptFailures = 8;

/** Keeps `failure` among the last few of `stats`. */
export function recordFailure(
  stats: JudgeStats,
  failure: { reason: string; message: string; raw?: string | undefined; id?: string | undefined },
): void {
  const record: JudgeFailureRecord = { reason: failure.reason, message: failure.message };
  if (failure.raw !== undefined) record.raw = failure.raw.slice(0, 500);
  if (failure.id !== undefined) record.id = failure.id;
  stats.lastFailures.push(record);
  if (stats.lastFailures.length > keptFailures) stats.lastFailures.shift();
}

export function snapshotStats(stats: JudgeStats): JudgeStats {
  return {
    ...stats,
    reasons: { ...stats.reasons },
    lastFailures: stats.lastFailures.map((failure) => ({ ...failure })),
  };
}

export function countReason(stats: JudgeStats, reason: string): void {
  stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1;
}
