import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { prepareDemo } from '@rlpt/data';
import { createModelServer, type ModelServer } from '@rlpt/serve';
import { ConfigError } from '@rlpt/spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, useTempDirs } from '../testing.js';
import { loadTrainConfig } from '@rlpt/recipes';

const { stdout, stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
let demo: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-train-');
  demo = join(dir, 'demo');
  await prepareDemo({ out: demo, trainDocuments: 150, heldOutDocuments: 40, seed: 3 });
});

/** A small run on the demo data: a tiny word-level model, a few steps of each stage. */
const yamlConfig = (runDir: string) => `
runDir: ${runDir}
seed: 1
threads: 1
checkpointEvery: 2
model:
  init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, maxPositionEmbeddings: 128, std: 0.05 }
judge:
  tolerance: 0
data:
  path: ${demo}
stages:
  - type: pretrain
    steps: 30
    batchSize: 16
    learningRate: 0.005
  - type: sft
    steps: 80
    batchSize: 16
    learningRate: 0.005
  - type: rlpt
    steps: 3
    promptsPerStep: 4
    rolloutsPerPrompt: 2
    maxTokens: 12
    learningRate: 0.0001
    samplesEvery: 1
    grpo: { preset: verl, objective: { clipHigh: 0.28 } }
eval:
  items: 6
  every: 2
  n: 2
  greedy: true
`;

async function metricsOf(runDir: string): Promise<Record<string, unknown>[]> {
  return (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('rlpt train', () => {
  it('trains a tiny model end to end from a YAML config, with flags over its keys, and prints a summary', async () => {
    const runDir = join(dir, 'run-yaml');
    const config = join(dir, 'run.yaml');
    await writeFile(config, yamlConfig(join(dir, 'overridden')));
    const code = await main([
      'train',
      '--config',
      config,
      '--run-dir',
      runDir,
      '--seed',
      '4',
      '--set',
      'stages.1.steps=85',
    ]);
    expect(stderr.join('')).not.toMatch(/error/);
    expect(code).toBe(0);
    // The resolved config (flags applied, defaults filled in, paths absolute) is in the run directory.
    const written = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8'));
    expect(written).toMatchObject({
      runDir,
      seed: 4,
      threads: 1,
      model: { init: { hiddenSize: 32, tokenizer: 'words', architecture: 'qwen3' }, maxGradNorm: 1 },
      policy: { backend: 'onnx', offPolicy: false },
      judge: { type: 'lexical', mode: 'prefix', tolerance: 0, minWords: 3 },
      data: { path: demo, split: 'train' },
      eval: { items: 6, every: 2, n: 2, final: true, atStart: false, temperature: 1 },
    });
    expect(written.stages.map((stage: { name: string; steps: number }) => [stage.name, stage.steps])).toEqual(
      [
        ['pretrain', 30],
        ['sft', 85],
        ['rlpt', 3],
      ],
    );
    expect(written.stages[2]).toMatchObject({
      temperature: 1,
      schedule: 'constant',
      grpo: { preset: 'verl', objective: { clipHigh: 0.28 } },
    });
    // One metrics line per step, evaluations during RL and at the end.
    const rows = await metricsOf(runDir);
    expect(rows.map((row) => `${row.stage}`)).toEqual([
      ...Array(30).fill('pretrain'),
      ...Array(85).fill('sft'),
      'rlpt',
      'rlpt',
      'eval:rlpt@2',
      'rlpt',
      'eval:final',
    ]);
    expect(rows.find((row) => row.stage === 'eval:final')).toHaveProperty('pass@2');
    expect(rows.find((row) => row.stage === 'eval:final')).toHaveProperty('greedy');
    // The tiny model, samples and the final checkpoint are in the run directory.
    await readFile(join(runDir, 'init-model', 'config.json'));
    await readFile(join(runDir, 'samples', 'rlpt-step-3.jsonl'));
    expect(JSON.parse(await readFile(join(runDir, 'checkpoints', 'latest.json'), 'utf8')).latest).toBe(
      'rlpt-step-3',
    );
    // The summary: a stage table and an evaluation table.
    const out = stdout.join('');
    expect(out).toMatch(/\| pretrain \| pretrain \| 30 +\|/);
    expect(out).toMatch(/\| rlpt +\| rlpt +\| 3 +\|.*reward/);
    expect(out).toMatch(/\| rlpt@2 +\|/);
    expect(out).toMatch(/\| final +\|/);
    expect(out).toContain(`rlpt report ${runDir}`);
    expect(stderr.join('')).toContain('data: ');
  });

  it('resumes a run from its config.json with --resume: finished stages are not trained again', async () => {
    const runDir = join(dir, 'run-yaml');
    const before = await metricsOf(runDir);
    const code = await main(['train', '--run-dir', runDir, '--resume']);
    expect(code).toBe(0);
    expect(await metricsOf(runDir)).toEqual(before);
    expect(stdout.join('')).toMatch(/\| rlpt +\| rlpt +\| 3 +\|/);
    // Without --resume the folder is protected.
    await writeFile(join(dir, 'again.yaml'), yamlConfig(runDir));
    expect(await main(['train', '--config', join(dir, 'again.yaml')])).toBe(1);
    expect(stderr.join('')).toMatch(/already holds a run.*--resume/);
  });

  it('rlpt report reads the trained run: stage tables, evaluations and plots', async () => {
    const runDir = join(dir, 'run-yaml');
    expect(await main(['report', runDir])).toBe(0);
    const report = await readFile(join(runDir, 'report.md'), 'utf8');
    expect(report).toMatch(/\| pretrain \| 30 +\|/);
    expect(report).toMatch(/\| sft +\| 85 +\|/);
    expect(report).toMatch(/\| rlpt +\| 3 +\|.*reward/);
    expect(report).toMatch(/\| rlpt@2 +\|/);
    expect(report).toMatch(/\| final +\|/);
    for (const plot of [
      'loss',
      'reward',
      'response-length',
      'clip-fraction',
      'extraction-failures',
      'heldout',
    ]) {
      expect(report).toContain(`(${plot}.svg)`);
      await readFile(join(runDir, `${plot}.svg`));
    }
  });

  it('the shipped example configs are valid (the real-model template only lacks its files)', async () => {
    const examples = fileURLToPath(new URL('../../../../examples/train/', import.meta.url));
    const demoConfig = await loadTrainConfig({
      config: join(examples, 'run.yaml'),
      data: demo,
      runDir: join(dir, 'example'),
    });
    expect(demoConfig.stages.map((stage) => stage.type)).toEqual(['pretrain', 'sft', 'rlpt']);
    const error = await loadTrainConfig({ config: join(examples, 'real-model.yaml') }).catch(
      (caught: unknown) => caught,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    // Every problem is a file the template names but this checkout does not have.
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      'data.path',
      'model.dir',
      'stages.0.data',
      'stages.2.data',
    ]);
  });

  it('lists every problem of a bad config with its path, naming the flags that set values (exit 2)', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(
      config,
      `
seed: -1
colour: blue
model: { dir: ${join(dir, 'no-such-model')}, init: {} }
policy: { backend: 'openai:http://127.0.0.1:9/v1' }
judge: { type: generative, tolerance: 2 }
data: { path: ${demo} }
stages:
  - { type: pretrain, steps: 0 }
  - { type: rlpt, steps: 5, rolloutsPerPrompt: 4, grpo: { objective: { clipLow: 3 } } }
  - { type: rlpt, name: rlpt, steps: 5 }
  - { type: rlvr, steps: 2 }
  - { type: distill, steps: 3 }
`,
    );
    const code = await main([
      'train',
      '--config',
      config,
      '--threads',
      'two',
      '--set',
      'stages.1.temperature=-1',
    ]);
    expect(code).toBe(2);
    const message = stderr.join('');
    for (const expected of [
      'runDir: is required',
      'seed: must be at least 0',
      '(root): Unrecognized key: "colour"',
      'threads (--threads): ',
      'judge.tolerance: must be in [0, 1]',
      'model: give either dir',
      'model.dir: ',
      'policy.model: is required with an openai policy',
      'stages.0.steps: must be at least 1',
      'stages.1.temperature (--set stages.1.temperature): must be at least 0',
      'stages.2.name: "rlpt" is also the name of stage 1',
      'stages.3.data: is required for rlvr',
      "stages.4.type: must have a type: 'pretrain', 'sft', 'rlpt', 'rlvr' or 'rlp'",
    ]) {
      expect(message).toContain(expected);
    }
    // One error, every issue: the GRPO override of a valid stage is checked by @rlpt/grpo.
    const error = await loadTrainConfig({
      config,
      set: ['stages.1.temperature=1', 'seed=0', 'runDir=x', 'threads=1'],
    }).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path)).toContain(
      'stages.1.grpo.objective.clipLow',
    );
    // No config at all.
    expect(await main(['train'])).toBe(2);
    expect(stderr.join('')).toContain('--config: is required');
  });

  it('reads JSON configs and samples JSONL files (bad lines counted and skipped); rollouts from an openai server, a generative judge on a local model', async () => {
    // The policy is served over HTTP by rlpt serve model's server: the first run's final weights (its
    // exported policy folder), which the learner starts from too (its last checkpoint).
    const served = createOnnxBackend({ modelDir: join(dir, 'run-yaml', 'policy'), threads: 1 });
    const modelDir = join(dir, 'run-yaml', 'checkpoints', 'rlpt-step-3', 'learner');
    const server: ModelServer = createModelServer({ backend: served, modelName: 'tiny' });
    const { url } = await server.listen({ port: 0 });
    try {
      const samples = (await readFile(join(demo, 'samples', 'train-00000.jsonl'), 'utf8'))
        .split('\n')
        .slice(0, 20);
      const file = join(dir, 'samples.jsonl');
      await writeFile(
        file,
        [...samples.slice(0, 10), '{not json', '{"prompt": "no target"}', ...samples.slice(10)].join('\n'),
      );
      const runDir = join(dir, 'run-json');
      const config = join(dir, 'run.json');
      await writeFile(
        config,
        JSON.stringify({
          runDir,
          threads: 1,
          model: { dir: modelDir },
          policy: { backend: `openai:${url}/v1`, model: 'tiny', offPolicy: true },
          // A generative judge on a tiny model (the first run's exported policy): its answers are rarely a
          // verdict, so most rollouts are judge failures — excluded, never scored. Far above the default
          // stop of 20%, so this run opts out of it. (The judge used to point at a learner checkpoint with
          // no ONNX decoder: every call failed, unnoticed, until the failure-rate stop named it.)
          judge: {
            type: 'generative',
            backend: `onnx:${join(dir, 'run-yaml', 'policy')}`,
            preset: 'tiny',
            minWords: 1,
            retries: 0,
            maxFailureRate: 1,
          },
          data: { path: file },
          stages: [
            {
              type: 'rlpt',
              steps: 2,
              promptsPerStep: 4,
              rolloutsPerPrompt: 2,
              maxTokens: 12,
              learningRate: 1e-4,
            },
          ],
        }),
      );
      const code = await main(['train', '--config', config]);
      expect(stderr.join('')).not.toContain('rlpt: error');
      expect(code).toBe(0);
      expect(stderr.join('')).toContain('not valid JSON');
      expect(stderr.join('')).toContain('needs string "prompt" and "target"');
      expect(stderr.join('')).toMatch(/20 training samples .*2 lines skipped/);
      expect(stderr.join('')).toContain('off-policy');
      const rows = (await metricsOf(runDir)).filter((row) => row.stage === 'rlpt');
      expect(rows).toHaveLength(2);
      // The rollouts came from the server.
      expect(server.stats().requests).toBeGreaterThanOrEqual(2);
      // Rollouts with a prediction went to the generative judge; its failures are counted, not scored.
      const verdicts = (await readFile(join(runDir, 'samples', 'rlpt-step-1.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).verdict as { status: string } | null);
      const judged = verdicts.filter((verdict) => verdict !== null);
      expect(judged.length).toBeGreaterThan(0);
      expect(judged.length).toBe(Math.round(Number(rows[0]!['extract.ok']) * verdicts.length));
      expect(Number(rows[0]!['judge.failed'])).toBe(
        judged.filter((verdict) => verdict!.status === 'failed').length,
      );
    } finally {
      await server.close({ timeoutMs: 1000 });
      await served.close();
    }
  });

  it('an openai: policy behind rlpt serve model gets the learner weights pushed after every update (on-policy)', {
    timeout: 120_000,
  }, async () => {
    const { startCli, waitForStdout, killCliProcesses } = await import('../testing.js');
    const served = startCli(['serve', 'model', '--model', join(dir, 'run-yaml', 'policy'), '--port', '0']);
    try {
      const url = await waitForStdout(served, /(http:\/\/127\.0\.0\.1:\d+)/);
      const runDir = join(dir, 'run-served');
      const config = join(dir, 'served.json');
      await writeFile(
        config,
        JSON.stringify({
          runDir,
          threads: 1,
          model: { dir: join(dir, 'run-yaml', 'checkpoints', 'rlpt-step-3', 'learner') },
          policy: { backend: `openai:${url}/v1`, model: 'policy' },
          data: { path: demo },
          stages: [{ type: 'rlpt', steps: 2, promptsPerStep: 4, rolloutsPerPrompt: 2, maxTokens: 12 }],
        }),
      );
      const code = await main(['train', '--config', config]);
      expect(stderr.join('')).not.toContain('rlpt: error');
      expect(code).toBe(0);
      expect(stderr.join('')).toContain("the learner's weights are pushed to it after every update");
      // The server took a push before the first rollouts and after the first update: its replies say
      // which weights they came from (system_fingerprint rlpt-weights-<n>, n = pushes so far).
      const reply = (await (
        await fetch(`${url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'policy', prompt: 'The', max_tokens: 1 }),
        })
      ).json()) as { system_fingerprint?: string };
      expect(reply.system_fingerprint).toMatch(/^rlpt-weights-\d+$/);
      expect(Number(reply.system_fingerprint?.slice('rlpt-weights-'.length))).toBeGreaterThanOrEqual(2);
    } finally {
      killCliProcesses();
    }
  });
});
