export { learningRateAt, Trainer } from './trainer.js';
export { goldCompletion, goldExample, type NextSegmentSample, nextSegmentItem } from './items.js';
export {
  aggregateLogLikelihood,
  hasTeacher,
  type RlpItem,
  type RlpOptions,
  rlpItem,
  rlpReward,
  type TeacherLearner,
} from './rlp.js';
export type { StageSummary } from './trainer.js';
export { RunDirectory, writeFileAtomic, writeJsonAtomic } from './run-dir.js';
export type { Checkpoint, TrainerState } from './run-dir.js';
export { deriveSeed, Rng } from './rng.js';
export { defaultMaxA, fitScalingLaw, scalingLaw } from './scaling.js';
export type { FitScalingLawOptions, ScalingLaw } from './scaling.js';
export type {
  EvaluateOptions,
  EvaluateResult,
  LearningRateSchedule,
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
