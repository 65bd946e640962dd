export {
  generativeJudgeProvider,
  lexicalJudgeProvider,
  loadPlugins,
  onnxBackendProvider,
  openaiBackendProvider,
  registerBuiltins,
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
