import type { GrpoPreset } from '@rlpt/grpo';
import type {
  InferenceBackendV1,
  JudgeItem,
  JudgeV1,
  LearnerV1,
  Logger,
  RlptEvent,
  TaskKind,
} from '@rlpt/spec';

/** The tokenizer the trainer uses to turn text into the learner's token ids. */
export interface TokenizerLike {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  /** Appended to pretraining documents and SFT completions so the policy learns to stop. */
  eosTokenId?: number;
  /** Prepended to pretraining documents. */
  bosTokenId?: number;
}

export interface TrainerOptions {
  /** Run directory (config, metrics, samples, checkpoints, report). */
  runDir: string;
  learner: LearnerV1;
  /** Opens an inference backend over a model folder the learner exported (rollouts and evaluation). */
  loadPolicy: (modelDir: string) => Promise<InferenceBackendV1>;
  tokenizer: TokenizerLike;
  /** Base seed; every random draw derives from it and the step, so resumed runs repeat exactly. */
  seed?: number;
  /** Continue the run in `runDir` from its latest checkpoint. */
  resume?: boolean;
  /** Checkpoint every N steps of each stage (and at the end of each stage). Default 50. */
  checkpointEvery?: number;
  /** Resolved configuration written to `config.json`. */
  config?: unknown;
  logger?: Logger;
  onEvent?: (event: RlptEvent) => void;
  signal?: AbortSignal;
}

export type LearningRateSchedule = 'constant' | 'cosine';

export interface OptimizerSettings {
  learningRate: number;
  /** Default `constant` (the paper's RLPT setting). */
  schedule?: LearningRateSchedule;
  /** Linear warm-up steps (default 0). */
  warmupSteps?: number;
  /** Floor of the cosine schedule as a fraction of `learningRate` (default 0.1). */
  minLearningRateRatio?: number;
}

export interface PretrainOptions extends OptimizerSettings {
  steps: number;
  /**
   * Ends the stage after the first step at which it has processed this many forward-equivalent tokens
   * (a token sampled or scored counts 1, a token trained 3 — forward + backward; see `computeTokens` in
   * the metrics). Compute-matches stages of different kinds by a count that does not depend on the
   * machine. `steps` stays the upper bound and the learning-rate schedule's length.
   */
  computeBudget?: number;
  /** Documents per step. */
  batchSize: number;
  /** Longer documents are cut to this many tokens. */
  maxTokens?: number;
}

export interface SftExample {
  id?: string;
  prompt: string;
  completion: string;
}

export interface SftOptions extends OptimizerSettings {
  steps: number;
  /**
   * Ends the stage after the first step at which it has processed this many forward-equivalent tokens
   * (a token sampled or scored counts 1, a token trained 3 — forward + backward; see `computeTokens` in
   * the metrics). Compute-matches stages of different kinds by a count that does not depend on the
   * machine. `steps` stays the upper bound and the learning-rate schedule's length.
   */
  computeBudget?: number;
  batchSize: number;
  maxTokens?: number;
  /** Stage name in metrics and checkpoints (default `sft`); lets a run hold several SFT stages. */
  name?: string;
}

/** One RL prompt: what the policy sees and how its output is judged. */
export interface RlItem {
  id: string;
  prompt: string;
  task?: TaskKind | (string & {});
  /** Builds the judge item from the extracted prediction. */
  toJudgeItem(prediction: string): JudgeItem;
}

export interface RlOptions extends OptimizerSettings {
  steps: number;
  /**
   * Ends the stage after the first step at which it has processed this many forward-equivalent tokens
   * (a token sampled or scored counts 1, a token trained 3 — forward + backward; see `computeTokens` in
   * the metrics). Compute-matches stages of different kinds by a count that does not depend on the
   * machine. `steps` stays the upper bound and the learning-rate schedule's length.
   */
  computeBudget?: number;
  /** Prompts per step (the paper: 512). */
  promptsPerStep: number;
  /** Rollouts per prompt, GRPO's group size (the paper: 8). */
  rolloutsPerPrompt: number;
  /** Sampling temperature of rollouts (the paper: 1.0). */
  temperature?: number;
  topP?: number;
  topK?: number;
  maxTokens: number;
  judge: JudgeV1;
  /**
   * How a prediction is read from a rollout: `tags` (RLPT: text between the prediction tags; missing,
   * empty or unterminated → reward 0) or `full` (RLVR: the judge reads the whole response).
   */
  extract?: 'tags' | 'full';
  /** GRPO settings (a `@rlpt/grpo` preset; default `paper`). */
  grpo?: GrpoPreset;
  /**
   * λ applied as a loss weight on MSR samples (the alternative to mixing by prompt share, which the
   * data source does). Default 1 (no weighting).
   */
  msrLossWeight?: number;
  /** Stage name in metrics and checkpoints (default `rlpt`). */
  name?: string;
  /** Write prompts, outputs, predictions and verdicts to `samples/<stage>-step-N.jsonl` every N steps (default 10). */
  samplesEvery?: number;
  /** Held-out evaluation every N steps (recorded as `eval:<name>@<step>` with the tokens seen so far). */
  evaluation?: { every: number; items: RlItem[]; options: EvaluateOptions };
  /**
   * A dead judge stops the run: when more than this share of the judged predictions failed over the last
   * `judgeFailureWindow` steps, `rl` throws a `judge-failing` error naming the reasons and the judge's last
   * raw outputs, before the step's update. Default 0.2; 1 never stops.
   */
  maxJudgeFailureRate?: number;
  /** Steps over which the judge failure rate is measured. Default 3. */
  judgeFailureWindow?: number;
}

export interface EvaluateOptions {
  judge: JudgeV1;
  /** Samples per prompt (pass@k for k ≤ n). */
  n: number;
  temperature: number;
  topP?: number;
  maxTokens: number;
  extract?: 'tags' | 'full';
  /** Also decode greedily once per prompt. */
  greedy?: boolean;
  /** Name used in metrics (`eval:<name>`). */
  name?: string;
  /** Evaluate this model folder instead of the learner's current weights. */
  modelDir?: string;
  seed?: number;
  /** More judge failures than this share of the judged predictions stops the evaluation with an error. Default 0.2. */
  maxJudgeFailureRate?: number;
}

export interface EvaluateResult {
  name: string;
  items: number;
  /** Mean reward over all samples: sampled pass@1. */
  pass1: number;
  /** Unbiased pass@k for k in {1, 2, 4, …, n}. */
  passAtK: Record<string, number>;
  /** Greedy accuracy, when asked. */
  greedy?: number;
  /** pass@1 per task. */
  byTask: Record<string, number>;
  /** Share of samples whose prediction could not be extracted. */
  extractionFailureRate: number;
  /** Mean completion length of the sampled outputs, in tokens (Fig. 4's response length). */
  meanResponseTokens: number;
  /** Tokens the learner had been trained on when this evaluation ran. */
  tokensSeen: number;
}

/** A raw context and the real continuation after it (`Trainer.evaluateText`). */
export interface TextItem {
  id: string;
  context: string;
  continuation: string;
}

export interface TextEvaluateResult {
  name: string;
  items: number;
  /** Mean negative log-likelihood per continuation token, in nats, teacher-forced after the raw context. */
  nll: number;
  /** Continuation tokens scored. */
  tokens: number;
  /** Share of items whose first continuation token is the policy's greedy next token. */
  nextTokenAccuracy: number;
  tokensSeen: number;
  /** Forward-equivalent tokens processed by the run when this evaluation ran. */
  computeTokens: number;
}
