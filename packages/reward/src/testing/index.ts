export {
  alwaysYesModel,
  deliberation,
  gullibleJudgeModel,
  startScriptedJudgeServer,
} from './judge-server.js';
export type {
  FaultKind,
  FaultOptions,
  JudgeModel,
  ScriptedFailure,
  ScriptedJudgeServer,
  ScriptedJudgeServerOptions,
  StandInTokenizer,
  ThinkingOptions,
} from './judge-server.js';
