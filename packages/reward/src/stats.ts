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
  /** Requests retried after a retryable error. */
  retries: number;
  /** Skipped and failed items by reason code (`too-short`, `unparseable`, `timeout`, …). */
  reasons: Record<string, number>;
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
    reasons: {},
  };
}

export function snapshotStats(stats: JudgeStats): JudgeStats {
  return { ...stats, reasons: { ...stats.reasons } };
}

export function countReason(stats: JudgeStats, reason: string): void {
  stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1;
}
