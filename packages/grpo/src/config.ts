import { GrpoArgumentError, rejectUnknownKeys } from './errors.js';

/**
 * How per-token losses ℓ_{i,t} (mask m_{i,t}) become one scalar, with B sequences, n_i valid tokens in
 * sequence i, N = Σ_i n_i and S the number of counted sequences (see `emptySequences`):
 *
 * | mode | loss | used by |
 * |---|---|---|
 * | `token-mean` | Σ_i Σ_t m ℓ / N | verl default (DAPO-style), OpenRLHF, TRL `dapo`/`bnpo` |
 * | `token-sum` | Σ_i Σ_t m ℓ | verl `token-sum` |
 * | `seq-mean-token-mean` | (1/S) Σ_i (Σ_t m ℓ / n_i) | original GRPO, TRL `grpo` |
 * | `seq-mean-token-sum` | (1/S) Σ_i Σ_t m ℓ | verl |
 * | `seq-mean-token-sum-norm` | (1/S) Σ_i Σ_t m ℓ / T, T constant | Dr.GRPO (verl, TRL `dr_grpo`) |
 */
export type AggregationMode =
  | 'token-mean'
  | 'token-sum'
  | 'seq-mean-token-mean'
  | 'seq-mean-token-sum'
  | 'seq-mean-token-sum-norm';

/** Every aggregation mode, in the order of the table above. */
export const aggregationModes: readonly AggregationMode[] = Object.freeze([
  'token-mean',
  'token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-sum-norm',
]);

/**
 * KL estimators of KL(π_θ ‖ π_ref) per token, with d = logπ_θ − logπ_ref (verl names in brackets):
 * `k1` = d (`kl`), `abs` = |d|, `k2` = ½d² (`mse`), `k3` = e^x − x − 1 with x = −d (`low_var_kl`).
 * A `+` suffix is verl's straight-through variant: the value is the named estimator, the gradient is
 * k2's (d), e.g. `k3+`.
 */
export type KlEstimator = 'k1' | 'abs' | 'k2' | 'k3' | 'k1+' | 'abs+' | 'k2+' | 'k3+';

/** Every KL estimator. */
export const klEstimators: readonly KlEstimator[] = Object.freeze([
  'k1',
  'abs',
  'k2',
  'k3',
  'k1+',
  'abs+',
  'k2+',
  'k3+',
]);

/** A KL penalty added to the loss: `+ coefficient · agg(k_t)` with the objective's aggregation mode. */
export interface KlConfig {
  /** β ≥ 0 (verl `kl_loss_coef`, OpenRLHF `init_kl_coef`, TRL `beta`). 0 computes KL stats only. */
  coefficient: number;
  /** Default `'k3'`. */
  estimator?: KlEstimator;
  /**
   * Clamp the estimator's value to [−v, v]; the gradient is 0 where the clamp is active. verl clamps
   * `k3` at 10, OpenRLHF clamps every estimator at 10, TRL does not clamp. `null` (default): no clamp.
   */
  valueClamp?: number | null;
  /**
   * `k3`/`k3+` only: clamp x = logπ_ref − logπ_θ to [−v, v] before `exp` (verl: 20). The gradient is 0
   * where it is active. `null` (default): no clamp.
   */
  logRatioClamp?: number | null;
}

/**
 * An entropy bonus `− coefficient · agg(H_t)`. The gradient of the entropy H_t of the whole next-token
 * distribution is not a function of the sampled token's logprob, so it cannot be expressed exactly as a
 * coefficient on logπ_t; `gradient` says who provides it.
 */
export interface EntropyConfig {
  /** ≥ 0 (verl `entropy_coeff`, OpenRLHF `entropy_coef`). */
  coefficient: number;
  /**
   * `'learner'`: coefficients carry no entropy term; your learner adds ∇(−coefficient·agg(H)) itself
   * from the full logits, and `batch.entropies` (required) only feed the reported loss.
   * `'sampled-token'`: the coefficient of token t gains `coefficient · w · ρ_t · (−logπ_t)`, the
   * score-function estimator of the entropy gradient (∇H = E_y[−logπ(y) ∇logπ(y)]; unbiased on-policy,
   * ρ_t corrects for sampling from the old policy). `batch.entropies` are optional: without them the
   * loss uses the sampled estimate −logπ_t of H_t.
   */
  gradient: 'learner' | 'sampled-token';
}

/**
 * The GRPO/PPO objective. Every option has a default (that of the `paper` preset); presets set all of
 * them explicitly. The per-token policy loss is verl's `compute_policy_loss_vanilla`:
 * ρ = exp(clamp(logπ − logπ_old, ±logRatioClamp)), ℓ = max(−Aρ, −A·clip(ρ, 1−clipLow, 1+clipHigh)),
 * and with a dual clip c, ℓ = min(ℓ, −A·c) where A < 0.
 */
export interface ObjectiveConfig {
  /** ε_low: the ratio is clipped below at 1 − clipLow. 0 ≤ clipLow ≤ 1. Default 0.2. */
  clipLow?: number;
  /** ε_high: the ratio is clipped above at 1 + clipHigh (DAPO "clip-higher" uses 0.28). Default = clipLow. */
  clipHigh?: number;
  /** Dual clip c > 1: for A < 0 the loss is capped at −A·c (verl `clip_ratio_c` = 3). `null` (default): off. */
  dualClip?: number | null;
  /** Clamp logπ − logπ_old to [−v, v] before `exp` (verl, OpenRLHF: 20). `null`: no clamp (TRL). Default 20. */
  logRatioClamp?: number | null;
  /** See `AggregationMode`. Default `'token-mean'`. */
  aggregation?: AggregationMode;
  /**
   * Whether kept sequences with no valid token count in S, the sequence count of the `seq-mean-*`
   * modes: `'exclude'` (verl: S = sequences with ≥ 1 valid token) or `'count'` (TRL: S = B).
   * Dropped sequences (`batch.keep`) never count. Default `'exclude'`.
   */
  emptySequences?: 'exclude' | 'count';
  /**
   * T of `seq-mean-token-sum-norm`: a constant such as the maximum response length (verl
   * `loss_scale_factor`, default the padded response width; TRL `max_completion_length`). `null`
   * (default): the longest response array in the batch. Ignored by the other modes.
   */
  tokenSumNormalizer?: number | null;
  /**
   * Split the batch into consecutive chunks of this many sequences, aggregate each chunk on its own and
   * average the chunk losses — what an engine does when it normalises per micro-batch and divides by the
   * gradient-accumulation steps (TRL `bnpo` with `per_device_train_batch_size`). `null` (default): the
   * whole batch is one chunk, i.e. global normalisers (verl, TRL `dapo`).
   */
  microBatchSize?: number | null;
  /** KL penalty against reference logprobs. `null`/absent (default): none. */
  kl?: KlConfig | null;
  /** Entropy bonus. `null`/absent (default): none. */
  entropy?: EntropyConfig | null;
}

/** `KlConfig` with defaults filled in. */
export interface ResolvedKlConfig {
  coefficient: number;
  estimator: KlEstimator;
  valueClamp: number | null;
  logRatioClamp: number | null;
}

/** `ObjectiveConfig` with every default filled in (what `grpoObjective` actually runs). */
export interface ResolvedObjectiveConfig {
  clipLow: number;
  clipHigh: number;
  dualClip: number | null;
  logRatioClamp: number | null;
  aggregation: AggregationMode;
  emptySequences: 'exclude' | 'count';
  tokenSumNormalizer: number | null;
  microBatchSize: number | null;
  kl: ResolvedKlConfig | null;
  entropy: EntropyConfig | null;
}

const objectiveKeys = [
  'clipLow',
  'clipHigh',
  'dualClip',
  'logRatioClamp',
  'aggregation',
  'emptySequences',
  'tokenSumNormalizer',
  'microBatchSize',
  'kl',
  'entropy',
] as const;
const klKeys = ['coefficient', 'estimator', 'valueClamp', 'logRatioClamp'] as const;
const entropyKeys = ['coefficient', 'gradient'] as const;

function fail(where: string, argument: string, message: string): never {
  throw new GrpoArgumentError({ argument, message: `${where}: ${argument} ${message}` });
}

function optionalPositive(where: string, argument: string, value: unknown, fallback: number | null) {
  if (value === undefined) return fallback;
  if (value === null || value === Number.POSITIVE_INFINITY) return null;
  if (typeof value !== 'number' || !(Number.isFinite(value) && value > 0)) {
    fail(where, argument, `must be a number > 0 or null (off), got ${String(value)}.`);
  }
  return value;
}

function nonNegative(where: string, argument: string, value: unknown): number {
  if (typeof value !== 'number' || !(Number.isFinite(value) && value >= 0)) {
    fail(where, argument, `must be a finite number ≥ 0, got ${String(value)}.`);
  }
  return value;
}

function resolveKl(where: string, kl: KlConfig | null | undefined): ResolvedKlConfig | null {
  if (kl === undefined || kl === null) return null;
  if (typeof kl !== 'object') fail(where, 'config.kl', 'must be an object or null.');
  rejectUnknownKeys(where, 'config.kl', kl, klKeys);
  const coefficient = nonNegative(where, 'config.kl.coefficient', kl.coefficient);
  const estimator = kl.estimator ?? 'k3';
  if (!klEstimators.includes(estimator)) {
    fail(
      where,
      'config.kl.estimator',
      `must be one of ${klEstimators.join(', ')}, got ${JSON.stringify(estimator)}.`,
    );
  }
  return {
    coefficient,
    estimator,
    valueClamp: optionalPositive(where, 'config.kl.valueClamp', kl.valueClamp, null),
    logRatioClamp: optionalPositive(where, 'config.kl.logRatioClamp', kl.logRatioClamp, null),
  };
}

function resolveEntropy(where: string, entropy: EntropyConfig | null | undefined): EntropyConfig | null {
  if (entropy === undefined || entropy === null) return null;
  if (typeof entropy !== 'object') fail(where, 'config.entropy', 'must be an object or null.');
  rejectUnknownKeys(where, 'config.entropy', entropy, entropyKeys);
  const coefficient = nonNegative(where, 'config.entropy.coefficient', entropy.coefficient);
  if (entropy.gradient !== 'learner' && entropy.gradient !== 'sampled-token') {
    fail(
      where,
      'config.entropy.gradient',
      `must be 'learner' (your learner adds the entropy gradient from full logits) or 'sampled-token' (score-function estimate in the coefficients), got ${JSON.stringify(entropy.gradient)}.`,
    );
  }
  return { coefficient, gradient: entropy.gradient };
}

/**
 * Fills in the defaults of an `ObjectiveConfig` and validates it.
 *
 * @throws GrpoArgumentError naming the first bad option (`config.clipLow`, `config.kl.estimator`, …),
 * including unknown keys.
 */
export function resolveObjectiveConfig(
  config: ObjectiveConfig = {},
  where = 'grpoObjective',
): ResolvedObjectiveConfig {
  if (typeof config !== 'object' || config === null) fail(where, 'config', 'must be an object.');
  rejectUnknownKeys(where, 'config', config, objectiveKeys);
  const clipLow = config.clipLow ?? 0.2;
  if (typeof clipLow !== 'number' || !(clipLow >= 0 && clipLow <= 1)) {
    fail(
      where,
      'config.clipLow',
      `must be a number in [0, 1] (the ratio is clipped at 1 − clipLow), got ${String(clipLow)}.`,
    );
  }
  const clipHigh = nonNegative(where, 'config.clipHigh', config.clipHigh ?? clipLow);
  const dualClip = config.dualClip ?? null;
  if (dualClip !== null && (typeof dualClip !== 'number' || !(dualClip > 1) || Number.isNaN(dualClip))) {
    fail(where, 'config.dualClip', `must be a number > 1 or null (off), got ${String(dualClip)}.`);
  }
  const aggregation = config.aggregation ?? 'token-mean';
  if (!aggregationModes.includes(aggregation)) {
    fail(
      where,
      'config.aggregation',
      `must be one of ${aggregationModes.join(', ')}, got ${JSON.stringify(aggregation)}.`,
    );
  }
  const emptySequences = config.emptySequences ?? 'exclude';
  if (emptySequences !== 'exclude' && emptySequences !== 'count') {
    fail(
      where,
      'config.emptySequences',
      `must be 'exclude' or 'count', got ${JSON.stringify(emptySequences)}.`,
    );
  }
  const microBatchSize = config.microBatchSize ?? null;
  if (microBatchSize !== null && !(Number.isInteger(microBatchSize) && microBatchSize >= 1)) {
    fail(
      where,
      'config.microBatchSize',
      `must be an integer ≥ 1 or null (whole batch), got ${String(microBatchSize)}.`,
    );
  }
  return {
    clipLow,
    clipHigh,
    dualClip: dualClip === Number.POSITIVE_INFINITY ? null : dualClip,
    logRatioClamp: optionalPositive(where, 'config.logRatioClamp', config.logRatioClamp, 20),
    aggregation,
    emptySequences,
    tokenSumNormalizer: optionalPositive(where, 'config.tokenSumNormalizer', config.tokenSumNormalizer, null),
    microBatchSize,
    kl: resolveKl(where, config.kl),
    entropy: resolveEntropy(where, config.entropy),
  };
}
