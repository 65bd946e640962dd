import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineBudget, buildTinyModel, runPipeline, tinyTokenizer } from './__fixtures__/tiny-run.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./__fixtures__/pipeline-child.ts', import.meta.url));

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-trainer-resume-'));
  modelDir = (await buildTinyModel(join(root, 'model'))).dir;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  steps: { stage: string; step: number }[];
  stderr: string;
}

/** Runs the tiny pipeline in a child process; with `killAfter`, SIGKILLs it once that step has finished. */
function runChild(
  runDir: string,
  options: { resume?: boolean; killAfter?: { stage: string; step: number } } = {},
): Promise<ChildOutcome> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@rlpt/source',
      '--import',
      'tsx',
      childScript,
      modelDir,
      runDir,
      ...(options.resume ? ['--resume'] : []),
    ],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const steps: { stage: string; step: number }[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const message = JSON.parse(line) as { stage?: string; step?: number };
      if (message.stage === undefined) continue;
      steps.push({ stage: message.stage, step: message.step ?? 0 });
      const kill = options.killAfter;
      if (kill && message.stage === kill.stage && message.step === kill.step) child.kill('SIGKILL');
    }
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, steps, stderr }));
  });
}

/** metrics.jsonl without the wall-clock fields (`seconds`, `seconds.rollout`, …). */
async function deterministicMetrics(runDir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(runDir, 'metrics.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => withoutSeconds(JSON.parse(line) as Record<string, unknown>));
}

function withoutSeconds<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutSeconds) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'seconds' && !key.startsWith('seconds.'))
      .map(([key, entry]) => [key, withoutSeconds(entry)]),
  ) as T;
}

const finalCheckpoint = `rlpt-step-${pipelineBudget.rlSteps}`;

async function finalState(runDir: string) {
  const dir = join(runDir, 'checkpoints', finalCheckpoint);
  return {
    weights: await readFile(join(dir, 'learner', 'model.safetensors')),
    optimizer: await readFile(join(dir, 'learner', 'optimizer.safetensors')),
    state: withoutSeconds(JSON.parse(await readFile(join(dir, 'trainer-state.json'), 'utf8'))),
    samples: await Promise.all(
      (await readdir(join(runDir, 'samples')))
        .sort()
        .map((name) => readFile(join(runDir, 'samples', name), 'utf8')),
    ),
  };
}

async function expectSameRun(actualDir: string, expectedDir: string): Promise<void> {
  const [actual, expected] = await Promise.all([
    deterministicMetrics(actualDir),
    deterministicMetrics(expectedDir),
  ]);
  expect(actual).toEqual(expected);
  const [actualState, expectedState] = await Promise.all([finalState(actualDir), finalState(expectedDir)]);
  // Bit-identical weights and AdamW moments, the same trainer state and the same rollouts.
  expect(actualState.weights.equals(expectedState.weights)).toBe(true);
  expect(actualState.optimizer.equals(expectedState.optimizer)).toBe(true);
  expect(actualState.state).toEqual(expectedState.state);
  expect(actualState.samples).toEqual(expectedState.samples);
}

describe('resume', () => {
  let reference: string;

  beforeAll(async () => {
    reference = join(root, 'uninterrupted');
    const outcome = await runChild(reference);
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
  });

  it('the reference run learned something: RL updated the policy and reward varied', async () => {
    const rows = await deterministicMetrics(reference);
    const rl = rows.filter((row) => row.stage === 'rlpt');
    expect(rl).toHaveLength(pipelineBudget.rlSteps);
    // Without updates the weight comparison below would prove nothing about resuming the optimiser.
    expect(rl.filter((row) => row.updated === 1).length).toBeGreaterThanOrEqual(3);
    expect(rows.map((row) => row.stage)).toEqual([
      ...Array(pipelineBudget.pretrainSteps).fill('pretrain'),
      ...Array(pipelineBudget.sftSteps).fill('sft'),
      'rlpt',
      'rlpt',
      'rlpt',
      'eval:heldout@3',
      'rlpt',
      'rlpt',
      'rlpt',
      'eval:heldout@6',
      'rlpt',
      'rlpt',
      'rlpt',
      'eval:heldout@9',
      'eval:final',
    ]);
  });

  it('a run SIGKILLed mid-RL, then resumed, ends identical to an uninterrupted run', async () => {
    const runDir = join(root, 'killed');
    // Checkpoints every 2 steps: killed after RL step 3 has finished, i.e. one step past the step-2 checkpoint.
    const killed = await runChild(runDir, { killAfter: { stage: 'rlpt', step: 3 } });
    expect(killed.signal).toBe('SIGKILL');
    const partial = (await deterministicMetrics(runDir)).filter((row) => row.stage === 'rlpt');
    expect(partial.length).toBeGreaterThanOrEqual(3);
    expect(partial.length).toBeLessThan(pipelineBudget.rlSteps);
    expect(await readdir(join(runDir, 'checkpoints'))).toContain('rlpt-step-2');

    const resumed = await runChild(runDir, { resume: true });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    // It continued from the checkpoint instead of starting over.
    expect(resumed.steps.filter((step) => step.stage === 'pretrain' || step.stage === 'sft')).toEqual([]);
    expect(resumed.steps[0]!.stage).toBe('rlpt');
    expect(resumed.steps[0]!.step).toBeGreaterThan(1);
    await expectSameRun(runDir, reference);
  });

  // A crash is thrown from the checkpoint event, i.e. right after the checkpoint is on disk.
  it.each([
    ['after RL step 6’s checkpoint, before that step’s evaluation', 'rlpt-step-6'],
    ['after the last step’s evaluation, before the stage is marked finished', 'rlpt-step-9'],
  ])('a crash %s resumes identically', async (_, checkpoint) => {
    const runDir = join(root, `crash-${checkpoint}`);
    const tokenizer = await tinyTokenizer(modelDir);
    const crash = new Error('simulated crash');
    const failed = await runPipeline({
      runDir,
      modelDir,
      tokenizer,
      onEvent: (event) => {
        if (event.type === 'checkpoint' && event.path.endsWith(checkpoint)) throw crash;
      },
    }).catch((error: unknown) => error);
    expect(failed).toBe(crash);
    const { learner } = await runPipeline({ runDir, modelDir, tokenizer, resume: true });
    await learner.close();
    await expectSameRun(runDir, reference);
  });
});
