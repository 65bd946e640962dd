import { parentPort, workerData } from 'node:worker_threads';
import type { RawDocument } from './io/documents.js';
import { createDocumentProcessor, type DocumentResult, type ProcessorConfig } from './process.js';

/** Message from the main thread: a chunk of documents to process. */
export interface ChunkRequest {
  chunk: number;
  firstOrdinal: number;
  documents: RawDocument[];
}

/** Reply: the results of one chunk, or why the worker could not start. */
export type ChunkReply =
  | { type: 'ready' }
  | { type: 'result'; chunk: number; results: DocumentResult[] }
  | { type: 'fatal'; message: string };

/** Processes a chunk (also used inline when `workers` is 0). */
export function processChunk(
  processor: Awaited<ReturnType<typeof createDocumentProcessor>>,
  request: ChunkRequest,
): DocumentResult[] {
  return request.documents.map((document, offset) =>
    processor.process(document, request.firstOrdinal + offset),
  );
}

if (parentPort && (workerData as { rlptPrepareWorker?: boolean } | undefined)?.rlptPrepareWorker) {
  const port = parentPort;
  const config = (workerData as { config: ProcessorConfig }).config;
  createDocumentProcessor(config).then(
    (processor) => {
      port.on('message', (request: ChunkRequest) => {
        const results = processChunk(processor, request);
        const transfer: ArrayBuffer[] = [];
        for (const result of results)
          if (result.bandKeys) transfer.push(result.bandKeys.buffer as ArrayBuffer);
        port.postMessage({ type: 'result', chunk: request.chunk, results } satisfies ChunkReply, transfer);
      });
      port.postMessage({ type: 'ready' } satisfies ChunkReply);
    },
    (error: unknown) => {
      port.postMessage({
        type: 'fatal',
        message: error instanceof Error ? error.message : String(error),
      } satisfies ChunkReply);
    },
  );
}
