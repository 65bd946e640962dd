import { join } from 'node:path';
import { computeMaskedGroupAdvantages, type GrpoPreset, grpoObjective, passAtK, presets } from '@rlpt/grpo';
import { extractPrediction } from '@rlpt/prompts';
import {
  AbortError,
  type InferenceBackendV1,
  InvalidArgumentError,
  InvalidInputError,
  type JudgeItem,
  type JudgeVerdict,
  type LearnerV1,
  type Logger,
  RlptError,
  type RlptEvent,
  silentLogger,
  type TokenSequence,
} from '@rlpt/spec';
import { deriveSeed, Rng } from './rng.js';
import { aggregateLogLikelihood, endsWith, hasTeacher, type RlpItem, type RlpOptions } from './rlp.js';
import { RunDirectory, type TrainerState } from './run-dir.js';
import type {
  EvaluateOptions,
  EvaluateResult,
  OptimizerSettings,
  PretrainOptions,
  RlItem,
  RlOptions,
  SftExample,
  SftOptions,
  TextEvaluateResult,
  TextItem,
  TokenizerLike,
  TrainerOptions,
} from './types.js';

/** What a finished stage reports (also stored in checkpoints so resumed runs can skip it). */
export interface StageSummary {
  stage: string;
  steps: number;
  seconds: number;
  /** Metrics of the last step. */
  last: Record<string, number>;
}

/** Prompt + completion tokens: what one forward pass over the sequence reads. */
function sequenceLength(sequence: {
  promptTokenIds: ArrayLike<number>;
  completionTokenIds: ArrayLike<number>;
}): number {
  return sequence.promptTokenIds.length + sequence.completionTokenIds.length;
}

/** The prediction a rollout offers the judge: the tagged prediction (RLPT) or the whole text (RLVR). */
function readPrediction(text: string, extract: 'tags' | 'full' = 'tags'): { status: string; text: string } {
  return extract === 'tags' ? extractPrediction(text) : { status: 'ok', text };
}

/** Learning rate at a 1-based step under the stage's schedule. */
export function learningRateAt(settings: OptimizerSettings, step: number, totalSteps: number): number {
  const warmup = settings.warmupSteps ?? 0;
  if (warmup > 0 && step <= warmup) return (settings.learningRate * step) / warmup;
  if ((settings.schedule ?? 'constant') === 'constant') return settings.learningRate;
  const floor = settings.learningRate * (settings.minLearningRateRatio ?? 0.1);
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return floor + (settings.learningRate - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * The thin RLPT loop. Everything is injected (learner, policy loader, tokenizer, judges, data), and
 * each stage reads like the paper's algorithm: sample prompts → roll out → extract → judge →
 * advantages → coefficients → one learner step → export → reload.
 *
 * Stages and evaluations are resumable: every random draw derives from (seed, stage, step), data order
 * from (seed, stage, epoch), and checkpoints hold the learner plus the stage/step reached, so a run
 * killed at any point and resumed ends with the same metrics as one never interrupted.
 */
export class Trainer {
  readonly runDir: RunDirectory;
  private readonly learner: LearnerV1;
  private readonly loadPolicy: (modelDir: string) => Promise<InferenceBackendV1>;
  private readonly tokenizer: TokenizerLike;
  private readonly seed: number;
  private readonly checkpointEvery: number;
  private readonly logger: Logger;
  private readonly onEvent: (event: RlptEvent) => void;
  private readonly signal: AbortSignal | undefined;
  private state: TrainerState;
  private policy: InferenceBackendV1 | undefined;
  private policyStale = true;
  private readonly epochOrders = new Map<string, number[]>();

  private constructor(options: TrainerOptions, runDir: RunDirectory, state: TrainerState) {
    this.runDir = runDir;
    this.learner = options.learner;
    this.loadPolicy = options.loadPolicy;
    this.tokenizer = options.tokenizer;
    this.seed = options.seed ?? 0;
    this.checkpointEvery = options.checkpointEvery ?? 50;
    this.logger = options.logger ?? silentLogger;
    this.onEvent = options.onEvent ?? (() => {});
    this.signal = options.signal;
    this.state = state;
  }

  /** Opens the run directory; with `resume`, restores the learner and position from the latest checkpoint. */
  static async create(options: TrainerOptions): Promise<Trainer> {
    const runDir = await RunDirectory.open(options.runDir, { resume: options.resume ?? false });
    let state: TrainerState = { stage: '', step: 0, completedStages: {}, tokensSeen: 0 };
    const checkpoint = options.resume ? await runDir.latestCheckpoint() : undefined;
    if (checkpoint) {
      if (!options.learner.load) {
        throw new InvalidArgumentError({
          argument: 'learner',
          message: 'Resuming needs a learner that implements load(dir).',
        });
      }
      await options.learner.load(join(checkpoint.dir, 'learner'));
      state = checkpoint.state;
      const done = new Set(Object.keys(state.completedStages));
      await runDir.truncateMetricsTo((row) => {
        const stage = String(row.stage);
        return done.has(stage) || (stage === state.stage && Number(row.step) <= state.step);
      });
      options.logger?.info(`Resuming from ${checkpoint.dir} (${state.stage} step ${state.step}).`);
    } else if (options.resume) {
      await runDir.truncateMetricsTo(() => false);
    }
    if (options.config !== undefined) await runDir.writeConfig(options.config);
    return new Trainer(options, runDir, state);
  }

  /** Tokens the learner has been trained on so far. */
  get tokensSeen(): number {
    return this.state.tokensSeen;
  }

  /** Forward-equivalent tokens this run has processed so far (sampled or scored 1, trained 3). */
  get computeTokens(): number {
    return this.state.computeTokens ?? 0;
  }

  /** Next-token pretraining on raw documents (coefficient 1/N on every token). */
  async pretrain(documents: string[], options: PretrainOptions & { name?: string }): Promise<StageSummary> {
    const name = options.name ?? 'pretrain';
    const encoded = documents.map((text) => {
      const ids = [
        ...(this.tokenizer.bosTokenId !== undefined ? [this.tokenizer.bosTokenId] : []),
        ...this.tokenizer.encode(text),
        ...(this.tokenizer.eosTokenId !== undefined ? [this.tokenizer.eosTokenId] : []),
      ];
      return options.maxTokens ? ids.slice(0, options.maxTokens + 1) : ids;
    });
    const usable = encoded.filter((ids) => ids.length >= 2);
    if (usable.length === 0) {
      throw new InvalidArgumentError({
        argument: 'documents',
        message: 'No document has at least 2 tokens.',
      });
    }
    return this.supervisedStage(name, options, usable.length, (index) => {
      const ids = usable[index]!;
      return { promptTokenIds: ids.slice(0, 1), completionTokenIds: ids.slice(1) };
    });
  }

  /** Supervised fine-tuning (cold start): loss on completion tokens only. */
  async sft(examples: SftExample[], options: SftOptions): Promise<StageSummary> {
    const name = options.name ?? 'sft';
    if (examples.length === 0) {
      throw new InvalidArgumentError({ argument: 'examples', message: 'SFT needs at least one example.' });
    }
    const eos = this.tokenizer.eosTokenId !== undefined ? [this.tokenizer.eosTokenId] : [];
    const encoded = examples.map((example) => {
      const prompt = this.tokenizer.encode(example.prompt);
      const completion = [...this.tokenizer.encode(example.completion), ...eos];
      return {
        promptTokenIds: prompt,
        completionTokenIds: options.maxTokens ? completion.slice(0, options.maxTokens) : completion,
      };
    });
    return this.supervisedStage(name, options, encoded.length, (index) => encoded[index]!);
  }

  private async supervisedStage(
    name: string,
    options: OptimizerSettings & { steps: number; batchSize: number },
    size: number,
    sequenceAt: (index: number) => TokenSequence,
  ): Promise<StageSummary> {
    const done = this.state.completedStages[name] as StageSummary | undefined;
    if (done) return done;
    const started = performance.now();
    let step = this.beginStage(name);
    let last = this.stageOver(step, options) ? await this.lastMetrics(name) : {};
    for (; !this.stageOver(step, options); step++) {
      this.throwIfAborted();
      const stepStart = performance.now();
      const indices = this.batchIndices(name, size, options.batchSize, step);
      const sequences = indices.map(sequenceAt);
      const tokens = sequences.reduce((sum, sequence) => sum + sequence.completionTokenIds.length, 0);
      const stepCompute = 3 * sequences.reduce((sum, sequence) => sum + sequenceLength(sequence), 0);
      const coefficients = sequences.map((sequence) =>
        new Float32Array(sequence.completionTokenIds.length).fill(1 / tokens),
      );
      const { objective } = await this.learner.forwardBackward({ sequences }, coefficients);
      const learningRate = learningRateAt(options, step, options.steps);
      const { gradNorm } = await this.learner.optimStep({ learningRate });
      this.policyStale = true;
      this.state.tokensSeen += tokens;
      last = {
        loss: -objective,
        tokens,
        learningRate,
        tokensSeen: this.state.tokensSeen,
        computeTokens: this.addCompute(stepCompute),
        seconds: (performance.now() - stepStart) / 1000,
        ...(gradNorm !== undefined ? { gradNorm } : {}),
      };
      await this.endStep(name, step, options.steps, last);
    }
    return this.finishStage(name, step - 1, started, last);
  }

  /**
   * On-policy GRPO on RL items (RLPT with the prediction tags and a segment judge, RLVR with `extract:
   * 'full'` and a math verifier).
   */
  async rl(items: RlItem[], options: RlOptions): Promise<StageSummary> {
    const name = options.name ?? 'rlpt';
    const done = this.state.completedStages[name] as StageSummary | undefined;
    if (done) return done;
    if (items.length === 0)
      throw new InvalidArgumentError({ argument: 'items', message: 'RL needs at least one item.' });
    if (options.rolloutsPerPrompt < 2) {
      throw new InvalidArgumentError({
        argument: 'rolloutsPerPrompt',
        message: `GRPO needs at least 2 rollouts per prompt to compare them; got ${options.rolloutsPerPrompt}.`,
      });
    }
    const grpo = options.grpo ?? presets.paper;
    const group = options.rolloutsPerPrompt;
    const started = performance.now();
    const evaluation = options.evaluation;
    const evaluateAfter = async (step: number) => {
      if (evaluation && evaluation.every > 0 && step % evaluation.every === 0) {
        await this.evaluate(evaluation.items, {
          ...evaluation.options,
          name: `${evaluation.options.name ?? name}@${step}`,
        });
      }
    };
    const firstStep = this.beginStage(name);
    // A run stopped between a step's checkpoint and that step's evaluation evaluates now, on the same
    // weights (an evaluation already recorded returns at once).
    if (firstStep > 1) await evaluateAfter(firstStep - 1);
    let last = this.stageOver(firstStep, options) ? await this.lastMetrics(name) : {};
    const judgeWindow: { verdicts: JudgeVerdict[]; judged: number }[] = [];
    let step = firstStep;
    for (; !this.stageOver(step, options); step++) {
      this.throwIfAborted();
      const timings = { rollout: 0, judge: 0, learn: 0, sync: 0 };
      let mark = performance.now();
      const batch = this.batchIndices(name, items.length, options.promptsPerStep, step).map(
        (index) => items[index]!,
      );

      // 1. Roll out G completions per prompt from the current policy.
      const policy = await this.currentPolicy();
      timings.sync = (performance.now() - mark) / 1000;
      mark = performance.now();
      const generated = await policy.generate(
        {
          prompts: batch.map((item) => item.prompt),
          n: group,
          maxTokens: options.maxTokens,
          temperature: options.temperature ?? 1,
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(options.topK !== undefined ? { topK: options.topK } : {}),
          seed: deriveSeed(this.seed, `${name}:rollout`, step),
          logprobs: true,
        },
        this.signal ? { signal: this.signal } : undefined,
      );
      timings.rollout = (performance.now() - mark) / 1000;

      // 2. Extract predictions and judge them (one batched judge call for the whole step).
      mark = performance.now();
      const rollouts = batch.flatMap((item, promptIndex) => {
        const result = generated.results[promptIndex]!;
        const promptTokenIds = result.promptTokenIds ?? this.tokenizer.encode(item.prompt);
        return result.completions.map((completion) => ({
          item,
          promptTokenIds,
          completion,
          completionTokenIds: completion.tokenIds ?? this.tokenizer.encode(completion.text),
          extraction: readPrediction(completion.text, options.extract),
        }));
      });
      const judged = rollouts.filter((rollout) => rollout.extraction.status === 'ok');
      const verdicts: JudgeVerdict[] = judged.length
        ? await options.judge.judge(
            judged.map((rollout) => ({
              ...rollout.item.toJudgeItem(rollout.extraction.text),
              id: rollout.item.id,
            })),
            this.signal ? { signal: this.signal } : undefined,
          )
        : [];
      const verdictOf = new Map(judged.map((rollout, index) => [rollout, verdicts[index]!]));
      timings.judge = (performance.now() - mark) / 1000;
      judgeWindow.push({ verdicts, judged: verdicts.length });
      if (judgeWindow.length > (options.judgeFailureWindow ?? 3)) judgeWindow.shift();
      this.checkJudgeFailures(
        options.judge,
        judgeWindow.flatMap((entry) => entry.verdicts),
        options.maxJudgeFailureRate,
        `the last ${judgeWindow.length} step(s) of ${name} (step ${step})`,
      );

      // 3. Rewards → group advantages. A failed judge call excludes its rollout (no gradient) rather
      // than scoring it 0, so judge outages never teach the policy anything; its group's baseline and std
      // come from the valid rollouts alone (@rlpt/grpo's computeMaskedGroupAdvantages).
      const rewards = new Float64Array(rollouts.length);
      const excluded = new Uint8Array(rollouts.length);
      rollouts.forEach((rollout, index) => {
        const verdict = verdictOf.get(rollout);
        if (verdict?.status === 'failed') excluded[index] = 1;
        rewards[index] = verdict && verdict.status !== 'failed' ? verdict.score : 0;
      });
      const grouped = computeMaskedGroupAdvantages(rewards, group, excluded, grpo.advantage);
      const advantages = grouped.advantages;
      const keep = grouped.keep;
      rollouts.forEach((rollout, index) => {
        if (rollout.item.task === 'msr' && options.msrLossWeight !== undefined) {
          advantages[index] = advantages[index]! * options.msrLossWeight;
        }
      });

      // 4. Per-token coefficients (on-policy: the rollout logprobs are the current policy's), one step.
      mark = performance.now();
      const trainable = rollouts
        .map((rollout, index) => ({ rollout, index }))
        .filter(({ rollout, index }) => rollout.completionTokenIds.length > 0 && keep[index] === 1);
      const { objective, hasSignal, gradNorm, learningRate } = await this.grpoUpdate(
        trainable.map(({ rollout, index }) => ({
          id: rollout.item.id,
          promptTokenIds: rollout.promptTokenIds,
          completionTokenIds: rollout.completionTokenIds,
          logprobs: rollout.completion.logprobs,
          advantage: advantages[index]!,
        })),
        { grpo, options, step, policy },
      );
      timings.learn = (performance.now() - mark) / 1000;
      const completionTokens = trainable.reduce(
        (sum, { rollout }) => sum + rollout.completionTokenIds.length,
        0,
      );
      this.state.tokensSeen += completionTokens;
      // Sampling reads every rollout once; the update trains the kept ones (the lexical/RPT judges run no model).
      const stepCompute =
        rollouts.reduce((sum, rollout) => sum + sequenceLength(rollout), 0) +
        (hasSignal ? 3 * trainable.reduce((sum, { rollout }) => sum + sequenceLength(rollout), 0) : 0);
      const computeTokens = this.addCompute(stepCompute);

      last = this.rlMetrics(
        rollouts,
        rewards,
        excluded,
        verdictOf,
        { ...objective.stats },
        {
          'advantage.zeroVarianceGroupShare': grouped.stats.zeroVarianceGroupShare,
          'advantage.std': grouped.stats.advantageStd,
          learningRate,
          updated: hasSignal ? 1 : 0,
          completionTokens,
          computeTokens,
          ...(gradNorm !== undefined ? { gradNorm } : {}),
          ...Object.fromEntries(
            Object.entries(timings).map(([phase, seconds]) => [`seconds.${phase}`, seconds]),
          ),
        },
      );
      this.onEvent({
        type: 'rollout-end',
        step,
        prompts: batch.length,
        completions: rollouts.length,
        seconds: timings.rollout,
      });
      const samplesEvery = options.samplesEvery ?? 10;
      if (samplesEvery > 0 && (step % samplesEvery === 0 || step === 1)) {
        await this.runDir.writeSamples(
          `${name}-step-${step}`,
          rollouts.map((rollout, index) => ({
            id: rollout.item.id,
            task: rollout.item.task,
            prompt: rollout.item.prompt,
            output: rollout.completion.text,
            extraction: rollout.extraction,
            verdict: verdictOf.get(rollout) ?? null,
            reward: excluded[index] ? null : rewards[index],
            advantage: advantages[index],
          })),
        );
      }
      await this.endStep(name, step, options.steps, last);
      await evaluateAfter(step);
    }
    return this.finishStage(name, step - 1, started, last);
  }

  /**
   * RLP (METHOD.md §8): per context, G thoughts are sampled after `thinkOpen`; each is rewarded by the
   * continuation's log-likelihood under the current policy with the thought minus under the learner's EMA
   * teacher without it (`@rlpt/learner-onnx` with `ema`); group-relative advantages over the G thoughts;
   * GRPO coefficients on the thought tokens only (the continuation is never in the update batch). The
   * teacher follows the weights inside the learner's `optimStep`.
   */
  async rlp(items: RlpItem[], options: RlpOptions): Promise<StageSummary> {
    const name = options.name ?? 'rlp';
    const done = this.state.completedStages[name] as StageSummary | undefined;
    if (done) return done;
    if (items.length === 0)
      throw new InvalidArgumentError({ argument: 'items', message: 'RLP needs at least one context.' });
    if (options.thoughtsPerPrompt < 2) {
      throw new InvalidArgumentError({
        argument: 'thoughtsPerPrompt',
        message: `RLP compares thoughts within a group: thoughtsPerPrompt must be at least 2; got ${options.thoughtsPerPrompt}.`,
      });
    }
    const learner = this.learner;
    if (!hasTeacher(learner)) {
      throw new InvalidArgumentError({
        argument: 'learner',
        message:
          'RLP scores against an EMA teacher the learner keeps: create it with one (createOnnxLearner({ …, ema: { decay: 0.999 } })).',
      });
    }
    const grpo = options.grpo ?? presets.paper;
    const group = options.thoughtsPerPrompt;
    const aggregate = options.aggregate ?? 'mean';
    const open = options.thinkOpen ?? '<think>';
    const close = options.thinkClose ?? '</think>';
    const openIds = this.tokenizer.encode(open);
    const closeIds = this.tokenizer.encode(close);
    const eos = new Set([this.tokenizer.eosTokenId].filter((id): id is number => id !== undefined));
    const started = performance.now();
    const firstStep = this.beginStage(name);
    let last = this.stageOver(firstStep, options) ? await this.lastMetrics(name) : {};
    let step = firstStep;
    for (; !this.stageOver(step, options); step++) {
      this.throwIfAborted();
      const timings = { rollout: 0, score: 0, learn: 0, sync: 0 };
      let mark = performance.now();
      const batch = this.batchIndices(name, items.length, options.promptsPerStep, step).map(
        (index) => items[index]!,
      );
      const policy = await this.currentPolicy();
      timings.sync = (performance.now() - mark) / 1000;

      // 1. G thoughts per context from the current policy, ended by the close marker.
      mark = performance.now();
      const generated = await policy.generate(
        {
          prompts: batch.map((item) => `${item.context}${open}`),
          n: group,
          maxTokens: options.thoughtTokens,
          temperature: options.temperature ?? 1,
          stop: [close],
          seed: deriveSeed(this.seed, `${name}:rollout`, step),
          logprobs: true,
        },
        this.signal ? { signal: this.signal } : undefined,
      );
      timings.rollout = (performance.now() - mark) / 1000;

      // 2. Two teacher-forced passes: the policy with each thought, the teacher once per context without.
      mark = performance.now();
      const contexts = batch.map((item, promptIndex) => {
        const result = generated.results[promptIndex]!;
        const promptTokenIds = Array.from(
          result.promptTokenIds ?? this.tokenizer.encode(`${item.context}${open}`),
        );
        if (!endsWith(promptTokenIds, openIds)) {
          throw new RlptError({
            code: 'rlp-marker',
            message: `RLP: the prompt of ${item.id} does not end with the tokens of ${JSON.stringify(open)}; the marker must tokenize on its own (add it to the tokenizer, or pick another thinkOpen).`,
          });
        }
        const continuationIds = this.tokenizer.encode(item.continuation);
        if (continuationIds.length === 0) {
          throw new InvalidInputError({
            reason: 'empty-continuation',
            message: `RLP: the continuation of ${item.id} has no tokens.`,
          });
        }
        return {
          item,
          promptTokenIds,
          contextIds: promptTokenIds.slice(0, promptTokenIds.length - openIds.length),
          continuationIds,
          thoughts: result.completions.map((completion) => {
            const tokenIds = Array.from(completion.tokenIds ?? this.tokenizer.encode(completion.text));
            // The thought as the policy reads it before the continuation: a final eos dropped, closed
            // by the marker (a thought cut by the budget is closed here).
            let closed =
              tokenIds.length > 0 && eos.has(tokenIds[tokenIds.length - 1]!)
                ? tokenIds.slice(0, -1)
                : tokenIds;
            const cut = !endsWith(closed, closeIds);
            if (cut) closed = [...closed, ...closeIds];
            return { completion, tokenIds, closed, cut };
          }),
        };
      });
      const rollouts = contexts.flatMap((context, contextIndex) =>
        context.thoughts.map((thought) => ({ context, contextIndex, thought })),
      );
      const withThought = await learner.logprobs({
        sequences: rollouts.map(({ context, thought }) => ({
          promptTokenIds: [...context.promptTokenIds, ...thought.closed],
          completionTokenIds: context.continuationIds,
        })),
      });
      const teacher = await learner.teacherLogprobs({
        sequences: contexts.map((context) => ({
          promptTokenIds: context.contextIds,
          completionTokenIds: context.continuationIds,
        })),
      });
      const rewards = new Float64Array(rollouts.length);
      const policyTerms = new Float64Array(rollouts.length);
      const teacherTerms = contexts.map((_, index) => aggregateLogLikelihood(teacher[index]!, aggregate));
      rollouts.forEach(({ contextIndex }, index) => {
        policyTerms[index] = aggregateLogLikelihood(withThought[index]!, aggregate);
        rewards[index] = policyTerms[index]! - teacherTerms[contextIndex]!;
      });
      timings.score = (performance.now() - mark) / 1000;

      // 3. Group-relative advantages, GRPO coefficients on the thought tokens, one step (+ the EMA).
      mark = performance.now();
      const grouped = computeMaskedGroupAdvantages(
        rewards,
        group,
        new Uint8Array(rollouts.length),
        grpo.advantage,
      );
      // The continuation is never in the update batch: the thought is the completion.
      const { objective, hasSignal, gradNorm, learningRate } = await this.grpoUpdate(
        rollouts.flatMap(({ context, thought }, index) =>
          thought.tokenIds.length > 0 && grouped.keep[index] === 1
            ? [
                {
                  id: context.item.id,
                  promptTokenIds: context.promptTokenIds,
                  completionTokenIds: thought.tokenIds,
                  logprobs: thought.completion.logprobs,
                  advantage: grouped.advantages[index]!,
                },
              ]
            : [],
        ),
        { grpo, options, step, policy },
      );
      timings.learn = (performance.now() - mark) / 1000;
      const thoughtTokens = rollouts.reduce((sum, { thought }) => sum + thought.tokenIds.length, 0);
      const scoredTokens =
        rollouts.reduce((sum, { context }) => sum + context.continuationIds.length, 0) +
        contexts.reduce((sum, context) => sum + context.continuationIds.length, 0);
      this.state.tokensSeen += thoughtTokens;
      // Sampling (context + thought), the two scoring passes, and the update on the kept thoughts.
      const trained = rollouts.filter(
        ({ thought }, index) => thought.tokenIds.length > 0 && grouped.keep[index] === 1,
      );
      const stepCompute =
        rollouts.reduce(
          (sum, { context, thought }) =>
            sum +
            context.promptTokenIds.length +
            thought.tokenIds.length +
            context.promptTokenIds.length +
            thought.closed.length +
            context.continuationIds.length,
          0,
        ) +
        contexts.reduce(
          (sum, context) => sum + context.contextIds.length + context.continuationIds.length,
          0,
        ) +
        (hasSignal
          ? 3 *
            trained.reduce(
              (sum, { context, thought }) => sum + context.promptTokenIds.length + thought.tokenIds.length,
              0,
            )
          : 0);
      const computeTokens = this.addCompute(stepCompute);
      const mean = (values: ArrayLike<number>) =>
        values.length ? Array.from(values).reduce((sum, value) => sum + value, 0) / values.length : 0;
      last = {
        'reward.mean': mean(rewards),
        'rlp.policyLogLikelihood': mean(policyTerms),
        'rlp.teacherLogLikelihood': mean(teacherTerms),
        'thought.length': thoughtTokens / Math.max(1, rollouts.length),
        'thought.cut': rollouts.filter(({ thought }) => thought.cut).length / Math.max(1, rollouts.length),
        ...Object.fromEntries(
          Object.entries(objective.stats)
            .filter(([, value]) => typeof value === 'number' && Number.isFinite(value))
            .map(([key, value]) => [`grpo.${key}`, value as number]),
        ),
        'advantage.zeroVarianceGroupShare': grouped.stats.zeroVarianceGroupShare,
        'advantage.std': grouped.stats.advantageStd,
        tokensSeen: this.state.tokensSeen,
        learningRate,
        updated: hasSignal ? 1 : 0,
        completionTokens: thoughtTokens,
        scoredTokens,
        computeTokens,
        ...(gradNorm !== undefined ? { gradNorm } : {}),
        ...Object.fromEntries(
          Object.entries(timings).map(([phase, seconds]) => [`seconds.${phase}`, seconds]),
        ),
      };
      this.onEvent({
        type: 'rollout-end',
        step,
        prompts: batch.length,
        completions: rollouts.length,
        seconds: timings.rollout,
      });
      const samplesEvery = options.samplesEvery ?? 10;
      if (samplesEvery > 0 && (step % samplesEvery === 0 || step === 1)) {
        await this.runDir.writeSamples(
          `${name}-step-${step}`,
          rollouts.map(({ context, contextIndex, thought }, index) => ({
            id: context.item.id,
            task: 'rlp',
            context: context.item.context,
            thought: thought.completion.text,
            cut: thought.cut,
            promptTokenIds: context.promptTokenIds,
            scoredThoughtTokenIds: thought.closed,
            continuationTokenIds: context.continuationIds,
            continuation: context.item.continuation,
            policyLogLikelihood: policyTerms[index],
            teacherLogLikelihood: teacherTerms[contextIndex],
            reward: rewards[index],
            advantage: grouped.advantages[index],
          })),
        );
      }
      await this.endStep(name, step, options.steps, last);
    }
    return this.finishStage(name, step - 1, started, last);
  }

  /**
   * One on-policy GRPO step on sampled sequences (RL and RLP): per-token coefficients from the sampling
   * logprobs and advantages, then forwardBackward + optimStep when any coefficient is non-zero.
   */
  private async grpoUpdate(
    sequences: {
      id: string;
      promptTokenIds: ArrayLike<number>;
      completionTokenIds: ArrayLike<number>;
      logprobs: Float32Array | undefined;
      advantage: number;
    }[],
    context: {
      grpo: GrpoPreset;
      options: OptimizerSettings & { steps: number };
      step: number;
      policy: InferenceBackendV1;
    },
  ) {
    const { grpo, options, step, policy } = context;
    const logprobs = sequences.map((sequence) => {
      const values = sequence.logprobs;
      if (values && values.length === sequence.completionTokenIds.length) return values;
      // Zeros would silently turn every importance ratio into exp(logπ): GRPO needs the sampling logprobs.
      throw new RlptError({
        code: 'missing-logprobs',
        message: `The policy backend ${policy.provider}:${policy.modelId} returned ${values ? `${values.length} logprobs for ${sequence.completionTokenIds.length} tokens` : 'no logprobs'} for a rollout of item ${sequence.id ?? '?'} (step ${step}). GRPO needs the logprob of every sampled token: use a backend with capabilities.logprobs (onnx, or an OpenAI-compatible server that returns logprobs with token ids, e.g. vLLM with server: 'vllm').`,
      });
    });
    const objective = grpoObjective(
      { logprobs, advantages: sequences.map((sequence) => sequence.advantage) },
      grpo.objective,
    );
    const hasSignal = objective.coefficients.some((values) => values.some((value) => value !== 0));
    let gradNorm: number | undefined;
    const learningRate = learningRateAt(options, step, options.steps);
    if (hasSignal) {
      await this.learner.forwardBackward(
        {
          sequences: sequences.map((sequence) => ({
            promptTokenIds: sequence.promptTokenIds,
            completionTokenIds: sequence.completionTokenIds,
          })),
        },
        objective.coefficients,
      );
      gradNorm = (await this.learner.optimStep({ learningRate })).gradNorm;
      this.policyStale = true;
    }
    return { objective, hasSignal, gradNorm, learningRate };
  }

  /** The metrics of a stage's latest recorded step (for a stage resumed after its last step). */
  private async lastMetrics(stage: string): Promise<Record<string, number>> {
    const row = (await this.runDir.readMetrics()).findLast((entry) => entry.stage === stage);
    if (!row) return {};
    const { stage: _stage, step: _step, ...metrics } = row;
    return metrics as Record<string, number>;
  }

  private rlMetrics(
    rollouts: { item: RlItem; completionTokenIds: ArrayLike<number>; extraction: { status: string } }[],
    rewards: Float64Array,
    excluded: Uint8Array,
    verdictOf: Map<unknown, JudgeVerdict>,
    stats: Record<string, unknown>,
    extra: Record<string, number>,
  ): Record<string, number> {
    const metrics: Record<string, number> = {};
    const byTask = new Map<string, { sum: number; count: number }>();
    const statuses: Record<string, number> = { ok: 0, missing: 0, empty: 0, unterminated: 0 };
    let judgeFailed = 0;
    let skipped = 0;
    let length = 0;
    let sum = 0;
    let counted = 0;
    rollouts.forEach((rollout, index) => {
      statuses[rollout.extraction.status] = (statuses[rollout.extraction.status] ?? 0) + 1;
      const verdict = verdictOf.get(rollout);
      if (verdict?.status === 'failed') judgeFailed++;
      if (verdict?.status === 'skipped') skipped++;
      length += rollout.completionTokenIds.length;
      if (excluded[index]) return;
      sum += rewards[index]!;
      counted++;
      const task = String(rollout.item.task ?? 'all');
      const entry = byTask.get(task) ?? { sum: 0, count: 0 };
      entry.sum += rewards[index]!;
      entry.count++;
      byTask.set(task, entry);
    });
    metrics['reward.mean'] = counted ? sum / counted : 0;
    for (const [task, entry] of byTask) metrics[`reward.${task}`] = entry.sum / entry.count;
    for (const [status, count] of Object.entries(statuses))
      metrics[`extract.${status}`] = count / rollouts.length;
    metrics['judge.failed'] = judgeFailed;
    metrics['judge.skipped'] = skipped;
    metrics['response.length'] = length / Math.max(1, rollouts.length);
    for (const [key, value] of Object.entries(stats)) {
      if (typeof value === 'number' && Number.isFinite(value)) metrics[`grpo.${key}`] = value;
    }
    metrics.tokensSeen = this.state.tokensSeen;
    return { ...metrics, ...extra };
  }

  /**
   * Next-segment evaluation: n samples per item at the given temperature, judged like training.
   * Reports sampled pass@1 (mean reward), unbiased pass@k, per-task pass@1 and optionally greedy
   * accuracy. Results are stored in the run, so a resumed run does not re-evaluate with later weights.
   */
  async evaluate(items: RlItem[], options: EvaluateOptions): Promise<EvaluateResult> {
    const name = `eval:${options.name ?? 'eval'}`;
    const done = this.state.completedStages[name] as EvaluateResult | undefined;
    if (done) return done;
    const policy = options.modelDir ? await this.loadPolicy(options.modelDir) : await this.currentPolicy();
    try {
      const seed = options.seed ?? deriveSeed(this.seed, name, 0);
      const sampled = await this.scoreItems(
        policy,
        items,
        options,
        options.n,
        options.temperature,
        seed,
        name,
      );
      const passAtKs: Record<string, number> = {};
      for (let k = 1; k <= options.n; k *= 2) {
        passAtKs[String(k)] =
          sampled.solved.reduce((total, solved) => total + passAtK(options.n, solved, k), 0) / items.length;
      }
      const byTask: Record<string, number> = {};
      const taskTotals = new Map<string, { sum: number; count: number }>();
      items.forEach((item, index) => {
        const task = String(item.task ?? 'all');
        const entry = taskTotals.get(task) ?? { sum: 0, count: 0 };
        entry.sum += sampled.correct[index]! / options.n;
        entry.count++;
        taskTotals.set(task, entry);
      });
      for (const [task, entry] of taskTotals) byTask[task] = entry.sum / entry.count;
      const result: EvaluateResult = {
        name: options.name ?? 'eval',
        items: items.length,
        pass1: sampled.correct.reduce((total, correct) => total + correct, 0) / (items.length * options.n),
        passAtK: passAtKs,
        byTask,
        extractionFailureRate: sampled.extractionFailures / (items.length * options.n),
        meanResponseTokens: sampled.responseTokens / (items.length * options.n),
        tokensSeen: this.state.tokensSeen,
      };
      if (options.greedy) {
        const greedy = await this.scoreItems(policy, items, options, 1, 0, seed, `${name}:greedy`);
        result.greedy = greedy.correct.reduce((total, correct) => total + correct, 0) / items.length;
      }
      this.state.completedStages[name] = result;
      await this.runDir.appendMetrics({
        stage: name,
        step: 0,
        tokensSeen: this.state.tokensSeen,
        pass1: result.pass1,
        responseTokens: result.meanResponseTokens,
        ...Object.fromEntries(Object.entries(result.passAtK).map(([k, value]) => [`pass@${k}`, value])),
        ...(result.greedy !== undefined ? { greedy: result.greedy } : {}),
        ...Object.fromEntries(Object.entries(byTask).map(([task, value]) => [`pass1.${task}`, value])),
      });
      // Keep the stage/step reached: an evaluation is not a stage, it only records its result.
      await this.saveCheckpoint(this.state.stage, this.state.step);
      return result;
    } finally {
      if (options.modelDir) await policy.close?.();
    }
  }

  /**
   * Likelihood yardsticks without thinking, the same for every kind of training (RLPT, RPT, RLP,
   * continued pretraining): the mean negative log-likelihood per token of each item's continuation
   * teacher-forced after its raw context (no prompt template; BOS first as in `pretrain`), and the share
   * of items whose first continuation token is the policy's greedy next token after the context — the
   * context as the policy backend encodes a prompt (as in rollouts; a tokenizer without a BOS
   * post-processor adds none there).
   * Stored in the run like `evaluate` (`eval:<name>`), so a resumed run does not re-measure later weights.
   */
  async evaluateText(items: TextItem[], options: { name?: string } = {}): Promise<TextEvaluateResult> {
    const name = `eval:${options.name ?? 'text'}`;
    const done = this.state.completedStages[name] as TextEvaluateResult | undefined;
    if (done) return done;
    if (items.length === 0)
      throw new InvalidArgumentError({ argument: 'items', message: 'evaluateText needs at least one item.' });
    const bos = this.tokenizer.bosTokenId !== undefined ? [this.tokenizer.bosTokenId] : [];
    const encoded = items.map((item) => {
      const continuation = this.tokenizer.encode(item.continuation);
      if (continuation.length === 0) {
        throw new InvalidInputError({
          reason: 'empty-continuation',
          message: `evaluateText: the continuation of ${item.id} has no tokens.`,
        });
      }
      return { context: [...bos, ...this.tokenizer.encode(item.context)], continuation };
    });
    const policy = await this.currentPolicy();
    let nll = 0;
    let tokens = 0;
    let correct = 0;
    const chunk = 64;
    for (let start = 0; start < items.length; start += chunk) {
      this.throwIfAborted();
      const slice = encoded.slice(start, start + chunk);
      const logprobs = await this.learner.logprobs({
        sequences: slice.map((entry) => ({
          promptTokenIds: entry.context,
          completionTokenIds: entry.continuation,
        })),
      });
      for (const values of logprobs) {
        for (const value of values) nll -= value;
        tokens += values.length;
      }
      const generated = await policy.generate(
        {
          prompts: items.slice(start, start + chunk).map((item) => item.context),
          n: 1,
          maxTokens: 1,
          temperature: 0,
        },
        this.signal ? { signal: this.signal } : undefined,
      );
      slice.forEach((entry, offset) => {
        const completion = generated.results[offset]!.completions[0];
        const first = completion?.tokenIds?.[0] ?? this.tokenizer.encode(completion?.text ?? '')[0];
        if (first === entry.continuation[0]) correct++;
      });
      this.onEvent({
        type: 'progress',
        phase: name,
        done: Math.min(items.length, start + chunk),
        total: items.length,
        unit: 'items',
      });
    }
    const result: TextEvaluateResult = {
      name: options.name ?? 'text',
      items: items.length,
      nll: nll / tokens,
      tokens,
      nextTokenAccuracy: correct / items.length,
      tokensSeen: this.state.tokensSeen,
      computeTokens: this.state.computeTokens ?? 0,
    };
    this.state.completedStages[name] = result;
    await this.runDir.appendMetrics({
      stage: name,
      step: 0,
      tokensSeen: result.tokensSeen,
      computeTokens: result.computeTokens,
      nll: result.nll,
      nextTokenAccuracy: result.nextTokenAccuracy,
    });
    await this.saveCheckpoint(this.state.stage, this.state.step);
    return result;
  }

  private async scoreItems(
    policy: InferenceBackendV1,
    items: RlItem[],
    options: EvaluateOptions,
    n: number,
    temperature: number,
    seed: number,
    phase: string,
  ): Promise<{ correct: number[]; solved: number[]; extractionFailures: number; responseTokens: number }> {
    // `correct`: the sum of the rewards of each item's samples (graded judges count partly) — pass@1 is
    // its mean. `solved`: the samples with full reward (score 1) — what pass@k counts.
    const correct = new Array<number>(items.length).fill(0);
    const solved = new Array<number>(items.length).fill(0);
    let extractionFailures = 0;
    let responseTokens = 0;
    const chunk = 64;
    for (let start = 0; start < items.length; start += chunk) {
      this.throwIfAborted();
      const slice = items.slice(start, start + chunk);
      const generated = await policy.generate(
        {
          prompts: slice.map((item) => item.prompt),
          n,
          maxTokens: options.maxTokens,
          temperature,
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          seed: seed + start,
        },
        this.signal ? { signal: this.signal } : undefined,
      );
      const judgeItems: JudgeItem[] = [];
      const owners: number[] = [];
      slice.forEach((item, offset) => {
        for (const completion of generated.results[offset]!.completions) {
          responseTokens += completion.tokenIds?.length ?? this.tokenizer.encode(completion.text).length;
          const extraction = readPrediction(completion.text, options.extract);
          if (extraction.status !== 'ok') {
            extractionFailures++;
            continue;
          }
          judgeItems.push({ ...item.toJudgeItem(extraction.text), id: item.id });
          owners.push(start + offset);
        }
      });
      const verdicts = judgeItems.length ? await options.judge.judge(judgeItems) : [];
      this.checkJudgeFailures(options.judge, verdicts, options.maxJudgeFailureRate, `evaluation ${phase}`);
      verdicts.forEach((verdict, index) => {
        if (verdict.status === 'failed' || !(verdict.score > 0)) return;
        correct[owners[index]!]! += verdict.score;
        if (verdict.score >= 1) solved[owners[index]!]!++;
      });
      this.onEvent({
        type: 'progress',
        phase,
        done: start + slice.length,
        total: items.length,
        unit: 'items',
      });
    }
    return { correct, solved, extractionFailures, responseTokens };
  }

  /**
   * Throws `judge-failing` when more than `maxRate` of `verdicts` failed: a dead or misconfigured judge
   * (unreachable, thinking past its token budget, answering garbage) must stop the run, not train on
   * nothing and report 0.000. The error names the reasons and the judge's last raw outputs.
   */
  private checkJudgeFailures(judge: unknown, verdicts: JudgeVerdict[], maxRate = 0.2, where = ''): void {
    if (verdicts.length === 0 || maxRate >= 1) return;
    const failed = verdicts.filter((verdict) => verdict.status === 'failed');
    if (failed.length / verdicts.length <= maxRate) return;
    const reasons: Record<string, number> = {};
    for (const verdict of failed)
      reasons[verdict.reason ?? 'unknown'] = (reasons[verdict.reason ?? 'unknown'] ?? 0) + 1;
    const stats = (
      judge as { stats?: () => { lastFailures?: { reason: string; message: string; raw?: string }[] } }
    ).stats?.();
    const lastFailures = (stats?.lastFailures ?? []).slice(-3);
    const details = lastFailures.length
      ? lastFailures.map(
          (failure) =>
            `  - ${failure.reason}: ${failure.message}${failure.raw !== undefined ? `\n    raw output: ${JSON.stringify(failure.raw.slice(0, 300))}` : ''}`,
        )
      : failed
          .slice(-3)
          .map(
            (verdict) =>
              `  - ${verdict.reason ?? 'unknown'}${verdict.raw !== undefined ? `: raw output ${JSON.stringify(verdict.raw.slice(0, 300))}` : ''}`,
          );
    const name = (judge as { name?: string }).name ?? 'the judge';
    throw new RlptError({
      code: 'judge-failing',
      message: `Judge ${name} failed on ${failed.length} of ${verdicts.length} predictions (${((100 * failed.length) / verdicts.length).toFixed(1)}%) over ${where}, above the limit of ${(100 * maxRate).toFixed(0)}% (judge.maxFailureRate). Reasons: ${Object.entries(
        reasons,
      )
        .map(([reason, count]) => `${reason} ×${count}`)
        .join(
          ', ',
        )}. Last failures:\n${details.join('\n')}\nFix the judge (see the reasons above), or raise judge.maxFailureRate to train on the rest.`,
    });
  }

  /**
   * Exports the learner's current weights (when they changed) and reopens the policy backend over them;
   * a policy that can load weights (`updateWeights`: `rlpt serve model`, SGLang) gets them pushed
   * instead, so a served policy's rollouts and evaluations stay on the current weights.
   */
  private async currentPolicy(): Promise<InferenceBackendV1> {
    if (this.policy && !this.policyStale) return this.policy;
    const dir = await this.learner.exportForInference(join(this.runDir.root, 'policy'));
    if (!this.policy?.updateWeights) {
      await this.policy?.close?.();
      this.policy = await this.loadPolicy(dir);
    }
    await this.policy.updateWeights?.(dir, this.signal ? { signal: this.signal } : {});
    this.policyStale = false;
    return this.policy;
  }

  private firstStep(stage: string): number {
    return this.state.stage === stage ? this.state.step + 1 : 1;
  }

  /** The first step to run; a stage starting afresh marks where its compute budget counts from. */
  private beginStage(stage: string): number {
    const step = this.firstStep(stage);
    if (step === 1) this.state.stageComputeStart = this.state.computeTokens ?? 0;
    return step;
  }

  /** Past the stage's last step, or its compute budget spent. */
  private stageOver(step: number, options: { steps: number; computeBudget?: number }): boolean {
    if (step > options.steps) return true;
    if (options.computeBudget === undefined) return false;
    if (!Number.isFinite(options.computeBudget) || options.computeBudget < 0) {
      // NaN would never be reached and run the stage to `steps`.
      throw new InvalidArgumentError({
        argument: 'computeBudget',
        message: `computeBudget must be a non-negative number of forward-equivalent tokens; got ${options.computeBudget}.`,
      });
    }
    const used = (this.state.computeTokens ?? 0) - (this.state.stageComputeStart ?? 0);
    return used >= options.computeBudget;
  }

  /** Adds a step's forward-equivalent tokens; returns the run's total. */
  private addCompute(tokens: number): number {
    this.state.computeTokens = (this.state.computeTokens ?? 0) + tokens;
    return this.state.computeTokens;
  }

  /** Indices of the items a step trains on: consecutive slices of per-epoch seeded shuffles. */
  private batchIndices(stage: string, size: number, batchSize: number, step: number): number[] {
    const indices: number[] = [];
    for (let offset = 0; offset < batchSize; offset++) {
      const position = (step - 1) * batchSize + offset;
      const epoch = Math.floor(position / size);
      const key = `${stage}:${epoch}`;
      let order = this.epochOrders.get(key);
      if (!order) {
        order = new Rng(deriveSeed(this.seed, `${stage}:order`, epoch)).shuffle(
          Array.from({ length: size }, (_, index) => index),
        );
        this.epochOrders.set(key, order);
      }
      indices.push(order[position % size]!);
    }
    return indices;
  }

  private async endStep(
    stage: string,
    step: number,
    steps: number,
    metrics: Record<string, number>,
  ): Promise<void> {
    await this.runDir.appendMetrics({ stage, step, ...metrics });
    this.state.stage = stage;
    this.state.step = step;
    this.onEvent({ type: 'step-end', stage, step, metrics });
    this.onEvent({ type: 'progress', phase: stage, done: step, total: steps, unit: 'steps' });
    if (step % this.checkpointEvery === 0 && step < steps) await this.saveCheckpoint(stage, step);
  }

  private async finishStage(
    stage: string,
    steps: number,
    started: number,
    last: Record<string, number>,
  ): Promise<StageSummary> {
    const summary: StageSummary = { stage, steps, seconds: (performance.now() - started) / 1000, last };
    this.state.completedStages[stage] = summary;
    await this.saveCheckpoint(stage, steps);
    this.logger.info(`${stage} finished: ${steps} steps in ${summary.seconds.toFixed(1)}s`);
    return summary;
  }

  private async saveCheckpoint(stage: string, step: number): Promise<void> {
    this.state.stage = stage;
    this.state.step = step;
    const path = await this.runDir.checkpoint(structuredClone(this.state), (dir) =>
      this.learner.save(join(dir, 'learner')),
    );
    this.onEvent({ type: 'checkpoint', step, path });
  }

  private throwIfAborted(): void {
    if (this.signal?.aborted)
      throw new AbortError({ message: 'Training was aborted.', cause: this.signal.reason });
  }

  /** Closes the policy backend. (The learner belongs to the caller.) */
  async close(): Promise<void> {
    await this.policy?.close?.();
    this.policy = undefined;
  }
}
