import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultFlags, killCliProcesses, startCli, waitForStdout } from '../testing.js';
import { parseServeRewardFlags } from './serve-reward.js';

afterEach(killCliProcesses);

const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));

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

describe('rlpt serve reward --judge rpt:qwen3 (the real binary)', () => {
  it('serves RPT rewards to OpenRLHF (/get_reward) and to verl (compute_score → /v1/reward)', {
    timeout: 60_000,
  }, async () => {
    const server = startCli(['serve', 'reward', '--port', '0', '--judge', 'rpt:qwen3']);
    const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)/);
    // A WikiText-2 sentence (valid.txt) as the continuation; Qwen3 tokens " Following", " B", "ly", "the", …,
    // " Tom", "á", "š", " <", "unk", ">".
    const reference = " Following Blythe 's arrest , Tomáš <unk> , a promoter of the concert , said";
    const label = JSON.stringify({ reference, target: ' Following', id: 'wikitext:2362' });
    const prompt = 'Predict what comes next: ';
    const tagged = (prediction: string) => `${prompt}<|startofprediction|>${prediction}<|endofprediction|>`;
    const openrlhf = await fetch(`${url}/get_reward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: [
          tagged('Following Blythe'),
          tagged('Following Bly'),
          tagged('Following Blyth'),
          `${prompt}no tags`,
        ],
        prompts: [prompt, prompt, prompt, prompt],
        labels: [label, label, label, label],
      }),
    });
    expect(openrlhf.status).toBe(200);
    const rewards = (await openrlhf.json()) as { rewards: number[]; extra_logs: Record<string, number[]> };
    // "Following Bly" ends on a Qwen3 token boundary; "Following Blyth" ends inside "the".
    expect(rewards.rewards).toEqual([1, 1, 0, 0]);
    expect(rewards.extra_logs.skipped).toEqual([0, 0, 0, 1]);
    const batch = await fetch(`${url}/v1/reward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [
          { id: 'accent', prediction: "Following Blythe 's arrest , Tomáš", reference },
          { id: 'accent-cut', prediction: "Following Blythe 's arrest , Tomáš <un", reference },
        ],
      }),
    });
    const verdicts = ((await batch.json()) as { verdicts: { id: string; score: number; reason?: string }[] })
      .verdicts;
    expect(verdicts.map((verdict) => [verdict.id, verdict.score, verdict.reason])).toEqual([
      ['accent', 1, undefined],
      ['accent-cut', 0, 'mid-token'],
    ]);
    // verl's reward function as shipped (examples/verl/rlpt_reward.py), where python3 exists.
    const python = spawnSync('python3', ['--version']).status === 0;
    if (python) {
      const script = [
        'import sys, json',
        `sys.path.insert(0, ${JSON.stringify(resolve(repoRoot, 'examples/verl'))})`,
        'import rlpt_reward',
        `print(json.dumps([rlpt_reward.compute_score("rlpt", ${JSON.stringify(tagged('Following Blythe'))}, ${JSON.stringify(label)}), rlpt_reward.compute_score("rlpt", ${JSON.stringify(tagged('Following Blyth'))}, ${JSON.stringify(label)})]))`,
      ].join('\n');
      const result = spawnSync('python3', ['-c', script], {
        env: { ...process.env, RLPT_REWARD_URL: url },
        encoding: 'utf8',
      });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual([
        { score: 1, judge_ok: 1, judge_skipped: 0, judge_failed: 0 },
        { score: 0, judge_ok: 1, judge_skipped: 0, judge_failed: 0 },
      ]);
    } else console.warn('python3 not found: the verl compute_score part is skipped');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
