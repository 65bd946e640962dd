/**
 * The computer-algebra core: `@cortex-js/compute-engine` (LaTeX → MathJSON, simplification, sums and
 * products, exact arithmetic). It is the slow stage: the grader calls it only when its own parser cannot
 * read a LaTeX side. compute-engine has no working time limit of its own (an infinite series can take
 * 40 s), so it runs in a worker thread and the caller waits for it synchronously (`Atomics.wait`) with a
 * deadline: past the deadline the worker is terminated, the comparison counts as undecided and the next
 * one starts a fresh worker. Nothing is loaded until the first CAS comparison.
 * See docs/decisions/0003-math-cas.md for the comparison with mathjs and nerdamer.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Longest side (characters) handed to the CAS; longer answers are not worth its time. */
const MAX_INPUT = 300;
/** Time a new worker may take to start (import, engine: ≈0.4 s on an idle machine), before any budget. */
const STARTUP_MS = 10_000;

// Runs in the worker (CommonJS, evaluated from this string so it works from sources and from dist/).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.shared);
let engine;
const ready = import(workerData.url).then((module) => {
  engine = new module.ComputeEngine();
  Atomics.store(state, 2, 1);
  Atomics.notify(state, 2);
});
const broken = (expression) => JSON.stringify(expression.json).includes('"Error"');
parentPort.on('message', async ({ id, gold, predicted }) => {
  let result = 0;
  try {
    await ready;
    const a = engine.parse(gold);
    const b = engine.parse(predicted);
    if (!broken(a) && !broken(b)) {
      const equal = a.isEqual(b);
      result = equal === true ? 1 : equal === false ? 2 : 0;
    }
  } catch {
    result = 0;
  }
  Atomics.store(state, 1, result);
  Atomics.store(state, 0, id);
  Atomics.notify(state, 0);
});
`;

interface CasWorker {
  worker: Worker;
  state: Int32Array;
  warm: boolean;
}

let current: CasWorker | null = null;
let unavailable = false;
let nextId = 0;

function engineUrl(): string | null {
  try {
    // The package's `require` entry is a UMD build; the ESM build sits next to it.
    const entry = createRequire(import.meta.url).resolve('@cortex-js/compute-engine');
    return pathToFileURL(path.join(path.dirname(entry), 'compute-engine.min.esm.js')).href;
  } catch {
    return null;
  }
}

function startWorker(): CasWorker | null {
  if (unavailable) return null;
  const url = engineUrl();
  if (!url) {
    unavailable = true;
    return null;
  }
  const shared = new SharedArrayBuffer(12);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared, url } });
  worker.unref();
  worker.on('error', () => {
    if (current?.worker === worker) current = null;
  });
  return { worker, state: new Int32Array(shared), warm: false };
}

function stop(cas: CasWorker): void {
  if (current === cas) current = null;
  void cas.worker.terminate();
}

/**
 * Equality of two LaTeX answers by the CAS: true or false when it decides within `budgetMs`, undefined
 * when it cannot (unparsable, undecided, over budget, or unavailable). Never throws.
 */
export function casEqual(gold: string, predicted: string, budgetMs = 100): boolean | undefined {
  if (gold.length > MAX_INPUT || predicted.length > MAX_INPUT) return undefined;
  try {
    current ??= startWorker();
    const cas = current;
    if (!cas) return undefined;
    nextId = (nextId % 1_000_000_000) + 1;
    const id = nextId;
    Atomics.store(cas.state, 0, 0);
    cas.worker.postMessage({ id, gold, predicted });
    if (!cas.warm) {
      // Startup has its own allowance; the comparison's budget starts once the engine is ready.
      const started = performance.now();
      while (Atomics.load(cas.state, 2) === 0) {
        const left = started + STARTUP_MS - performance.now();
        if (left <= 0) {
          stop(cas);
          return undefined;
        }
        Atomics.wait(cas.state, 2, 0, left);
      }
    }
    const deadline = performance.now() + budgetMs;
    for (;;) {
      const seen = Atomics.load(cas.state, 0);
      if (seen === id) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        stop(cas);
        return undefined;
      }
      Atomics.wait(cas.state, 0, seen, left);
    }
    cas.warm = true;
    const result = Atomics.load(cas.state, 1);
    return result === 1 ? true : result === 2 ? false : undefined;
  } catch {
    return undefined;
  }
}
