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

  it('serves vLLM-level features: top logprobs, echo, step-by-step SSE, /detokenize, live weights', {
    timeout: 60_000,
  }, async () => {
    const other = (await createTinyModel({ dir: join(dir, 'other-model'), seed: 9 })).dir;
    const server = startServeModel(['--model', modelDir, '--port', '0']);
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)\/v1/);
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    };
    const base = { model: 'tiny-model', prompt: 'Hello', max_tokens: 4, temperature: 0, ignore_eos: true };
    const scored = JSON.parse(
      (await post('/v1/completions', { ...base, logprobs: 3, echo: true, return_tokens_as_token_ids: true }))
        .text,
    ) as {
      choices: { text: string; logprobs: { token_logprobs: (number | null)[]; top_logprobs: unknown[] } }[];
    };
    const choice = scored.choices[0]!;
    expect(choice.text.startsWith('Hello')).toBe(true);
    expect(choice.logprobs.token_logprobs[0]).toBeNull();
    expect(Object.keys(choice.logprobs.top_logprobs.at(-1) as object)).toHaveLength(3);
    const stream = await post('/v1/completions', { ...base, stream: true });
    const events = stream.text.split('\n\n').filter((event) => event.startsWith('data: {'));
    expect(events).toHaveLength(4); // one chunk per decode step
    expect(stream.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const ids = JSON.parse((await post('/tokenize', { prompt: 'Hello' })).text) as { tokens: number[] };
    expect(JSON.parse((await post('/detokenize', { tokens: ids.tokens })).text)).toEqual({ prompt: 'Hello' });
    type Reply = { choices: { logprobs: { token_logprobs: number[] } }[]; system_fingerprint: string };
    const before = JSON.parse((await post('/v1/completions', { ...base, logprobs: 0 })).text) as Reply;
    const update = await post('/update_weights_from_disk', { model_path: other });
    expect(update.status).toBe(200);
    expect(JSON.parse(update.text)).toMatchObject({ success: true, num_paused_requests: 0 });
    const after = JSON.parse((await post('/v1/completions', { ...base, logprobs: 0 })).text) as Reply;
    expect(before.system_fingerprint).toBe('rlpt-weights-0');
    expect(after.system_fingerprint).toBe('rlpt-weights-1');
    // Other weights, other distribution: the first token's logprob changes.
    expect(after.choices[0]!.logprobs.token_logprobs[0]).not.toBe(
      before.choices[0]!.logprobs.token_logprobs[0],
    );
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
