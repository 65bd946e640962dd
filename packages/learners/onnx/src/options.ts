import type { DecoderConfig, TokenizerFiles, WeightMap } from '@rlpt/model';
import { type EventHandler, InvalidArgumentError, type Logger } from '@rlpt/spec';
import type { AdamWSettings } from './adamw.js';
import type { ShapeMode } from './sessions.js';

/** Options for {@link createOnnxLearner}. Give either `modelDir` or `config` (+ `weights`). */
export interface OnnxLearnerOptions {
  /**
   * A Hugging Face style model folder: `config.json` (llama, qwen2, qwen3), `model.safetensors` (or a
   * sharded index) and tokenizer files, which {@link OnnxLearner.exportForInference} copies. Folders
   * written by `createTinyModel`, `convertCheckpoint`, `exportForInference` and `save` all qualify.
   */
  modelDir?: string;
  /** The architecture, when not reading `modelDir`. */
  config?: DecoderConfig;
  /** Initial weights by Hugging Face name (with `config`); default: seeded random init from `seed`. */
  weights?: WeightMap;
  /**
   * Tokenizer files for `exportForInference` when there is no `modelDir` (or to override it): the files
   * themselves, or a folder to copy `tokenizer.json`, `tokenizer_config.json`, … from.
   */
  tokenizer?: TokenizerFiles | { copyFrom: string };
  /**
   * onnxruntime intra-op threads. Default: `os.availableParallelism()`. Only `1` is reproducible bit for bit:
   * with more, onnxruntime's ScatterND add (the embedding gradient) sums duplicate rows in an order that
   * depends on thread timing, so gradients differ in the last bits from run to run on a loaded machine.
   */
  threads?: number;
  /**
   * Let onnxruntime's idle intra-op threads spin (default true: fastest on a dedicated machine). On a
   * machine shared with other busy processes, `false` avoids the large slowdowns spinning threads suffer
   * there; with `threads: 1` it makes no difference.
   */
  threadSpinning?: boolean;
  /** onnxruntime execution providers, in order of preference. Default `['cpu']`. */
  executionProviders?: ('cpu' | 'cuda')[];
  /** AdamW hyper-parameters (PyTorch defaults: β1 0.9, β2 0.999, ε 1e-8, weight decay 0.01). */
  adam?: Partial<AdamWSettings>;
  /** Clip the global gradient norm to this value (PyTorch `clip_grad_norm_`). Default 1; `Infinity` disables. */
  maxGradNorm?: number;
  /**
   * Which parameters get weight decay. Default: tensors of rank ≥ 2 (linear and embedding matrices), not
   * norm weights or biases (Hugging Face Trainer's convention).
   */
  decay?: (name: string, shape: readonly number[]) => boolean;
  /** Seed of the random init when no weights are given. Default 0. Training itself uses no randomness. */
  seed?: number;
  /**
   * Keep an EMA "teacher" copy of the weights (RLP's no-think baseline, METHOD.md §8): initialised to the
   * starting weights, updated after every `optimStep` as φ ← decay·φ + (1 − decay)·θ, saved in checkpoints
   * (`teacher.safetensors`), scored with `teacherLogprobs`, exported with `exportTeacherForInference`.
   */
  ema?: { decay: number };
  /**
   * Upper bound on padded token positions per `session.run` (sequences are grouped by length into
   * micro-batches under it; gradients accumulate across them). Default: 2^24 / vocabulary size, clamped to
   * [256, 65536] — the `[tokens, vocab]` logits dominate memory.
   */
  microBatchTokens?: number;
  /** Round each micro-batch's length up to a multiple of this (fewer distinct shapes). Default 8. */
  lengthMultiple?: number;
  /**
   * `dynamic` (default): one onnxruntime session per graph kind with symbolic batch/sequence dims.
   * `static`: one session per (batch, length) shape, kept up to `maxSessions`.
   */
  shapes?: ShapeMode;
  /** Sessions kept with `shapes: 'static'`. Default 8. */
  maxSessions?: number;
  /** Debug messages (session creation, micro-batches). Default: silent. */
  logger?: Logger;
  /** Warnings as events. */
  onEvent?: EventHandler;
}

/** Resolved numeric options. */
export interface ResolvedOptions {
  threads: number;
  adam: AdamWSettings;
  maxGradNorm: number;
  seed: number;
  lengthMultiple: number;
  maxSessions: number;
  shapes: ShapeMode;
  executionProviders: ('cpu' | 'cuda')[];
  threadSpinning: boolean;
  ema: { decay: number } | undefined;
}

/** Validates the numeric options; throws an `InvalidArgumentError` naming the first bad option. */
export function resolveOptions(options: OnnxLearnerOptions, defaultThreads: number): ResolvedOptions {
  const check = (name: string, value: number, valid: boolean, expected: string) => {
    if (!valid) {
      throw new InvalidArgumentError({
        argument: name,
        message: `createOnnxLearner: ${name} must be ${expected}, got ${value}.`,
      });
    }
    return value;
  };
  const adam: AdamWSettings = {
    beta1: options.adam?.beta1 ?? 0.9,
    beta2: options.adam?.beta2 ?? 0.999,
    eps: options.adam?.eps ?? 1e-8,
    weightDecay: options.adam?.weightDecay ?? 0.01,
  };
  check('adam.beta1', adam.beta1, adam.beta1 >= 0 && adam.beta1 < 1, 'in [0, 1)');
  check('adam.beta2', adam.beta2, adam.beta2 >= 0 && adam.beta2 < 1, 'in [0, 1)');
  check('adam.eps', adam.eps, adam.eps > 0 && Number.isFinite(adam.eps), 'a positive number');
  check(
    'adam.weightDecay',
    adam.weightDecay,
    adam.weightDecay >= 0 && Number.isFinite(adam.weightDecay),
    '≥ 0',
  );
  const maxGradNorm = options.maxGradNorm ?? 1;
  check('maxGradNorm', maxGradNorm, maxGradNorm > 0, 'a positive number (Infinity disables clipping)');
  const threads = options.threads ?? defaultThreads;
  check('threads', threads, Number.isInteger(threads) && threads >= 1, 'a positive integer');
  const lengthMultiple = options.lengthMultiple ?? 8;
  check(
    'lengthMultiple',
    lengthMultiple,
    Number.isInteger(lengthMultiple) && lengthMultiple >= 1,
    'a positive integer',
  );
  const maxSessions = options.maxSessions ?? 8;
  check('maxSessions', maxSessions, Number.isInteger(maxSessions) && maxSessions >= 3, 'an integer ≥ 3');
  if (options.microBatchTokens !== undefined) {
    check(
      'microBatchTokens',
      options.microBatchTokens,
      Number.isInteger(options.microBatchTokens) && options.microBatchTokens >= 1,
      'a positive integer',
    );
  }
  const seed = options.seed ?? 0;
  check('seed', seed, Number.isInteger(seed), 'an integer');
  const shapes = options.shapes ?? 'dynamic';
  if (shapes !== 'dynamic' && shapes !== 'static') {
    throw new InvalidArgumentError({
      argument: 'shapes',
      message: `createOnnxLearner: shapes must be 'dynamic' or 'static', got ${String(shapes)}.`,
    });
  }
  const executionProviders = options.executionProviders ?? ['cpu'];
  for (const provider of executionProviders) {
    if (provider !== 'cpu' && provider !== 'cuda') {
      throw new InvalidArgumentError({
        argument: 'executionProviders',
        message: `createOnnxLearner: unknown execution provider ${JSON.stringify(provider)}; use 'cpu' or 'cuda'.`,
      });
    }
  }
  const threadSpinning = options.threadSpinning ?? true;
  if (options.ema !== undefined) {
    const decay = options.ema?.decay;
    check('ema.decay', decay, typeof decay === 'number' && decay > 0 && decay < 1, 'in (0, 1)');
  }
  return {
    ema: options.ema ? { decay: options.ema.decay } : undefined,
    threads,
    adam,
    maxGradNorm,
    seed,
    lengthMultiple,
    maxSessions,
    shapes,
    executionProviders,
    threadSpinning,
  };
}

/** Default micro-batch size in padded tokens for a vocabulary. */
export function defaultMicroBatchTokens(vocabSize: number): number {
  return Math.min(65536, Math.max(256, Math.floor(2 ** 24 / vocabSize)));
}
