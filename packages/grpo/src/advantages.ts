import { GrpoArgumentError, rejectUnknownKeys, throwNonFinite } from './errors.js';

/**
 * How rewards become advantages. Rollouts come in groups of `groupSize` consecutive entries (the G
 * completions of one prompt). Every advantage is `A_i = (r_i − μ_g) / (σ + ε)` with the std placement
 * `/(σ + ε)` used by verl, OpenRLHF and TRL alike, or `A_i = r_i − μ_g` when `scale` is `'none'`.
 */
export interface AdvantageOptions {
  /**
   * Which std divides the centred rewards: `'group'` (each group's own std; verl, OpenRLHF
   * `group_norm`, TRL `scale_rewards="group"`), `'batch'` (the std of all rewards in the call; TRL
   * `scale_rewards="batch"`) or `'none'` (centring only; Dr.GRPO, TRL `"none"`, Tinker cookbook).
   * Default `'group'`.
   */
  scale?: 'group' | 'batch' | 'none';
  /**
   * Std denominator: `'unbiased'` (n − 1, `torch.std`, used by every engine) or `'biased'` (n).
   * A std over fewer than two values is 0. Default `'unbiased'`.
   */
  std?: 'unbiased' | 'biased';
  /** ε in `(r − μ) / (σ + ε)`; must be > 0 when scaling. verl 1e-6, OpenRLHF 1e-9, TRL 1e-4. Default 1e-6. */
  epsilon?: number;
  /**
   * Groups of one rollout: `'zero'` centres as usual, so A = 0 (no baseline, no signal);
   * `'raw'` is verl's rule (μ := 0, σ := 1), so A = r / (1 + ε) with group scaling, r without.
   * Default `'zero'`.
   */
  singletonGroups?: 'zero' | 'raw';
  /**
   * Mark the rollouts of zero-variance groups (all rewards equal: no learning signal) as dropped in
   * `computeGroupAdvantages(...).keep`, so `grpoObjective` leaves them out of every normaliser
   * (token counts and sequence counts). Their advantages are 0 either way (except verl-style `'raw'`
   * singletons, which are all-equal groups too and so are dropped as well). Default `false`.
   */
  dropZeroVarianceGroups?: boolean;
  /**
   * A group counts as zero-variance when `max − min ≤ zeroVarianceTolerance`. Default 0 (exactly equal
   * rewards, e.g. all 0 or all 1 for RLPT's binary judge).
   */
  zeroVarianceTolerance?: number;
}

/** `AdvantageOptions` with every default filled in. */
export interface ResolvedAdvantageOptions {
  scale: 'group' | 'batch' | 'none';
  std: 'unbiased' | 'biased';
  epsilon: number;
  singletonGroups: 'zero' | 'raw';
  dropZeroVarianceGroups: boolean;
  zeroVarianceTolerance: number;
}

/** Batch statistics of one advantage computation, for logging. */
export interface AdvantageStats {
  /** Number of groups (`rewards.length / groupSize`). */
  groups: number;
  /** Groups whose rewards are all equal (within `zeroVarianceTolerance`); they carry no signal. */
  zeroVarianceGroups: number;
  /** `zeroVarianceGroups / groups` (0 for an empty batch). */
  zeroVarianceGroupShare: number;
  /** Rollouts marked as dropped in `keep`. */
  droppedSequences: number;
  /** Mean and std (biased, over all rollouts) of the rewards. */
  rewardMean: number;
  rewardStd: number;
  /** Mean, std (biased), min and max of the advantages over all rollouts. */
  advantageMean: number;
  advantageStd: number;
  advantageMin: number;
  advantageMax: number;
}

/** What `computeGroupAdvantages` returns. */
export interface GroupAdvantages {
  /** One advantage per rollout, in input order. Exactly 0 for rollouts in zero-variance groups. */
  advantages: Float32Array;
  /** Per group: 1 if all its rewards are equal (within tolerance), else 0. */
  zeroVarianceGroups: Uint8Array;
  /** Per rollout: 0 if dropped (`dropZeroVarianceGroups`), else 1. Pass it to `grpoObjective` as `keep`. */
  keep: Uint8Array;
  stats: AdvantageStats;
}

const advantageOptionKeys = [
  'scale',
  'std',
  'epsilon',
  'singletonGroups',
  'dropZeroVarianceGroups',
  'zeroVarianceTolerance',
] as const;

/** Fills in defaults and validates `AdvantageOptions`; throws `GrpoArgumentError` naming the option. */
export function resolveAdvantageOptions(
  options: AdvantageOptions = {},
  where = 'groupAdvantages',
): ResolvedAdvantageOptions {
  if (typeof options !== 'object' || options === null) {
    throw new GrpoArgumentError({ argument: 'options', message: `${where}: options must be an object.` });
  }
  rejectUnknownKeys(where, 'options', options, advantageOptionKeys);
  const scale = options.scale ?? 'group';
  if (scale !== 'group' && scale !== 'batch' && scale !== 'none') {
    throw new GrpoArgumentError({
      argument: 'options.scale',
      message: `${where}: options.scale must be 'group', 'batch' or 'none', got ${JSON.stringify(scale)}.`,
    });
  }
  const std = options.std ?? 'unbiased';
  if (std !== 'unbiased' && std !== 'biased') {
    throw new GrpoArgumentError({
      argument: 'options.std',
      message: `${where}: options.std must be 'unbiased' (n − 1) or 'biased' (n), got ${JSON.stringify(std)}.`,
    });
  }
  const epsilon = options.epsilon ?? 1e-6;
  if (!(Number.isFinite(epsilon) && epsilon >= 0) || (epsilon === 0 && scale !== 'none')) {
    throw new GrpoArgumentError({
      argument: 'options.epsilon',
      message: `${where}: options.epsilon must be a finite number > 0 when scaling by a std (a zero-variance group would divide by 0), got ${epsilon}.`,
    });
  }
  const singletonGroups = options.singletonGroups ?? 'zero';
  if (singletonGroups !== 'zero' && singletonGroups !== 'raw') {
    throw new GrpoArgumentError({
      argument: 'options.singletonGroups',
      message: `${where}: options.singletonGroups must be 'zero' or 'raw', got ${JSON.stringify(singletonGroups)}.`,
    });
  }
  const dropZeroVarianceGroups = options.dropZeroVarianceGroups ?? false;
  if (typeof dropZeroVarianceGroups !== 'boolean') {
    throw new GrpoArgumentError({
      argument: 'options.dropZeroVarianceGroups',
      message: `${where}: options.dropZeroVarianceGroups must be a boolean.`,
    });
  }
  const zeroVarianceTolerance = options.zeroVarianceTolerance ?? 0;
  if (!(Number.isFinite(zeroVarianceTolerance) && zeroVarianceTolerance >= 0)) {
    throw new GrpoArgumentError({
      argument: 'options.zeroVarianceTolerance',
      message: `${where}: options.zeroVarianceTolerance must be a finite number ≥ 0, got ${zeroVarianceTolerance}.`,
    });
  }
  return { scale, std, epsilon, singletonGroups, dropZeroVarianceGroups, zeroVarianceTolerance };
}

function validateGroups(where: string, rewards: ArrayLike<number>, groupSize: number): void {
  if (rewards === null || typeof rewards !== 'object' || typeof rewards.length !== 'number') {
    throw new GrpoArgumentError({
      argument: 'rewards',
      message: `${where}: rewards must be an array or typed array of numbers.`,
    });
  }
  if (!(Number.isInteger(groupSize) && groupSize >= 1)) {
    throw new GrpoArgumentError({
      argument: 'groupSize',
      message: `${where}: groupSize must be an integer ≥ 1 (the number of rollouts per prompt), got ${groupSize}.`,
    });
  }
  if (rewards.length % groupSize !== 0) {
    throw new GrpoArgumentError({
      argument: 'rewards',
      message: `${where}: rewards.length (${rewards.length}) is not a multiple of groupSize (${groupSize}); pass the ${groupSize} rollouts of each prompt as consecutive entries.`,
    });
  }
  for (let index = 0; index < rewards.length; index++) {
    const reward = rewards[index]!;
    if (!Number.isFinite(reward)) {
      throwNonFinite(
        where,
        'rewards',
        index,
        reward,
        'rewards must be finite numbers (score or drop failed judge calls before computing advantages).',
      );
    }
  }
}

/** Std of `values[start, end)` around `mean`, in float64; 0 for fewer than two values. */
function standardDeviation(
  values: ArrayLike<number>,
  start: number,
  end: number,
  mean: number,
  unbiased: boolean,
): number {
  const count = end - start;
  if (count < 2) return 0;
  let sumSquares = 0;
  for (let index = start; index < end; index++) {
    const deviation = values[index]! - mean;
    sumSquares += deviation * deviation;
  }
  return Math.sqrt(sumSquares / (unbiased ? count - 1 : count));
}

function mean(values: ArrayLike<number>, start: number, end: number): number {
  let sum = 0;
  for (let index = start; index < end; index++) sum += values[index]!;
  return end > start ? sum / (end - start) : 0;
}

/**
 * Per group, 1 if all `groupSize` rewards are equal (`max − min ≤ tolerance`), else 0. A group of one
 * is trivially zero-variance. Such groups carry no GRPO signal: their centred advantages are all 0.
 *
 * @param rewards one scalar reward per rollout, groups of `groupSize` consecutive entries.
 * @param groupSize rollouts per prompt (G).
 * @param tolerance largest reward spread still treated as "all equal". Default 0.
 * @throws GrpoArgumentError if `groupSize` is not a positive integer dividing `rewards.length`.
 * @throws GrpoNumericError naming the index of a NaN or infinite reward.
 */
export function zeroVarianceGroups(rewards: ArrayLike<number>, groupSize: number, tolerance = 0): Uint8Array {
  const where = 'zeroVarianceGroups';
  validateGroups(where, rewards, groupSize);
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new GrpoArgumentError({
      argument: 'tolerance',
      message: `${where}: tolerance must be a finite number ≥ 0, got ${tolerance}.`,
    });
  }
  return flagZeroVariance(rewards, groupSize, tolerance);
}

function flagZeroVariance(rewards: ArrayLike<number>, groupSize: number, tolerance: number): Uint8Array {
  const groups = rewards.length / groupSize;
  const flags = new Uint8Array(groups);
  for (let group = 0; group < groups; group++) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let index = group * groupSize; index < (group + 1) * groupSize; index++) {
      const reward = rewards[index]!;
      if (reward < min) min = reward;
      if (reward > max) max = reward;
    }
    flags[group] = max - min <= tolerance ? 1 : 0;
  }
  return flags;
}

/**
 * Group-relative advantages with the zero-variance flags, the `keep` mask and batch statistics.
 * `groupAdvantages` returns only the advantages; use this when you log or drop zero-variance groups.
 *
 * Computed in float64; the output is float32. Rollouts of zero-variance groups get exactly 0 (an engine
 * computes `(r − μ)/(0 + ε)`, which is 0 up to float rounding of μ).
 *
 * @param rewards one scalar reward per rollout; the `groupSize` rollouts of each prompt are consecutive.
 * @param groupSize rollouts per prompt (G ≥ 1).
 * @param options std scaling, denominator, ε, singleton and zero-variance handling; see `AdvantageOptions`.
 * @throws GrpoArgumentError for a bad `groupSize`, a length that is not a multiple of it, or a bad option.
 * @throws GrpoNumericError naming the index of the first NaN or infinite reward.
 */
export function computeGroupAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  options?: AdvantageOptions,
): GroupAdvantages {
  return advantagesFor('computeGroupAdvantages', rewards, groupSize, options);
}

/**
 * Group advantages when some rollouts have no reward — a judge failure, a timed-out verifier: such
 * rollouts must teach nothing, and must not distort their group's baseline either. `excluded[i]` truthy
 * marks rollout i: its advantage is 0 and `keep[i]` is 0 (so `grpoObjective` leaves it out of every
 * normaliser), and its reward is ignored (any value, NaN included). Every statistic — each group's mean
 * and std, the zero-variance test, the batch std with `scale: 'batch'`, the reward stats — is computed
 * over the valid rollouts alone; a group with one valid rollout follows `singletonGroups`, one with none
 * is a zero-variance group. With nothing excluded it equals {@link computeGroupAdvantages}.
 *
 * @example
 * // Group of 4, the third judge call failed: the baseline is the mean of the other three.
 * computeMaskedGroupAdvantages([1, 0, 0, 1], 4, [0, 0, 1, 0]).advantages; // ≈ [0.577, −1.155, 0, 0.577]
 * @throws GrpoArgumentError for a bad `groupSize`, an `excluded` of another length, or a bad option.
 * @throws GrpoNumericError naming the index of the first NaN or infinite reward of a valid rollout.
 */
export function computeMaskedGroupAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  excluded: ArrayLike<number | boolean>,
  options?: AdvantageOptions,
): GroupAdvantages {
  const where = 'computeMaskedGroupAdvantages';
  if (!excluded || typeof excluded.length !== 'number' || excluded.length !== rewards.length) {
    throw new GrpoArgumentError({
      argument: 'excluded',
      message: `${where}: excluded must have one entry per reward (${rewards.length}), got ${excluded?.length ?? 'none'}.`,
    });
  }
  const size = rewards.length;
  const isValid = (index: number) => !excluded[index];
  let anyExcluded = false;
  for (let index = 0; index < size; index++) if (!isValid(index)) anyExcluded = true;
  if (!anyExcluded) return advantagesFor(where, rewards, groupSize, options);
  const resolved = resolveAdvantageOptions(options, where);
  validateGroups(
    where,
    Float64Array.from({ length: size }, (_, index) => (isValid(index) ? rewards[index]! : 0)),
    groupSize,
  );
  const groups = size / groupSize;
  const unbiased = resolved.std === 'unbiased';
  const validRewards: number[] = [];
  for (let index = 0; index < size; index++) if (isValid(index)) validRewards.push(rewards[index]!);
  const batchMean = mean(validRewards, 0, validRewards.length);
  const batchStd =
    resolved.scale === 'batch'
      ? standardDeviation(validRewards, 0, validRewards.length, batchMean, unbiased)
      : 0;
  const flags = new Uint8Array(groups);
  const advantages = new Float32Array(size);
  const keep = new Uint8Array(size).fill(1);
  let zeroGroups = 0;
  let dropped = 0;
  for (let group = 0; group < groups; group++) {
    const start = group * groupSize;
    const values: number[] = [];
    const members: number[] = [];
    for (let index = start; index < start + groupSize; index++) {
      if (isValid(index)) {
        values.push(rewards[index]!);
        members.push(index);
      } else {
        keep[index] = 0;
      }
    }
    const spread = values.length ? Math.max(...values) - Math.min(...values) : 0;
    const isZeroVariance = spread <= resolved.zeroVarianceTolerance;
    flags[group] = isZeroVariance ? 1 : 0;
    if (isZeroVariance) zeroGroups++;
    if (isZeroVariance && resolved.dropZeroVarianceGroups) {
      for (const index of members) keep[index] = 0;
      dropped += members.length;
    }
    const raw = values.length === 1 && resolved.singletonGroups === 'raw';
    if (values.length === 0 || (isZeroVariance && !raw)) continue;
    const groupMean = raw ? 0 : mean(values, 0, values.length);
    let divisor = 1;
    if (resolved.scale === 'group') {
      const groupStd = raw ? 1 : standardDeviation(values, 0, values.length, groupMean, unbiased);
      divisor = groupStd + resolved.epsilon;
    } else if (resolved.scale === 'batch') {
      divisor = batchStd + resolved.epsilon;
    }
    members.forEach((index, offset) => {
      advantages[index] = (values[offset]! - groupMean) / divisor;
    });
  }
  return finish(advantages, flags, keep, groups, zeroGroups, dropped, validRewards);
}

function advantagesFor(
  where: string,
  rewards: ArrayLike<number>,
  groupSize: number,
  options: AdvantageOptions | undefined,
): GroupAdvantages {
  const resolved = resolveAdvantageOptions(options, where);
  validateGroups(where, rewards, groupSize);
  const size = rewards.length;
  const groups = size / groupSize;
  const unbiased = resolved.std === 'unbiased';
  const flags = flagZeroVariance(rewards, groupSize, resolved.zeroVarianceTolerance);
  const advantages = new Float32Array(size);
  const keep = new Uint8Array(size).fill(1);

  const batchMean = mean(rewards, 0, size);
  const batchStd = resolved.scale === 'batch' ? standardDeviation(rewards, 0, size, batchMean, unbiased) : 0;
  let zeroGroups = 0;
  let dropped = 0;
  for (let group = 0; group < groups; group++) {
    const start = group * groupSize;
    const end = start + groupSize;
    const isZeroVariance = flags[group] === 1;
    if (isZeroVariance) zeroGroups++;
    if (isZeroVariance && resolved.dropZeroVarianceGroups) {
      keep.fill(0, start, end);
      dropped += groupSize;
    }
    const raw = groupSize === 1 && resolved.singletonGroups === 'raw';
    // Zero-variance groups carry no signal: exactly 0 (verl's 'raw' singleton rule is the exception).
    if (isZeroVariance && !raw) continue;
    const groupMean = raw ? 0 : mean(rewards, start, end);
    let divisor = 1;
    if (resolved.scale === 'group') {
      const groupStd = raw ? 1 : standardDeviation(rewards, start, end, groupMean, unbiased);
      divisor = groupStd + resolved.epsilon;
    } else if (resolved.scale === 'batch') {
      divisor = batchStd + resolved.epsilon;
    }
    for (let index = start; index < end; index++) {
      advantages[index] = (rewards[index]! - groupMean) / divisor;
    }
  }

  return finish(advantages, flags, keep, groups, zeroGroups, dropped, rewards);
}

/** The result with its batch statistics: rewards over `rewards` (the valid ones), advantages over all. */
function finish(
  advantages: Float32Array,
  flags: Uint8Array,
  keep: Uint8Array,
  groups: number,
  zeroGroups: number,
  dropped: number,
  rewards: ArrayLike<number>,
): GroupAdvantages {
  const size = advantages.length;
  const rewardMean = mean(rewards, 0, rewards.length);
  const advantageMean = mean(advantages, 0, size);
  let advantageMin = size > 0 ? Number.POSITIVE_INFINITY : 0;
  let advantageMax = size > 0 ? Number.NEGATIVE_INFINITY : 0;
  for (let index = 0; index < size; index++) {
    const advantage = advantages[index]!;
    if (advantage < advantageMin) advantageMin = advantage;
    if (advantage > advantageMax) advantageMax = advantage;
  }
  return {
    advantages,
    zeroVarianceGroups: flags,
    keep,
    stats: {
      groups,
      zeroVarianceGroups: zeroGroups,
      zeroVarianceGroupShare: groups > 0 ? zeroGroups / groups : 0,
      droppedSequences: dropped,
      rewardMean,
      rewardStd: standardDeviation(rewards, 0, rewards.length, rewardMean, false),
      advantageMean,
      advantageStd: standardDeviation(advantages, 0, size, advantageMean, false),
      advantageMin,
      advantageMax,
    },
  };
}

/**
 * Group-relative advantages: `A_i = (r_i − μ_g) / (σ + ε)` for each group g of `groupSize`
 * consecutive rollouts (or `r_i − μ_g` with `scale: 'none'`). Defaults: group std, unbiased (n − 1),
 * ε = 1e-6 — the `paper` preset. Use `presets[name].advantage` for an engine's exact conventions.
 *
 * @example
 * groupAdvantages([1, 0, 0, 0], 4); // μ = 0.25, σ = 0.5 → [1.5, −0.5, −0.5, −0.5] (÷ (0.5 + 1e-6))
 *
 * @param rewards one scalar reward per rollout; the `groupSize` rollouts of each prompt are consecutive.
 * @param groupSize rollouts per prompt (G ≥ 1).
 * @param options see `AdvantageOptions`.
 * @returns one float32 advantage per rollout; exactly 0 in zero-variance groups.
 * @throws GrpoArgumentError for a bad `groupSize`, a length that is not a multiple of it, or a bad option.
 * @throws GrpoNumericError naming the index of the first NaN or infinite reward.
 */
export function groupAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  options?: AdvantageOptions,
): Float32Array {
  return advantagesFor('groupAdvantages', rewards, groupSize, options).advantages;
}
