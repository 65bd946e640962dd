import { parentPort, workerData } from 'node:worker_threads';
import { type SortedBucket, sortBucketFile } from './buckets.js';
import type { RawDocument } from './io/documents.js';
import { createDocumentProcessor, type DocumentResult, type ProcessorConfig } from './process.js';
import type { ExportSettings } from './writers.js';

/** A chunk of documents to process (scan phase). */
export interface ChunkRequest {
  chunk: number;
  firstOrdinal: number;
  documents: RawDocument[];
}

/** A bucket file to sort and encode (finalize phase). */
export interface SortRequest {
  job: number;
  file: string;
  openrlhf?: ExportSettings;
}

export type WorkerRequest = ({ type: 'chunk' } & ChunkRequest) | ({ type: 'sort' } & SortRequest);

/** Replies of a worker. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; chunk: number; results: DocumentResult[] }
  | { type: 'sorted'; job: number; bucket: SortedBucket }
  | { type: 'failed'; job: number; message: string }
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

function transferablesOf(reply: WorkerReply): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  if (reply.type === 'result') {
    for (const result of reply.results) {
      if (result.bandKeys) buffers.push(result.bandKeys.buffer as ArrayBuffer);
      if (result.records.byteLength > 0) buffers.push(result.records.buffer as ArrayBuffer);
    }
  } else if (reply.type === 'sorted') {
    const { bucket } = reply;
    for (const array of [bucket.samples, bucket.ends, bucket.openrlhf, bucket.openrlhfEnds]) {
      if (
        array &&
        array.byteLength > 0 &&
        array.byteOffset === 0 &&
        array.byteLength === array.buffer.byteLength
      ) {
        buffers.push(array.buffer as ArrayBuffer);
      }
    }
  }
  return buffers;
}

if (parentPort && (workerData as { rlptPrepareWorker?: boolean } | undefined)?.rlptPrepareWorker) {
  const port = parentPort;
  const config = (workerData as { config: ProcessorConfig }).config;
  createDocumentProcessor(config).then(
    (processor) => {
      port.on('message', (request: WorkerRequest) => {
        let reply: WorkerReply;
        if (request.type === 'chunk') {
          reply = { type: 'result', chunk: request.chunk, results: processChunk(processor, request) };
        } else {
          try {
            reply = {
              type: 'sorted',
              job: request.job,
              bucket: sortBucketFile(request.file, request.openrlhf),
            };
          } catch (error) {
            reply = {
              type: 'failed',
              job: request.job,
              message: error instanceof Error ? error.message : String(error),
            };
          }
        }
        port.postMessage(reply, transferablesOf(reply));
      });
      port.postMessage({ type: 'ready' } satisfies WorkerReply);
    },
    (error: unknown) => {
      port.postMessage({
        type: 'fatal',
        message: error instanceof Error ? error.message : String(error),
      } satisfies WorkerReply);
    },
  );
}
