import { join } from 'node:path';
import { createTinyModel } from '@rlpt/model';
import { ConfigError } from '@rlpt/spec';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultFlags, killCliProcesses, startCli, useTempDirs, waitForStdout } from '../testing.js';
import { parseServeModelFlags } from './serve-model.js';

const makeTempDir = useTempDirs();
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-serve-model-');
  modelDir = (await createTinyModel({ dir: join(dir, 'tiny-model') })).dir;
});
afterEach(killCliProcesses);

const defaults = () => defaultFlags('serve', 'model');
const startServeModel = (args: string[]) => startCli(['serve', 'model', ...args]);

describe('rlpt serve model flags', () => {
  it('has working defaults, takes the key from RLPT_SERVE_API_KEY, and lists every bad flag', () => {
    const settings = parseServeModelFlags({ ...defaults(), model: 'models/tiny' } as never, {
      RLPT_SERVE_API_KEY: 'k',
    });
    expect(settings).toMatchObject({
      model: 'models/tiny',
      host: '127.0.0.1',
      port: 8000,
      apiKey: 'k',
      maxBatch: 32,
      batchWindowMs: 5,
      maxQueue: 1024,
      maxTokens: 2048,
    });
    let error: unknown;
    try {
      parseServeModelFlags(
        { ...defaults(), port: '70000', maxBatch: '0', batchWindowMs: 'soon' } as never,
        {},
      );
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      '--batch-window-ms',
      '--max-batch',
      '--model',
      '--port',
    ]);
  });
});

describe('rlpt serve model (the real binary)', () => {
  it('serves the model and finishes in-flight requests on SIGTERM before exiting', {
    timeout: 60_000,
  }, async () => {
    const server = startServeModel(['--model', modelDir, '--port', '0', '--api-key', 'cli-key']);
    const { child, output, exited } = server;
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)\/v1/);
    expect(output.stdout).toContain('rlpt serve model: tiny-model at');
    const headers = { authorization: 'Bearer cli-key', 'content-type': 'application/json' };
    const models = await fetch(`${url}/v1/models`, { headers });
    expect(((await models.json()) as { data: { id: string }[] }).data[0]!.id).toBe('tiny-model');

    // Requests long enough (~1 s of decoding) to be running when the signal arrives.
    const inFlight = Array.from({ length: 4 }, (_, index) =>
      fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: 'tiny-model',
          prompt: `prompt ${index}`,
          max_tokens: 2000,
          temperature: 1,
        }),
      }),
    );
    for (let tries = 0; tries < 500; tries++) {
      const health = (await (await fetch(`${url}/health`)).json()) as { runningBatches: number };
      if (health.runningBatches > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGTERM');
    const responses = await Promise.all(inFlight);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    expect(await exited).toBe(0);
    expect(output.stderr).toMatch(
      /SIGTERM: stopped accepting connections, finishing [1-4] request\(s\) in flight/,
    );
    expect(output.stderr).toContain('rlpt serve model: stopped');
  });

  it('exits 2 with a clear message for a missing model folder', { timeout: 30_000 }, async () => {
    const { output, exited } = startServeModel(['--model', join(dir, 'no-such-model'), '--port', '0']);
    expect(await exited).toBe(2);
    expect(output.stderr).toContain('--model');
    expect(output.stderr).toContain('no-such-model is not a folder');
  });
});
