import type { EventHandler, JudgeItem, JudgeMode, JudgeVerdict, Logger } from '@rlpt/spec';
import { AbortError, InvalidArgumentError } from '@rlpt/spec';

export const judgeModes: readonly JudgeMode[] = ['prefix', 'strict'];

/** Options every rlpt judge takes for observability. */
export interface JudgeObservability {
  /** Receives debug lines (skipped items) and warnings (judge failures). Default: silent. */
  logger?: Logger;
  /** Receives a `judge-error` event for every judge failure. */
  onEvent?: EventHandler;
}

export function assertMode(mode: unknown, argument: string): JudgeMode {
  if (mode === 'prefix' || mode === 'strict') return mode;
  throw new InvalidArgumentError({
    argument,
    message: `${argument} must be 'prefix' or 'strict'; got ${JSON.stringify(mode)}.`,
  });
}

export function assertInteger(value: number, argument: string, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum) {
    throw new InvalidArgumentError({
      argument,
      message: `${argument} must be an integer ≥ ${minimum}; got ${String(value)}.`,
    });
  }
  return value;
}

/** A verdict for an item that is not well formed (it never reaches the judge). */
export type ItemProblem = { reason: 'invalid-item' | 'empty-reference'; message: string };

/** Checks the shape of one item; returns its mode, or the problem that makes it unjudgeable. */
export function checkItem(
  item: JudgeItem,
  index: number,
  defaultMode: JudgeMode,
): { mode: JudgeMode } | ItemProblem {
  const where = item && typeof item.id === 'string' ? `item ${index} (id ${item.id})` : `item ${index}`;
  if (item === null || typeof item !== 'object') {
    return { reason: 'invalid-item', message: `${where} is not an object.` };
  }
  if (typeof item.prediction !== 'string') {
    return { reason: 'invalid-item', message: `${where}: prediction must be a string.` };
  }
  if (typeof item.reference !== 'string') {
    return { reason: 'invalid-item', message: `${where}: reference must be a string.` };
  }
  if (item.context !== undefined && typeof item.context !== 'string') {
    return { reason: 'invalid-item', message: `${where}: context must be a string when given.` };
  }
  const mode = item.mode ?? defaultMode;
  if (mode !== 'prefix' && mode !== 'strict') {
    return { reason: 'invalid-item', message: `${where}: mode must be 'prefix' or 'strict'.` };
  }
  if (item.reference.trim().length === 0) {
    return {
      reason: 'empty-reference',
      message: `${where}: the reference is empty; nothing to judge against.`,
    };
  }
  return { mode };
}

export function failedVerdict(reason: string, raw?: string): JudgeVerdict {
  return raw === undefined
    ? { score: 0, status: 'failed', reason }
    : { score: 0, status: 'failed', reason, raw };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError({ cause: signal.reason });
}
