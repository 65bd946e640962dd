import { spawn } from 'node:child_process';
import type { InferenceBackendV1 } from '@rlpt/spec';
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

/**
 * Starts `rlpt serve model --model DIR --port 0` as a child process of this `rlpt` (same binary, same
 * loader flags) and connects `@rlpt/backend-openai` to it. The trainer pushes each exported policy folder
 * to it, so rollouts and held-out evaluations run on the current weights, as with the in-process backend.
 */
export async function startServedPolicy(
  modelDir: string,
  options: {
    threads: number;
    /** How to start `rlpt` (node arguments before `serve model`). Default: this process's own binary. */
    rlpt?: { args: string[]; cwd?: string };
  },
): Promise<ServedPolicy> {
  const script = process.argv[1];
  const rlpt = options.rlpt ?? (script ? { args: [...process.execArgv, script] } : undefined);
  if (!rlpt)
    throw new RlptError({ code: 'demo-served-policy', message: 'cannot find the rlpt binary to start.' });
  const child = spawn(
    process.execPath,
    [
      ...rlpt.args,
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
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      ...(rlpt.cwd ? { cwd: rlpt.cwd } : {}),
    },
  );
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
      const match = /at (http:\/\/\S+?)\/v1 /.exec(stdout);
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
          message: `rlpt serve model --model ${modelDir} exited (code ${code}) before it listened.\n${stderr.trim()}`,
        }),
      ),
    );
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout.resume();
  const { createOpenAIBackend } = await import('@rlpt/backend-openai');
  const client = createOpenAIBackend({
    baseURL: `${url}/v1`,
    model: 'policy',
    server: 'vllm',
    maxRetries: 2,
  });
  let pushes = 0;
  // The trainer closes a policy it replaces; this one is never replaced (weights are pushed), and the
  // server is stopped by close() below.
  const backend: InferenceBackendV1 = {
    specificationVersion: 'v1',
    provider: 'rlpt-serve-model',
    modelId: client.modelId,
    capabilities: client.capabilities,
    generate: (request, callOptions) => client.generate(request, callOptions),
    updateWeights: async (dir, callOptions) => {
      await client.updateWeights(dir, callOptions);
      pushes++;
    },
  };
  return {
    backend,
    url,
    pushes: () => pushes,
    async close() {
      await client.close?.();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
    },
  };
}
