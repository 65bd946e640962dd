export { alwaysYesModel, gullibleJudgeModel, startScriptedJudgeServer } from './judge-server.js';
export type {
  JudgeModel,
  ScriptedFailure,
  ScriptedJudgeServer,
  ScriptedJudgeServerOptions,
} from './judge-server.js';
