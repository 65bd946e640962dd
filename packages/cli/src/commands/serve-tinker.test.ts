import { join } from 'node:path';
import { createTinyModel } from '@rlpt/model';
import { ConfigError } from '@rlpt/spec';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultFlags, killCliProcesses, startCli, useTempDirs, waitForStdout } from '../testing.js';
import { parseServeTinkerFlags } from './serve-tinker.js';

const makeTempDir = useTempDirs();
let dir: string;
let modelDir: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-serve-tinker-');
  modelDir = (await createTinyModel({ dir: join(dir, 'tiny-model'), tokenizer: 'char' })).dir;
});
afterEach(killCliProcesses);

const defaults = () => defaultFlags('serve', 'tinker');
const startServeTinker = (args: string[]) => startCli(['serve', 'tinker', ...args]);

describe('rlpt serve tinker flags', () => {
  it('has working defaults, takes the key from RLPT_TINKER_API_KEY, and lists every bad flag', () => {
    const settings = parseServeTinkerFlags({ ...defaults(), model: 'models/tiny' } as never, {
      RLPT_TINKER_API_KEY: 'k',
    });
    expect(settings).toMatchObject({
      model: 'models/tiny',
      host: '127.0.0.1',
      port: 8000,
      apiKey: 'k',
      threads: 1,
      pollTimeoutMs: 25_000,
      seqGapTimeoutMs: 10_000,
      maxSamplers: 4,
    });
    let error: unknown;
    try {
      parseServeTinkerFlags(
        { ...defaults(), port: '70000', threads: '0', pollTimeoutMs: '60000' } as never,
        {},
      );
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      '--model',
      '--poll-timeout-ms',
      '--port',
      '--threads',
    ]);
  });
});

describe('rlpt serve tinker (the real binary)', () => {
  it('exits 2 with a clear message for a missing model folder', { timeout: 30_000 }, async () => {
    const { output, exited } = startServeTinker(['--model', join(dir, 'no-such-model'), '--port', '0']);
    expect(await exited).toBe(2);
    expect(output.stderr).toContain('--model');
    expect(output.stderr).toContain('no-such-model is not a folder');
  });

  it('serves the Tinker API (session, model future) and stops on SIGTERM', { timeout: 60_000 }, async () => {
    const server = startServeTinker(['--model', modelDir, '--port', '0', '--api-key', 'cli-key']);
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+) \(Tinker API/);
    expect(server.output.stdout).toContain('rlpt serve tinker: tiny-model at');
    const post = async (path: string, body: unknown) =>
      (await (
        await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'cli-key' },
          body: JSON.stringify(body),
        })
      ).json()) as Record<string, unknown>;
    const { session_id } = await post('/api/v1/create_session', {
      tags: [],
      user_metadata: {},
      sdk_version: '0.25.0',
    });
    const created = await post('/api/v1/create_model', {
      session_id,
      model_seq_id: 0,
      base_model: 'tiny-model',
      lora_config: { rank: 8 },
    });
    let reply: Record<string, unknown> = { type: 'try_again' };
    while (reply.type === 'try_again')
      reply = await post('/api/v1/retrieve_future', { request_id: created.request_id });
    expect(typeof reply.model_id).toBe('string');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output.stderr).toContain('rlpt serve tinker: stopped');
  });
});
