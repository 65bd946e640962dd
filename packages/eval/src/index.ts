/**
 * @rlpt/eval — the paper's benchmarks graded as strictly as the Python harnesses: benchmark loaders and
 * prompts, math answer extraction and equivalence, multiple-choice grading, unbiased pass@k, a resumable
 * runner over any `InferenceBackendV1`, result tables, and `mathVerifierJudge` for RLVR.
 */
export type { Benchmark, BenchmarkItem, GradingKind, LoadBenchmarkOptions } from './benchmarks.js';
export {
  BENCHMARK_NAMES,
  benchmarkInfo,
  buildPrompt,
  loadBenchmark,
  shufflePermutation,
} from './benchmarks.js';
export type { ChoiceGrade, ChoiceOptions } from './choice.js';
export {
  extractChoice,
  extractDoubleBracket,
  gradeBracketResponse,
  gradeChoiceResponse,
} from './choice.js';
export type { ResponseGrade } from './grade-item.js';
export { gradeItemResponse } from './grade-item.js';
export type { ReadOptions, ReadResult, SourceRecord } from './io/records.js';
export { parseCsv, readRecordFile } from './io/records.js';
export type { MathVerifierJudgeOptions } from './judge.js';
export { mathVerifierJudge } from './judge.js';
export type { MathEquivalenceOptions, PercentageMode } from './math/equivalence.js';
export { answersEquivalent, isEquivalent } from './math/equivalence.js';
export type { AnswerFallback, ExtractOptions } from './math/extract.js';
export { boxedAnswers, extractMathAnswer, isGarbled, lastBoxed } from './math/extract.js';
export type { MathGrade, MathGradeOptions } from './math/grade.js';
export { gradeMathResponse } from './math/grade.js';
export type { NormalizedAnswer } from './math/normalize.js';
export { normalizeAnswer } from './math/normalize.js';
export type { BenchmarkSummary, ItemResult, SampleFailure, SampleResult } from './results.js';
export { formatResultsMarkdown, readItemResults, summarize } from './results.js';
export type { EvalReport, RunEvalOptions, RunSettings } from './runner.js';
export { gradeItem, PAPER_PROTOCOL, runEval, SAMPLING_SETTINGS } from './runner.js';
