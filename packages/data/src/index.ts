export type {
  BenchmarkSummary,
  ContaminationMatch,
  DecontaminationOptions,
  SharedContaminationIndex,
} from './decontaminate.js';
export { benchmarkName, benchmarkTexts, ContaminationIndex, loadBenchmarks } from './decontaminate.js';
export type {
  DemoCorpus,
  DemoCorpusOptions,
  DemoDocument,
  DemoDocumentsOptions,
  DemoSentence,
  DemoTarget,
  DemoTemplate,
} from './demo.js';
export {
  buildDemoCorpus,
  demoTargets,
  demoTemplates,
  demoVocabulary,
  generateDemoDocuments,
} from './demo.js';
export type { Hash64 } from './hash.js';
export { createRandom, hash64, hash64Hex, hashToUnit, murmur32 } from './hash.js';
export { HashTable64 } from './hash-table.js';
export type {
  DocumentEvent,
  DocumentSplit,
  InputFile,
  InputFormat,
  RawDocument,
  ReadDocumentsOptions,
  ResolvedDocumentSplit,
} from './io/documents.js';
export { detectDocumentSplit, detectFormat, parseWikitextHeading, readDocuments } from './io/documents.js';
export type { ReaddirFunction, ResolvedInput } from './io/inputs.js';
export { resolveInputs } from './io/inputs.js';
export type { InputIssue, IssueReason } from './io/issues.js';
export type { Line, LineEvent, LineIssue, ReadLinesOptions } from './io/lines.js';
export { isGzipFile, readLines } from './io/lines.js';
export type { ParquetRecordEvent } from './io/parquet.js';
export { readParquetRecords } from './io/parquet.js';
export type { MinHashOptions } from './minhash.js';
export {
  candidateProbability,
  DuplicateIndex,
  estimateJaccard,
  lshParameters,
  MinHasher,
  words,
} from './minhash.js';
export type { NormalizeCounts, NormalizeOptions } from './normalize.js';
export { detokenizeWikitext, normalizeText } from './normalize.js';
export type { TokenCounter } from './tokenizer.js';
export { defaultTokenizerPath, loadTokenCounter, whitespaceTokenCounter } from './tokenizer.js';
export type { OutputFormat, PrepareOptions, ResolvedPrepareOptions } from './options.js';
export { outputFormats, prepareOptionsSchema, resolvePrepareOptions } from './options.js';
export type { MarkupKind } from './markup.js';
export { markupKinds, markupKindsOf } from './markup.js';
export type { BenchmarkReport, PrepareHooks, PrepareResult, PrepareStats } from './prepare.js';
export { markupWarningShare, prepare, removeStaleTempFiles } from './prepare.js';
export type { DemoStats, PrepareDemoOptions } from './prepare-demo.js';
export { prepareDemo, prepareDemoOptionsSchema } from './prepare-demo.js';
export type { PreparedSample, SampleTask } from './process.js';
export type { ReadSamplesOptions, SampleRecord, SampleSkip } from './samples.js';
export { readSamples, sampleFiles } from './samples.js';
export type { NextTokenStats } from './prepare-stats.js';
export type {
  EntropyEstimate,
  NextTokenPosition,
  NextTokenSettings,
  PositionCounts,
} from './next-token.js';
export { entropyFromTopLogprobs, pickPositions, proxyEntropies } from './next-token.js';
export type { BoundaryTokenizer, TokenEnds } from './token-boundaries.js';
export { tokenEnds } from './token-boundaries.js';
export { assignSplit, assignTask, msrShare, promptLimits } from './process.js';
export type { TokenHistogram } from './stats.js';
export { histogramBounds, histogramLabels } from './stats.js';
export type { ExportSettings, ShardInfo } from './writers.js';
export { openrlhfLine, rewardLabel, shardPath, verlRow, verlSchema } from './writers.js';
