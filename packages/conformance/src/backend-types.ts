/** The backend conformance suite's public types: what a backend test gives it, its options, its cases. */
import type { InferenceBackendV1 } from '@rlpt/spec';
import type { UncachedForward } from './uncached.js';

/** What a backend's test returns to the suite (from the `setup` function, called once per suite). */
export interface BackendConformanceSetup {
  /** The backend under test. */
  backend: InferenceBackendV1;
  /**
   * The model folder the backend runs, when it is a decoder ONNX in the Hugging Face Optimum layout
   * (`rlpt model init` folders, Optimum exports). Enables the checks against an independent uncached
   * forward in onnxruntime-node: greedy choices are the argmax and logprobs agree to `logprobTolerance`.
   * Without it those checks fall back to the backend's own `score()` or are skipped with a note.
   */
  modelDir?: string;
  /** ONNX file inside `modelDir` (default: the first of `onnx/model.onnx`, `model.onnx`, …). */
  modelFile?: string;
  /** Another backend on the same model: greedy outputs (and logprobs, when both give them) must match. */
  reference?: InferenceBackendV1;
  /** Name of `reference` in messages (default: its `provider`). */
  referenceName?: string;
  /**
   * Most tokens the model accepts (prompt + completion). Default: `max_position_embeddings` from
   * `modelDir/config.json`. Needed by the over-long prompt case (skipped with a note when unknown).
   */
  maxContextTokens?: number;
  /** Runs after the suite. Default: `close()` on `backend` and `reference`. */
  teardown?: () => void | Promise<void>;
}

/** Knobs for {@link runBackendConformance}; the defaults suit the tiny models of `@rlpt/model`. */
export interface BackendConformanceOptions {
  /**
   * Prompts of different lengths (at least 2; the default has 4, from 1 to ~20 tokens). Use text your
   * model's tokenizer handles; the suite never assumes a tokenizer.
   */
  prompts?: string[];
  /** New tokens per completion in most cases (default 12). Larger values make the suite slower. */
  maxTokens?: number;
  /** Most tokens the mid-generation abort case asks for (default 256, capped by the context). */
  abortMaxTokens?: number;
  /** Largest allowed |backend logprob − reference logprob| (default 1e-4). */
  logprobTolerance?: number;
  /**
   * Two logits closer than this count as a tie: a greedy choice of either is accepted and the sequences
   * are not compared past it (default 1e-4). Only used where an uncached reference is available.
   */
  tieTolerance?: number;
  /**
   * Which distribution sampled logprobs are under: `scaled` (default) = log softmax(logits / T), as
   * `@rlpt/backend-onnx` and `@rlpt/backend-transformers`; `raw` = log softmax(logits) whatever T is.
   * Greedy (T = 0) logprobs are always checked under T = 1.
   */
  logprobTemperature?: 'scaled' | 'raw';
  /** Per-test timeout in ms (default 120 000). */
  timeoutMs?: number;
  /** Run only these case ids (default: every case). */
  only?: string[];
  /**
   * Cases to skip, by id, each with the reason shown next to the skipped test (a known limitation of your
   * server, say). Skips stay visible in the report; nothing is passed silently.
   */
  skip?: Record<string, string>;
}

/** The resolved options (defaults filled in). */
export type ResolvedConformanceOptions = Required<BackendConformanceOptions>;

/** A case failed: the message names the suite, the case, the prompt and the token where it went wrong. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

/** Thrown inside a case to skip it with a visible note (a capability is false, an input is missing). */
export class ConformanceSkip extends Error {
  override readonly name = 'ConformanceSkip';
}

/** Everything a case gets. */
export interface ConformanceCaseContext {
  /** The suite's name (the backend under test). */
  readonly suite: string;
  readonly backend: InferenceBackendV1;
  readonly reference: InferenceBackendV1 | undefined;
  readonly referenceName: string;
  readonly uncached: UncachedForward | undefined;
  readonly maxContextTokens: number | undefined;
  readonly options: ResolvedConformanceOptions;
  /** Records a note shown next to the test (a near-tie accepted, a fallback used). */
  note(message: string): void;
}

/** One conformance case. */
export interface BackendConformanceCase {
  /** Stable id, e.g. `stop-strings`. */
  id: string;
  /** The test's name. */
  title: string;
  run(context: ConformanceCaseContext, fail: Failer): Promise<void>;
}

/** Failure helpers bound to one case (messages are prefixed with the suite and case names). */
export interface Failer {
  fail(message: string, cause?: unknown): never;
  check(condition: unknown, message: string): asserts condition;
  skip(note: string): never;
}

const defaultPrompts = [
  'The capital of France is',
  'a',
  'Once upon a time, in a small village by the sea, there lived an old fisherman who',
  '1, 2, 3, 4,',
];

/** Default {@link BackendConformanceOptions}. */
export const defaultConformanceOptions: ResolvedConformanceOptions = {
  prompts: defaultPrompts,
  maxTokens: 12,
  abortMaxTokens: 256,
  logprobTolerance: 1e-4,
  tieTolerance: 1e-4,
  logprobTemperature: 'scaled',
  timeoutMs: 120_000,
  only: [],
  skip: {},
};
