/**
 * Tinker's sum-reduced losses (rl-engines.md §4.2) on per-token arrays, and the mapping of an
 * `@rlpt/grpo` objective onto Tinker's `ppo` loss.
 */
import { grpoObjective, type ObjectiveBatch, type ObjectiveConfig, resolveObjectiveConfig } from '@rlpt/grpo';
import { InvalidArgumentError, NumericError, UnsupportedFunctionalityError } from '@rlpt/spec';

export interface TinkerLossInputs {
  /** Current-policy logprobs of the target tokens. */
  logprobs: ArrayLike<number>;
  /** `weights` (cross_entropy). */
  weights?: ArrayLike<number>;
  /** Sampler logprobs (the `logprobs` input of importance_sampling / ppo). */
  samplingLogprobs?: ArrayLike<number>;
  /** `advantages` (importance_sampling / ppo). */
  advantages?: ArrayLike<number>;
}

export interface TinkerLossConfig {
  clip_low_threshold?: number;
  clip_high_threshold?: number;
}

export interface TinkerLossResult {
  /** Per-token loss; the datum's loss is its sum. */
  elementwise: Float64Array;
  /** −∂loss/∂logπ per token: the coefficient a `LearnerV1` takes. */
  coefficients: Float64Array;
}

export const supportedLossFns = ['cross_entropy', 'importance_sampling', 'ppo'] as const;

/**
 * One datum's Tinker loss in float64: `cross_entropy` −Σ w·logp; `importance_sampling` −Σ ρ·A;
 * `ppo` −Σ min(ρ·A, clip(ρ, lo, hi)·A), ρ = exp(logp − sampling logp). Also returns the coefficients
 * −∂loss/∂logp (ρ·A on the unclipped branch, 0 where the clipped branch is strictly smaller).
 */
export function tinkerLoss(
  lossFn: string,
  inputs: TinkerLossInputs,
  config: TinkerLossConfig = {},
): TinkerLossResult {
  const size = inputs.logprobs.length;
  const elementwise = new Float64Array(size);
  const coefficients = new Float64Array(size);
  if (lossFn === 'cross_entropy') {
    const weights = inputs.weights;
    if (!weights)
      throw new InvalidArgumentError({
        argument: 'weights',
        message: 'cross_entropy needs loss_fn_inputs.weights (or omit it for all-ones).',
      });
    for (let t = 0; t < size; t++) {
      const weight = weights[t] as number;
      elementwise[t] = -weight * (inputs.logprobs[t] as number);
      coefficients[t] = weight;
    }
    return { elementwise, coefficients };
  }
  if (lossFn !== 'importance_sampling' && lossFn !== 'ppo') {
    throw new UnsupportedFunctionalityError({
      functionality: `loss_fn ${lossFn}`,
      message: `loss_fn ${JSON.stringify(lossFn)} is not supported; use one of ${supportedLossFns.join(', ')}.`,
    });
  }
  const { samplingLogprobs, advantages } = inputs;
  if (!samplingLogprobs || !advantages) {
    throw new InvalidArgumentError({
      argument: 'loss_fn_inputs',
      message: `${lossFn} needs loss_fn_inputs.logprobs (sampler) and loss_fn_inputs.advantages.`,
    });
  }
  const low = config.clip_low_threshold ?? 0.8;
  const high = config.clip_high_threshold ?? 1.2;
  for (let t = 0; t < size; t++) {
    const advantage = advantages[t] as number;
    const ratio = Math.exp((inputs.logprobs[t] as number) - (samplingLogprobs[t] as number));
    const unclipped = ratio * advantage;
    if (lossFn === 'importance_sampling') {
      elementwise[t] = -unclipped;
      coefficients[t] = unclipped;
      continue;
    }
    const clipped = Math.min(Math.max(ratio, low), high) * advantage;
    if (clipped < unclipped) {
      elementwise[t] = -clipped;
      coefficients[t] = 0;
    } else {
      elementwise[t] = -unclipped;
      coefficients[t] = unclipped;
    }
  }
  return { elementwise, coefficients };
}

/** What `grpoToTinkerPpo` produces: per sequence, the `ppo` inputs over its completion tokens. */
export interface TinkerPpoInputs {
  lossFn: 'ppo';
  lossFnConfig: { clip_low_threshold: number; clip_high_threshold: number };
  /** Per sequence: w_i·A_i·m_t, the aggregation weight folded in (0 on masked tokens and dropped sequences). */
  advantages: Float32Array[];
  /** Per sequence: the behaviour-policy logprobs (oldLogprobs, or logprobs on-policy). */
  samplingLogprobs: Float32Array[];
}

/**
 * Maps an `@rlpt/grpo` objective onto Tinker's `ppo` loss so that Tinker's sum equals `grpoObjective`'s
 * loss and its gradient equals the GRPO coefficients, wherever the server evaluates it. Every aggregation
 * mode (token-mean, seq-mean-*, micro-batch normalisers) is a per-sequence weight w_i > 0, folded into the
 * advantages: Σ w_i·max(−Aρ, −A·clip(ρ)) = Σ max(−(w_i·A)ρ, −(w_i·A)·clip(ρ)).
 *
 * Refused (`UnsupportedFunctionalityError`, naming the knob), because Tinker's losses have no such term:
 * a dual clip (verl's `clip_ratio_c`; pass `dualClip: null`), a KL penalty with coefficient > 0, an entropy
 * bonus. A log-ratio clamp (`logRatioClamp`) has no Tinker counterpart either; it changes nothing while
 * |logπ − logπ_old| stays within it, so the mapping checks that on `batch.logprobs` and throws a
 * `NumericError` naming the token where it does not (send coefficients through `forwardBackward` then).
 */
export function grpoToTinkerPpo(batch: ObjectiveBatch, config: ObjectiveConfig): TinkerPpoInputs {
  const resolved = resolveObjectiveConfig(config, 'grpoToTinkerPpo');
  const refuse = (knob: string, why: string): never => {
    throw new UnsupportedFunctionalityError({
      functionality: knob,
      message: `grpoToTinkerPpo: ${knob} ${why} Tinker's ppo loss has no such term; use forwardBackward(batch, coefficients) (cross_entropy with the GRPO coefficients as weights), which is exact for every objective.`,
    });
  };
  if (resolved.dualClip !== null) refuse('config.dualClip', `is ${resolved.dualClip} (verl's clip_ratio_c);`);
  if (resolved.kl !== null && resolved.kl.coefficient > 0)
    refuse('config.kl', `has coefficient ${resolved.kl.coefficient};`);
  if (resolved.entropy !== null && resolved.entropy.coefficient > 0)
    refuse('config.entropy', `has coefficient ${resolved.entropy.coefficient};`);
  const clamp = resolved.logRatioClamp;
  if (clamp !== null && batch.oldLogprobs) {
    batch.logprobs.forEach((current, sequence) => {
      if (batch.keep && batch.keep[sequence] === 0) return;
      const old = batch.oldLogprobs?.[sequence] as ArrayLike<number>;
      const mask = batch.masks?.[sequence];
      for (let t = 0; t < current.length; t++) {
        if (mask && mask[t] === 0) continue;
        const delta = (current[t] as number) - (old[t] as number);
        if (Math.abs(delta) > clamp) {
          throw new NumericError({
            argument: 'logprobs',
            index: t,
            message: `grpoToTinkerPpo: sequence ${sequence} token ${t} has logπ − logπ_old = ${delta.toFixed(3)}, beyond config.logRatioClamp (${clamp}); Tinker's ppo has no log-ratio clamp, so this batch cannot be mapped exactly. Use forwardBackward(batch, coefficients) for it.`,
          });
        }
      }
    });
  }
  // On-policy (no oldLogprobs) ρ = 1 is never clipped, so the coefficients are exactly w_i·A_i·m_t.
  const { oldLogprobs: _old, refLogprobs: _ref, entropies: _entropies, ...onPolicy } = batch;
  const weighted = grpoObjective(onPolicy, {
    ...config,
    kl: null,
    entropy: null,
    dualClip: null,
  }).coefficients;
  return {
    lossFn: 'ppo',
    lossFnConfig: { clip_low_threshold: 1 - resolved.clipLow, clip_high_threshold: 1 + resolved.clipHigh },
    advantages: weighted,
    samplingLogprobs: (batch.oldLogprobs ?? batch.logprobs).map((array) => Float32Array.from(array)),
  };
}
