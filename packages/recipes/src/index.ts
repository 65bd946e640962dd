export {
  generativeJudgeProvider,
  lexicalJudgeProvider,
  loadPlugins,
  onnxBackendProvider,
  openaiBackendProvider,
  registerBuiltins,
  tinkerBackendProvider,
  transformersBackendProvider,
} from './builtins.js';
export type {
  BackendProvider,
  ClosableJudge,
  JudgeProvider,
  ProviderOptions,
} from '@rlpt/spec';
export {
  backendProviders,
  createBackendFromSpec,
  createJudgeFromSpec,
  judgeProviders,
  registerBackendProvider,
  registerJudgeProvider,
} from '@rlpt/spec';
export type {
  ResolvedTrainConfig,
  RlStageConfig,
  StageConfig,
  TrainConfig,
  TrainFlags,
} from './config.js';
export {
  applyFlags,
  grpoOf,
  loadTrainConfig,
  readTrainConfigFile,
  resolveTrainConfig,
  setPath,
  trainConfigSchema,
} from './config.js';
export type {
  DataSummary,
  EvaluationOutcome,
  SampleRecord,
  StageOutcome,
  TrainHooks,
  TrainOutcome,
} from './run.js';
export {
  goldExample,
  readDocuments,
  readRlvrItems,
  readSamples,
  readSftExamples,
  runTraining,
  sampleFiles,
  sampleItem,
} from './run.js';
