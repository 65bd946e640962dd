import { type ObjectiveConfig, type ResolvedObjectiveConfig, resolveObjectiveConfig } from './config.js';
import { GrpoArgumentError, GrpoNumericError, throwNonFinite } from './errors.js';
import {
  CLAMPED,
  CLIP_HIGH,
  CLIP_LOW,
  DUAL_CLIP,
  ENTROPY_SUM,
  KL_SUM,
  type KlCode,
  LOG_RATIO_SUM,
  POLICY,
  RATIO_MAX,
  RATIO_MIN,
  RATIO_SUM,
  entropyKernel,
  klKernel,
  negativeKernel,
  onPolicyKernel,
  positiveKernel,
  resetSums,
  sums,
} from './kernels.js';

/**
 * One optimisation batch: one entry per sequence, each array covering that sequence's response tokens
 * (the tokens the policy generated), aligned position by position.
 */
export interface ObjectiveBatch {
  /** Current-policy logprobs logπ_θ(y_t) — the values the coefficients differentiate against. */
  logprobs: ArrayLike<number>[];
  /**
   * Behaviour-policy logprobs logπ_old(y_t). Absent: on-policy, logπ_old = stop-gradient(logπ_θ), so
   * ρ = 1 and clipping never activates (the paper's setting; TRL with `num_iterations = 1`).
   */
  oldLogprobs?: ArrayLike<number>[];
  /** Reference-policy logprobs, required when `config.kl.coefficient > 0`; with coefficient 0 they feed KL stats. */
  refLogprobs?: ArrayLike<number>[];
  /** One advantage per sequence (e.g. `groupAdvantages(...)`), broadcast to its tokens. */
  advantages: ArrayLike<number>;
  /** Per-token response mask, 1 = counts, 0 = ignored (not read, coefficient 0). Default: all 1. */
  masks?: ArrayLike<number>[];
  /** Per-token entropy H_t of the policy's next-token distribution (for the entropy bonus and stats). */
  entropies?: ArrayLike<number>[];
  /**
   * Per sequence, 1 = keep, 0 = drop: a dropped sequence is not read, gets zero coefficients and is left
   * out of every normaliser (e.g. `computeGroupAdvantages(...).keep` for zero-variance groups). Default: all 1.
   */
  keep?: ArrayLike<number>;
}

/** Logging statistics of one objective evaluation. Fractions and means are over valid tokens of kept sequences. */
export interface ObjectiveStats {
  /** The policy (clipped surrogate) term, aggregated. */
  policyLoss: number;
  /** The KL estimator, aggregated like the loss and *before* × `kl.coefficient`; present when `refLogprobs` are given. */
  klLoss?: number;
  /**
   * The entropy, aggregated like the loss (before × `entropy.coefficient`); present when `entropies`
   * are given, or with a `'sampled-token'` entropy bonus (then the estimate −logπ_t is aggregated).
   */
  entropy?: number;
  /** Valid tokens in kept sequences. */
  tokens: number;
  /** Kept sequences (including empty ones). */
  sequences: number;
  /** Kept sequences with no valid token. */
  emptySequences: number;
  /** Sequences dropped through `batch.keep`. */
  droppedSequences: number;
  /** Share of tokens whose clipped branch won (zero policy gradient): verl `pg_clipfrac` = low + high. */
  clipFraction: number;
  /** ρ < 1 − clipLow with A < 0. */
  clipFractionLow: number;
  /** ρ > 1 + clipHigh with A > 0. */
  clipFractionHigh: number;
  /** Share of tokens capped by the dual clip (verl `pg_clipfrac_lower`). */
  dualClipFraction: number;
  /** Share of tokens whose log-ratio hit `logRatioClamp`. */
  logRatioClampFraction: number;
  /** Mean, min and max of ρ. */
  ratioMean: number;
  ratioMin: number;
  ratioMax: number;
  /** Mean of logπ_old − logπ_θ (verl `ppo_kl`); 0 on-policy. */
  approxKl: number;
  /** Token-weighted mean and std of the advantages. */
  advantageMean: number;
  advantageStd: number;
  /** Valid tokens per kept sequence. */
  responseLengthMean: number;
  responseLengthMin: number;
  responseLengthMax: number;
}

/** What `grpoObjective` returns. */
export interface ObjectiveResult {
  /** The scalar loss: policy term + β_KL·KL term − β_H·entropy term, each aggregated by the configured mode. */
  loss: number;
  /**
   * Per sequence, per token: c_t = −∂loss/∂logπ_t (float32; 0 for masked tokens and dropped sequences).
   * A learner minimising −Σ c_t·logπ_t takes exactly the gradient of `loss` (plus, for a `'sampled-token'`
   * entropy bonus, its estimated gradient; for a `+` KL estimator, k2's gradient).
   */
  coefficients: Float32Array[];
  stats: ObjectiveStats;
}

const klCodes = { k1: 0, abs: 1, k2: 2, k3: 3 } as const;

function shapeError(argument: string, message: string): never {
  throw new GrpoArgumentError({ argument, message: `grpoObjective: ${message}` });
}

function checkSequenceArrays(
  name: string,
  arrays: ArrayLike<number>[] | undefined,
  logprobs: ArrayLike<number>[],
): void {
  if (arrays === undefined) return;
  if (!Array.isArray(arrays)) shapeError(name, `batch.${name} must be an array with one array per sequence.`);
  if (arrays.length !== logprobs.length) {
    shapeError(
      name,
      `batch.${name} has ${arrays.length} sequences but batch.logprobs has ${logprobs.length}; pass one array per sequence.`,
    );
  }
  for (let index = 0; index < arrays.length; index++) {
    const array = arrays[index];
    if (array === null || typeof array !== 'object' || typeof array.length !== 'number') {
      shapeError(`${name}[${index}]`, `batch.${name}[${index}] is not an array.`);
    }
    if (array.length !== logprobs[index]!.length) {
      shapeError(
        `${name}[${index}]`,
        `batch.${name}[${index}] has ${array.length} tokens but batch.logprobs[${index}] has ${logprobs[index]!.length}; the arrays must be aligned token by token.`,
      );
    }
  }
}

function validateShapes(batch: ObjectiveBatch): void {
  if (batch === null || typeof batch !== 'object') shapeError('batch', 'batch must be an object.');
  const { logprobs } = batch;
  if (!Array.isArray(logprobs))
    shapeError('logprobs', 'batch.logprobs must be an array with one array per sequence.');
  for (let index = 0; index < logprobs.length; index++) {
    const array = logprobs[index];
    if (array === null || typeof array !== 'object' || typeof array.length !== 'number') {
      shapeError(`logprobs[${index}]`, `batch.logprobs[${index}] is not an array.`);
    }
  }
  checkSequenceArrays('oldLogprobs', batch.oldLogprobs, logprobs);
  checkSequenceArrays('refLogprobs', batch.refLogprobs, logprobs);
  checkSequenceArrays('masks', batch.masks, logprobs);
  checkSequenceArrays('entropies', batch.entropies, logprobs);
  const { advantages, keep } = batch;
  if (advantages === null || typeof advantages !== 'object' || typeof advantages.length !== 'number') {
    shapeError('advantages', 'batch.advantages must be an array with one advantage per sequence.');
  }
  if (advantages.length !== logprobs.length) {
    shapeError(
      'advantages',
      `batch.advantages has ${advantages.length} entries but batch.logprobs has ${logprobs.length} sequences; pass one advantage per sequence.`,
    );
  }
  for (let index = 0; index < advantages.length; index++) {
    const advantage = advantages[index]!;
    if (!Number.isFinite(advantage)) {
      throwNonFinite('grpoObjective', 'advantages', index, advantage, 'advantages must be finite numbers.');
    }
  }
  if (keep !== undefined) {
    if (keep === null || typeof keep !== 'object' || keep.length !== logprobs.length) {
      shapeError('keep', `batch.keep must have one 0/1 entry per sequence (${logprobs.length}).`);
    }
    for (let index = 0; index < keep.length; index++) {
      const value = keep[index];
      if (value !== 0 && value !== 1)
        shapeError('keep', `batch.keep[${index}] is ${value}; use 1 (keep) or 0 (drop).`);
    }
  }
}

/** Valid tokens per sequence (mask sum, or the length); validates that masks hold only 0 and 1. */
function countValidTokens(batch: ObjectiveBatch): Float64Array {
  const { logprobs, masks } = batch;
  const counts = new Float64Array(logprobs.length);
  for (let sequence = 0; sequence < logprobs.length; sequence++) {
    const mask = masks?.[sequence];
    if (mask === undefined) {
      counts[sequence] = logprobs[sequence]!.length;
      continue;
    }
    let count = 0;
    for (let token = 0; token < mask.length; token++) {
      const value = mask[token];
      if (value === 1) count++;
      else if (value !== 0) {
        shapeError(
          `masks[${sequence}]`,
          `batch.masks[${sequence}][${token}] is ${value}; masks hold 1 (counts) or 0 (ignored).`,
        );
      }
    }
    counts[sequence] = count;
  }
  return counts;
}

/**
 * Per-sequence weights w_i such that loss = Σ_i w_i Σ_t m_{i,t} ℓ_{i,t}: every aggregation mode is
 * linear in the per-token losses, with normalisers that depend on the masks only.
 */
function sequenceWeights(
  batch: ObjectiveBatch,
  counts: Float64Array,
  config: ResolvedObjectiveConfig,
): Float64Array {
  const size = counts.length;
  const weights = new Float64Array(size);
  const chunkSize = config.microBatchSize ?? Math.max(size, 1);
  const chunks = Math.max(1, Math.ceil(size / chunkSize));
  let normalizer = config.tokenSumNormalizer ?? 0;
  if (config.tokenSumNormalizer === null) {
    for (const array of batch.logprobs) normalizer = Math.max(normalizer, array.length);
  }
  const keep = batch.keep;
  for (let start = 0; start < size; start += chunkSize) {
    const end = Math.min(size, start + chunkSize);
    let tokens = 0;
    let sequences = 0;
    for (let index = start; index < end; index++) {
      if (keep !== undefined && keep[index] === 0) continue;
      tokens += counts[index]!;
      if (counts[index]! > 0 || config.emptySequences === 'count') sequences++;
    }
    for (let index = start; index < end; index++) {
      const count = counts[index]!;
      if ((keep !== undefined && keep[index] === 0) || count === 0) continue;
      let weight: number;
      switch (config.aggregation) {
        case 'token-mean':
          weight = 1 / tokens;
          break;
        case 'token-sum':
          weight = 1;
          break;
        case 'seq-mean-token-mean':
          weight = 1 / (sequences * count);
          break;
        case 'seq-mean-token-sum':
          weight = 1 / sequences;
          break;
        case 'seq-mean-token-sum-norm':
          weight = 1 / (sequences * normalizer);
          break;
      }
      weights[index] = weight / chunks;
    }
  }
  return weights;
}

/**
 * The GRPO/PPO objective and its per-token loss coefficients c_t = −∂loss/∂logπ_t for a whole batch.
 *
 * Per token (verl `compute_policy_loss_vanilla`; OpenRLHF and TRL are special cases):
 * ρ = exp(clamp(logπ − logπ_old, ±logRatioClamp)),
 * ℓ = max(−A·ρ, −A·clip(ρ, 1 − clipLow, 1 + clipHigh)), and for A < 0 with a dual clip c, ℓ = min(ℓ, −A·c);
 * plus β_KL·k(logπ, logπ_ref) and − β_H·H_t. The per-token terms are aggregated with
 * `config.aggregation`. The coefficient is 0 wherever the gradient is (clipped branch, dual-clip cap,
 * active clamps). A pass over the masks (if any), then per sequence one loop per term over arrays that stay
 * in L1; float64 arithmetic, float32 output in one allocation.
 *
 * @example
 * const advantages = groupAdvantages(rewards, 8);
 * const { loss, coefficients, stats } = grpoObjective({ logprobs, oldLogprobs, advantages }, presets.paper.objective);
 * await learner.forwardBackward(batch, coefficients);
 *
 * @param batch per-sequence token arrays; see `ObjectiveBatch`.
 * @param config the objective; see `ObjectiveConfig` and `presets`.
 * @throws GrpoArgumentError for misaligned arrays, bad masks/keep, missing `refLogprobs` or `entropies`
 * the config needs, or a bad option (named, e.g. `config.kl.estimator`).
 * @throws GrpoNumericError naming the array, sequence and token of the first NaN/Infinity that would be read
 * (masked tokens and dropped sequences are not read). Never returns NaN.
 */
export function grpoObjective(batch: ObjectiveBatch, config: ObjectiveConfig): ObjectiveResult {
  const resolved = resolveObjectiveConfig(config, 'grpoObjective');
  validateShapes(batch);
  const { kl, entropy } = resolved;
  if (kl !== null && kl.coefficient > 0 && batch.refLogprobs === undefined) {
    shapeError(
      'refLogprobs',
      `config.kl.coefficient is ${kl.coefficient} but batch.refLogprobs is missing; pass reference-model logprobs or set config.kl to null.`,
    );
  }
  if (
    entropy !== null &&
    entropy.coefficient > 0 &&
    entropy.gradient === 'learner' &&
    batch.entropies === undefined
  ) {
    shapeError(
      'entropies',
      `config.entropy.gradient is 'learner' but batch.entropies is missing; pass per-token entropies (the learner computes them with its gradient) or use gradient 'sampled-token'.`,
    );
  }
  const counts = countValidTokens(batch);
  const weights = sequenceWeights(batch, counts, resolved);
  return evaluate(batch, resolved, counts, weights);
}

function evaluate(
  batch: ObjectiveBatch,
  config: ResolvedObjectiveConfig,
  counts: Float64Array,
  weights: Float64Array,
): ObjectiveResult {
  const { logprobs, oldLogprobs, refLogprobs, masks, entropies, advantages, keep } = batch;
  const size = logprobs.length;

  // One backing buffer for all coefficient arrays: a single allocation, zero-filled.
  let total = 0;
  for (const array of logprobs) total += array.length;
  const buffer = new Float32Array(total);
  const coefficients: Float32Array[] = new Array(size);

  const low = 1 - config.clipLow;
  const high = 1 + config.clipHigh;
  const dual = config.dualClip ?? Number.POSITIVE_INFINITY;
  const clamp = config.logRatioClamp ?? Number.POSITIVE_INFINITY;
  const kl = config.kl;
  const useKl = kl !== null && refLogprobs !== undefined;
  const klCoefficient = useKl ? kl.coefficient : 0;
  const klCode = (kl === null ? 0 : klCodes[kl.estimator.replace('+', '') as keyof typeof klCodes]) as KlCode;
  const straightThrough = kl?.estimator.endsWith('+') ?? false;
  const klValueClamp = kl?.valueClamp ?? Number.POSITIVE_INFINITY;
  const klLogRatioClamp = kl?.logRatioClamp ?? Number.POSITIVE_INFINITY;
  const entropyConfig = config.entropy;
  const entropyCoefficient = entropyConfig?.coefficient ?? 0;
  const sampledEntropy = entropyConfig?.gradient === 'sampled-token' && entropyCoefficient > 0;
  const reportEntropy = entropies !== undefined || sampledEntropy;

  let policyLoss = 0;
  let klLoss = 0;
  let entropyLoss = 0;
  let tokens = 0;
  let keptSequences = 0;
  let emptySequences = 0;
  let advantageSum = 0;
  let advantageSquares = 0;
  let lengthMin = Number.POSITIVE_INFINITY;
  let lengthMax = 0;
  resetSums();

  let offset = 0;
  for (let sequence = 0; sequence < size; sequence++) {
    const current = logprobs[sequence]!;
    const length = current.length;
    const out = buffer.subarray(offset, offset + length);
    coefficients[sequence] = out;
    offset += length;
    if (keep !== undefined && keep[sequence] === 0) continue;
    keptSequences++;
    const count = counts[sequence]!;
    if (count < lengthMin) lengthMin = count;
    if (count > lengthMax) lengthMax = count;
    if (count === 0) {
      emptySequences++;
      continue;
    }
    tokens += count;
    const weight = weights[sequence]!;
    const advantage = advantages[sequence]!;
    advantageSum += advantage * count;
    advantageSquares += advantage * advantage * count;
    const old = oldLogprobs?.[sequence];
    const mask = masks?.[sequence];

    // Policy term. Every kernel leaves Σ_t ℓ_t / (−A) in sums[POLICY].
    if (old === undefined) {
      onPolicyKernel(batch, sequence, current, mask, out, weight * advantage);
      sums[POLICY] = count;
      sums[RATIO_SUM]! += count;
      sums[RATIO_MIN] = Math.min(sums[RATIO_MIN]!, 1);
      sums[RATIO_MAX] = Math.max(sums[RATIO_MAX]!, 1);
    } else if (advantage >= 0) {
      const bound = advantage > 0 ? high : Number.POSITIVE_INFINITY;
      positiveKernel(batch, sequence, current, old, mask, out, weight * advantage, bound, clamp);
    } else {
      negativeKernel(batch, sequence, current, old, mask, out, weight * advantage, low, dual, clamp);
    }
    policyLoss += weight * -advantage * sums[POLICY]!;

    if (useKl) {
      const ref = refLogprobs[sequence]!;
      const scale = weight * klCoefficient;
      klKernel(
        batch,
        sequence,
        current,
        ref,
        mask,
        out,
        scale,
        klCode,
        klValueClamp,
        klLogRatioClamp,
        straightThrough,
      );
      klLoss += weight * sums[KL_SUM]!;
    }
    if (reportEntropy) {
      const scale = sampledEntropy ? weight * entropyCoefficient : 0;
      entropyKernel(batch, sequence, current, old, entropies?.[sequence], mask, out, scale, clamp);
      entropyLoss += weight * sums[ENTROPY_SUM]!;
    }
  }

  let loss = policyLoss + klCoefficient * klLoss;
  if (reportEntropy && entropyConfig !== null) loss -= entropyCoefficient * entropyLoss;
  if (!Number.isFinite(loss)) {
    throw new GrpoNumericError({
      argument: 'loss',
      message: `grpoObjective: the loss overflowed to ${loss} (policy ${policyLoss}, KL ${klLoss}, entropy ${entropyLoss}); inputs are finite but too extreme for float64 — clamp the log-ratios (config.logRatioClamp, config.kl.logRatioClamp).`,
    });
  }
  const perToken = tokens > 0 ? 1 / tokens : 0;
  const advantageMean = advantageSum * perToken;
  const clipLow = sums[CLIP_LOW]!;
  const clipHigh = sums[CLIP_HIGH]!;
  const stats: ObjectiveStats = {
    policyLoss,
    tokens,
    sequences: keptSequences,
    emptySequences,
    droppedSequences: size - keptSequences,
    clipFraction: (clipLow + clipHigh) * perToken,
    clipFractionLow: clipLow * perToken,
    clipFractionHigh: clipHigh * perToken,
    dualClipFraction: sums[DUAL_CLIP]! * perToken,
    logRatioClampFraction: sums[CLAMPED]! * perToken,
    ratioMean: tokens > 0 ? sums[RATIO_SUM]! * perToken : 1,
    ratioMin: tokens > 0 ? sums[RATIO_MIN]! : 1,
    ratioMax: tokens > 0 ? sums[RATIO_MAX]! : 1,
    // verl's ppo_kl: mean of −(logπ − logπ_old) after the clamp.
    approxKl: (0 - sums[LOG_RATIO_SUM]!) * perToken,
    advantageMean,
    advantageStd: Math.sqrt(Math.max(0, advantageSquares * perToken - advantageMean * advantageMean)),
    responseLengthMean: keptSequences > 0 ? tokens / keptSequences : 0,
    responseLengthMin: keptSequences > 0 ? lengthMin : 0,
    responseLengthMax: lengthMax,
  };
  if (useKl) stats.klLoss = klLoss;
  if (reportEntropy) stats.entropy = entropyLoss;
  return { loss, coefficients, stats };
}
