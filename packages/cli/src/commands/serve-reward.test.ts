import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { createProgram } from '../main.js';
import { parseServeRewardFlags } from './serve-reward.js';

const cliRoot = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function defaults(): Record<string, unknown> {
  const serve = createProgram().commands.find((command) => command.name() === 'serve');
  return serve?.commands.find((command) => command.name() === 'reward')?.opts() ?? {};
}

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
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@rlpt/source',
        'src/bin.ts',
        'serve',
        'reward',
        '--port',
        '0',
        '--token',
        't0k3n',
      ],
      { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk) => {
        stdout += String(chunk);
        const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    expect(stdout).toContain('POST /get_reward (OpenRLHF)');
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
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('rlpt serve reward: stopped after 1 samples (1 judged');
  });
});
