import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OnnxLearner } from '@rlpt/learner-onnx';
import type { WeightMap } from '@rlpt/model';
import { AbortError, InvalidArgumentError, type JudgeItem, type JudgeV1, type RlptEvent } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTinyModel,
  documents,
  lexicalJudge,
  loadPolicy,
  rlItems,
  sftExamples,
  targets,
  tinyLearner,
} from './__fixtures__/tiny-run.js';
import { Trainer } from './trainer.js';
import type { RlOptions, TokenizerLike } from './types.js';

let root: string;
let modelDir: string;
let tokenizer: TokenizerLike;
/** The learner's weights after pretraining and SFT (a `save` folder), the starting point of the RL tests. */
let coldDir: string;
let nllBefore: number;
let nllAfter: number;
let baseRunDir: string;
const learners: OnnxLearner[] = [];

const pretrainDocs = documents().map((sentences) => sentences.join(' '));

/** Mean negative log-likelihood per token of the pretraining documents under the learner's weights. */
async function documentNll(learner: OnnxLearner): Promise<number> {
  const sequences = pretrainDocs.map((text) => {
    const ids = [tokenizer.bosTokenId!, ...tokenizer.encode(text), tokenizer.eosTokenId!];
    return { promptTokenIds: ids.slice(0, 1), completionTokenIds: ids.slice(1) };
  });
  const logprobs = await learner.logprobs({ sequences });
  let sum = 0;
  let count = 0;
  for (const values of logprobs) {
    for (const value of values) {
      sum -= value;
      count++;
    }
  }
  return sum / count;
}

async function newLearner(dir = coldDir): Promise<OnnxLearner> {
  const learner = await tinyLearner(dir);
  learners.push(learner);
  return learner;
}

async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function sameWeights(a: WeightMap, b: WeightMap): boolean {
  for (const [name, tensor] of a) {
    const other = b.get(name)?.data as Float32Array | undefined;
    const data = tensor.data as Float32Array;
    if (!other || other.length !== data.length) return false;
    for (let index = 0; index < data.length; index++) if (data[index] !== other[index]) return false;
  }
  return a.size === b.size;
}

const rlDefaults = (judge: JudgeV1): RlOptions => ({
  steps: 3,
  promptsPerStep: 4,
  rolloutsPerPrompt: 4,
  maxTokens: 8,
  temperature: 1,
  learningRate: 3e-3,
  judge,
  samplesEvery: 1,
});

/** Runs an RL stage from the cold-start weights in a fresh run directory. */
async function rlRun(name: string, options: Partial<RlOptions> & { judge: JudgeV1 }) {
  const learner = await newLearner();
  const before = await learner.weights();
  const stepBefore = learner.step;
  const events: RlptEvent[] = [];
  const runDir = join(root, name);
  const trainer = await Trainer.create({
    runDir,
    learner,
    loadPolicy,
    tokenizer,
    seed: 3,
    checkpointEvery: 2,
    config: { test: name },
    onEvent: (event) => events.push(event),
  });
  const summary = await trainer.rl(rlItems(), { ...rlDefaults(options.judge), ...options });
  await trainer.close();
  const metrics = (await readJsonLines(join(runDir, 'metrics.jsonl'))).filter((row) => row.stage === 'rlpt');
  const samples: Record<string, unknown>[][] = [];
  for (let step = 1; step <= metrics.length; step++) {
    samples.push(await readJsonLines(join(runDir, 'samples', `rlpt-step-${step}.jsonl`)));
  }
  return {
    learner,
    before,
    after: await learner.weights(),
    stepBefore,
    events,
    runDir,
    summary,
    metrics,
    samples,
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-trainer-'));
  const built = await buildTinyModel(join(root, 'model'));
  modelDir = built.dir;
  tokenizer = built.tokenizer;
  const learner = await newLearner(modelDir);
  nllBefore = await documentNll(learner);
  baseRunDir = join(root, 'base');
  const trainer = await Trainer.create({ runDir: baseRunDir, learner, loadPolicy, tokenizer, seed: 1 });
  await trainer.pretrain(pretrainDocs, {
    steps: 30,
    batchSize: 4,
    learningRate: 1e-2,
    schedule: 'cosine',
    warmupSteps: 3,
  });
  nllAfter = await documentNll(learner);
  await trainer.sft(sftExamples(), { steps: 40, batchSize: 8, learningRate: 1e-2 });
  await trainer.close();
  coldDir = join(root, 'cold');
  await learner.save(coldDir);
});

afterAll(async () => {
  await Promise.all(learners.map((learner) => learner.close()));
  await rm(root, { recursive: true, force: true });
});

describe('Trainer on a real tiny model', () => {
  it('pretraining lowers the loss on its documents', async () => {
    // Measured independently of the trainer's metrics: the learner's own log-likelihood of every document.
    expect(nllAfter).toBeLessThan(nllBefore * 0.6);
    const rows = (await readJsonLines(join(baseRunDir, 'metrics.jsonl'))).filter(
      (row) => row.stage === 'pretrain',
    );
    expect(rows.map((row) => row.step)).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    const mean = (list: Record<string, unknown>[]) =>
      list.reduce((sum, row) => sum + Number(row.loss), 0) / list.length;
    expect(mean(rows.slice(-5))).toBeLessThan(mean(rows.slice(0, 5)) * 0.6);
    // The cosine schedule with warm-up: rising for 3 steps, then falling to 10 %.
    expect(Number(rows[0]!.learningRate)).toBeCloseTo(1e-2 / 3, 8);
    expect(Number(rows[2]!.learningRate)).toBeCloseTo(1e-2, 8);
    expect(Number(rows[29]!.learningRate)).toBeCloseTo(1e-3, 8);
    // tokensSeen accumulates the tokens trained on.
    let seen = 0;
    for (const row of rows) {
      seen += Number(row.tokens);
      expect(row.tokensSeen).toBe(seen);
    }
  });

  it('SFT teaches the prediction format: the cold start extracts a prediction from most samples', async () => {
    const rows = (await readJsonLines(join(baseRunDir, 'metrics.jsonl'))).filter(
      (row) => row.stage === 'sft',
    );
    expect(rows).toHaveLength(40);
    expect(Number(rows.at(-1)!.loss)).toBeLessThan(Number(rows[0]!.loss) * 0.2);
    const learner = await newLearner();
    const trainer = await Trainer.create({ runDir: join(root, 'eval-cold'), learner, loadPolicy, tokenizer });
    const result = await trainer.evaluate(rlItems(), {
      judge: lexicalJudge(),
      n: 4,
      temperature: 1,
      maxTokens: 8,
      greedy: true,
      name: 'cold',
    });
    await trainer.close();
    expect(result.items).toBe(rlItems().length);
    expect(result.extractionFailureRate).toBeLessThan(0.5);
    expect(result.pass1).toBeGreaterThan(0.2);
    expect(Object.keys(result.passAtK)).toEqual(['1', '2', '4']);
    expect(result.passAtK['1']).toBeCloseTo(result.pass1, 12);
    expect(result.passAtK['4']).toBeGreaterThanOrEqual(result.passAtK['2']!);
    expect(result.greedy).toBeGreaterThanOrEqual(0);
    const [row] = await readJsonLines(join(root, 'eval-cold', 'metrics.jsonl'));
    expect(row).toMatchObject({
      stage: 'eval:cold',
      step: 0,
      pass1: result.pass1,
      'pass@4': result.passAtK['4'],
    });
  });

  it('RLPT writes a metrics line per step with the documented fields, samples, checkpoints and events', async () => {
    const run = await rlRun('rl-basic', { judge: lexicalJudge() });
    expect(run.metrics.map((row) => row.step)).toEqual([1, 2, 3]);
    for (const row of run.metrics) {
      for (const field of [
        'reward.mean',
        'extract.ok',
        'extract.missing',
        'extract.empty',
        'extract.unterminated',
        'judge.failed',
        'judge.skipped',
        'response.length',
        'grpo.clipFraction',
        'grpo.approxKl',
        'grpo.policyLoss',
        'advantage.zeroVarianceGroupShare',
        'advantage.std',
        'learningRate',
        'updated',
        'completionTokens',
        'tokensSeen',
        'seconds.rollout',
        'seconds.judge',
        'seconds.learn',
        'seconds.sync',
      ]) {
        expect(typeof row[field], `${field} of step ${row.step}`).toBe('number');
      }
      const statuses = ['ok', 'missing', 'empty', 'unterminated'].map((status) =>
        Number(row[`extract.${status}`]),
      );
      expect(statuses.reduce((sum, share) => sum + share, 0)).toBeCloseTo(1, 12);
      // On-policy: the ratio is 1, so nothing is clipped and the approximate KL is 0.
      expect(row['grpo.clipFraction']).toBe(0);
      expect(row['grpo.approxKl']).toBe(0);
    }
    // Per-task rewards appear for the tasks present in the batch.
    expect(run.metrics.some((row) => 'reward.asr' in row)).toBe(true);
    // Samples: prompts × rollouts rows with what the policy wrote, what was extracted and how it was judged.
    for (const [index, rows] of run.samples.entries()) {
      expect(rows).toHaveLength(16);
      const mean = rows.reduce((sum, row) => sum + Number(row.reward), 0) / rows.length;
      expect(mean).toBeCloseTo(Number(run.metrics[index]!['reward.mean']), 12);
      for (const row of rows) {
        expect(row).toHaveProperty('prompt');
        expect(typeof row.output).toBe('string');
        expect(row).toHaveProperty('extraction.status');
        expect(typeof row.advantage).toBe('number');
      }
    }
    // Checkpoints: step 2 (every 2) and the end of the stage; latest.json names the newest.
    const checkpoints = await readdir(join(run.runDir, 'checkpoints'));
    expect(checkpoints).toEqual(expect.arrayContaining(['rlpt-step-2', 'rlpt-step-3', 'latest.json']));
    expect(JSON.parse(await readFile(join(run.runDir, 'checkpoints', 'latest.json'), 'utf8')).latest).toBe(
      'rlpt-step-3',
    );
    await access(join(run.runDir, 'checkpoints', 'rlpt-step-3', 'learner', 'model.safetensors'));
    expect(JSON.parse(await readFile(join(run.runDir, 'config.json'), 'utf8'))).toEqual({ test: 'rl-basic' });
    // Events: step-end and rollout-end per step, checkpoint events, progress with the step total.
    expect(run.events.filter((event) => event.type === 'step-end')).toHaveLength(3);
    expect(run.events.filter((event) => event.type === 'rollout-end')).toHaveLength(3);
    expect(run.events.filter((event) => event.type === 'checkpoint').map((event) => event.step)).toEqual([
      2, 3,
    ]);
    expect(run.events).toContainEqual({ type: 'progress', phase: 'rlpt', done: 3, total: 3, unit: 'steps' });
    expect(run.summary).toMatchObject({ stage: 'rlpt', steps: 3 });
    // The weights moved exactly when a step updated.
    const updates = run.metrics.filter((row) => row.updated === 1).length;
    expect(run.learner.step - run.stepBefore).toBe(updates);
    expect(sameWeights(run.before, run.after)).toBe(updates === 0);
  });

  it('groups whose rewards are all equal get zero advantages; a batch of only such groups skips the update', async () => {
    const always: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'always-1',
      judge: async (items) => items.map(() => ({ score: 1, status: 'ok' as const })),
    };
    // extract 'full' judges every rollout, so every group is all-ones.
    const run = await rlRun('rl-zero-variance', { judge: always, extract: 'full' });
    for (const row of run.metrics) {
      expect(row).toMatchObject({ updated: 0, 'advantage.zeroVarianceGroupShare': 1, 'reward.mean': 1 });
    }
    for (const rows of run.samples) for (const row of rows) expect(row.advantage).toBe(0);
    expect(run.learner.step).toBe(run.stepBefore);
    expect(sameWeights(run.before, run.after)).toBe(true);

    // With the lexical judge some groups vary and some do not: the share says which, and only varying
    // groups carry advantages.
    const mixed = await rlRun('rl-mixed-variance', { judge: lexicalJudge(), steps: 2 });
    for (const [index, rows] of mixed.samples.entries()) {
      let zeroVariance = 0;
      for (let start = 0; start < rows.length; start += 4) {
        const group = rows.slice(start, start + 4);
        if (new Set(group.map((row) => row.reward)).size === 1) {
          zeroVariance++;
          for (const row of group) expect(row.advantage).toBe(0);
        }
      }
      expect(mixed.metrics[index]!['advantage.zeroVarianceGroupShare']).toBe(zeroVariance / 4);
    }
  });

  it('a judge that fails items: failed rollouts are excluded from rewards, advantages and the update', async () => {
    const lexical = lexicalJudge();
    let failedCalls = 0;
    // Fails every second item of each call: a real judge wrapper whose backend drops some requests.
    const flaky: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'flaky-lexical',
      async judge(items: JudgeItem[]) {
        const verdicts = await lexical.judge(items);
        return verdicts.map((verdict, index) => {
          if (index % 2 === 0) return verdict;
          failedCalls++;
          return { score: 0, status: 'failed' as const, reason: 'timeout' };
        });
      },
    };
    // Half the verdicts fail: far above the default stop (20%), so this run opts out of it.
    const run = await rlRun('rl-judge-failures', { judge: flaky, steps: 2, maxJudgeFailureRate: 1 });
    let failedRows = 0;
    for (const [index, rows] of run.samples.entries()) {
      const failed = rows.filter((row) => (row.verdict as { status?: string } | null)?.status === 'failed');
      failedRows += failed.length;
      expect(run.metrics[index]!['judge.failed']).toBe(failed.length);
      for (const row of failed) expect(row.advantage).toBe(0);
      const counted = rows.filter((row) => !failed.includes(row));
      const mean = counted.reduce((sum, row) => sum + Number(row.reward), 0) / counted.length;
      expect(run.metrics[index]!['reward.mean']).toBeCloseTo(mean, 12);
      // Each group's advantages come from its valid rollouts alone: (r − μ) / (σ_{n−1} + ε).
      for (let start = 0; start < rows.length; start += 4) {
        const valid = rows.slice(start, start + 4).filter((row) => !failed.includes(row));
        const rewards = valid.map((row) => Number(row.reward));
        const mu = rewards.reduce((sum, reward) => sum + reward, 0) / rewards.length;
        const sd =
          rewards.length > 1
            ? Math.sqrt(rewards.reduce((sum, reward) => sum + (reward - mu) ** 2, 0) / (rewards.length - 1))
            : 0;
        valid.forEach((row, offset) => {
          const expected = sd > 0 ? (rewards[offset]! - mu) / (sd + 1e-6) : 0;
          expect(Number(row.advantage)).toBeCloseTo(expected, 5);
        });
      }
    }
    expect(failedRows).toBe(failedCalls);
    expect(failedRows).toBeGreaterThan(0);

    // A judge that fails everything teaches nothing: no update at all.
    const down: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'down',
      judge: async (items) =>
        items.map(() => ({ score: 0, status: 'failed' as const, reason: 'unreachable' })),
    };
    const outage = await rlRun('rl-judge-down', {
      judge: down,
      extract: 'full',
      steps: 2,
      maxJudgeFailureRate: 1,
    });
    for (const row of outage.metrics)
      expect(row).toMatchObject({ updated: 0, 'judge.failed': 16, 'reward.mean': 0 });
    expect(sameWeights(outage.before, outage.after)).toBe(true);
  });

  it('a policy backend without logprobs is an error naming it, never zeros in the importance ratio', async () => {
    const learner = await newLearner();
    const trainer = await Trainer.create({
      runDir: join(root, 'rl-no-logprobs'),
      learner,
      // The real onnx backend with the logprobs taken out: what a server that ignores `logprobs` returns.
      loadPolicy: async (dir: string) => {
        const backend = await loadPolicy(dir);
        return {
          ...backend,
          provider: 'no-logprobs',
          generate: async (request, options) => {
            const result = await backend.generate(request, options);
            for (const prompt of result.results)
              for (const completion of prompt.completions) delete completion.logprobs;
            return result;
          },
        };
      },
      tokenizer,
      seed: 3,
    });
    const error = await trainer
      .rl(rlItems(), { ...rlDefaults(lexicalJudge()), steps: 1 })
      .catch((caught: unknown) => caught);
    await trainer.close();
    expect(error).toMatchObject({ code: 'missing-logprobs' });
    expect((error as Error).message).toMatch(/backend no-logprobs:.* returned no logprobs/);
  });

  it('a dead judge stops the run with an error naming the reason and its last raw outputs', async () => {
    // A thinking judge cut off by its token budget: every verdict fails (before: exit 0 with reward 0.000).
    const cutOff: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'thinking-judge',
      judge: async (items) =>
        items.map(() => ({
          score: 0,
          status: 'failed' as const,
          reason: 'truncated',
          raw: '<think>\nOkay, I need to compare',
        })),
    };
    const error = await rlRun('rl-judge-dead', { judge: cutOff, extract: 'full', steps: 3 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: 'RlptError', code: 'judge-failing' });
    const message = (error as Error).message;
    expect(message).toMatch(/Judge thinking-judge failed on 16 of 16 predictions \(100\.0%\)/);
    expect(message).toMatch(/step 1\b/);
    expect(message).toMatch(/truncated ×16/);
    expect(message).toContain('<think>\\nOkay, I need to compare');
    expect(message).toMatch(/judge\.maxFailureRate/);
  });

  it('an aborted run stops with an AbortError and resumes from its checkpoint', async () => {
    const controller = new AbortController();
    const learner = await newLearner();
    const runDir = join(root, 'rl-abort');
    const trainer = await Trainer.create({
      runDir,
      learner,
      loadPolicy,
      tokenizer,
      checkpointEvery: 1,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'step-end' && event.step === 2) controller.abort(new Error('Ctrl-C'));
      },
    });
    const error = await trainer.rl(rlItems(), rlDefaults(lexicalJudge())).catch((caught: unknown) => caught);
    await trainer.close();
    expect(AbortError.isInstance(error)).toBe(true);
    // Reusing the folder without resume is refused; with resume it continues at step 3.
    await expect(Trainer.create({ runDir, learner, loadPolicy, tokenizer })).rejects.toThrow(/--resume/);
    const steps: number[] = [];
    const resumed = await Trainer.create({
      runDir,
      learner: await newLearner(),
      loadPolicy,
      tokenizer,
      resume: true,
      onEvent: (event) => {
        if (event.type === 'step-end') steps.push(event.step);
      },
    });
    await resumed.rl(rlItems(), rlDefaults(lexicalJudge()));
    await resumed.close();
    expect(steps).toEqual([3]);
    const rows = (await readJsonLines(join(runDir, 'metrics.jsonl'))).map((row) => row.step);
    expect(rows).toEqual([1, 2, 3]);
  });

  it('rejects RL settings that cannot work, naming the option', async () => {
    const learner = await newLearner();
    const trainer = await Trainer.create({
      runDir: join(root, 'rl-invalid'),
      learner,
      loadPolicy,
      tokenizer,
    });
    const tooFew = await trainer
      .rl(rlItems(), { ...rlDefaults(lexicalJudge()), rolloutsPerPrompt: 1 })
      .catch((caught: unknown) => caught);
    expect(InvalidArgumentError.isInstance(tooFew)).toBe(true);
    expect((tooFew as InvalidArgumentError).argument).toBe('rolloutsPerPrompt');
    const empty = await trainer.rl([], rlDefaults(lexicalJudge())).catch((caught: unknown) => caught);
    expect((empty as InvalidArgumentError).argument).toBe('items');
    await trainer.close();
  });
});

describe('compute accounting and budgets', () => {
  it('a supervised step counts 3 forward-equivalent tokens per token trained; computeBudget ends the stage after the step that reaches it', async () => {
    // batchSize = the number of documents: every step trains on every document exactly once, so the
    // step's count is 3 × Σ (BOS + document + EOS) — computed here from the tokenizer alone.
    const perStep =
      3 *
      pretrainDocs.reduce(
        (sum, text) => sum + tokenizer.encode(text).length + 2, // BOS and EOS
        0,
      );
    const learner = await newLearner();
    const runDir = join(root, 'budget-pretrain');
    const trainer = await Trainer.create({ runDir, learner, loadPolicy, tokenizer, seed: 1 });
    const summary = await trainer.pretrain(pretrainDocs, {
      steps: 10,
      batchSize: pretrainDocs.length,
      learningRate: 1e-3,
      computeBudget: 2.5 * perStep,
    });
    await trainer.close();
    const rows = (await readJsonLines(join(runDir, 'metrics.jsonl'))).filter(
      (row) => row.stage === 'pretrain',
    );
    expect(summary.steps).toBe(3);
    expect(rows.map((row) => row.computeTokens)).toEqual([perStep, 2 * perStep, 3 * perStep]);
    expect(learner.step).toBe(3);
    // A budget that could never be reached (NaN: a count missing from an old checkpoint) is an error.
    const trainer2 = await Trainer.create({
      runDir: join(root, 'budget-nan'),
      learner,
      loadPolicy,
      tokenizer,
    });
    const caught = await trainer2
      .pretrain(pretrainDocs, { steps: 5, batchSize: 2, learningRate: 1e-3, computeBudget: Number.NaN })
      .catch((error: unknown) => error);
    await trainer2.close();
    expect(InvalidArgumentError.isInstance(caught)).toBe(true);
    expect((caught as InvalidArgumentError).argument).toBe('computeBudget');
  });

  it('an RL stage with a budget runs the same steps as without one until the budget is spent; resuming does not run more', async () => {
    const full = await rlRun('budget-rl-full', { judge: lexicalJudge() });
    const counts = full.metrics.map((row) => Number(row.computeTokens));
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(counts[0]!);
    // Every rollout is read once by sampling: at least the prompt and completion tokens of all of them.
    const sampled = full.samples[0]!.reduce(
      (sum, row) =>
        sum + tokenizer.encode(String(row.prompt)).length + tokenizer.encode(String(row.output)).length,
      0,
    );
    expect(counts[0]).toBeGreaterThanOrEqual(sampled);
    const budgeted = await rlRun('budget-rl', { judge: lexicalJudge(), computeBudget: counts[1]! });
    expect(budgeted.summary.steps).toBe(2);
    expect(budgeted.metrics.map(({ seconds: _s, ...row }) => stripTimings(row))).toEqual(
      full.metrics.slice(0, 2).map(({ seconds: _s, ...row }) => stripTimings(row)),
    );
    const learner = await newLearner();
    const resumed = await Trainer.create({
      runDir: budgeted.runDir,
      learner,
      loadPolicy,
      tokenizer,
      seed: 3,
      resume: true,
    });
    const again = await resumed.rl(rlItems(), { ...rlDefaults(lexicalJudge()), computeBudget: counts[1]! });
    await resumed.close();
    expect(again.steps).toBe(2);
  });

  it('evaluateText: NLL of the continuation after the raw context and greedy next-token accuracy, each recomputed here', async () => {
    const items = targets().map((target) => ({
      id: target.id,
      context: target.context,
      continuation: target.target,
    }));
    const learner = await newLearner();
    const trainer = await Trainer.create({ runDir: join(root, 'eval-text'), learner, loadPolicy, tokenizer });
    const result = await trainer.evaluateText(items, { name: 'text' });
    await trainer.close();
    // The same weights in a second learner and an onnx backend over the exported folder.
    const check = await newLearner();
    const logprobs = await check.logprobs({
      sequences: items.map((item) => ({
        promptTokenIds: [tokenizer.bosTokenId!, ...tokenizer.encode(item.context)],
        completionTokenIds: tokenizer.encode(item.continuation),
      })),
    });
    const flat = logprobs.flatMap((values) => Array.from(values));
    expect(result.tokens).toBe(flat.length);
    expect(result.nll).toBeCloseTo(-flat.reduce((sum, value) => sum + value, 0) / flat.length, 6);
    const backend = await loadPolicy(await check.exportForInference(join(root, 'eval-text-export')));
    // evaluate's mean response length: greedy, so the same completions as this backend's.
    const evalTrainer = await Trainer.create({
      runDir: join(root, 'eval-length'),
      learner: check,
      loadPolicy,
      tokenizer,
    });
    const evaluated = await evalTrainer.evaluate(rlItems(), {
      judge: lexicalJudge(),
      n: 1,
      temperature: 0,
      maxTokens: 8,
      name: 'length',
    });
    await evalTrainer.close();
    const lengths = await backend.generate({
      prompts: rlItems().map((item) => item.prompt),
      n: 1,
      maxTokens: 8,
      temperature: 0,
    });
    const tokens = lengths.results.map((entry) => entry.completions[0]!.tokenIds!.length);
    expect(evaluated.meanResponseTokens).toBeCloseTo(
      tokens.reduce((sum, n) => sum + n, 0) / tokens.length,
      12,
    );
    const greedy = await backend.generate({
      prompts: items.map((item) => item.context),
      n: 1,
      maxTokens: 1,
      temperature: 0,
    });
    await backend.close?.();
    const correct = items.filter(
      (item, index) =>
        greedy.results[index]!.completions[0]!.tokenIds![0] === tokenizer.encode(item.continuation)[0],
    ).length;
    expect(result.nextTokenAccuracy).toBe(correct / items.length);
    expect(result.items).toBe(items.length);
    const [row] = await readJsonLines(join(root, 'eval-text', 'metrics.jsonl'));
    expect(row).toMatchObject({
      stage: 'eval:text',
      nll: result.nll,
      nextTokenAccuracy: result.nextTokenAccuracy,
    });
  });
});

function stripTimings(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([key]) => !key.startsWith('seconds')));
}
