import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ConfigError, type EventHandler, type Logger } from '@rlpt/spec';
import type { Command } from 'commander';
import * as z from 'zod';
import { flagError, integer } from '../flags.js';
import { untilShutdown } from '../signals.js';
import { stderrLogger } from '../ui.js';

/** Flags of `rlpt serve tinker`, as commander hands them over (strings until validated). */
interface RawFlags {
  model?: string;
  host: string;
  port: string;
  apiKey?: string;
  baseModel?: string;
  tokenizerId?: string;
  dataDir?: string;
  threads: string;
  protobuf?: boolean;
  pollTimeoutMs: string;
  seqGapTimeoutMs: string;
  maxSamplers: string;
  maxBodyBytes: string;
  logRequests?: boolean;
}

const flagsSchema = z.object({
  model: z
    .string({
      error: 'is required: the model folder to train (config.json, model.safetensors, tokenizer files)',
    })
    .min(1),
  host: z.string().min(1),
  port: integer(0).max(65_535, { error: 'must be at most 65535' }),
  apiKey: z.string().min(1).optional(),
  baseModel: z.string().min(1).optional(),
  tokenizerId: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  threads: integer(1),
  protobuf: z.boolean().optional(),
  pollTimeoutMs: integer(1).max(40_000, {
    error: 'must be at most 40000 (the SDK times a poll out at 45 s)',
  }),
  seqGapTimeoutMs: integer(1),
  maxSamplers: integer(1),
  maxBodyBytes: integer(1024),
  logRequests: z.boolean().optional(),
});

/** The validated settings of `rlpt serve tinker`. */
export type ServeTinkerSettings = z.infer<typeof flagsSchema>;

/** Validates the flags into settings; a `ConfigError` lists every bad flag. */
export function parseServeTinkerFlags(
  flags: RawFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeTinkerSettings {
  const result = flagsSchema.safeParse({ ...flags, apiKey: flags.apiKey ?? env.RLPT_TINKER_API_KEY });
  if (!result.success) throw flagError('rlpt serve tinker flags', result.error.issues);
  return result.data;
}

/** The part of `@rlpt/tinker-server` this command uses (imported lazily by name). */
interface TinkerServerModule {
  createTinkerServer(options: {
    modelDir: string;
    baseModel?: string;
    tokenizerId?: string;
    dataDir?: string;
    host?: string;
    port?: number;
    apiKey?: string;
    threads?: number;
    protobuf?: boolean;
    pollTimeoutMs?: number;
    seqGapTimeoutMs?: number;
    maxSamplers?: number;
    maxBodyBytes?: number;
    logger?: Logger;
    onEvent?: EventHandler;
  }): Promise<{ url: string; baseModel: string; dataDir: string; close(): Promise<void> }>;
}

async function importServer(): Promise<TinkerServerModule> {
  // A variable specifier keeps the server (and onnxruntime-node) out of the CLI's startup path.
  const specifier = '@rlpt/tinker-server';
  try {
    return (await import(specifier)) as TinkerServerModule;
  } catch (cause) {
    throw new ConfigError({
      source: 'rlpt serve tinker',
      message: `rlpt serve tinker needs @rlpt/tinker-server, which could not be loaded (${(cause as Error).message}). Install it next to @rlpt/cli (pnpm add @rlpt/tinker-server).`,
      issues: [{ path: '@rlpt/tinker-server', message: 'not installed' }],
    });
  }
}

/** Runs the server until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runServeTinker(settings: ServeTinkerSettings): Promise<void> {
  const logger = stderrLogger(settings.logRequests === true, 'request');
  const dir = resolve(settings.model);
  const folder = await stat(dir).catch(() => undefined);
  if (!folder?.isDirectory()) {
    throw new ConfigError({
      source: 'rlpt serve tinker flags',
      issues: [
        {
          path: '--model',
          message: `${dir} is not a folder (expected a model folder with config.json and model.safetensors)`,
        },
      ],
    });
  }
  const { createTinkerServer } = await importServer();
  const started = performance.now();
  const server = await createTinkerServer({
    modelDir: dir,
    baseModel: settings.baseModel ?? basename(dir),
    ...(settings.tokenizerId ? { tokenizerId: settings.tokenizerId } : {}),
    ...(settings.dataDir ? { dataDir: resolve(settings.dataDir) } : {}),
    host: settings.host,
    port: settings.port,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    threads: settings.threads,
    protobuf: settings.protobuf === true,
    pollTimeoutMs: settings.pollTimeoutMs,
    seqGapTimeoutMs: settings.seqGapTimeoutMs,
    maxSamplers: settings.maxSamplers,
    maxBodyBytes: settings.maxBodyBytes,
    logger,
  });
  process.stdout.write(
    `rlpt serve tinker: ${server.baseModel} at ${server.url} (Tinker API, JSON and protobuf${settings.apiKey ? ', X-API-Key required' : ''}; checkpoints in ${server.dataDir}; ready in ${((performance.now() - started) / 1000).toFixed(1)}s)\n`,
  );
  await untilShutdown('rlpt serve tinker', async (signal) => {
    process.stderr.write(`rlpt serve tinker: ${signal}: finishing running requests, then stopping\n`);
    await server.close();
    process.stderr.write('rlpt serve tinker: stopped\n');
  });
}

/** `rlpt serve tinker` — the Tinker training API over the local ONNX engine. `serve` is the parent command. */
export function register(serve: Command): void {
  serve
    .command('tinker')
    .description(
      "Tinker training API server (the official SDK's flow: sessions, futures, forward_backward, optim_step, save/load weights, sampling) over a local model trained by @rlpt/learner-onnx and sampled by @rlpt/backend-onnx; JSON and protobuf (SDK ≥ 0.25).",
    )
    .option(
      '--model <dir>',
      'model folder to train (config.json, model.safetensors, tokenizer files); required',
    )
    .option('--host <host>', 'interface to listen on (0.0.0.0 for all)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8000')
    .option('--api-key <key>', 'require X-API-Key: <key> (default: env RLPT_TINKER_API_KEY)')
    .option('--base-model <name>', 'base_model name clients use (default: the folder name)')
    .option('--tokenizer-id <id>', "get_info's tokenizer_id (the SDK's get_tokenizer loads it from the Hub)")
    .option('--data-dir <dir>', 'where tinker:// checkpoints live (default: a temp folder removed on exit)')
    .option('--threads <n>', 'onnxruntime threads per learner and sampler (1 is bit-reproducible)', '1')
    .option(
      '--protobuf',
      'answer client/config with proto_write_fwdbwd: true (JSON clients then send protobuf)',
    )
    .option('--poll-timeout-ms <ms>', 'long-poll window of retrieve_future before try_again', '25000')
    .option('--seq-gap-timeout-ms <ms>', 'how long a request waits for a missing lower seq_id', '10000')
    .option('--max-samplers <n>', 'sampler models kept loaded', '4')
    .option('--max-body-bytes <n>', 'largest request body; larger get 413', String(256 * 1024 * 1024))
    .option('--log-requests', 'print server warnings and debug lines on stderr')
    .addHelpText(
      'after',
      '\nExample:\n  rlpt serve tinker --model models/tiny --port 8000\n  TINKER_BASE_URL=http://127.0.0.1:8000 TINKER_API_KEY=tml-dummy python my_sl_loop.py\n',
    )
    .action(async (flags: RawFlags) => {
      await runServeTinker(parseServeTinkerFlags(flags));
    });
}
