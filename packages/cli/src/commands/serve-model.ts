import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ConfigError, type InferenceBackendV1 } from '@rlpt/spec';
import type { DecodeEngine, ModelServerOptions } from '@rlpt/serve';
import type { Command } from 'commander';
import * as z from 'zod';
import { flagError, integer } from '../flags.js';
import { untilShutdown } from '../signals.js';
import { stderrLogger } from '../ui.js';

/** Flags of `rlpt serve model`, as commander hands them over (strings until validated). */
interface RawFlags {
  model?: string;
  host: string;
  port: string;
  apiKey?: string;
  servedModelName?: string;
  maxBatch: string;
  batchWindowMs: string;
  maxQueue: string;
  maxTokens: string;
  maxBodyBytes: string;
  headersTimeoutMs: string;
  bodyTimeoutMs: string;
  shutdownTimeoutMs: string;
  logRequests?: boolean;
  threads?: string;
}

const flagsSchema = z.object({
  model: z.string({ error: 'is required: the model folder (config.json, tokenizer, ONNX graph)' }).min(1),
  host: z.string().min(1),
  port: integer(0).max(65_535, { error: 'must be at most 65535' }),
  apiKey: z.string().min(1).optional(),
  servedModelName: z.string().min(1).optional(),
  maxBatch: integer(1),
  batchWindowMs: integer(0),
  maxQueue: integer(1),
  maxTokens: integer(1),
  maxBodyBytes: integer(1024),
  headersTimeoutMs: integer(1),
  bodyTimeoutMs: integer(1),
  shutdownTimeoutMs: integer(0),
  logRequests: z.boolean().optional(),
  threads: integer(1).optional(),
});

/** The validated settings of `rlpt serve model`. */
export type ServeModelSettings = z.infer<typeof flagsSchema>;

/** Validates the flags into settings; a `ConfigError` lists every bad flag. */
export function parseServeModelFlags(
  flags: RawFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeModelSettings {
  const result = flagsSchema.safeParse({ ...flags, apiKey: flags.apiKey ?? env.RLPT_SERVE_API_KEY });
  if (!result.success) throw flagError('rlpt serve model flags', result.error.issues);
  return result.data;
}

/** What the server needs from a model folder: the backend, and the tokenizer for logprobs and /tokenize. */
interface LoadedModel {
  backend: InferenceBackendV1;
  /** rlpt's step-wise decode loop: generation, top logprobs, streaming, live weights. */
  engine: DecodeEngine;
  decodeToken: (tokenId: number) => string;
  detokenize: (tokenIds: number[]) => string;
  tokenize: NonNullable<ModelServerOptions['tokenize']>;
  maxModelLength: number;
}

async function loadModel(
  dir: string,
  maxBatch: number,
  batchWindowMs: number,
  threads: number | undefined,
): Promise<LoadedModel> {
  const [{ createOnnxBackend }, { loadTokenizer, readModelConfig }, { createDecodeEngine }] =
    await Promise.all([import('@rlpt/backend-onnx'), import('@rlpt/model'), import('@rlpt/serve')]);
  const backend = createOnnxBackend({ modelDir: dir, ...(threads ? { threads } : {}) });
  await backend.init();
  const [{ tokenizer }, { config }] = await Promise.all([loadTokenizer(dir), readModelConfig(dir)]);
  const detokenize = (tokenIds: number[]) => tokenizer.decode(tokenIds, { skip_special_tokens: true });
  const engine = await createDecodeEngine({
    modelDir: dir,
    decode: detokenize,
    maxBatch,
    batchWindowMs,
    ...(threads ? { session: { threads } } : {}),
  });
  return {
    backend,
    engine,
    detokenize,
    decodeToken: (tokenId) => tokenizer.decode([tokenId], { skip_special_tokens: false }),
    // Chat prompts go through the backend, so /tokenize renders the same chat template generate uses.
    tokenize: (input) =>
      'messages' in input
        ? backend.tokenize({ messages: input.messages })
        : tokenizer.encode(input.prompt, { add_special_tokens: input.addSpecialTokens }).ids,
    maxModelLength: config.maxPositionEmbeddings,
  };
}

/** Runs the server until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runServeModel(settings: ServeModelSettings): Promise<void> {
  // The server logs one debug line per request: labelled `request`, shown with --log-requests.
  const logger = stderrLogger(settings.logRequests === true, 'request');
  const dir = resolve(settings.model);
  const folder = await stat(dir).catch(() => undefined);
  if (!folder?.isDirectory()) {
    throw new ConfigError({
      source: 'rlpt serve model flags',
      issues: [
        { path: '--model', message: `${dir} is not a folder (expected a model folder with config.json)` },
      ],
    });
  }
  const { createModelServer } = await import('@rlpt/serve');
  const started = performance.now();
  const { backend, engine, decodeToken, detokenize, tokenize, maxModelLength } = await loadModel(
    dir,
    settings.maxBatch,
    settings.batchWindowMs,
    settings.threads,
  );
  const server = createModelServer({
    backend,
    engine,
    detokenize,
    modelName: settings.servedModelName ?? basename(dir),
    maxBatch: settings.maxBatch,
    batchWindowMs: settings.batchWindowMs,
    maxQueuedRequests: settings.maxQueue,
    maxTokens: settings.maxTokens,
    maxBodyBytes: settings.maxBodyBytes,
    headersTimeoutMs: settings.headersTimeoutMs,
    bodyTimeoutMs: settings.bodyTimeoutMs,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    decodeToken,
    tokenize,
    maxModelLength,
    logger,
  });
  const { url } = await server.listen({ host: settings.host, port: settings.port });
  const batching =
    settings.maxBatch > 1 ? `continuous batching up to ${settings.maxBatch} sequences` : 'batching off';
  process.stdout.write(
    `rlpt serve model: ${server.modelName} at ${url}/v1 (${batching}${settings.apiKey ? ', bearer token required' : ''}; loaded in ${((performance.now() - started) / 1000).toFixed(1)}s)\n`,
  );

  await untilShutdown('rlpt serve model', async (signal) => {
    const { inFlightRequests } = server.stats();
    process.stderr.write(
      `rlpt serve model: ${signal}: stopped accepting connections, finishing ${inFlightRequests} request(s) in flight (send it again to exit now)\n`,
    );
    await server.close({ timeoutMs: settings.shutdownTimeoutMs });
    await engine.close();
    await backend.close?.();
    process.stderr.write('rlpt serve model: stopped\n');
  });
}

/** `rlpt serve model` — OpenAI-compatible server over a local model. `serve` is the parent command. */
export function register(serve: Command): void {
  serve
    .command('model')
    .description(
      "OpenAI-compatible HTTP server at vLLM's level (/v1/completions, /v1/chat/completions, /v1/models, /tokenize, /detokenize, /health) over a local ONNX model: continuous batching, top logprobs, echo and prompt logprobs, step-by-step streaming, and live weights (POST /update_weights_from_disk, as SGLang).",
    )
    .option('--model <dir>', 'model folder (config.json, tokenizer files, ONNX graph); required')
    .option('--host <host>', 'interface to listen on (0.0.0.0 for all)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8000')
    .option(
      '--api-key <key>',
      'require Authorization: Bearer <key> on /v1/* (default: env RLPT_SERVE_API_KEY)',
    )
    .option('--served-model-name <name>', 'model name clients send (default: the folder name)')
    .option('--max-batch <n>', 'most sequences (prompts x n) per decode batch; 1 turns batching off', '32')
    .option('--batch-window-ms <ms>', 'how long an idle server waits for more requests to batch', '5')
    .option('--max-queue <n>', 'waiting requests before new ones get 429', '1024')
    .option('--max-tokens <n>', 'largest max_tokens accepted (and the chat default)', '2048')
    .option('--max-body-bytes <n>', 'largest request body; larger get 413', String(4 * 1024 * 1024))
    .option('--headers-timeout-ms <ms>', 'time a client has to send the request headers', '20000')
    .option('--body-timeout-ms <ms>', 'time a client has to send the whole body (then 408)', '30000')
    .option('--shutdown-timeout-ms <ms>', 'on SIGINT/SIGTERM, how long to let requests finish', '30000')
    .option('--log-requests', 'print one line per request on stderr')
    .option('--threads <n>', "onnxruntime intra-op threads (default: onnxruntime's choice, one per core)")
    .addHelpText(
      'after',
      '\nExample:\n  rlpt serve model --model runs/demo/checkpoints/step-100/model --port 8000\n  curl http://127.0.0.1:8000/v1/completions -H "content-type: application/json" \\\n    -d \'{"model": "model", "prompt": "The capital of France is", "max_tokens": 16}\'\n',
    )
    .action(async (flags: RawFlags) => {
      await runServeModel(parseServeModelFlags(flags));
    });
}
