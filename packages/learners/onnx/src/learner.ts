import { availableParallelism } from 'node:os';
import {
  checkWeights,
  type DecoderConfig,
  decaysByDefault,
  decoderParameterSpecs,
  type ParameterSpec,
  randomWeights,
  readCheckpointWeights,
  readModelConfig,
  type TokenizerFiles,
  trainingNames,
  type WeightMap,
  writeModelFolder,
} from '@rlpt/model';
import {
  type EventHandler,
  InvalidArgumentError,
  type LearnerV1,
  type Logger,
  NumericError,
  type OptimStepResult,
  silentLogger,
  type TokenBatch,
} from '@rlpt/spec';
import type * as Ort from 'onnxruntime-node';
import { type AdamWSettings, type AdamWSlot, adamWStep, globalNorm } from './adamw.js';
import { type MicroBatch, packBatch, rowLayout, validateBatch } from './batch.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import {
  defaultMicroBatchTokens,
  type OnnxLearnerOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { SessionCache } from './sessions.js';

/** One trainable tensor: its value and AdamW moments live in JS memory and are fed to every run. */
interface ParameterState {
  spec: ParameterSpec;
  value: Float32Array;
  m: Float32Array;
  v: Float32Array;
  decay: boolean;
  /** Wraps `value` (updated in place, so the tensor stays valid). */
  tensor: Ort.Tensor;
  /** The EMA teacher's copy (with `ema`), and its tensor. */
  teacher?: Float32Array;
  teacherTensor?: Ort.Tensor;
}

/**
 * A {@link LearnerV1} that runs `@rlpt/model` training graphs in onnxruntime-node: `forwardBackward`
 * runs the gradient graph (forward → O = Σ c_t·logπ_t → reverse-mode gradients of −O) per micro-batch and
 * accumulates the gradients; `optimStep` clips them by global norm and applies AdamW in place.
 */
export class OnnxLearner implements LearnerV1 {
  readonly specificationVersion = 'v1' as const;
  /** The architecture being trained. */
  readonly config: DecoderConfig;
  private readonly parameters: ParameterState[];
  private readonly sessions: SessionCache;
  private readonly microBatchTokens: number;
  private pending: Float32Array[] | undefined;
  /** The graph's global norm of `pending`, while it holds a single run's gradients. */
  private pendingNorm: number | undefined;
  private optimizerSteps = 0;
  private emaUpdates = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** @internal Use {@link createOnnxLearner}. */
  constructor(
    private readonly ort: typeof Ort,
    config: DecoderConfig,
    weights: WeightMap,
    private readonly configJson: Record<string, unknown>,
    private readonly tokenizer: TokenizerFiles | { copyFrom: string } | undefined,
    private readonly options: ResolvedOptions,
    microBatchTokens: number | undefined,
    decay: (name: string, shape: readonly number[]) => boolean,
    private readonly logger: Logger,
    private readonly onEvent: EventHandler | undefined,
  ) {
    this.config = config;
    this.parameters = decoderParameterSpecs(config).map((spec) => {
      const value = Float32Array.from(weights.get(spec.name)?.data as Float32Array);
      const teacher = options.ema ? Float32Array.from(value) : undefined;
      return {
        spec,
        value,
        m: new Float32Array(value.length),
        v: new Float32Array(value.length),
        decay: decay(spec.name, spec.shape),
        tensor: new ort.Tensor('float32', value, spec.shape),
        ...(teacher ? { teacher, teacherTensor: new ort.Tensor('float32', teacher, spec.shape) } : {}),
      };
    });
    this.microBatchTokens = microBatchTokens ?? defaultMicroBatchTokens(config.vocabSize);
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      executionProviders: options.executionProviders,
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(options.threadSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    this.sessions = new SessionCache(
      ort,
      config,
      sessionOptions,
      options.shapes,
      options.maxSessions,
      logger,
    );
  }

  /** Optimizer steps taken so far (restored by `load`). */
  get step(): number {
    return this.optimizerSteps;
  }

  /** Runs operations one at a time (sessions and parameters are shared state). */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.closed)
        throw new InvalidArgumentError({ argument: 'learner', message: 'This OnnxLearner was closed.' });
      return operation();
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Whether this learner keeps an EMA teacher (`ema`). */
  get hasTeacher(): boolean {
    return this.options.ema !== undefined;
  }

  /** EMA updates applied to the teacher so far (0 without `ema`; restored by `load`). */
  get teacherUpdates(): number {
    return this.emaUpdates;
  }

  private feeds(micro: MicroBatch, weights: 'policy' | 'teacher' = 'policy'): Record<string, Ort.Tensor> {
    const dims = [micro.batchSize, micro.sequenceLength];
    const feeds: Record<string, Ort.Tensor> = {
      [trainingNames.inputIds]: new this.ort.Tensor('int64', micro.inputIds, dims),
      [trainingNames.targetIds]: new this.ort.Tensor('int64', micro.targetIds, dims),
      [trainingNames.positionIds]: new this.ort.Tensor('int64', micro.positionIds, dims),
      [trainingNames.attentionMask]: new this.ort.Tensor('int64', micro.attentionMask, dims),
      [trainingNames.coefficients]: new this.ort.Tensor('float32', micro.coefficients, dims),
    };
    for (const parameter of this.parameters)
      feeds[parameter.spec.name] =
        weights === 'teacher' ? (parameter.teacherTensor as Ort.Tensor) : parameter.tensor;
    return feeds;
  }

  /** Log-probability of every completion token under the current weights. */
  logprobs(batch: TokenBatch): Promise<Float32Array[]> {
    return this.serial(() => this.completionLogprobs(batch, 'policy'));
  }

  /**
   * Log-probability of every completion token under the EMA teacher (the same forward graph, the teacher's
   * weights bound as its inputs). Needs `ema`.
   */
  teacherLogprobs(batch: TokenBatch): Promise<Float32Array[]> {
    return this.serial(async () => {
      this.requireTeacher('teacherLogprobs');
      return this.completionLogprobs(batch, 'teacher');
    });
  }

  private requireTeacher(method: string): void {
    if (!this.options.ema) {
      throw new InvalidArgumentError({
        argument: 'ema',
        message: `${method} needs an EMA teacher: create the learner with ema: { decay } (e.g. 0.999).`,
      });
    }
  }

  private async completionLogprobs(
    batch: TokenBatch,
    weights: 'policy' | 'teacher',
  ): Promise<Float32Array[]> {
    validateBatch(batch, this.config.vocabSize);
    const result: Float32Array[] = batch.sequences.map(
      (sequence) => new Float32Array(sequence.completionTokenIds.length),
    );
    const micro = packBatch(batch, {
      maxTokens: this.microBatchTokens,
      lengthMultiple: this.options.lengthMultiple,
    });
    for (const part of micro) {
      const session = await this.sessions.get('logprobs', part.batchSize, part.sequenceLength);
      const out = await session.run(this.feeds(part, weights), [trainingNames.logprobs]);
      const logprobs = (out[trainingNames.logprobs] as Ort.Tensor).data as Float32Array;
      part.rows.forEach((sequenceIndex, row) => {
        const { start, length } = rowLayout(batch, sequenceIndex);
        const offset = row * part.sequenceLength + start;
        (result[sequenceIndex] as Float32Array).set(logprobs.subarray(offset, offset + length));
      });
    }
    return result;
  }

  /**
   * Accumulates the gradient of L = −Σ_t c_t·logπ_t (completion tokens; one coefficient per token) and
   * returns the objective Σ_t c_t·logπ_t before the update. Sequences whose coefficients are all zero
   * contribute nothing and are skipped.
   */
  forwardBackward(batch: TokenBatch, coefficients: Float32Array[]): Promise<{ objective: number }> {
    return this.serial(async () => {
      validateBatch(batch, this.config.vocabSize, coefficients);
      const active = batch.sequences.flatMap((_, index) =>
        (coefficients[index] as Float32Array).some((value) => value !== 0) ? [index] : [],
      );
      const activeBatch: TokenBatch = {
        sequences: active.map((index) => batch.sequences[index] as TokenBatch['sequences'][number]),
      };
      const activeCoefficients = active.map((index) => coefficients[index] as Float32Array);
      const micro = packBatch(activeBatch, {
        maxTokens: this.microBatchTokens,
        lengthMultiple: this.options.lengthMultiple,
        coefficients: activeCoefficients,
      });
      let objective = 0;
      const outputs = [
        trainingNames.objective,
        trainingNames.gradNorm,
        ...this.parameters.map((p) => trainingNames.grad(p.spec.name)),
      ];
      for (const part of micro) {
        const session = await this.sessions.get('gradients', part.batchSize, part.sequenceLength);
        const out = await session.run(this.feeds(part), outputs);
        objective += ((out[trainingNames.objective] as Ort.Tensor).data as Float32Array)[0] as number;
        const grads = this.parameters.map(
          (parameter) => (out[trainingNames.grad(parameter.spec.name)] as Ort.Tensor).data as Float32Array,
        );
        const norm = ((out[trainingNames.gradNorm] as Ort.Tensor).data as Float32Array)[0] as number;
        this.accumulate(grads, norm);
      }
      if (!this.pending) {
        this.pending = this.parameters.map((parameter) => new Float32Array(parameter.value.length));
        this.pendingNorm = 0;
      }
      this.logger.debug('learner-onnx: forwardBackward', {
        sequences: batch.sequences.length,
        skipped: batch.sequences.length - active.length,
        microBatches: micro.map((part) => `${part.batchSize}x${part.sequenceLength}`).join(' '),
      });
      return { objective };
    });
  }

  private accumulate(grads: Float32Array[], norm: number): void {
    if (!this.pending) {
      // onnxruntime returns fresh buffers: the first micro-batch's gradients become the accumulator.
      this.pending = grads;
      this.pendingNorm = norm;
      return;
    }
    this.pendingNorm = undefined;
    for (const [index, grad] of grads.entries()) {
      const total = this.pending[index] as Float32Array;
      for (let i = 0; i < total.length; i++) total[i] = (total[i] as number) + (grad[i] as number);
    }
  }

  /**
   * Clips the accumulated gradients by global norm and applies one AdamW step (PyTorch semantics), then
   * clears them. Returns the norm before clipping. A non-finite norm throws a `NumericError` and leaves the
   * weights and moments untouched (the gradients are dropped).
   */
  optimStep(options: { learningRate: number }): Promise<OptimStepResult> {
    return this.serial(async () => {
      const learningRate = options?.learningRate;
      if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate < 0) {
        throw new InvalidArgumentError({
          argument: 'learningRate',
          message: `optimStep: learningRate must be a finite number ≥ 0, got ${String(learningRate)}.`,
        });
      }
      const grads = this.pending;
      if (!grads) {
        throw new InvalidArgumentError({
          argument: 'optimStep',
          message: 'optimStep was called with no accumulated gradients; call forwardBackward first.',
        });
      }
      const gradNorm = this.pendingNorm ?? globalNorm(grads);
      this.pending = undefined;
      this.pendingNorm = undefined;
      if (!Number.isFinite(gradNorm)) {
        throw new NumericError({
          argument: 'gradients',
          message: `optimStep: the gradient norm is ${gradNorm}; the step was skipped and the gradients dropped (check the coefficients and the learning rate of earlier steps).`,
        });
      }
      const clipScale = Number.isFinite(this.options.maxGradNorm)
        ? Math.min(1, this.options.maxGradNorm / (gradNorm + 1e-6))
        : 1;
      const slots: AdamWSlot[] = this.parameters.map((parameter, index) => ({
        parameter: parameter.value,
        m: parameter.m,
        v: parameter.v,
        grad: grads[index] as Float32Array,
        decay: parameter.decay,
      }));
      adamWStep(slots, this.options.adam, { learningRate, step: this.optimizerSteps + 1, clipScale });
      this.optimizerSteps++;
      if (this.options.ema) this.updateTeacher(this.options.ema.decay);
      return { gradNorm };
    });
  }

  /** φ ← decay·φ + (1 − decay)·θ over every parameter, in parameter order (float64 arithmetic, stored as float32). */
  private updateTeacher(decay: number): void {
    const blend = 1 - decay;
    for (const parameter of this.parameters) {
      const teacher = parameter.teacher as Float32Array;
      const value = parameter.value;
      for (let i = 0; i < teacher.length; i++)
        teacher[i] = decay * (teacher[i] as number) + blend * (value[i] as number);
    }
    this.emaUpdates++;
  }

  /** A copy of the EMA teacher's weights by Hugging Face name (needs `ema`). */
  teacherWeights(): Promise<WeightMap> {
    return this.serial(async () => {
      this.requireTeacher('teacherWeights');
      return this.teacherMap(true);
    });
  }

  private teacherMap(copy: boolean): WeightMap {
    return new Map(
      this.parameters.map((parameter) => [
        parameter.spec.name,
        {
          dtype: 'float32',
          dims: parameter.spec.shape,
          data: copy
            ? Float32Array.from(parameter.teacher as Float32Array)
            : (parameter.teacher as Float32Array),
        },
      ]),
    );
  }

  /**
   * The accumulated gradients of the loss −Σ c·logπ by Hugging Face tensor name (copies), or `undefined`
   * when none are pending.
   */
  gradients(): Promise<Map<string, Float32Array> | undefined> {
    return this.serial(async () => {
      const pending = this.pending;
      if (!pending) return undefined;
      return new Map(
        this.parameters.map((parameter, index) => [
          parameter.spec.name,
          Float32Array.from(pending[index] as Float32Array),
        ]),
      );
    });
  }

  /** A copy of the current weights by Hugging Face name. */
  weights(): Promise<WeightMap> {
    return this.serial(async () => this.weightMap(true));
  }

  private weightMap(copy: boolean): WeightMap {
    return new Map(
      this.parameters.map((parameter) => [
        parameter.spec.name,
        {
          dtype: 'float32',
          dims: parameter.spec.shape,
          data: copy ? Float32Array.from(parameter.value) : parameter.value,
        },
      ]),
    );
  }

  private momentMap(kind: 'm' | 'v'): WeightMap {
    return new Map(
      this.parameters.map((parameter) => [
        parameter.spec.name,
        { dtype: 'float32', dims: parameter.spec.shape, data: parameter[kind] },
      ]),
    );
  }

  /**
   * Writes weights (`model.safetensors`), AdamW moments (`optimizer.safetensors`), the step count
   * (`learner_state.json`), `config.json` and the tokenizer files into `dir`, atomically. Gradients
   * accumulated since the last `optimStep` are not saved.
   */
  save(dir: string): Promise<void> {
    return this.serial(async () => {
      if (this.pending) {
        this.onEvent?.({
          type: 'warning',
          message: `save(${dir}): gradients accumulated since the last optimStep are not saved.`,
        });
      }
      await writeCheckpoint(dir, {
        config: this.config,
        configJson: this.configJson,
        parameters: this.parameters.map((parameter) => parameter.spec),
        weights: this.weightMap(false),
        m: this.momentMap('m'),
        v: this.momentMap('v'),
        ...(this.options.ema ? { teacher: this.teacherMap(false) } : {}),
        state: {
          format: 'rlpt-learner-onnx',
          version: 1,
          step: this.optimizerSteps,
          adam: this.options.adam,
          maxGradNorm: Number.isFinite(this.options.maxGradNorm) ? this.options.maxGradNorm : null,
          ...(this.options.ema ? { ema: { decay: this.options.ema.decay, updates: this.emaUpdates } } : {}),
        },
        tokenizer: this.tokenizer,
      });
    });
  }

  /** Restores weights, AdamW moments and the step count from a folder `save` wrote; drops pending gradients. */
  load(dir: string): Promise<void> {
    return this.serial(async () => {
      const checkpoint = await readCheckpoint(
        dir,
        this.config,
        this.parameters.map((parameter) => parameter.spec),
      );
      for (const parameter of this.parameters) {
        parameter.value.set(checkpoint.weights.get(parameter.spec.name)?.data as Float32Array);
        parameter.m.set(checkpoint.m.get(parameter.spec.name)?.data as Float32Array);
        parameter.v.set(checkpoint.v.get(parameter.spec.name)?.data as Float32Array);
        if (parameter.teacher) {
          // A checkpoint without a teacher (saved without ema) starts the teacher at its weights.
          const source = checkpoint.teacher ?? checkpoint.weights;
          parameter.teacher.set(source.get(parameter.spec.name)?.data as Float32Array);
        }
      }
      if (this.options.ema) {
        this.emaUpdates = checkpoint.teacher ? (checkpoint.state.ema?.updates ?? 0) : 0;
        if (!checkpoint.teacher) {
          this.onEvent?.({
            type: 'warning',
            message: `load(${dir}): the checkpoint has no EMA teacher (teacher.safetensors); the teacher starts at its weights.`,
          });
        } else if (checkpoint.state.ema && checkpoint.state.ema.decay !== this.options.ema.decay) {
          this.onEvent?.({
            type: 'warning',
            message: `load(${dir}): the checkpoint's teacher was updated with decay ${checkpoint.state.ema.decay}; continuing with ${this.options.ema.decay}.`,
          });
        }
      }
      this.optimizerSteps = checkpoint.state.step;
      this.pending = undefined;
      this.pendingNorm = undefined;
    });
  }

  /**
   * Writes a model folder `@rlpt/backend-onnx` (and transformers.js) loads: `config.json`,
   * `onnx/model.onnx` with the current weights, and the tokenizer files. Atomic (temp folder + rename);
   * replaces `dir` if it exists. Returns the folder's absolute path.
   */
  exportForInference(dir: string): Promise<string> {
    return this.serial(() => this.writeInferenceFolder(dir, this.weightMap(false), 'exportForInference'));
  }

  private async writeInferenceFolder(dir: string, weights: WeightMap, method: string): Promise<string> {
    if (!this.tokenizer) {
      throw new InvalidArgumentError({
        argument: 'tokenizer',
        message: `${method} needs tokenizer files: create the learner from a modelDir, or pass tokenizer: TokenizerFiles | { copyFrom: dir }.`,
      });
    }
    const { 'transformers.js_config': _dropped, ...configJson } = this.configJson;
    const folder = await writeModelFolder({
      dir,
      config: this.config,
      weights,
      tokenizer: this.tokenizer,
      configJson,
      overwrite: true,
    });
    return folder.dir;
  }

  /**
   * Writes the EMA teacher as a model folder, exactly as {@link exportForInference} writes the weights, so
   * any backend can score with it (RLP's no-think baseline). Needs `ema`.
   */
  exportTeacherForInference(dir: string): Promise<string> {
    return this.serial(async () => {
      this.requireTeacher('exportTeacherForInference');
      return this.writeInferenceFolder(dir, this.teacherMap(false), 'exportTeacherForInference');
    });
  }

  /** Releases the onnxruntime sessions. The learner can't be used afterwards. */
  close(): Promise<void> {
    return this.serial(async () => {
      this.closed = true;
      await this.sessions.close();
    });
  }
}

/**
 * Creates a {@link OnnxLearner}: a local learner that trains a Llama/Qwen decoder on the CPU (or CUDA)
 * through onnxruntime-node. Weights come from `modelDir` (safetensors), or from `config` + `weights`
 * (seeded random init when `weights` is omitted).
 *
 * @example
 * const learner = await createOnnxLearner({ modelDir: 'models/tiny', threads: 2 });
 * const batch = { sequences: [{ promptTokenIds: [1, 5, 9], completionTokenIds: [4, 2] }] };
 * const { objective } = await learner.forwardBackward(batch, [Float32Array.of(0.5, 0.5)]);
 * const { gradNorm } = await learner.optimStep({ learningRate: 1e-3 });
 * const modelDir = await learner.exportForInference('runs/x/policy');
 */
export async function createOnnxLearner(options: OnnxLearnerOptions): Promise<OnnxLearner> {
  const resolved = resolveOptions(options, availableParallelism());
  let config: DecoderConfig;
  let weights: WeightMap;
  let configJson: Record<string, unknown> = {};
  let tokenizer = options.tokenizer;
  if (options.modelDir !== undefined) {
    if (options.config || options.weights) {
      throw new InvalidArgumentError({
        argument: 'modelDir',
        message: 'createOnnxLearner: pass either modelDir or config (+ weights), not both.',
      });
    }
    const read = await readModelConfig(options.modelDir);
    config = read.config;
    configJson = read.json;
    weights = checkWeights(config, await readCheckpointWeights(options.modelDir), options.modelDir);
    tokenizer ??= { copyFrom: options.modelDir };
  } else if (options.config) {
    config = options.config;
    weights = options.weights
      ? checkWeights(config, options.weights, 'options.weights')
      : randomWeights(config, { seed: resolved.seed });
  } else {
    throw new InvalidArgumentError({
      argument: 'modelDir',
      message:
        'createOnnxLearner: pass modelDir (a model folder with config.json and model.safetensors) or config (+ weights).',
    });
  }
  const ort = (await import('onnxruntime-node')) as typeof Ort;
  const decay = options.decay ?? decaysByDefault;
  return new OnnxLearner(
    ort,
    config,
    weights,
    configJson,
    tokenizer,
    resolved,
    options.microBatchTokens,
    decay,
    options.logger ?? silentLogger,
    options.onEvent,
  );
}

export type { AdamWSettings };
