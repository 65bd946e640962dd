import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RlptError } from '@rlpt/spec';
import { createDocumentProcessor, type DocumentResult, type ProcessorConfig } from './process.js';
import type { ChunkReply, ChunkRequest } from './worker.js';

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

/** Processes chunks of documents on worker threads (or inline with 0 workers); results keep no order. */
export interface DocumentPool {
  readonly workers: number;
  run(request: ChunkRequest): Promise<DocumentResult[]>;
  close(): Promise<void>;
}

class WorkerFailure extends RlptError {
  constructor(message: string, cause?: unknown) {
    super({ message, code: 'worker', cause });
    this.name = 'WorkerFailure';
  }
}

/**
 * Starts `workers` threads, each loading the tokenizer and indexes once. With 0 workers the documents are
 * processed on the calling thread (same results, handy for debugging).
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
      async close() {},
    };
  }
  const entry = workerEntry();
  type Pending = { resolve: (results: DocumentResult[]) => void; reject: (error: unknown) => void };
  const slots = Array.from({ length: workers }, () => {
    const worker = new Worker(entry.script, {
      eval: entry.eval,
      workerData: { rlptPrepareWorker: true, config },
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
    });
    const pending = new Map<number, Pending>();
    let failure: unknown;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: ChunkReply) => {
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'fatal') {
          failure = new WorkerFailure(`prepare worker could not start: ${reply.message}`);
          reject(failure);
        } else {
          const waiter = pending.get(reply.chunk);
          pending.delete(reply.chunk);
          waiter?.resolve(reply.results);
        }
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
  return {
    workers,
    run(request) {
      let slot = slots[0]!;
      for (const candidate of slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
      const failure = slot.failed();
      if (failure) return Promise.reject(failure);
      return new Promise<DocumentResult[]>((resolve, reject) => {
        slot.pending.set(request.chunk, { resolve, reject });
        slot.worker.postMessage(request);
      });
    },
    async close() {
      for (const slot of slots) slot.pending.clear();
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
