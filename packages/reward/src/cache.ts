import { createHash } from 'node:crypto';
import type { JudgeMode, JudgeVerdict } from '@rlpt/spec';
import { InvalidArgumentError } from '@rlpt/spec';

/** What identifies one judgement: the same parts always get the same verdict. */
export interface JudgeCacheKeyParts {
  /** Judge name (`lexical`, `generative:<provider>:<model>`). */
  judge: string;
  /** Hash of the judge prompt template and settings (see {@link hashTemplate}). */
  template: string;
  mode: JudgeMode;
  reference: string;
  /** The prediction after hardening's neutralisation. */
  prediction: string;
}

export interface JudgeCacheOptions {
  /** Most verdicts kept; older, unused ones are dropped first. Default 100 000. */
  maxEntries?: number;
}

export interface JudgeCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Distinct verdicts held. */
  size: number;
  maxEntries: number;
}

/**
 * A bounded verdict cache. One cache can be shared by several judges: the judge name, template hash and
 * mode are part of every key. Only decided verdicts (`ok`) belong in it; failures are asked again.
 */
export interface JudgeCache {
  get(parts: JudgeCacheKeyParts): JudgeVerdict | undefined;
  set(parts: JudgeCacheKeyParts, verdict: JudgeVerdict): void;
  /**
   * The verdicts of one (judge, template, mode): the same entries as `get`/`set` with those parts, with
   * the namespace resolved once — what judges use on their hot path.
   */
  scope(judge: string, template: string, mode: JudgeMode): JudgeCacheScope;
  readonly size: number;
  clear(): void;
  stats(): JudgeCacheStats;
}

/** Cache entries of one (judge, template, mode); see {@link JudgeCache.scope}. */
export interface JudgeCacheScope {
  get(reference: string, prediction: string): JudgeVerdict | undefined;
  set(reference: string, prediction: string, verdict: JudgeVerdict): void;
}

/** A short stable hash of a judge prompt template (first 16 hex digits of SHA-256). */
export function hashTemplate(template: string): string {
  return createHash('sha256').update(template).digest('hex').slice(0, 16);
}

/**
 * Values under (namespace, reference, prediction), in nested maps: looking up never builds a long
 * concatenated key, and the hash of each string is computed once per string object.
 */
export class KeyedStore<V> {
  private readonly root = new Map<string, Map<string, Map<string, V>>>();
  /** Number of values held. */
  count = 0;

  get(namespace: string, reference: string, prediction: string): V | undefined {
    return this.root.get(namespace)?.get(reference)?.get(prediction);
  }

  /** Stores a value; true when the key was new. */
  set(namespace: string, reference: string, prediction: string, value: V): boolean {
    let references = this.root.get(namespace);
    if (!references) {
      references = new Map();
      this.root.set(namespace, references);
    }
    let predictions = references.get(reference);
    if (!predictions) {
      predictions = new Map();
      references.set(reference, predictions);
    }
    const isNew = !predictions.has(prediction);
    predictions.set(prediction, value);
    if (isNew) this.count++;
    return isNew;
  }

  delete(namespace: string, reference: string, prediction: string): boolean {
    const references = this.root.get(namespace);
    const predictions = references?.get(reference);
    if (!references || !predictions?.delete(prediction)) return false;
    this.count--;
    if (predictions.size === 0) {
      references.delete(reference);
      if (references.size === 0) this.root.delete(namespace);
    }
    return true;
  }
}

const namespaceOf = (judge: string, template: string, mode: JudgeMode) =>
  `${judge}\u0000${template}\u0000${mode}`;

/**
 * Creates a bounded verdict cache with approximate LRU eviction in O(1): two generations of at most
 * `maxEntries / 2` verdicts each. New verdicts and hits go to the young generation; when it is full it
 * becomes the old one and the previous old generation — whatever was not used since — is dropped.
 */
export function createJudgeCache(options: JudgeCacheOptions = {}): JudgeCache {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 2) {
    throw new InvalidArgumentError({
      argument: 'cache.maxEntries',
      message: `cache.maxEntries must be an integer ≥ 2; got ${String(maxEntries)}.`,
    });
  }
  const generationSize = Math.floor(maxEntries / 2);
  let young = new KeyedStore<JudgeVerdict>();
  let old = new KeyedStore<JudgeVerdict>();
  /** Verdicts of `old` also copied into `young` (counted once in `size`). */
  let promoted = 0;
  let hits = 0;
  let misses = 0;
  let evictions = 0;

  const rotate = () => {
    evictions += old.count - promoted;
    old = young;
    young = new KeyedStore();
    promoted = 0;
  };
  const insert = (namespace: string, reference: string, prediction: string, verdict: JudgeVerdict) => {
    if (young.set(namespace, reference, prediction, verdict) && young.count >= generationSize) rotate();
  };
  const get = (namespace: string, reference: string, prediction: string): JudgeVerdict | undefined => {
    const fresh = young.get(namespace, reference, prediction);
    if (fresh !== undefined) {
      hits++;
      return fresh;
    }
    const aging = old.get(namespace, reference, prediction);
    if (aging === undefined) {
      misses++;
      return undefined;
    }
    hits++;
    promoted++;
    insert(namespace, reference, prediction, aging);
    return aging;
  };
  const set = (namespace: string, reference: string, prediction: string, verdict: JudgeVerdict) => {
    if (young.get(namespace, reference, prediction) !== undefined) {
      young.set(namespace, reference, prediction, verdict);
      return;
    }
    // Only in the old generation (never promoted): move it, so it is held once.
    old.delete(namespace, reference, prediction);
    insert(namespace, reference, prediction, verdict);
  };

  return {
    get: (parts) =>
      get(namespaceOf(parts.judge, parts.template, parts.mode), parts.reference, parts.prediction),
    set: (parts, verdict) =>
      set(namespaceOf(parts.judge, parts.template, parts.mode), parts.reference, parts.prediction, verdict),
    scope(judge, template, mode) {
      const namespace = namespaceOf(judge, template, mode);
      return {
        get: (reference, prediction) => get(namespace, reference, prediction),
        set: (reference, prediction, verdict) => set(namespace, reference, prediction, verdict),
      };
    },
    get size() {
      return young.count + old.count - promoted;
    },
    clear() {
      young = new KeyedStore();
      old = new KeyedStore();
      promoted = 0;
    },
    stats() {
      return { hits, misses, evictions, size: young.count + old.count - promoted, maxEntries };
    },
  };
}
