import { join } from 'node:path';
import { type JudgeV1, RlptError, type RlptEvent } from '@rlpt/spec';
import type { EvaluateResult, StageSummary } from '@rlpt/trainer';
import { type ServedPolicy, startServedPolicy } from './served-policy.js';
import { startTinkerDemo } from './tinker-policy.js';
import { createDemoWorld, demoGrpo, demoItem, demoTask } from './world.js';

/** Sizes of one demo seed. */
export interface DemoBudget {
  trainDocuments: number;
  heldOutDocuments: number;
  /** Held-out prompts evaluated (cold, after RL, control). */
  evalPrompts: number;
  pretrainSteps: number;
  sftSteps: number;
  sftLearningRate: number;
  rlSteps: number;
  rlLearningRate: number;
  /** Held-out evaluation every N RL steps on `curvePrompts` prompts (the reward-vs-tokens curve). */
  curveEvery: number;
  curvePrompts: number;
}

export const quickBudget: DemoBudget = {
  trainDocuments: 3000,
  heldOutDocuments: 600,
  evalPrompts: 300,
  pretrainSteps: 300,
  sftSteps: 30,
  sftLearningRate: 5e-4,
  rlSteps: 100,
  rlLearningRate: 2e-4,
  curveEvery: 25,
  curvePrompts: 100,
};

export const fullBudget: DemoBudget = {
  trainDocuments: 3000,
  heldOutDocuments: 1200,
  evalPrompts: 600,
  pretrainSteps: 1500,
  sftSteps: 60,
  sftLearningRate: 1e-3,
  rlSteps: 250,
  rlLearningRate: 2e-4,
  curveEvery: 25,
  curvePrompts: 200,
};

export interface DemoSeedOptions {
  seed: number;
  outDir: string;
  budget: DemoBudget;
  /** `prefix` (RLPT's reward) or `strict`. */
  reward: 'prefix' | 'strict';
  /** Also run the compute-matched SFT control from the cold-start checkpoint. */
  control: boolean;
  /** onnxruntime threads (1: seeds run in parallel, one per core). */
  threads: number;
  resume?: boolean;
  /**
   * Where rollouts and evaluations run: `local` (an in-process onnx backend per exported policy),
   * `served` (one `rlpt serve model` child process that gets every update's weights pushed), or `tinker`
   * (learner and sampler behind one `rlpt serve tinker` child process, over the Tinker API).
   */
  policy?: 'local' | 'served' | 'tinker';
  onEvent?: (event: RlptEvent) => void;
}

export interface DemoSeedResult {
  seed: number;
  reward: 'prefix' | 'strict';
  parameters: number;
  heldOutPrompts: number;
  cold: EvaluateResult;
  rl: EvaluateResult;
  /** The SFT control: its steps and the forward-equivalent tokens it spent (≥ the RLPT phase's). */
  control?: EvaluateResult & { steps: number; computeTokens?: number };
  /** Forward-equivalent tokens the RLPT phase spent (sampling + training; the lexical judge runs no model). */
  rlComputeTokens?: number;
  /** Held-out pass@1 during RL: [RLPT training tokens so far, pass@1]. */
  curve: [number, number][];
  /** Wall seconds per phase. */
  seconds: Record<string, number>;
  /** CPU seconds per phase (this process, all threads). */
  cpuSeconds: Record<string, number>;
  stages: Record<string, StageSummary>;
  /**
   * Where the policy ran (`served`: weights pushed to `rlpt serve model` `weightPushes` times; `tinker`: the
   * sampler followed `weightPushes` saved sampler weights of `rlpt serve tinker`).
   */
  policy?: 'local' | 'served' | 'tinker';
  weightPushes?: number;
}

/** Runs one seed of the demo: tiny model → pretrain → cold start → eval → RLPT → eval (→ SFT control). */
export async function runDemoSeed(options: DemoSeedOptions): Promise<DemoSeedResult> {
  const learnerPkg = await import('@rlpt/learner-onnx');
  const [{ createOnnxBackend }, { createLexicalJudge }, { Trainer, goldCompletion }] = await Promise.all([
    import('@rlpt/backend-onnx'),
    import('@rlpt/reward'),
    import('@rlpt/trainer'),
  ]);
  const { seed, budget, outDir } = options;
  const seconds: Record<string, number> = {};
  const cpuSeconds: Record<string, number> = {};
  let mark = performance.now();
  let cpuMark = process.cpuUsage();
  const lap = (name: string) => {
    seconds[name] = (performance.now() - mark) / 1000;
    const cpu = process.cpuUsage(cpuMark);
    cpuSeconds[name] = (cpu.user + cpu.system) / 1e6;
    mark = performance.now();
    cpuMark = process.cpuUsage();
  };

  // Data and model: the demo world of this seed (corpus, ~0.6M-parameter model, word-level tokenizer).
  const { corpus, modelDir, tokenizer, parameters } = await createDemoWorld({
    seed,
    dir: outDir,
    trainDocuments: budget.trainDocuments,
    heldOutDocuments: budget.heldOutDocuments,
  });

  // Adam and clipping, passed to the server too with --policy tinker (learner-onnx's ε default made explicit).
  const adam = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 };
  const tinker =
    options.policy === 'tinker'
      ? await startTinkerDemo(modelDir, {
          threads: options.threads,
          adam,
          maxGradNorm: 1,
          dataDir: join(outDir, 'tinker-server'),
        })
      : undefined;
  const makeLearner = async () =>
    tinker
      ? tinker.makeLearner()
      : learnerPkg.createOnnxLearner({ modelDir, threads: options.threads, adam, maxGradNorm: 1, seed });
  let served: ServedPolicy | undefined;
  const loadPolicy = async (dir: string) => {
    if (tinker) return tinker.loadPolicy(dir);
    if (options.policy !== 'served') return createOnnxBackend({ modelDir: dir, threads: options.threads });
    served ??= await startServedPolicy(dir, { threads: options.threads });
    return served.backend;
  };
  const learner = await makeLearner();
  const trainer = await Trainer.create({
    runDir: join(outDir, 'run'),
    learner,
    loadPolicy,
    tokenizer,
    seed,
    checkpointEvery: 50,
    resume: options.resume ?? false,
    config: { demo: true, seed, budget, reward: options.reward },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  lap('setup');

  // Tasks: ASR for every target, MSR (λ = 0.5 → one MSR prompt per two ASR) where a next sentence exists.
  // Training is judged with the run's reward; held-out reward is always the exact next sentence, so
  // prefix and strict runs compare on one scale.
  const trainItems = corpus.trainTargets.map((target, index) =>
    demoItem(target, demoTask(target, index, seed), options.reward),
  );
  const sftExamples = trainItems.map((item, index) => ({
    id: item.id,
    prompt: item.prompt,
    completion: goldCompletion(corpus.trainTargets[index]!.target),
  }));
  const heldOutEvalItems = corpus.heldOutTargets
    .slice(0, budget.evalPrompts)
    .map((target, index) => demoItem(target, demoTask(target, index, seed + 1), 'strict'));
  const judge: JudgeV1 = createLexicalJudge({ tolerance: 0, mode: options.reward });
  const evalJudge: JudgeV1 = createLexicalJudge({ tolerance: 0, mode: 'strict' });
  const evaluation = { n: 8, temperature: 1, maxTokens: 24, greedy: true, judge: evalJudge };

  const stages: Record<string, StageSummary> = {};
  stages.pretrain = await trainer.pretrain(
    corpus.train.map((document) => document.text),
    { steps: budget.pretrainSteps, batchSize: 32, learningRate: 2e-3, schedule: 'cosine', warmupSteps: 20 },
  );
  lap('pretrain');
  stages.sft = await trainer.sft(sftExamples, {
    steps: budget.sftSteps,
    batchSize: 32,
    learningRate: budget.sftLearningRate,
  });
  lap('sft');
  const coldDir = join(outDir, 'cold-start');
  await learner.save(coldDir);
  const cold = await trainer.evaluate(heldOutEvalItems, { ...evaluation, name: 'cold' });
  lap('evalCold');
  const curve: [number, number][] = [];
  stages.rlpt = await trainer.rl(trainItems, {
    steps: budget.rlSteps,
    promptsPerStep: 16,
    rolloutsPerPrompt: 8,
    temperature: 1,
    maxTokens: 24,
    judge,
    learningRate: budget.rlLearningRate,
    grpo: demoGrpo,
    evaluation: {
      every: budget.curveEvery,
      items: heldOutEvalItems.slice(0, budget.curvePrompts),
      options: { ...evaluation, greedy: false, name: 'curve' },
    },
  });
  lap('rl');
  const rl = await trainer.evaluate(heldOutEvalItems, { ...evaluation, name: 'rl' });
  lap('evalRl');
  for (const row of await trainer.runDir.readMetrics()) {
    if (String(row.stage).startsWith('eval:curve@')) {
      curve.push([Number(row.tokensSeen) - cold.tokensSeen, Number(row.pass1)]);
    }
  }
  await trainer.close();

  let control: DemoSeedResult['control'];
  if (options.control) {
    // Compute-matched control: continue SFT on gold sentences from the same cold start until it has spent
    // the RL phase's forward-equivalent tokens (sampled 1, trained 3 — the trainer's computeTokens): a count
    // that does not depend on the machine's speed or load, unlike the wall time this control used to match.
    const rlCompute = Number(stages.rlpt.last.computeTokens) - Number(stages.sft.last.computeTokens);
    if (!Number.isFinite(rlCompute)) {
      throw new RlptError({
        code: 'demo-control',
        message: `The RLPT phase in ${join(outDir, 'run')} has no compute count (a checkpoint written before rlpt counted compute): run the demo again with --overwrite to measure the compute-matched control.`,
      });
    }
    const controlLearner = await makeLearner();
    await controlLearner.load?.(coldDir);
    const controlTrainer = await Trainer.create({
      runDir: join(outDir, 'control'),
      learner: controlLearner,
      loadPolicy,
      tokenizer,
      seed,
      resume: options.resume ?? false,
    });
    const controlStage = await controlTrainer.sft(sftExamples, {
      steps: 1_000_000,
      computeBudget: rlCompute,
      batchSize: 32,
      learningRate: 1e-4,
      name: 'sft-control',
    });
    const result = await controlTrainer.evaluate(heldOutEvalItems, { ...evaluation, name: 'control' });
    await controlTrainer.close();
    await controlLearner.close?.();
    control = {
      ...result,
      steps: controlStage.steps,
      computeTokens: Number(controlStage.last.computeTokens),
    };
    lap('control');
  }
  await learner.close?.();
  const weightPushes = served?.pushes() ?? tinker?.samplerUpdates();
  await served?.close();
  await tinker?.close();
  return {
    seed,
    reward: options.reward,
    parameters,
    heldOutPrompts: heldOutEvalItems.length,
    cold,
    rl,
    rlComputeTokens: Number(stages.rlpt.last.computeTokens) - Number(stages.sft.last.computeTokens),
    ...(control ? { control } : {}),
    curve,
    seconds,
    cpuSeconds,
    stages,
    policy: options.policy ?? 'local',
    ...(weightPushes !== undefined ? { weightPushes } : {}),
  };
}
