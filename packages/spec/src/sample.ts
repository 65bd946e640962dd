/** ASR: predict s_i from s_<i. MSR: predict s_i from s_<i and s_{i+1}. */
export type TaskKind = 'asr' | 'msr';

/** One next-segment sample (METHOD.md §2): context s_<i, target s_i, following s_{i+1}, reference window. */
export interface SegmentSample {
  /** Stable id: `${documentId}:${index}`. */
  id: string;
  documentId: string;
  /** 0-based index of the target sentence in its document. */
  index: number;
  /** s_<i joined with single spaces (possibly left-truncated, see `contextTruncated`). */
  context: string;
  /** s_i. */
  target: string;
  /** s_{i+1}. */
  next: string;
  /** The reference window s_i, s_{i+1}, … (k segments, capped by tokens), joined with spaces. */
  reference: string;
  /** Number of segments in `reference`. */
  referenceSegments: number;
  /** Number of segments in `context`. */
  contextSegments: number;
  /** True when the context was cut to the token budget. */
  contextTruncated: boolean;
  /** Where the document came from (file, dataset). */
  source?: string;
}

/** A sample assigned to a task, with its rendered prompt. */
export interface TaskSample extends SegmentSample {
  task: TaskKind;
  /** Rendered prompt text (template, and chat template when one is used). */
  prompt: string;
}
