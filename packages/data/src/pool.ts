import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RlptError } from '@rlpt/spec';
import { createDocumentProcessor, type DocumentResult, type ProcessorConfig } from './process.js';
import { type SortedBucket, sortBucketFile } from './buckets.js';
import type { ChunkRequest, SortRequest, WorkerReply, WorkerRequest } from './worker.js';

const hookFlags = new Set(['--require', '-r', '--import', '--loader', '--experimental-loader']);

/** `execArgv` without tsx's own hook flags (the bootstrap registers tsx itself). */
function withoutTsxHooks(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (hookFlags.has(argument) && argv[index + 1]?.includes('tsx')) {
      index++;
      continue;
    }
    if (argument.includes('tsx') && [...hookFlags].some((flag) => argument.startsWith(`${flag}=`))) continue;
    out.push(argument);
  }
  return out;
}

// Flags about the main script itself, which a worker thread rejects or must not repeat.
const scriptFlags = /^(--input-type|--eval|-e|--print|-p|--interactive|-i|--test|--watch|--check|-c)(=|$)/;

/** `execArgv` a worker accepts: the process's, without flags that only make sense for the main script. */
function forWorkers(argv: readonly string[]): string[] {
  return argv.filter((argument) => !scriptFlags.test(argument));
}

/**
 * How to start a worker. Built code (`dist/`) runs `worker.js` next to the current module as it is. From
 * TypeScript sources (vitest, tsx, the benches) a small bootstrap registers tsx's ESM hooks inside the
 * worker thread (Node 20 does not pass `--import` hooks on to workers) and then imports `worker.ts`, with the
 * `@rlpt/source` export condition so workspace packages resolve to their sources as in the main thread.
 */
export function workerEntry(): { script: URL | string; eval: boolean; execArgv?: string[] } {
  const built = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) {
    return { script: built, eval: false, execArgv: forWorkers(process.execArgv) };
  }
  const source = new URL('./worker.ts', import.meta.url).href;
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const execArgv = forWorkers(withoutTsxHooks(process.execArgv));
  if (!execArgv.some((argument) => argument.includes('@rlpt/source')))
    execArgv.push('--conditions=@rlpt/source');
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return { script: bootstrap, eval: true, execArgv };
}

/**
 * Work spread over worker threads: document chunks in the scan phase, bucket sorts in the finalize phase.
 * Each call resolves with its own result; callers restore order.
 */
export interface DocumentPool {
  readonly workers: number;
  run(request: ChunkRequest): Promise<DocumentResult[]>;
  sort(request: Omit<SortRequest, 'job'>): Promise<SortedBucket>;
  close(): Promise<void>;
}

class WorkerFailure extends RlptError {
  constructor(message: string, cause?: unknown) {
    super({ message, code: 'worker', cause });
    this.name = 'WorkerFailure';
  }
}

/**
 * Starts `workers` threads, each loading the tokenizer and indexes once. With 0 workers everything runs on
 * the calling thread (same results, handy for debugging).
 */
export async function createDocumentPool(config: ProcessorConfig, workers: number): Promise<DocumentPool> {
  if (workers === 0) {
    const processor = await createDocumentProcessor(config);
    return {
      workers: 0,
      async run(request) {
        return request.documents.map((document, offset) =>
          processor.process(document, request.firstOrdinal + offset),
        );
      },
      async sort(request) {
        return sortBucketFile(request.file, request.openrlhf);
      },
      async close() {},
    };
  }
  const entry = workerEntry();
  type Pending = { resolve: (value: never) => void; reject: (error: unknown) => void };
  let nextJob = 0;
  const slots = Array.from({ length: workers }, () => {
    const worker = new Worker(entry.script, {
      eval: entry.eval,
      workerData: { rlptPrepareWorker: true, config },
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
    const pending = new Map<string, Pending>();
    let failure: unknown;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          resolve();
          return;
        }
        if (reply.type === 'fatal') {
          failure = new WorkerFailure(`prepare worker could not start: ${reply.message}`);
          reject(failure);
          return;
        }
        const key = reply.type === 'result' ? `chunk:${reply.chunk}` : `sort:${reply.job}`;
        const waiter = pending.get(key);
        pending.delete(key);
        if (reply.type === 'result') waiter?.resolve(reply.results as never);
        else if (reply.type === 'sorted') waiter?.resolve(reply.bucket as never);
        else waiter?.reject(new WorkerFailure(`sorting a shuffle bucket failed: ${reply.message}`));
      });
      const fail = (error: unknown) => {
        failure ??= new WorkerFailure(
          `prepare worker stopped unexpectedly (${error instanceof Error ? error.message : String(error)}); re-run with resume to continue from the last checkpoint.`,
          error,
        );
        reject(failure);
        for (const waiter of pending.values()) waiter.reject(failure);
        pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0 || pending.size > 0) fail(new Error(`exit code ${code}`));
      });
    });
    return { worker, pending, ready, failed: () => failure };
  });
  try {
    await Promise.all(slots.map((slot) => slot.ready));
  } catch (error) {
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    throw error;
  }
  const dispatch = <T>(key: string, message: WorkerRequest): Promise<T> => {
    let slot = slots[0]!;
    for (const candidate of slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
    const failure = slot.failed();
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(key, { resolve: resolve as (value: never) => void, reject });
      slot.worker.postMessage(message);
    });
  };
  return {
    workers,
    run(request) {
      return dispatch<DocumentResult[]>(`chunk:${request.chunk}`, { type: 'chunk', ...request });
    },
    sort(request) {
      const job = nextJob++;
      return dispatch<SortedBucket>(`sort:${job}`, { type: 'sort', ...request, job });
    },
    async close() {
      for (const slot of slots) slot.pending.clear();
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
