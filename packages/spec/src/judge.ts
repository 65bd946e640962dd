import type { CallOptions } from './backend.js';

/** `prefix`: prediction must be a semantically valid prefix of the reference (RLPT's reward). `strict`: same content. */
export type JudgeMode = 'prefix' | 'strict';

export interface JudgeItem {
  /** Sample or rollout id, echoed into errors and logs. */
  id?: string;
  /** The policy's prediction (already extracted from its output). Untrusted. */
  prediction: string;
  /** Reference text: the window s_i, s_{i+1}, … for prefix mode, s_i for strict mode. */
  reference: string;
  /**
   * The target segment s_i, when known. A prefix judge may require the prediction to cover it, so a
   * fragment of s_i ("Now Mia has") cannot earn the reward a whole sentence earns.
   */
  target?: string;
  /** Context s_<i, for judges that use it (and for hardening against copying it). */
  context?: string;
  /** Override the judge's default mode for this item. */
  mode?: JudgeMode;
}

export type VerdictStatus = 'ok' | 'skipped' | 'failed';

export interface JudgeVerdict {
  /** 0 or 1 for binary judges; a number in [0, 1] for graded ones. 0 when status is `failed`. */
  score: number;
  /** `ok`: judged. `skipped`: scored without asking the judge (hardening). `failed`: judge could not decide. */
  status: VerdictStatus;
  /** Why it was skipped or failed (e.g. `too-short`, `injected-control-text`, `unparseable`, `timeout`). */
  reason?: string;
  /** True when served from the cache. */
  cached?: boolean;
  /** Raw judge output, for auditing. */
  raw?: string;
}

/** Anything that scores a prediction against a reference: LLM judge, lexical judge, math verifier. */
export interface JudgeV1 {
  readonly specificationVersion: 'v1';
  /** Stable name used in caches and logs, e.g. `lexical`, `generative:prefix`. */
  readonly name: string;
  /** One verdict per item, in order. Never rejects for a single bad item: that item gets `failed`. */
  judge(items: JudgeItem[], options?: CallOptions): Promise<JudgeVerdict[]>;
  close?(): Promise<void>;
}
