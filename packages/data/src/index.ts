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
export type { ResolvedInput } from './io/inputs.js';
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
