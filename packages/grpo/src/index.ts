export type {
  AdvantageOptions,
  AdvantageStats,
  GroupAdvantages,
  ResolvedAdvantageOptions,
} from './advantages.js';
export {
  computeGroupAdvantages,
  computeMaskedGroupAdvantages,
  groupAdvantages,
  resolveAdvantageOptions,
  zeroVarianceGroups,
} from './advantages.js';
export type {
  AggregationMode,
  EntropyConfig,
  KlConfig,
  KlEstimator,
  ObjectiveConfig,
  ResolvedKlConfig,
  ResolvedObjectiveConfig,
} from './config.js';
export { aggregationModes, klEstimators, resolveObjectiveConfig } from './config.js';
export { GrpoArgumentError, GrpoNumericError } from './errors.js';
export type { ObjectiveBatch, ObjectiveResult, ObjectiveStats } from './objective.js';
export { grpoObjective } from './objective.js';
export { passAtK } from './passk.js';
export type { GrpoPreset, PresetName } from './presets.js';
export { presets } from './presets.js';
export type { LengthStats } from './stats.js';
export { responseLengthStats } from './stats.js';
