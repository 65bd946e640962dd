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
      maxJudgeFailureRate: 0.2,
      mode: 'prefix',
    });
    let error: unknown;
    try {
      parseServeRewardFlags(
        {
          ...defaults(),
          port: '70000',
          judge: 'gpt4',
          maxConcurrentRequests: '0',
          maxJudgeFailureRate: '1.5',
        } as never,
        {},
      );
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      '--judge',
      '--max-concurrent-requests',
      '--max-judge-failure-rate',
      '--port',
    ]);
  });
});

describe('rlpt serve reward (the real binary)', () => {
  it('serves OpenRLHF requests and shuts down gracefully on SIGTERM', { timeout: 30_000 }, async () => {
    const server = startCli([
      'serve',
      'reward',
      '--port',
      '0',
      '--token',
      't0k3n',
      '--max-judge-failure-rate',
      '0.5',
    ]);
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
    // 24 of 25 samples with an empty label (no label column passed): above 50%, one warning.
    const unlabelled = await fetch(`${url}/get_reward`, {
      method: 'POST',
      headers: { authorization: 'Bearer t0k3n', 'content-type': 'application/json' },
      body: JSON.stringify({
        query: Array.from({ length: 24 }, () => body.query[0]),
        prompts: Array.from({ length: 24 }, () => body.prompts[0]),
        labels: Array.from({ length: 24 }, () => ''),
      }),
    });
    expect(unlabelled.status).toBe(200);
    const metrics = await (
      await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer t0k3n' } })
    ).text();
    expect(metrics).toContain('rlpt_reward_judge_failure_rate 0.96\n');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.stderr).toContain('rlpt serve reward: stopped after 1 samples (1 judged');
    expect(output.stderr.match(/judge failure rate 96\.0% \(24 of 25 samples/g)).toHaveLength(1);
  });
});
