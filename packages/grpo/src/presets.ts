import type { AdvantageOptions } from './advantages.js';
import type { ObjectiveConfig } from './config.js';

/** An engine's conventions: pass `advantage` to `groupAdvantages` and `objective` to `grpoObjective`. */
export interface GrpoPreset {
  readonly advantage: Readonly<AdvantageOptions>;
  readonly objective: Readonly<ObjectiveConfig>;
}

/** The names of the built-in presets. */
export type PresetName =
  | 'verl'
  | 'openrlhf'
  | 'openrlhf-dr-grpo'
  | 'trl-grpo'
  | 'trl-dr-grpo'
  | 'trl-dapo'
  | 'trl-bnpo'
  | 'paper';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

// Every knob is spelled out so a preset reads as a complete record of the engine's defaults. Sources are
// the snapshots cited in ../shared/reference/rl-engines.md (verl 1dda039b9, OpenRLHF 3c3be623,
// TRL f2cd57710); the README has the table.

/** verl, `algorithm.adv_estimator=grpo` with the actor's defaults (core_algos.py, ppo_trainer.yaml). */
const verl: GrpoPreset = {
  advantage: {
    scale: 'group', // norm_adv_by_std_in_grpo: True
    std: 'unbiased', // torch.std
    epsilon: 1e-6,
    singletonGroups: 'raw', // a group of one gets μ = 0, σ = 1
    dropZeroVarianceGroups: false,
    zeroVarianceTolerance: 0,
  },
  objective: {
    clipLow: 0.2, // clip_ratio_low
    clipHigh: 0.2, // clip_ratio_high
    dualClip: 3, // clip_ratio_c, always applied by compute_policy_loss_vanilla
    logRatioClamp: 20, // clamp(logπ − logπ_old, −20, 20)
    aggregation: 'token-mean', // loss_agg_mode
    emptySequences: 'exclude', // seq-mean-* count sequences with ≥ 1 valid token
    tokenSumNormalizer: null, // loss_scale_factor default: the padded response width
    microBatchSize: null, // global token count across micro-batches
    kl: { coefficient: 0, estimator: 'k3', valueClamp: 10, logRatioClamp: 20 }, // use_kl_loss: False; low_var_kl
    entropy: null, // entropy_coeff: 0
  },
};

/** OpenRLHF `--algo.advantage.estimator group_norm` (experience_maker.py, loss.py, models/utils.py). */
const openrlhf: GrpoPreset = {
  advantage: {
    scale: 'group',
    std: 'unbiased',
    epsilon: 1e-9,
    singletonGroups: 'zero',
    dropZeroVarianceGroups: false,
    zeroVarianceTolerance: 0,
  },
  objective: {
    clipLow: 0.2, // --actor.eps_clip
    clipHigh: 0.2,
    dualClip: null, // --actor.dual_clip default None
    logRatioClamp: 20,
    aggregation: 'token-mean', // token-level loss: global token mean
    emptySequences: 'exclude',
    tokenSumNormalizer: null,
    microBatchSize: null,
    kl: { coefficient: 0, estimator: 'k1', valueClamp: 10, logRatioClamp: null }, // --algo.kl.use_loss off; k1; clamp ±10
    entropy: null,
  },
};

/** OpenRLHF `--algo.advantage.estimator dr_grpo`: centring only; the loss is unchanged. */
const openrlhfDrGrpo: GrpoPreset = {
  advantage: { ...openrlhf.advantage, scale: 'none' },
  objective: {
    ...openrlhf.objective,
    kl: { coefficient: 0, estimator: 'k1', valueClamp: 10, logRatioClamp: null },
  },
};

/** TRL `GRPOConfig` defaults (scale_rewards="group", ε 1e-4, beta 0, epsilon 0.2, no ratio clamp). */
const trlAdvantage: AdvantageOptions = {
  scale: 'group',
  std: 'unbiased', // nanstd
  epsilon: 1e-4,
  singletonGroups: 'zero',
  dropZeroVarianceGroups: false,
  zeroVarianceTolerance: 0,
};

function trlObjective(overrides: Partial<ObjectiveConfig>): ObjectiveConfig {
  return {
    clipLow: 0.2, // epsilon
    clipHigh: 0.2, // epsilon_high = None → epsilon
    dualClip: null,
    logRatioClamp: null, // coef_1 = exp(logπ − logπ_old), no clamp
    aggregation: 'token-mean',
    emptySequences: 'count', // .mean() over all B sequences; dr_grpo divides by size(0)
    tokenSumNormalizer: null,
    microBatchSize: null,
    kl: { coefficient: 0, estimator: 'k3', valueClamp: null, logRatioClamp: null }, // beta = 0.0; k3 unclamped
    entropy: null,
    ...overrides,
  };
}

const trlGrpo: GrpoPreset = {
  advantage: trlAdvantage,
  objective: trlObjective({ aggregation: 'seq-mean-token-mean' }),
};

/** TRL `loss_type="dr_grpo"` with Dr.GRPO's `scale_rewards="none"`; T = max_completion_length (256). */
const trlDrGrpo: GrpoPreset = {
  advantage: { ...trlAdvantage, scale: 'none' },
  objective: trlObjective({ aggregation: 'seq-mean-token-sum-norm', tokenSumNormalizer: 256 }),
};

/** TRL `loss_type="dapo"` (TRL's default): token mean over the whole accumulated batch. */
const trlDapo: GrpoPreset = { advantage: trlAdvantage, objective: trlObjective({}) };

/**
 * TRL `loss_type="bnpo"`: token mean per micro-batch, averaged over micro-batches. Set
 * `microBatchSize` to `per_device_train_batch_size` (× processes) to reproduce gradient accumulation;
 * with the whole batch in one micro-batch it equals `trl-dapo`.
 */
const trlBnpo: GrpoPreset = { advantage: trlAdvantage, objective: trlObjective({}) };

/** RLPT (arXiv 2509.19249): on-policy GRPO, no KL, token-mean, clip 0.2, group std with n − 1. */
const paper: GrpoPreset = {
  advantage: {
    scale: 'group',
    std: 'unbiased',
    epsilon: 1e-6,
    singletonGroups: 'zero',
    dropZeroVarianceGroups: false,
    zeroVarianceTolerance: 0,
  },
  objective: {
    clipLow: 0.2,
    clipHigh: 0.2,
    dualClip: null,
    logRatioClamp: 20,
    aggregation: 'token-mean',
    emptySequences: 'exclude',
    tokenSumNormalizer: null,
    microBatchSize: null,
    kl: null,
    entropy: null,
  },
};

/**
 * Engine conventions as plain, frozen `{ advantage, objective }` records. Spread one to change a knob:
 * `{ ...presets.verl.objective, kl: { ...presets.verl.objective.kl!, coefficient: 0.001 } }`.
 *
 * - `verl`: GRPO with verl's actor defaults (dual clip 3, token-mean, ε 1e-6, KL off but k3 clamps ready).
 * - `openrlhf` / `openrlhf-dr-grpo`: `group_norm` (ε 1e-9) / `dr_grpo` (no std) estimators, token-mean.
 * - `trl-grpo`, `trl-dr-grpo`, `trl-dapo`, `trl-bnpo`: TRL `GRPOConfig` defaults with that `loss_type`.
 * - `paper`: RLPT's on-policy GRPO (no KL, token-mean, clip 0.2, group std n − 1, ε 1e-6).
 */
export const presets: Readonly<Record<PresetName, GrpoPreset>> = deepFreeze({
  verl,
  openrlhf,
  'openrlhf-dr-grpo': openrlhfDrGrpo,
  'trl-grpo': trlGrpo,
  'trl-dr-grpo': trlDrGrpo,
  'trl-dapo': trlDapo,
  'trl-bnpo': trlBnpo,
  paper,
});
