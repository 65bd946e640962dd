import { ConfigError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultFlags, killCliProcesses, startCli, waitForStdout } from '../testing.js';
import { parseServeRewardFlags } from './serve-reward.js';

afterEach(killCliProcesses);

const defaults = () => defaultFlags('serve', 'reward');

describe('rlpt serve reward flags', () => {
  it('takes the token from RLPT_REWARD_TOKEN and validates every flag', () => {
    const settings = parseServeRewardFlags(defaults() as never, { RLPT_REWARD_TOKEN: 'abc' });
    expect(settings).toMatchObject({
      host: '127.0.0.1',
      port: 5000,
      token: 'abc',
      judge: 'lexical',
      mode: 'prefix',
    });
    let error: unknown;
    try {
      parseServeRewardFlags(
        { ...defaults(), port: '70000', judge: 'gpt4', maxConcurrentRequests: '0' } as never,
        {},
      );
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      '--judge',
      '--max-concurrent-requests',
      '--port',
    ]);
  });
});

describe('rlpt serve reward (the real binary)', () => {
  it('serves OpenRLHF requests and shuts down gracefully on SIGTERM', { timeout: 30_000 }, async () => {
    const server = startCli(['serve', 'reward', '--port', '0', '--token', 't0k3n']);
    const { child, output, exited } = server;
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)/);
    expect(output.stdout).toContain('POST /get_reward (OpenRLHF)');
    const body = {
      query: ['Continue: <|startofprediction|>The keeper lit the great lamp at dusk.<|endofprediction|>'],
      prompts: ['Continue: '],
      labels: [JSON.stringify({ reference: 'The keeper lit the great lamp at dusk. Ships passed.' })],
    };
    const unauthorized = await fetch(`${url}/get_reward`, { method: 'POST', body: JSON.stringify(body) });
    expect(unauthorized.status).toBe(401);
    const response = await fetch(`${url}/get_reward`, {
      method: 'POST',
      headers: { authorization: 'Bearer t0k3n', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(await response.json()).toMatchObject({ rewards: [1], scores: [1] });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.stderr).toContain('rlpt serve reward: stopped after 1 samples (1 judged');
  });
});
