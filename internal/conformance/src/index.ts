export { judgeConformanceCases, runJudgeConformance } from './judge.js';
export type { JudgeConformanceOptions } from './judge.js';
