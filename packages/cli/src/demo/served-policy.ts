import { spawn } from 'node:child_process';
import type { CallOptions, InferenceBackendV1 } from '@rlpt/spec';
import { RlptError } from '@rlpt/spec';

/** A policy behind a real `rlpt serve model` child process that takes the learner's weights after every update. */
export interface ServedPolicy {
  /** The client the trainer uses: rollouts over HTTP, `updateWeights` = POST /update_weights_from_disk. */
  backend: InferenceBackendV1;
  /** Base URL of the server (`http://127.0.0.1:PORT`). */
  url: string;
  /** Weight pushes so far. */
  pushes(): number;
  /** Stops the server (SIGTERM, then waits for its exit). */
  close(): Promise<void>;
}

/** A `rlpt serve …` child process of this `rlpt`, listening. */
export interface RlptServerChild {
  /** What the server printed as its address (the pattern's first group). */
  url: string;
  /** SIGTERM, then waits for its exit. */
  close(): Promise<void>;
}

/** How to start `rlpt` (node arguments before the subcommand). Default: this process's own binary. */
export type RlptLauncher = { args: string[]; cwd?: string };

/**
 * Starts `rlpt <args>` (same binary, same loader flags) and resolves once its stdout matches `listening`
 * (group 1: the URL). A child that exits first is an error with its stderr; the child dies with this process.
 */
export async function spawnRlptServer(
  args: string[],
  listening: RegExp,
  options: { threads: number; rlpt?: RlptLauncher },
): Promise<RlptServerChild> {
  const script = process.argv[1];
  const rlpt = options.rlpt ?? (script ? { args: [...process.execArgv, script] } : undefined);
  if (!rlpt)
    throw new RlptError({ code: 'demo-served-policy', message: 'cannot find the rlpt binary to start.' });
  const child = spawn(process.execPath, [...rlpt.args, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    ...(rlpt.cwd ? { cwd: rlpt.cwd } : {}),
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A worker that dies (error, Ctrl-C) takes its server with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = listening.exec(stdout);
      if (match) {
        child.stdout.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    void exited.then((code) =>
      reject(
        new RlptError({
          code: 'demo-served-policy',
          message: `rlpt ${args.join(' ')} exited (code ${code}) before it listened.\n${stderr.trim()}`,
        }),
      ),
    );
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout.resume();
  // The server never keeps this process alive: if the caller fails before close(), this process still
  // exits, and its exit handler above kills the server.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  return {
    url,
    async close() {
      child.ref(); // wait for the server's own shutdown
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
    },
  };
}

/**
 * The trainer's view of a served client that loads weights: rollouts through it, and `updateWeights` counted.
 * It has no `close`: the trainer closes a policy it replaces, this one is never replaced (weights are
 * pushed), and its owner closes the client and the server.
 */
export function followingBackend(
  client: Pick<InferenceBackendV1, 'modelId' | 'capabilities' | 'generate'> & {
    updateWeights(dir: string, options?: CallOptions): Promise<void>;
  },
  provider: string,
): { backend: InferenceBackendV1; updates: () => number } {
  let updates = 0;
  const backend: InferenceBackendV1 = {
    specificationVersion: 'v1',
    provider,
    modelId: client.modelId,
    capabilities: client.capabilities,
    generate: (request, callOptions) => client.generate(request, callOptions),
    updateWeights: async (dir, callOptions) => {
      await client.updateWeights(dir, callOptions);
      updates++;
    },
  };
  return { backend, updates: () => updates };
}

/**
 * Starts `rlpt serve model --model DIR --port 0` as a child process of this `rlpt` and connects
 * `@rlpt/backend-openai` to it. The trainer pushes each exported policy folder to it, so rollouts and
 * held-out evaluations run on the current weights, as with the in-process backend.
 */
export async function startServedPolicy(
  modelDir: string,
  options: { threads: number; rlpt?: RlptLauncher },
): Promise<ServedPolicy> {
  const server = await spawnRlptServer(
    [
      'serve',
      'model',
      '--model',
      modelDir,
      '--port',
      '0',
      '--served-model-name',
      'policy',
      '--threads',
      String(options.threads),
      '--batch-window-ms',
      '1',
      '--max-batch',
      '256',
    ],
    /at (http:\/\/\S+?)\/v1 /,
    options,
  );
  const url = server.url;
  const { createOpenAIBackend } = await import('@rlpt/backend-openai');
  const client = createOpenAIBackend({
    baseURL: `${url}/v1`,
    model: 'policy',
    server: 'vllm',
    maxRetries: 2,
  });
  const { backend, updates } = followingBackend(client, 'rlpt-serve-model');
  return {
    backend,
    url,
    pushes: updates,
    async close() {
      await client.close?.();
      await server.close();
    },
  };
}
