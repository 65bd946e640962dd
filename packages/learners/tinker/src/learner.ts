import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  ApiCallError,
  InvalidArgumentError,
  ModelLoadError,
  type LearnerV1,
  type OptimStepResult,
  type TokenBatch,
} from '@rlpt/spec';
import { TinkerClient, type TinkerClientSettings } from './client.js';
import type { TinkerPpoInputs } from './loss.js';
import type { AdamParams, Datum, ForwardBackwardOutput, TensorData } from './wire.js';

/** Options for {@link createTinkerLearner}. */
export interface TinkerLearnerOptions extends TinkerClientSettings {
  /** Base model to train, as the server names it (`get_server_capabilities`), e.g. `Qwen/Qwen3-8B`. */
  baseModel: string;
  /** LoRA rank. Default 32 (the SDK's). */
  loraRank?: number;
  /** The rest of the SDK's `LoraConfig`. */
  lora?: { seed?: number; trainMlp?: boolean; trainAttn?: boolean; trainUnembed?: boolean };
  /** Adam settings sent with every `optim_step` (Tinker's defaults: β1 0.9, β2 0.95, ε 1e-12, no weight decay). */
  adam?: { beta1?: number; beta2?: number; eps?: number; weightDecay?: number };
  /** `grad_clip_norm` of every `optim_step`; 0 (default) disables clipping. */
  gradClipNorm?: number;
  /**
   * `true` (default): `optimStep` returns once the server has the request (its future is awaited with the
   * next call; `seq_id` order keeps it ahead of that call), saving a round trip per step. Its error, if
   * any, surfaces on the next call. `false`: wait for the step (and report `gradNorm` when the server does).
   */
  pipeline?: boolean;
  /** Start from a `save_weights` path (`tinker://…/weights/…`): `weights_info` → `create_model` → `load_weights`. */
  resumeFrom?: string;
}

/** The pointer a checkpoint folder holds: weights stay on the server. */
export interface TinkerCheckpoint {
  format: 'rlpt-learner-tinker';
  version: 1;
  baseURL: string;
  baseModel: string;
  loraRank: number;
  /** `save_weights` path (weights + optimizer state). */
  path: string;
}

/** What {@link TinkerLearner.exportForInference} writes: the sampler weights a backend can sample from. */
export interface TinkerSamplerPointer {
  format: 'rlpt-tinker-sampler';
  version: 1;
  baseURL: string;
  baseModel: string;
  /** `save_weights_for_sampler` path (`tinker://…`). */
  modelPath: string;
}

export const CHECKPOINT_FILE = 'tinker-checkpoint.json';
export const SAMPLER_FILE = 'tinker-sampler.json';

async function writeJsonDirAtomically(dir: string, file: string, content: unknown): Promise<string> {
  const target = resolve(dir);
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.tmp-${randomUUID().slice(0, 8)}`;
  await mkdir(temp, { recursive: true });
  await writeFile(join(temp, file), `${JSON.stringify(content, null, 2)}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(temp, target);
  return target;
}

function safeName(dir: string): string {
  const tail = resolve(dir).split(/[\\/]/).slice(-3).join('-');
  return `${tail.replace(/[^A-Za-z0-9._-]+/g, '-').slice(-80)}-${Date.now().toString(36)}`;
}

/**
 * A `LearnerV1` over the Tinker training API: hosted Tinker, SkyRL's Tinker server, or `rlpt serve
 * tinker`. `forwardBackward(batch, c)` sends `cross_entropy` with the coefficients as weights, so
 * Tinker's −Σ w·logp is exactly L = −Σ c·logπ for any objective; {@link forwardBackwardPpo} sends
 * a GRPO objective as Tinker's `ppo` loss instead (see `grpoToTinkerPpo`).
 */
export class TinkerLearner implements LearnerV1 {
  readonly specificationVersion = 'v1' as const;
  private seqId = 0;
  private pendingSteps: Promise<unknown>[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private lastSamplerPath: string | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @internal Use {@link createTinkerLearner}. */
  constructor(
    readonly client: TinkerClient,
    private modelIdValue: string,
    private readonly options: TinkerLearnerOptions,
  ) {}

  /** The server's id of the model being trained. */
  get modelId(): string {
    return this.modelIdValue;
  }

  /** The last sampler weights `exportForInference` saved (`tinker://…`). */
  get samplerPath(): string | undefined {
    return this.lastSamplerPath;
  }

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.closed)
        throw new InvalidArgumentError({ argument: 'learner', message: 'This TinkerLearner was closed.' });
      return operation();
    });
    this.queue = next.catch(() => {});
    return next;
  }

  private nextSeq(): number {
    this.seqId += 1;
    return this.seqId;
  }

  /** Awaits pipelined optim steps; rethrows the first failure. */
  private async settle(): Promise<void> {
    const pending = this.pendingSteps;
    this.pendingSteps = [];
    await Promise.all(pending);
  }

  private datums(
    batch: TokenBatch,
    perToken: (sequence: number) => Record<string, ArrayLike<number>>,
  ): {
    data: Datum[];
    used: number[];
  } {
    const data: Datum[] = [];
    const used: number[] = [];
    batch.sequences.forEach((sequence, index) => {
      const prompt = Array.from(sequence.promptTokenIds);
      const completion = Array.from(sequence.completionTokenIds);
      if (prompt.length === 0) {
        throw new InvalidArgumentError({
          argument: `batch.sequences[${index}].promptTokenIds`,
          message: `sequence ${index} has an empty prompt; the first completion token is predicted from the last prompt token (add BOS).`,
        });
      }
      if (completion.length === 0) return;
      const tokens = [...prompt, ...completion];
      const inputs = perToken(index);
      const padded = (values: ArrayLike<number>): number[] => {
        const out = new Array<number>(tokens.length - 1).fill(0);
        for (let t = 0; t < completion.length; t++) out[prompt.length - 1 + t] = values[t] as number;
        return out;
      };
      const lossInputs: Record<string, TensorData> = {
        target_tokens: { data: tokens.slice(1), dtype: 'int64', shape: [tokens.length - 1] },
      };
      for (const [name, values] of Object.entries(inputs)) {
        lossInputs[name] = { data: padded(values), dtype: 'float32', shape: [tokens.length - 1] };
      }
      data.push({
        model_input: { chunks: [{ type: 'encoded_text', tokens: tokens.slice(0, -1) }] },
        loss_fn_inputs: lossInputs,
      });
      used.push(index);
    });
    return { data, used };
  }

  private completionLogprobs(
    batch: TokenBatch,
    used: number[],
    output: ForwardBackwardOutput,
  ): Float32Array[] {
    const result = batch.sequences.map(() => new Float32Array(0));
    used.forEach((index, position) => {
      const sequence = batch.sequences[index];
      const logprobs = output.loss_fn_outputs[position]?.logprobs?.data;
      if (!sequence || !logprobs) {
        throw new ApiCallError({
          url: this.client.baseURL,
          isRetryable: false,
          message: `The server returned ${output.loss_fn_outputs.length} loss_fn_outputs for ${used.length} datums (no logprobs for datum ${position}).`,
        });
      }
      const start = sequence.promptTokenIds.length - 1;
      result[index] = Float32Array.from(logprobs.slice(start, start + sequence.completionTokenIds.length));
    });
    return result;
  }

  private async run(
    data: Datum[],
    lossFn: string,
    forwardOnly: boolean,
    lossFnConfig?: Record<string, number>,
  ): Promise<ForwardBackwardOutput> {
    const requestId = await this.client.submitForwardBackward({
      model_id: this.modelIdValue,
      seq_id: this.nextSeq(),
      forward_only: forwardOnly,
      forward_backward_input: {
        data,
        loss_fn: lossFn,
        ...(lossFnConfig ? { loss_fn_config: lossFnConfig } : {}),
      },
    });
    // The optim step ahead of this request finishes first on the server; await both.
    const [output] = await Promise.all([this.client.forwardBackwardResult(requestId), this.settle()]);
    return output;
  }

  /** Current-policy logprobs of each completion token (a forward-only pass). */
  logprobs(batch: TokenBatch): Promise<Float32Array[]> {
    return this.serial(async () => {
      const { data, used } = this.datums(batch, (index) => ({
        weights: new Float32Array(batch.sequences[index]?.completionTokenIds.length ?? 0),
      }));
      if (data.length === 0) return batch.sequences.map(() => new Float32Array(0));
      return this.completionLogprobs(batch, used, await this.run(data, 'cross_entropy', true));
    });
  }

  /** Accumulates ∇ of −Σ c·logπ: Tinker's cross_entropy with the coefficients as weights. */
  forwardBackward(batch: TokenBatch, coefficients: Float32Array[]): Promise<{ objective: number }> {
    return this.serial(async () => {
      this.checkAligned(batch, coefficients, 'coefficients');
      const { data, used } = this.datums(batch, (index) => ({
        weights: coefficients[index] as Float32Array,
      }));
      if (data.length === 0) return { objective: 0 };
      const output = await this.run(data, 'cross_entropy', false);
      const logprobs = this.completionLogprobs(batch, used, output);
      let objective = 0;
      logprobs.forEach((values, index) => {
        const weights = coefficients[index] as Float32Array;
        for (let t = 0; t < values.length; t++) objective += (weights[t] as number) * (values[t] as number);
      });
      return { objective };
    });
  }

  /**
   * Accumulates the gradient of a GRPO objective sent as Tinker's `ppo` loss (`grpoToTinkerPpo`); the
   * server computes the ratios against its current weights. Returns Tinker's summed loss (= the
   * objective's loss) and the completion logprobs the server saw.
   */
  forwardBackwardPpo(
    batch: TokenBatch,
    inputs: TinkerPpoInputs,
  ): Promise<{ loss: number; logprobs: Float32Array[] }> {
    return this.serial(async () => {
      this.checkAligned(batch, inputs.advantages, 'advantages');
      this.checkAligned(batch, inputs.samplingLogprobs, 'samplingLogprobs');
      const { data, used } = this.datums(batch, (index) => ({
        logprobs: inputs.samplingLogprobs[index] as Float32Array,
        advantages: inputs.advantages[index] as Float32Array,
      }));
      if (data.length === 0) return { loss: 0, logprobs: batch.sequences.map(() => new Float32Array(0)) };
      const output = await this.run(data, inputs.lossFn, false, inputs.lossFnConfig);
      let loss = 0;
      for (const datum of output.loss_fn_outputs)
        for (const value of datum.elementwise_loss?.data ?? []) loss += value;
      return { loss, logprobs: this.completionLogprobs(batch, used, output) };
    });
  }

  private checkAligned(batch: TokenBatch, arrays: ArrayLike<number>[], name: string): void {
    if (arrays.length !== batch.sequences.length) {
      throw new InvalidArgumentError({
        argument: name,
        message: `${name} has ${arrays.length} arrays for ${batch.sequences.length} sequences.`,
      });
    }
    batch.sequences.forEach((sequence, index) => {
      const values = arrays[index] as ArrayLike<number>;
      if (values.length !== sequence.completionTokenIds.length) {
        throw new InvalidArgumentError({
          argument: name,
          message: `sequence ${index} has ${sequence.completionTokenIds.length} completion tokens but ${values.length} ${name}.`,
        });
      }
      for (let t = 0; t < values.length; t++) {
        if (!Number.isFinite(values[t] as number)) {
          throw new InvalidArgumentError({
            argument: name,
            message: `${name}[${index}][${t}] is ${values[t]}; it must be finite.`,
          });
        }
      }
    });
  }

  private adamParams(learningRate: number): AdamParams {
    const adam = this.options.adam ?? {};
    return {
      learning_rate: learningRate,
      beta1: adam.beta1 ?? 0.9,
      beta2: adam.beta2 ?? 0.95,
      eps: adam.eps ?? 1e-12,
      weight_decay: adam.weightDecay ?? 0,
      grad_clip_norm: this.options.gradClipNorm ?? 0,
    };
  }

  /** Sends `optim_step`; pipelined by default (see {@link TinkerLearnerOptions.pipeline}). */
  optimStep(options: { learningRate: number }): Promise<OptimStepResult> {
    return this.serial(async () => {
      const learningRate = options?.learningRate;
      if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate < 0) {
        throw new InvalidArgumentError({
          argument: 'learningRate',
          message: `optimStep: learningRate must be a finite number ≥ 0, got ${String(learningRate)}.`,
        });
      }
      const requestId = await this.client.submit('/api/v1/optim_step', {
        model_id: this.modelIdValue,
        seq_id: this.nextSeq(),
        adam_params: this.adamParams(learningRate),
        type: 'optim_step',
      });
      const result = this.client.result(requestId, 'other') as Promise<
        { metrics?: Record<string, number> } | undefined
      >;
      if (this.options.pipeline ?? true) {
        result.catch(() => {}); // surfaced by settle()
        this.pendingSteps.push(result);
        return {};
      }
      const reply = await result;
      const gradNorm = reply?.metrics?.grad_norm;
      return typeof gradNorm === 'number' ? { gradNorm } : {};
    });
  }

  /** Waits for pipelined optim steps (errors surface here). */
  flush(): Promise<void> {
    return this.serial(() => this.settle());
  }

  private async saveWeights(
    endpoint: 'save_weights' | 'save_weights_for_sampler',
    name: string,
  ): Promise<string> {
    await this.settle();
    const requestId = await this.client.submit(`/api/v1/${endpoint}`, {
      model_id: this.modelIdValue,
      seq_id: this.nextSeq(),
      path: name,
      ...(endpoint === 'save_weights' ? { overwrite: true } : {}),
      type: endpoint,
    });
    const reply = (await this.client.result(requestId, 'other')) as { path?: unknown } | undefined;
    if (typeof reply?.path !== 'string') {
      throw new ApiCallError({
        url: `${this.client.baseURL}/api/v1/${endpoint}`,
        isRetryable: false,
        message: `${endpoint} answered without a path (got ${JSON.stringify(reply)?.slice(0, 200)}).`,
      });
    }
    return reply.path;
  }

  /** `save_weights` (weights + optimizer state on the server); `dir` gets a pointer file, atomically. */
  save(dir: string): Promise<void> {
    return this.serial(async () => {
      const path = await this.saveWeights('save_weights', safeName(dir));
      const checkpoint: TinkerCheckpoint = {
        format: 'rlpt-learner-tinker',
        version: 1,
        baseURL: this.client.baseURL,
        baseModel: this.options.baseModel,
        loraRank: this.options.loraRank ?? 32,
        path,
      };
      await writeJsonDirAtomically(dir, CHECKPOINT_FILE, checkpoint);
    });
  }

  /** Resumes from what `save` wrote: a fresh model on the server with those weights and optimizer state. */
  load(dir: string): Promise<void> {
    return this.serial(async () => {
      await this.settle().catch(() => {});
      const file = join(dir, CHECKPOINT_FILE);
      let checkpoint: TinkerCheckpoint;
      try {
        checkpoint = JSON.parse(await readFile(file, 'utf8')) as TinkerCheckpoint;
      } catch (cause) {
        throw new ModelLoadError({
          path: file,
          cause,
          message: `load(${dir}): cannot read ${CHECKPOINT_FILE} (${(cause as Error).message}); pass a folder TinkerLearner.save wrote.`,
        });
      }
      if (checkpoint.format !== 'rlpt-learner-tinker' || typeof checkpoint.path !== 'string') {
        throw new ModelLoadError({
          path: file,
          message: `load(${dir}): ${file} is not a TinkerLearner checkpoint.`,
        });
      }
      const { modelId } = await openModel(this.client, { ...this.options, resumeFrom: checkpoint.path });
      this.modelIdValue = modelId;
      this.seqId = 1; // load_weights took seq_id 1
    });
  }

  /**
   * `save_weights_for_sampler` under a name; `dir` gets a {@link TinkerSamplerPointer} that
   * `@rlpt/backend-tinker`'s `updateWeights(dir)` follows. Returns `dir` (absolute).
   */
  exportForInference(dir: string): Promise<string> {
    return this.serial(async () => {
      const modelPath = await this.saveWeights('save_weights_for_sampler', safeName(dir));
      this.lastSamplerPath = modelPath;
      const pointer: TinkerSamplerPointer = {
        format: 'rlpt-tinker-sampler',
        version: 1,
        baseURL: this.client.baseURL,
        baseModel: this.options.baseModel,
        modelPath,
      };
      return writeJsonDirAtomically(dir, SAMPLER_FILE, pointer);
    });
  }

  /**
   * `save_weights_for_sampler` without a name (what the SDK's `save_weights_and_get_sampling_client`
   * sends): returns a sampling session over the current weights, with no path to keep.
   */
  samplingSession(): Promise<string> {
    return this.serial(async () => {
      await this.settle();
      const requestId = await this.client.submit('/api/v1/save_weights_for_sampler', {
        model_id: this.modelIdValue,
        seq_id: this.nextSeq(),
        sampling_session_seq_id: this.client.nextSamplerSeq(),
        type: 'save_weights_for_sampler',
      });
      const reply = (await this.client.result(requestId, 'other')) as
        | { sampling_session_id?: unknown }
        | undefined;
      if (typeof reply?.sampling_session_id !== 'string') {
        throw new ApiCallError({
          url: `${this.client.baseURL}/api/v1/save_weights_for_sampler`,
          isRetryable: false,
          message: `save_weights_for_sampler without a name answered without a sampling_session_id (got ${JSON.stringify(reply)?.slice(0, 200)}).`,
        });
      }
      return reply.sampling_session_id;
    });
  }

  /** Waits for pending steps, stops the heartbeat. The model stays on the server (its checkpoints too). */
  /** Waits for pipelined steps, stops the heartbeat. Closing again returns the first close. */
  close(): Promise<void> {
    this.closing ??= this.serial(async () => {
      await this.settle().catch(() => {});
      this.closed = true;
      this.client.close();
    });
    return this.closing;
  }
}

async function openModel(client: TinkerClient, options: TinkerLearnerOptions): Promise<{ modelId: string }> {
  let loraRank = options.loraRank ?? 32;
  let baseModel = options.baseModel;
  if (options.resumeFrom) {
    const info = (await client.post('/api/v1/weights_info', { tinker_path: options.resumeFrom })) as
      | { base_model?: string; lora_rank?: number }
      | undefined;
    if (info?.base_model) baseModel = info.base_model;
    if (typeof info?.lora_rank === 'number') loraRank = info.lora_rank;
  }
  const requestId = await client.submit('/api/v1/create_model', {
    session_id: client.session,
    model_seq_id: client.nextModelSeq(),
    base_model: baseModel,
    lora_config: {
      rank: loraRank,
      ...(options.lora?.seed !== undefined ? { seed: options.lora.seed } : {}),
      train_unembed: options.lora?.trainUnembed ?? true,
      train_mlp: options.lora?.trainMlp ?? true,
      train_attn: options.lora?.trainAttn ?? true,
    },
    type: 'create_model',
  });
  const created = (await client.result(requestId, 'other')) as { model_id?: unknown } | undefined;
  if (typeof created?.model_id !== 'string') {
    throw new ApiCallError({
      url: `${client.baseURL}/api/v1/create_model`,
      isRetryable: false,
      message: `create_model answered without a model_id (got ${JSON.stringify(created)?.slice(0, 200)}).`,
    });
  }
  if (options.resumeFrom) {
    const loadId = await client.submit('/api/v1/load_weights', {
      model_id: created.model_id,
      path: options.resumeFrom,
      optimizer: true,
      seq_id: 1,
      type: 'load_weights',
    });
    await client.result(loadId, 'other');
  }
  return { modelId: created.model_id };
}

/**
 * Connects to a Tinker server and creates (or resumes) a model to train.
 *
 * @example
 * const learner = await createTinkerLearner({ baseURL: 'http://127.0.0.1:8000', baseModel: 'Qwen/Qwen3-4B' });
 * const old = await learner.logprobs(batch);
 * await learner.forwardBackward(batch, coefficients);
 * await learner.optimStep({ learningRate: 1e-5 });
 */
export async function createTinkerLearner(options: TinkerLearnerOptions): Promise<TinkerLearner> {
  if (typeof options?.baseModel !== 'string' || options.baseModel.length === 0) {
    throw new InvalidArgumentError({
      argument: 'baseModel',
      message: 'createTinkerLearner: baseModel is required (the name get_server_capabilities lists).',
    });
  }
  const rank = options.loraRank ?? 32;
  if (!Number.isInteger(rank) || rank < 1) {
    throw new InvalidArgumentError({
      argument: 'loraRank',
      message: `createTinkerLearner: loraRank must be a positive integer, got ${rank}.`,
    });
  }
  const client = new TinkerClient(options);
  await client.connect();
  try {
    const { modelId } = await openModel(client, options);
    const learner = new TinkerLearner(client, modelId, options);
    if (options.resumeFrom) (learner as unknown as { seqId: number }).seqId = 1;
    return learner;
  } catch (error) {
    client.close();
    throw error;
  }
}
