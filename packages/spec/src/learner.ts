/**
 * A batch of token sequences for a learner. Each sequence is a prompt followed by a completion; losses
 * and logprobs concern completion tokens only.
 */
export interface TokenSequence {
  promptTokenIds: ArrayLike<number>;
  completionTokenIds: ArrayLike<number>;
}

export interface TokenBatch {
  sequences: TokenSequence[];
}

/**
 * Anything that turns per-token loss coefficients into a parameter update. For one step it minimises
 * L = −Σ_t c_t · log π(y_t | y_<t) over completion tokens (ARCHITECTURE.md, "The one seam").
 */
export interface LearnerV1 {
  readonly specificationVersion: 'v1';
  /** Current-policy logprobs of each completion token (old/reference logprobs for GRPO). */
  logprobs(batch: TokenBatch): Promise<Float32Array[]>;
  /**
   * Accumulates gradients of L = −Σ c_t·logπ_t; one coefficients array per sequence, aligned with its
   * completion tokens. Returns the objective Σ c_t·logπ_t (before the update).
   */
  forwardBackward(batch: TokenBatch, coefficients: Float32Array[]): Promise<{ objective: number }>;
  /** Applies and clears the accumulated gradients. */
  optimStep(options: { learningRate: number }): Promise<OptimStepResult>;
  /** Writes weights and optimiser state atomically (temp folder + rename). */
  save(dir: string): Promise<void>;
  /** Restores what `save` wrote. */
  load?(dir: string): Promise<void>;
  /** Writes a model folder an inference backend can load; returns its path. */
  exportForInference(dir: string): Promise<string>;
  close?(): Promise<void>;
}

export interface OptimStepResult {
  /** Global gradient norm before clipping, when the learner computes it. */
  gradNorm?: number;
}
