/**
 * Why a piece of input was skipped or repaired. Every issue is counted in `stats.json`, listed (up to a
 * cap) in `issues.jsonl`, and emitted as a `skipped-input` event.
 */
export type IssueReason =
  | 'unreadable-file'
  | 'unreadable-directory'
  | 'read-error'
  | 'truncated-gzip'
  | 'corrupt-gzip'
  | 'line-too-long'
  | 'invalid-utf8'
  | 'nul-bytes'
  | 'malformed-json'
  | 'missing-field'
  | 'invalid-field'
  | 'missing-id'
  | 'duplicate-id'
  | 'empty-document'
  | 'document-split'
  | 'invalid-parquet'
  | 'no-match'
  | 'processing-error';

/** One problem found in the input, with where it was found. */
export interface InputIssue {
  reason: IssueReason;
  /** `skipped`: the record (or the rest of the file) was dropped; `repaired`: it was fixed and kept. */
  action: 'skipped' | 'repaired';
  /** The file (as labelled in the output) or the pattern. */
  file?: string;
  /** 1-based line (row for Parquet). */
  line?: number;
  /** Document id, when one was known. */
  id?: string;
  /** How many occurrences this issue stands for (e.g. NUL bytes on one line). Default 1. */
  count?: number;
  /** Says what was wrong, where, and what was done about it. */
  message: string;
}
