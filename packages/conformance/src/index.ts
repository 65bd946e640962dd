export { judgeConformanceCases, runJudgeConformance } from './judge.js';
export type { JudgeConformanceOptions } from './judge.js';
export {
  backendConformanceCases,
  backendConformanceRequirements,
  ConformanceFailure,
  ConformanceSkip,
  defaultConformanceOptions,
  firstDivergence,
  ksUniform,
  prepareBackendConformance,
  runBackendConformance,
  runBackendConformanceCase,
  samplingPit,
} from './backend.js';
export type {
  BackendConformanceCase,
  BackendConformanceOptions,
  BackendConformanceSetup,
  ConformanceRequirement,
  ConformanceCaseContext,
  Failer,
  PreparedConformance,
  ResolvedConformanceOptions,
} from './backend.js';
export {
  argmax,
  defaultOnnxFiles,
  logitsRow,
  logSoftmaxAt,
  openUncachedForward,
} from './uncached.js';
export type { SequenceLogits, UncachedForward } from './uncached.js';
