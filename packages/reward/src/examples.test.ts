/**
 * The engine examples run against a real reward server: verl's `compute_score` (Python, stdlib only)
 * through `python3`, and the launch scripts through `bash -n`. Skipped where python3/bash are absent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRewardLabel } from './label.js';
import { createLexicalJudge } from './lexical.js';
import { type RewardServer, createRewardServer } from './server.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const has = (command: string) => spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
const python = has('python3');
const bash = has('bash');
if (!python) console.warn('examples.test.ts: python3 not found; the verl compute_score test is skipped');

const reference = 'The keeper lit the great lamp at dusk. Ships passed in the night. The fog came.';
const label = formatRewardLabel({
  reference,
  target: 'The keeper lit the great lamp at dusk.',
  task: 'asr',
  id: 'd:1',
});

/** Runs Python asynchronously: the reward server lives in this process and must keep serving. */
function runPython(script: string, env: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script], {
      env: { ...process.env, ...env, PYTHONPATH: `${examples}verl` },
      timeout: 20_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout));
      else reject(new Error(`python3 exited with ${code}: ${stderr}`));
    });
  });
}

describe('examples/verl/rlpt_reward.py', () => {
  let server: RewardServer;
  let url: string;
  beforeAll(async () => {
    server = createRewardServer({ judge: createLexicalJudge(), token: 'py-token' });
    ({ url } = await server.listen({ port: 0 }));
  });
  afterAll(async () => {
    await server.close();
  });

  it.skipIf(!python)('compute_score posts to /v1/reward and returns score + flags', async () => {
    const script = `
import json, rlpt_reward
label = ${JSON.stringify(label)}
good = rlpt_reward.compute_score("rlpt", "I think <|startofprediction|>The keeper lit the great lamp at dusk.<|endofprediction|>", label, {"id": "d:1"})
bad = rlpt_reward.compute_score("rlpt", "no prediction here", label)
batch = rlpt_reward.compute_score_batch(["rlpt"] * 2, ["<|startofprediction|>Ships sank in the harbour today.<|endofprediction|>", "<|startofprediction|>The keeper lit the great lamp<|endofprediction|>"], [label, label], [None, {"id": 7}])
print(json.dumps({"good": good, "bad": bad, "batch": batch}))
`;
    const result = await runPython(script, { RLPT_REWARD_URL: url, RLPT_REWARD_TOKEN: 'py-token' });
    expect(result).toEqual({
      good: { score: 1, judge_ok: 1, judge_skipped: 0, judge_failed: 0 },
      bad: { score: 0, judge_ok: 0, judge_skipped: 1, judge_failed: 0 },
      batch: [
        { score: 0, judge_ok: 1, judge_skipped: 0, judge_failed: 0 },
        // A fragment of the label's target scores 0, as in `rlpt train` (the server passes the target on).
        { score: 0, judge_ok: 1, judge_skipped: 0, judge_failed: 0 },
      ],
    });
  });

  it.skipIf(!python)(
    'raises a clear error on a wrong token instead of returning a made-up reward',
    async () => {
      await expect(
        runPython(`import rlpt_reward\nrlpt_reward.compute_score("rlpt", "x", ${JSON.stringify(label)})`, {
          RLPT_REWARD_URL: url,
          RLPT_REWARD_TOKEN: 'wrong',
        }),
      ).rejects.toThrow(/answered 401/);
    },
  );
});

describe('launch scripts', () => {
  it.skipIf(!bash).each(['verl/run_rlpt_grpo.sh', 'openrlhf/run_rlpt_grpo.sh'])(
    '%s is valid bash',
    (script) => {
      expect(existsSync(`${examples}${script}`)).toBe(true);
      const result = spawnSync('bash', ['-n', `${examples}${script}`], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
  );
});
