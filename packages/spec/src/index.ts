export {
  AbortError,
  ApiCallError,
  ConfigError,
  InvalidArgumentError,
  InvalidInputError,
  ModelLoadError,
  NumericError,
  RlptError,
  TimeoutError,
  UnsupportedFunctionalityError,
} from './errors.js';
export type { ConfigIssue, InputLocation, RlptErrorOptions } from './errors.js';
export type {
  BackendCapabilities,
  CallOptions,
  ChatMessage,
  Completion,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  InferenceBackendV1,
  Prompt,
  PromptResult,
  ScoreRequest,
  ScoreResult,
  Usage,
  Warning,
} from './backend.js';
export type { JudgeItem, JudgeMode, JudgeV1, JudgeVerdict, VerdictStatus } from './judge.js';
export type { LearnerV1, OptimStepResult, TokenBatch, TokenSequence } from './learner.js';
export type { SegmentSample, TaskKind, TaskSample } from './sample.js';
export { silentLogger } from './events.js';
export type {
  CheckpointEvent,
  EventHandler,
  JudgeErrorEvent,
  Logger,
  ProgressEvent,
  RlptEvent,
  RolloutEndEvent,
  SkippedInputEvent,
  StepEndEvent,
  WarningEvent,
} from './events.js';
export type {
  BackendProvider,
  ClosableJudge,
  JudgeProvider,
  ProviderOptions,
} from './registry.js';
export {
  backendProviderFor,
  backendProviders,
  createBackendFromSpec,
  createJudgeFromSpec,
  judgeProviderFor,
  judgeProviders,
  parseSpec,
  registerBackendProvider,
  registerJudgeProvider,
} from './registry.js';
export {
  checkPromptLength,
  throwIfAborted,
  unsupportedSettingWarnings,
  validateGenerateRequest,
} from './provider-utils.js';
export type { ValidateGenerateRequestOptions } from './provider-utils.js';
