// RLP (METHOD.md §8, docs/decisions/0005): a thought is rewarded by how much it raises the log-likelihood
// of the real continuation over an EMA teacher that reads the context without a thought. These are the
// pieces that do not need the trainer's state; the stage itself is `Trainer.rlp`.
import type { LearnerV1, TokenBatch } from '@rlpt/spec';
import { InvalidArgumentError } from '@rlpt/spec';
import type { NextSegmentSample } from './items.js';
import type { GrpoPreset } from '@rlpt/grpo';
import type { OptimizerSettings } from './types.js';

/** One RLP context: the text before the position and the real continuation after it. */
export interface RlpItem {
  id: string;
  /** x_<t: the text the policy thinks about. */
  context: string;
  /** x_t…: the continuation teacher-forced after the thought. */
  continuation: string;
  task?: string;
}

/** The RLP item of a sample: its context and its reference window (next-token: the continuation). */
export function rlpItem(sample: Pick<NextSegmentSample, 'id' | 'context' | 'reference'>): RlpItem {
  if (!sample.context || !sample.reference) {
    throw new InvalidArgumentError({
      argument: 'sample',
      message: `rlpItem: sample ${sample.id} needs a context and a reference (the continuation).`,
    });
  }
  return { id: sample.id, context: sample.context, continuation: sample.reference, task: 'rlp' };
}

export interface RlpOptions extends OptimizerSettings {
  steps: number;
  /** Compute budget in forward-equivalent tokens (as `RlOptions.computeBudget`). */
  computeBudget?: number;
  /** Contexts per step. */
  promptsPerStep: number;
  /** Thoughts per context (the group of the group-relative advantages), ≥ 2. */
  thoughtsPerPrompt: number;
  /** Token budget of a thought. A thought cut by it is closed with `thinkClose` and scored the same way. */
  thoughtTokens: number;
  temperature?: number;
  /** Marker after the context that starts a thought. Default `<think>`. */
  thinkOpen?: string;
  /** Marker that ends a thought (the stop string). Default `</think>`. */
  thinkClose?: string;
  /**
   * How a continuation's token log-likelihoods become one number per side: `mean` (default: continuations
   * differ in length across contexts, and within a group the advantage is the same up to a per-group
   * factor) or `sum` (RLP's formula as written).
   */
  aggregate?: 'mean' | 'sum';
  /** GRPO settings for the update on the thought tokens (default `paper`). */
  grpo?: GrpoPreset;
  /** Stage name (default `rlp`). */
  name?: string;
  /** Write contexts, thoughts and rewards to `samples/<stage>-step-N.jsonl` every N steps (default 10). */
  samplesEvery?: number;
}

/** A learner with the EMA teacher RLP scores against (`@rlpt/learner-onnx` with `ema`). */
export interface TeacherLearner extends LearnerV1 {
  teacherLogprobs(batch: TokenBatch): Promise<Float32Array[]>;
  /** `false` when the method exists but no teacher is kept (`@rlpt/learner-onnx` without `ema`). */
  readonly hasTeacher?: boolean;
}

export function hasTeacher(learner: LearnerV1): learner is TeacherLearner {
  const candidate = learner as Partial<TeacherLearner>;
  return typeof candidate.teacherLogprobs === 'function' && candidate.hasTeacher !== false;
}

/** Σ or mean of a continuation's token log-likelihoods (float64). */
export function aggregateLogLikelihood(logprobs: ArrayLike<number>, aggregate: 'mean' | 'sum'): number {
  let sum = 0;
  for (let i = 0; i < logprobs.length; i++) sum += logprobs[i] as number;
  return aggregate === 'sum' ? sum : logprobs.length > 0 ? sum / logprobs.length : 0;
}

/** r = agg log p_θ(x | context, thought) − agg log p_φ(x | context). */
export function rlpReward(
  withThought: ArrayLike<number>,
  teacherWithoutThought: ArrayLike<number>,
  aggregate: 'mean' | 'sum' = 'mean',
): number {
  return (
    aggregateLogLikelihood(withThought, aggregate) - aggregateLogLikelihood(teacherWithoutThought, aggregate)
  );
}

/** `a` ends with `b`. */
export function endsWith(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (b.length > a.length) return false;
  for (let i = 1; i <= b.length; i++) if (a[a.length - i] !== b[b.length - i]) return false;
  return true;
}
