/**
 * The computer-algebra core: `@cortex-js/compute-engine` (LaTeX → MathJSON, exact big-number
 * arithmetic, simplification). It is the slow, exact stage: the grader calls it only when the cheap
 * checks cannot decide — a side its own parser refuses — and
 * every call is bounded (input length, a time budget per comparison) and never throws.
 * See docs/decisions/0003-math-cas.md for the comparison with mathjs and nerdamer.
 */
import { ComputeEngine } from '@cortex-js/compute-engine';

/** Longest side (characters) handed to the CAS; longer answers are not worth its time. */
const MAX_INPUT = 300;

let engine: ComputeEngine | undefined;

function getEngine(): ComputeEngine {
  // Built on first use (≈0.2 s), not at import time.
  engine ??= new ComputeEngine();
  return engine;
}

function hasError(json: unknown): boolean {
  return JSON.stringify(json).includes('"Error"');
}

/**
 * Exact equality of two LaTeX answers by the CAS: true or false when it decides within `budgetMs`,
 * undefined when it cannot (unparsable, undecided, over budget, or an internal error).
 */
export function casEqual(gold: string, predicted: string, budgetMs = 50): boolean | undefined {
  if (gold.length > MAX_INPUT || predicted.length > MAX_INPUT) return undefined;
  const started = performance.now();
  try {
    const ce = getEngine();
    const a = ce.parse(gold);
    const b = ce.parse(predicted);
    if (hasError(a.json) || hasError(b.json)) return undefined;
    if (performance.now() - started > budgetMs) return undefined;
    const result = a.isEqual(b);
    return typeof result === 'boolean' ? result : undefined;
  } catch {
    return undefined;
  }
}
