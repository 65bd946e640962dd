export { createGenerativeJudge } from './generative.js';
export type { GenerativeJudgeOptions, JudgeFailurePolicy } from './generative.js';
export { createLexicalJudge, lexicalMatch } from './lexical.js';
export type { LexicalJudgeOptions, LexicalMatch } from './lexical.js';
export { createJudgeCache, hashTemplate } from './cache.js';
export type { JudgeCache, JudgeCacheKeyParts, JudgeCacheOptions, JudgeCacheStats } from './cache.js';
export { defaultHardeningOptions, fenceText, hardenPrediction, resolveHardeningOptions } from './harden.js';
export type {
  HardeningInput,
  HardeningOptions,
  HardeningReason,
  HardeningResult,
  ResolvedHardeningOptions,
} from './harden.js';
export { parseVerdict } from './verdict.js';
export { foldForDetection, normalizeWords } from './text.js';
export type { JudgeObservability } from './common.js';
export type { JudgeFailureRecord, JudgeStats, JudgeWithStats } from './stats.js';
export {
  formatRewardLabel,
  parseRewardLabel,
  referenceFor,
  responseFromQuery,
  validateRewardLabel,
} from './label.js';
export type { ParsedRewardLabel, RewardLabel } from './label.js';
export { createRewardServer, prepareRewardItem } from './server.js';
export type {
  BatchRewardItem,
  BatchRewardRequest,
  BatchRewardResponse,
  OpenRlhfRewardRequest,
  OpenRlhfRewardResponse,
  PreparedRewardItem,
  RewardServer,
  RewardServerOptions,
} from './server.js';
export { defineJudge, withCache, withHardening, withRetry } from './define.js';
export type {
  CheckedJudgeItem,
  DefineJudgeOptions,
  JudgeItemResult,
  WithCacheOptions,
  WithHardeningOptions,
  WithRetryOptions,
} from './define.js';
export { createRptJudge, rptMatch, tokenByteBoundaries } from './rpt.js';
export type { RptJudgeOptions, RptMatch, RptTokenizer, RptWhitespace, TokenBoundaries } from './rpt.js';
