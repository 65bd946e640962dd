import { createHash } from 'node:crypto';
import type { JudgeMode, JudgeVerdict } from '@rlpt/spec';
import { InvalidArgumentError } from '@rlpt/spec';

/** What identifies one judgement: the same key always gets the same verdict. */
export interface JudgeCacheKeyParts {
  /** Judge name (`lexical`, `generative:<model>`). */
  judge: string;
  /** Hash of the judge prompt template (see {@link hashTemplate}); `-` for judges without one. */
  template: string;
  mode: JudgeMode;
  reference: string;
  /** The prediction after hardening's neutralisation. */
  prediction: string;
}

export interface JudgeCacheOptions {
  /** Entries kept before the least recently used one is evicted. Default 100 000. */
  maxEntries?: number;
}

export interface JudgeCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  size: number;
  maxEntries: number;
}

/**
 * A bounded LRU cache of verdicts. One cache can be shared by several judges: the judge name and
 * template hash are part of every key. Only decided verdicts (`ok`) belong in it; failures are retried.
 */
export interface JudgeCache {
  get(key: string): JudgeVerdict | undefined;
  set(key: string, verdict: JudgeVerdict): void;
  readonly size: number;
  clear(): void;
  stats(): JudgeCacheStats;
}

/**
 * The cache key for `parts`. Lengths are written before the free-text fields so that no choice of
 * reference and prediction can collide with another.
 */
export function judgeCacheKey(parts: JudgeCacheKeyParts): string {
  return `${parts.judge}\u0000${parts.template}\u0000${parts.mode}\u0000${parts.reference.length}:${parts.reference}\u0000${parts.prediction}`;
}

/** A short stable hash of a judge prompt template (first 16 hex digits of SHA-256). */
export function hashTemplate(template: string): string {
  return createHash('sha256').update(template).digest('hex').slice(0, 16);
}

/** Creates a bounded LRU verdict cache. */
export function createJudgeCache(options: JudgeCacheOptions = {}): JudgeCache {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new InvalidArgumentError({
      argument: 'cache.maxEntries',
      message: `cache.maxEntries must be an integer ≥ 1; got ${String(maxEntries)}.`,
    });
  }
  // Map keeps insertion order: re-inserting on a hit moves the entry to the young end.
  const entries = new Map<string, JudgeVerdict>();
  let hits = 0;
  let misses = 0;
  let evictions = 0;
  return {
    get(key) {
      const verdict = entries.get(key);
      if (verdict === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      entries.delete(key);
      entries.set(key, verdict);
      return verdict;
    },
    set(key, verdict) {
      if (entries.has(key)) entries.delete(key);
      else if (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) {
          entries.delete(oldest);
          evictions++;
        }
      }
      entries.set(key, verdict);
    },
    get size() {
      return entries.size;
    },
    clear() {
      entries.clear();
    },
    stats() {
      return { hits, misses, evictions, size: entries.size, maxEntries };
    },
  };
}
