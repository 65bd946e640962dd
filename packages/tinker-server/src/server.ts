import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as zlib from 'node:zlib';
import type { OnnxBackend } from '@rlpt/backend-onnx';
import type { OnnxLearner } from '@rlpt/learner-onnx';
import {
  type AdamParams,
  type Datum,
  decodeForwardBackwardRequest,
  encodeForwardBackwardOutput,
  encodeSampleResponse,
  type ForwardBackwardOutput,
  type ForwardBackwardRequest,
  forwardBackwardOutputToProto,
  forwardBackwardRequestFromProto,
  type LossFnOutput,
  PROTOBUF,
  type SampleResponse,
  sampleResponseToProto,
  supportedLossFns,
  tinkerLoss,
} from '@rlpt/learner-tinker';
import {
  type EventHandler,
  InvalidArgumentError,
  type Logger,
  ModelLoadError,
  RlptError,
  silentLogger,
  type TokenBatch,
} from '@rlpt/spec';

/** Options for {@link createTinkerServer}. */
export interface TinkerServerOptions {
  /** Model folder the learner trains (`config.json`, `model.safetensors`, tokenizer files). */
  modelDir: string;
  /** Name clients use as `base_model`. Default: the folder's name. */
  baseModel?: string;
  /** `model_data.tokenizer_id` in `get_info` (the SDK's `get_tokenizer()` loads it from the Hub). Default: `baseModel`. */
  tokenizerId?: string;
  /** Where saved weights live (`tinker://` paths resolve into it). Default: a temp folder removed on close. */
  dataDir?: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Required `X-API-Key`, when set. */
  apiKey?: string;
  /** onnxruntime threads for learners and samplers. Default 1 (bit-reproducible training). */
  threads?: number;
  /** `client/config`'s `proto_write_fwdbwd`: ask JSON clients (SDK 0.24.1, `@rlpt/learner-tinker`) to send protobuf. Default false. */
  protobuf?: boolean;
  /** Longest a `retrieve_future` waits before answering `try_again`, ms. Default 25 000 (the SDK times a poll out at 45 s). */
  pollTimeoutMs?: number;
  /** How long a request waits for a missing lower `seq_id` before the server applies it anyway, ms. Default 10 000. */
  seqGapTimeoutMs?: number;
  /** Sampler models kept loaded. Default 4. */
  maxSamplers?: number;
  /** Largest request body, bytes. Default 256 MiB. */
  maxBodyBytes?: number;
  /** How long a finished future stays retrievable (and its seq_id deduplicated), ms. Default 3 600 000. */
  futureTtlMs?: number;
  logger?: Logger;
  onEvent?: EventHandler;
}

export interface TinkerServer {
  /** `http://host:port` */
  readonly url: string;
  readonly baseModel: string;
  readonly dataDir: string;
  /** Requests served, by route (for tests and benches). */
  readonly counts: Map<string, number>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type FutureKind = 'forward_backward' | 'sample' | 'other';
interface Future {
  kind: FutureKind;
  state: 'pending' | 'done' | 'error';
  result?: unknown;
  error?: { error: string; category: 'user' | 'server' };
  waiters: Set<() => void>;
  /** When it finished (ms since epoch): finished futures are kept for `futureTtlMs`. */
  finishedAt?: number;
}

interface Job {
  seq: number | undefined;
  run: () => Promise<unknown>;
  requestId: string;
}

interface AdamKey {
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  grad_clip_norm: number;
}

interface ModelState {
  id: string;
  baseModel: string;
  loraRank: number;
  learner: OnnxLearner;
  adam: AdamKey;
  /** forward_backward calls since the last optim_step (replayed when the Adam settings change). */
  pending: { batch: TokenBatch; coefficients: Float32Array[] }[];
  nextSeq: number;
  started: boolean;
  waiting: Map<number, Job>;
  gapTimer: ReturnType<typeof setTimeout> | undefined;
  chain: Promise<void>;
}

interface Sampler {
  id: string;
  baseModel: string;
  modelPath: string | null;
  dir: string;
}

const defaultAdam: AdamKey = { beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function need<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new HttpError(400, `${what} is required.`);
  return value;
}

function str(body: Record<string, unknown>, key: string, where: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value.length === 0)
    throw new HttpError(400, `${where}: ${key} must be a non-empty string.`);
  return value;
}

function optionalInt(body: Record<string, unknown>, key: string, where: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value))
    throw new HttpError(400, `${where}: ${key} must be an integer, got ${JSON.stringify(value)}.`);
  return value as number;
}

function intArray(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.some((item) => !Number.isInteger(item))) {
    throw new HttpError(400, `${where} must be an array of integer token ids.`);
  }
  return value as number[];
}

function numberArray(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'number' || !Number.isFinite(item))) {
    throw new HttpError(400, `${where} must be an array of finite numbers.`);
  }
  return value as number[];
}

function modelInputTokens(input: unknown, where: string): number[] {
  if (!isRecord(input) || !Array.isArray(input.chunks))
    throw new HttpError(400, `${where} must be {chunks: [...]}.`);
  const tokens: number[] = [];
  input.chunks.forEach((chunk, index) => {
    if (!isRecord(chunk) || (chunk.type !== undefined && chunk.type !== 'encoded_text')) {
      throw new HttpError(
        400,
        `${where}.chunks[${index}] is a ${isRecord(chunk) ? String(chunk.type) : typeof chunk} chunk; this server takes encoded_text chunks only.`,
      );
    }
    tokens.push(...intArray(chunk.tokens, `${where}.chunks[${index}].tokens`));
  });
  return tokens;
}

function categoryOf(error: unknown): 'user' | 'server' {
  if (error instanceof HttpError) return error.status < 500 ? 'user' : 'server';
  if (RlptError.isInstance(error)) {
    return ['invalid-argument', 'invalid-input', 'unsupported-functionality', 'config', 'numeric'].includes(
      error.code,
    )
      ? 'user'
      : 'server';
  }
  return 'server';
}

/** Per datum, what the learner needs: a batch whose completion logprobs are the datum's target logprobs. */
interface DatumPlan {
  sequences: { promptTokenIds: number[]; completionTokenIds: number[] }[];
  /** Positions covered: shifted (one sequence) or one sequence per position. */
  shifted: boolean;
  length: number;
  inputs: Record<string, number[]>;
}

function planDatum(datum: unknown, index: number, lossFn: string): DatumPlan {
  const where = `forward_backward_input.data[${index}]`;
  if (!isRecord(datum)) throw new HttpError(400, `${where} must be an object.`);
  const tokens = modelInputTokens(datum.model_input, `${where}.model_input`);
  const inputs = isRecord(datum.loss_fn_inputs) ? datum.loss_fn_inputs : {};
  const tensor = (name: string): number[] | undefined => {
    const value = inputs[name];
    if (value === undefined) return undefined;
    if (!isRecord(value))
      throw new HttpError(400, `${where}.loss_fn_inputs.${name} must be a TensorData {data, dtype}.`);
    const data =
      name === 'target_tokens'
        ? intArray(value.data, `${where}.loss_fn_inputs.${name}.data`)
        : numberArray(value.data, `${where}.loss_fn_inputs.${name}.data`);
    if (data.length !== tokens.length) {
      throw new HttpError(
        400,
        `${where}.loss_fn_inputs.${name} has ${data.length} values for ${tokens.length} model_input tokens; every input is per position.`,
      );
    }
    return data;
  };
  const targets = need(tensor('target_tokens'), `${where}.loss_fn_inputs.target_tokens`);
  if (tokens.length === 0) throw new HttpError(400, `${where}.model_input has no tokens.`);
  const plan: Record<string, number[]> = {};
  if (lossFn === 'cross_entropy')
    plan.weights = tensor('weights') ?? new Array<number>(tokens.length).fill(1);
  else {
    plan.logprobs = need(tensor('logprobs'), `${where}.loss_fn_inputs.logprobs (${lossFn})`);
    plan.advantages = need(tensor('advantages'), `${where}.loss_fn_inputs.advantages (${lossFn})`);
  }
  let shifted = true;
  for (let position = 0; position + 1 < tokens.length; position++) {
    if (targets[position] !== tokens[position + 1]) {
      shifted = false;
      break;
    }
  }
  const sequences = shifted
    ? [{ promptTokenIds: [tokens[0] as number], completionTokenIds: targets }]
    : targets.map((target, position) => ({
        promptTokenIds: tokens.slice(0, position + 1),
        completionTokenIds: [target],
      }));
  return { sequences, shifted, length: tokens.length, inputs: plan };
}

function tensor(data: ArrayLike<number>): { data: number[]; dtype: 'float32'; shape: number[] } {
  // −0 has no JSON spelling: normalise it so JSON and protobuf replies carry the same numbers.
  return {
    data: Array.from(Float32Array.from(data), (value) => value + 0),
    dtype: 'float32',
    shape: [data.length],
  };
}

/**
 * Starts a Tinker API server (rl-engines.md §4.3a) over `@rlpt/learner-onnx` and `@rlpt/backend-onnx`:
 * JSON or protobuf per request, futures, `seq_id` ordering, checkpoints and sampling.
 */
export async function createTinkerServer(options: TinkerServerOptions): Promise<TinkerServer> {
  const modelDir = resolve(options.modelDir);
  if (!existsSync(join(modelDir, 'config.json'))) {
    throw new ModelLoadError({
      path: modelDir,
      message: `createTinkerServer: ${modelDir} has no config.json; pass a model folder with config.json, model.safetensors and tokenizer files (rlpt model init, a learner checkpoint).`,
    });
  }
  const { createOnnxLearner } = await import('@rlpt/learner-onnx');
  const { createOnnxBackend } = await import('@rlpt/backend-onnx');
  const { readModelConfig } = await import('@rlpt/model');
  const { config } = await readModelConfig(modelDir);
  const baseModel = options.baseModel ?? basename(modelDir);
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = resolve(options.dataDir ?? (await mkdtemp(join(tmpdir(), 'rlpt-tinker-'))));
  await mkdir(dataDir, { recursive: true });
  const logger = options.logger ?? silentLogger;
  const threads = options.threads ?? 1;
  const pollTimeoutMs = options.pollTimeoutMs ?? 25_000;
  const futureTtlMs = options.futureTtlMs ?? 3_600_000;
  const seqGapTimeoutMs = options.seqGapTimeoutMs ?? 10_000;
  const maxSamplers = options.maxSamplers ?? 4;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024 * 1024;

  const futures = new Map<string, Future>();
  const seen = new Map<string, { requestId: string; fingerprint: string }>();
  const models = new Map<string, ModelState>();
  const samplers = new Map<string, Sampler>();
  const backends = new Map<string, OnnxBackend>();
  const sessions = new Map<string, { lastHeartbeat: number }>();
  const counts = new Map<string, number>();
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}-${++counter}-${randomUUID().slice(0, 8)}`;

  // ------------------------------------------------------------ futures
  const newFuture = (kind: FutureKind): string => {
    const requestId = nextId('req');
    futures.set(requestId, { kind, state: 'pending', waiters: new Set() });
    return requestId;
  };
  const settle = (requestId: string, outcome: { result: unknown } | { error: unknown }) => {
    const future = futures.get(requestId);
    if (!future) return;
    future.finishedAt = Date.now();
    if ('result' in outcome) {
      future.state = 'done';
      future.result = outcome.result;
    } else {
      future.state = 'error';
      const error = outcome.error;
      future.error = {
        error: error instanceof Error ? error.message : String(error),
        category: categoryOf(error),
      };
      logger.warn(`tinker request ${requestId} failed: ${future.error.error}`);
    }
    for (const waiter of future.waiters) waiter();
    future.waiters.clear();
  };
  // Finished futures (and the seq_id records pointing at them) go after futureTtlMs: a long run's
  // results would otherwise pile up in memory.
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - futureTtlMs;
      for (const [requestId, future] of futures) {
        if (future.finishedAt !== undefined && future.finishedAt < cutoff) futures.delete(requestId);
      }
      for (const [key, record] of seen) if (!futures.has(record.requestId)) seen.delete(key);
    },
    Math.min(60_000, futureTtlMs),
  );
  sweeper.unref?.();
  const runFuture = (requestId: string, run: () => Promise<unknown>) =>
    run().then(
      (result) => settle(requestId, { result }),
      (error: unknown) => settle(requestId, { error }),
    );

  // ------------------------------------------------------------ per-model ordering
  const enqueue = (model: ModelState, job: Job) => {
    model.chain = model.chain.then(() => runFuture(job.requestId, job.run));
  };
  const drain = (model: ModelState) => {
    for (;;) {
      const job = model.waiting.get(model.nextSeq);
      if (!job) break;
      model.waiting.delete(model.nextSeq);
      model.nextSeq++;
      enqueue(model, job);
    }
    if (model.gapTimer) clearTimeout(model.gapTimer);
    model.gapTimer = undefined;
    if (model.waiting.size > 0) {
      model.gapTimer = setTimeout(() => {
        const lowest = Math.min(...model.waiting.keys());
        logger.warn(
          `model ${model.id}: seq_id ${model.nextSeq}…${lowest - 1} never arrived; applying ${lowest} onward.`,
        );
        model.nextSeq = lowest;
        drain(model);
      }, seqGapTimeoutMs);
      model.gapTimer.unref?.();
    }
  };
  const schedule = (
    model: ModelState,
    seq: number | undefined,
    requestId: string,
    run: () => Promise<unknown>,
  ) => {
    const job: Job = { seq, run, requestId };
    if (seq === undefined) {
      enqueue(model, job);
      return;
    }
    if (!model.started && seq < model.nextSeq) model.nextSeq = seq; // a client counting from 0
    model.started = true;
    if (seq < model.nextSeq) {
      throw new HttpError(
        409,
        `model ${model.id}: seq_id ${seq} was already applied (next is ${model.nextSeq}); a re-sent request must carry the same body.`,
      );
    }
    model.waiting.set(seq, job);
    drain(model);
  };

  /** Answers a re-sent (key) with its original future; 409 for the same key with another body. */
  const dedupe = (key: string | undefined, body: unknown): string | undefined => {
    if (key === undefined) return undefined;
    const previous = seen.get(key);
    if (!previous) return undefined;
    const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (previous.fingerprint !== fingerprint) {
      throw new HttpError(
        409,
        `${key} was already used for a different request; seq_id must be unique per model.`,
      );
    }
    return previous.requestId;
  };
  const remember = (key: string | undefined, body: unknown, requestId: string) => {
    if (key === undefined) return;
    seen.set(key, {
      requestId,
      fingerprint: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
    });
  };

  const modelOf = (body: Record<string, unknown>, where: string): ModelState => {
    const id = str(body, 'model_id', where);
    const model = models.get(id);
    if (!model)
      throw new HttpError(
        404,
        `${where}: unknown model_id ${JSON.stringify(id)}; create it with create_model first.`,
      );
    return model;
  };

  // ------------------------------------------------------------ paths and samplers
  const parsePath = (path: string, kind: 'weights' | 'sampler_weights'): string => {
    const match = /^tinker:\/\/([A-Za-z0-9._-]+)\/(weights|sampler_weights)\/([A-Za-z0-9._-]+)$/.exec(path);
    if (!match || match[2] !== kind) {
      throw new HttpError(
        400,
        `${JSON.stringify(path)} is not a ${kind} path of this server (tinker://<model>/${kind}/<name>).`,
      );
    }
    const dir = join(dataDir, match[1] as string, kind, match[3] as string);
    if (!existsSync(dir))
      throw new HttpError(404, `${path} does not exist on this server (looked in ${dir}).`);
    return dir;
  };
  const checkName = (name: string, where: string) => {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) {
      throw new HttpError(
        400,
        `${where}: path ${JSON.stringify(name)} must be a plain name (letters, digits, . _ -).`,
      );
    }
  };
  let baseSamplerDir: Promise<string> | undefined;
  const baseDir = (): Promise<string> => {
    baseSamplerDir ??= (async () => {
      if (existsSync(join(modelDir, 'onnx', 'model.onnx'))) return modelDir;
      const learner = await createOnnxLearner({ modelDir, threads });
      try {
        return await learner.exportForInference(join(dataDir, '_base'));
      } finally {
        await learner.close();
      }
    })();
    return baseSamplerDir;
  };
  const backendFor = (dir: string): OnnxBackend => {
    let backend = backends.get(dir);
    if (backend) {
      backends.delete(dir);
      backends.set(dir, backend); // most recently used last
      return backend;
    }
    backend = createOnnxBackend({ modelDir: dir, threads, logger });
    backends.set(dir, backend);
    while (backends.size > maxSamplers) {
      const [oldest, old] = backends.entries().next().value as [string, OnnxBackend];
      backends.delete(oldest);
      old.close?.().catch(() => {});
    }
    return backend;
  };
  const newSampler = (dir: string, modelPath: string | null): Sampler => {
    const sampler: Sampler = { id: nextId('sampler'), baseModel, modelPath, dir };
    samplers.set(sampler.id, sampler);
    return sampler;
  };

  // ------------------------------------------------------------ training
  const newLearner = async (dir: string, adam: AdamKey) =>
    createOnnxLearner({
      modelDir: dir,
      // Tokenizer files come from the served folder: a rebuild folder is removed after loading.
      tokenizer: { copyFrom: modelDir },
      threads,
      adam: { beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weightDecay: adam.weight_decay },
      maxGradNorm: adam.grad_clip_norm > 0 ? adam.grad_clip_norm : Number.POSITIVE_INFINITY,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      logger,
    });

  const forwardBackward = async (
    model: ModelState,
    request: ForwardBackwardRequest,
  ): Promise<ForwardBackwardOutput> => {
    const input = request.forward_backward_input;
    const lossFn = input.loss_fn;
    if (!(supportedLossFns as readonly string[]).includes(lossFn)) {
      throw new HttpError(
        400,
        `loss_fn ${JSON.stringify(lossFn)} is not supported; use one of ${supportedLossFns.join(', ')}.`,
      );
    }
    const config = input.loss_fn_config ?? {};
    for (const key of Object.keys(config)) {
      if (lossFn !== 'ppo' || (key !== 'clip_low_threshold' && key !== 'clip_high_threshold')) {
        throw new HttpError(
          400,
          `loss_fn_config key ${JSON.stringify(key)} is not accepted for ${lossFn}${lossFn === 'ppo' ? ' (clip_low_threshold, clip_high_threshold)' : ' (none)'}.`,
        );
      }
    }
    const plans = input.data.map((datum, index) => planDatum(datum, index, lossFn));
    const batch: TokenBatch = { sequences: plans.flatMap((plan) => plan.sequences) };
    const flat = await model.learner.logprobs(batch);
    const outputs: LossFnOutput[] = [];
    const coefficients: Float32Array[] = [];
    let lossSum = 0;
    let cursor = 0;
    for (const plan of plans) {
      const logprobs = new Float64Array(plan.length);
      if (plan.shifted) logprobs.set(flat[cursor++] as Float32Array);
      else
        for (let position = 0; position < plan.length; position++)
          logprobs[position] = (flat[cursor++] as Float32Array)[0] as number;
      const loss = tinkerLoss(
        lossFn,
        {
          logprobs,
          ...(plan.inputs.weights ? { weights: plan.inputs.weights } : {}),
          ...(plan.inputs.logprobs ? { samplingLogprobs: plan.inputs.logprobs } : {}),
          ...(plan.inputs.advantages ? { advantages: plan.inputs.advantages } : {}),
        },
        config,
      );
      for (const value of loss.elementwise) lossSum += value;
      if (plan.shifted) coefficients.push(Float32Array.from(loss.coefficients));
      else for (const value of loss.coefficients) coefficients.push(Float32Array.of(value));
      outputs.push({ elementwise_loss: tensor(loss.elementwise), logprobs: tensor(logprobs) });
    }
    if (!request.forward_only) {
      await model.learner.forwardBackward(batch, coefficients);
      model.pending.push({ batch, coefficients });
    }
    return { loss_fn_output_type: 'scalar', loss_fn_outputs: outputs, metrics: { 'loss:sum': lossSum } };
  };

  const optimStep = async (model: ModelState, params: AdamParams): Promise<unknown> => {
    const adam: AdamKey = {
      beta1: params.beta1,
      beta2: params.beta2,
      eps: params.eps,
      weight_decay: params.weight_decay,
      grad_clip_norm: params.grad_clip_norm,
    };
    if (JSON.stringify(adam) !== JSON.stringify(model.adam)) {
      // New Adam settings: rebuild the learner from its own checkpoint (weights, moments, step) and replay
      // the gradients accumulated since the last step, which the same weights reproduce exactly.
      const dir = join(dataDir, model.id, `_rebuild-${randomUUID().slice(0, 8)}`);
      await model.learner.save(dir);
      const learner = await newLearner(dir, adam);
      await learner.load(dir);
      for (const step of model.pending) await learner.forwardBackward(step.batch, step.coefficients);
      await model.learner.close();
      await rm(dir, { recursive: true, force: true });
      model.learner = learner;
      model.adam = adam;
    }
    const { gradNorm } = await model.learner.optimStep({ learningRate: params.learning_rate });
    model.pending = [];
    return { metrics: gradNorm !== undefined ? { grad_norm: gradNorm } : {} };
  };

  const createModel = async (id: string, loraRank: number): Promise<ModelState> => {
    const learner = await newLearner(modelDir, defaultAdam);
    const model: ModelState = {
      id,
      baseModel,
      loraRank,
      learner,
      adam: { ...defaultAdam },
      pending: [],
      nextSeq: 1,
      started: false,
      waiting: new Map(),
      gapTimer: undefined,
      chain: Promise.resolve(),
    };
    await mkdir(join(dataDir, id), { recursive: true });
    await writeFile(
      join(dataDir, id, 'model.json'),
      JSON.stringify({ base_model: baseModel, lora_rank: loraRank }),
    );
    return model;
  };

  const weightsInfo = async (path: string) => {
    const dir = parsePath(path, 'weights');
    const meta = JSON.parse(
      await readFile(join(dir, '..', '..', 'model.json'), 'utf8').catch(() => '{}'),
    ) as {
      base_model?: string;
      lora_rank?: number;
    };
    return { base_model: meta.base_model ?? baseModel, is_lora: true, lora_rank: meta.lora_rank ?? 32 };
  };

  // ------------------------------------------------------------ sampling
  const sample = async (sampler: Sampler, body: Record<string, unknown>): Promise<SampleResponse> => {
    const prompt = modelInputTokens(body.prompt, 'prompt');
    if (prompt.length === 0) throw new HttpError(400, 'prompt has no tokens.');
    const numSamples = optionalInt(body, 'num_samples', 'asample') ?? 1;
    if (numSamples < 1) throw new HttpError(400, `asample: num_samples must be ≥ 1, got ${numSamples}.`);
    const params = isRecord(body.sampling_params) ? body.sampling_params : {};
    if (Number(body.topk_prompt_logprobs ?? 0) > 0) {
      throw new HttpError(400, 'asample: topk_prompt_logprobs is not supported by this server; send 0.');
    }
    const maxTokens =
      optionalInt(params, 'max_tokens', 'sampling_params') ??
      Math.max(1, config.maxPositionEmbeddings - prompt.length);
    const stop = params.stop;
    const stopStrings =
      typeof stop === 'string'
        ? [stop]
        : Array.isArray(stop) && stop.every((item) => typeof item === 'string')
          ? (stop as string[])
          : undefined;
    const stopTokenIds =
      Array.isArray(stop) && stop.length > 0 && stop.every((item) => Number.isInteger(item))
        ? (stop as number[])
        : undefined;
    if (
      stop !== undefined &&
      stop !== null &&
      !stopStrings &&
      !stopTokenIds &&
      !(Array.isArray(stop) && stop.length === 0)
    ) {
      throw new HttpError(
        400,
        'sampling_params.stop must be a string, a list of strings or a list of token ids.',
      );
    }
    const topK = optionalInt(params, 'top_k', 'sampling_params') ?? -1;
    const seed = optionalInt(params, 'seed', 'sampling_params');
    const backend = backendFor(sampler.dir);
    const result = await backend.generate({
      prompts: [{ tokenIds: prompt }],
      n: numSamples,
      maxTokens,
      temperature: typeof params.temperature === 'number' ? params.temperature : 1,
      topP: typeof params.top_p === 'number' ? params.top_p : 1,
      topK: Math.max(topK, 0),
      ...(seed !== undefined ? { seed } : {}),
      ...(stopStrings ? { stop: stopStrings } : {}),
      ...(stopTokenIds ? { stopTokenIds } : {}),
      logprobs: true,
    });
    const response: SampleResponse = {
      sequences: (result.results[0]?.completions ?? []).map((completion) => ({
        tokens: completion.tokenIds ?? [],
        logprobs: Array.from(completion.logprobs ?? []),
        stop_reason: completion.finishReason === 'length' ? 'length' : 'stop',
      })),
      prompt_logprobs: null,
      topk_prompt_logprobs: null,
    };
    if (body.prompt_logprobs === true) {
      const scored =
        prompt.length > 1
          ? await backend.score({
              items: [
                { prompt: { tokenIds: prompt.slice(0, 1) }, completion: { tokenIds: prompt.slice(1) } },
              ],
            })
          : { results: [{ logprobs: new Float32Array(0) }] };
      // Position 0 has no logprob (JSON null, protobuf NaN).
      response.prompt_logprobs = [Number.NaN, ...Array.from(scored.results[0]?.logprobs ?? [])];
    }
    return response;
  };

  // ------------------------------------------------------------ routes
  type Handler = (body: Record<string, unknown>, request: IncomingMessage, raw: Buffer) => Promise<unknown>;
  const post: Record<string, Handler> = {
    '/api/v1/client/config': async () => ({
      pjwt_auth_enabled: false,
      proto_write_fwdbwd: options.protobuf ?? false,
      proto_compress_fwdbwd: false,
    }),
    '/api/v1/client/dynamic_config': async () => ({}),
    '/api/v1/create_session': async () => {
      const id = nextId('session');
      sessions.set(id, { lastHeartbeat: Date.now() });
      return { session_id: id };
    },
    '/api/v1/session_heartbeat': async (body) => {
      const id = str(body, 'session_id', 'session_heartbeat');
      const session = sessions.get(id);
      if (!session) throw new HttpError(404, `session_heartbeat: unknown session_id ${JSON.stringify(id)}.`);
      session.lastHeartbeat = Date.now();
      return {};
    },
    '/api/v1/telemetry': async () => ({ status: 'accepted' }),
    '/api/v1/create_model': async (body) => {
      const requested = str(body, 'base_model', 'create_model');
      if (requested !== baseModel) {
        throw new HttpError(
          400,
          `create_model: base_model ${JSON.stringify(requested)} is not served here; this server trains ${JSON.stringify(baseModel)} (see get_server_capabilities).`,
        );
      }
      const lora = isRecord(body.lora_config) ? body.lora_config : {};
      const rank = optionalInt(lora, 'rank', 'lora_config') ?? 32;
      if (rank < 1) throw new HttpError(400, `create_model: lora_config.rank must be ≥ 1, got ${rank}.`);
      const id = nextId('model');
      const requestId = newFuture('other');
      void runFuture(requestId, async () => {
        models.set(id, await createModel(id, rank));
        return { model_id: id, type: 'create_model' };
      });
      return { request_id: requestId, model_id: id };
    },
    '/api/v1/get_info': async (body) => {
      const model = modelOf(body, 'get_info');
      return {
        model_id: model.id,
        model_data: {
          arch: config.modelType,
          model_name: baseModel,
          tokenizer_id: options.tokenizerId ?? baseModel,
        },
        is_lora: true,
        lora_rank: model.loraRank,
      };
    },
    '/api/v1/forward_backward': async (body, request, raw) => {
      let parsed: ForwardBackwardRequest;
      if ((request.headers['content-type'] ?? '').startsWith(PROTOBUF)) {
        let bytes: Buffer = raw;
        const encoding = request.headers['content-encoding'];
        if (encoding === 'zstd') {
          const decompress = (zlib as unknown as { zstdDecompressSync?: (input: Buffer) => Buffer })
            .zstdDecompressSync;
          if (!decompress)
            throw new HttpError(
              415,
              'Content-Encoding zstd needs Node ≥ 22.15 on the server; this server answers proto_compress_fwdbwd: false, so send the body uncompressed.',
            );
          bytes = decompress(raw);
        } else if (encoding !== undefined && encoding !== 'identity') {
          throw new HttpError(415, `Content-Encoding ${encoding} is not supported.`);
        }
        try {
          parsed = forwardBackwardRequestFromProto(decodeForwardBackwardRequest(bytes));
        } catch (error) {
          throw new HttpError(400, (error as Error).message);
        }
      } else {
        parsed = jsonForwardBackward(body, 'forward_backward_input', false);
      }
      return submitForwardBackward(parsed);
    },
    '/api/v1/forward': async (body) =>
      submitForwardBackward(jsonForwardBackward(body, 'forward_input', true)),
    '/api/v1/optim_step': async (body) => {
      const model = modelOf(body, 'optim_step');
      const seq = optionalInt(body, 'seq_id', 'optim_step');
      const adam = isRecord(body.adam_params) ? body.adam_params : {};
      const params: AdamParams = {
        learning_rate: Number(adam.learning_rate ?? 1e-4),
        beta1: Number(adam.beta1 ?? 0.9),
        beta2: Number(adam.beta2 ?? 0.95),
        eps: Number(adam.eps ?? 1e-12),
        weight_decay: Number(adam.weight_decay ?? 0),
        grad_clip_norm: Number(adam.grad_clip_norm ?? 0),
      };
      const bad = Object.entries(params).filter(([, value]) => !Number.isFinite(value) || value < 0);
      if (bad.length > 0 || params.beta1 >= 1 || params.beta2 >= 1 || params.eps <= 0) {
        throw new HttpError(
          400,
          `optim_step: adam_params must be finite, ≥ 0, beta1/beta2 < 1 and eps > 0; got ${JSON.stringify(params)}.`,
        );
      }
      return submitModelJob(model, seq, body, 'other', () => optimStep(model, params));
    },
    '/api/v1/save_weights': async (body) => {
      const model = modelOf(body, 'save_weights');
      const name = str(body, 'path', 'save_weights');
      checkName(name, 'save_weights');
      const overwrite = body.overwrite === true;
      return submitModelJob(model, optionalInt(body, 'seq_id', 'save_weights'), body, 'other', async () => {
        const dir = join(dataDir, model.id, 'weights', name);
        if (existsSync(dir) && !overwrite)
          throw new HttpError(409, `save_weights: ${name} exists; pass overwrite: true to replace it.`);
        await model.learner.save(dir);
        return { path: `tinker://${model.id}/weights/${name}`, type: 'save_weights' };
      });
    },
    '/api/v1/save_weights_for_sampler': async (body) => {
      const model = modelOf(body, 'save_weights_for_sampler');
      const named = typeof body.path === 'string' && body.path.length > 0;
      if (named) checkName(body.path as string, 'save_weights_for_sampler');
      else if (optionalInt(body, 'sampling_session_seq_id', 'save_weights_for_sampler') === undefined) {
        throw new HttpError(
          400,
          'save_weights_for_sampler: send a path (a name) or a sampling_session_seq_id.',
        );
      }
      return submitModelJob(
        model,
        optionalInt(body, 'seq_id', 'save_weights_for_sampler'),
        body,
        'other',
        async () => {
          if (named) {
            const name = body.path as string;
            await model.learner.exportForInference(join(dataDir, model.id, 'sampler_weights', name));
            return { path: `tinker://${model.id}/sampler_weights/${name}`, type: 'save_weights_for_sampler' };
          }
          const name = `_session-${randomUUID().slice(0, 12)}`;
          const dir = await model.learner.exportForInference(
            join(dataDir, model.id, 'sampler_weights', name),
          );
          const sampler = newSampler(dir, null);
          return { path: null, sampling_session_id: sampler.id, type: 'save_weights_for_sampler' };
        },
      );
    },
    '/api/v1/weights_info': async (body) => weightsInfo(str(body, 'tinker_path', 'weights_info')),
    '/api/v1/load_weights': async (body) => {
      const model = modelOf(body, 'load_weights');
      const dir = parsePath(str(body, 'path', 'load_weights'), 'weights');
      const withOptimizer = body.optimizer !== false;
      return submitModelJob(model, optionalInt(body, 'seq_id', 'load_weights'), body, 'other', async () => {
        if (withOptimizer) await model.learner.load(dir);
        else {
          const learner = await newLearner(dir, model.adam);
          await model.learner.close();
          model.learner = learner;
        }
        model.pending = [];
        return { path: body.path, type: 'load_weights' };
      });
    },
    '/api/v1/unload_model': async (body) => {
      const model = modelOf(body, 'unload_model');
      return submitModelJob(model, undefined, body, 'other', async () => {
        await model.learner.close();
        models.delete(model.id);
        return { model_id: model.id, type: 'unload_model' };
      });
    },
    '/api/v1/create_sampling_session': async (body) => {
      const modelPath = typeof body.model_path === 'string' ? body.model_path : undefined;
      if (modelPath)
        return { sampling_session_id: newSampler(parsePath(modelPath, 'sampler_weights'), modelPath).id };
      const requested = typeof body.base_model === 'string' ? body.base_model : undefined;
      if (requested !== baseModel) {
        throw new HttpError(
          400,
          `create_sampling_session: send model_path (tinker://…/sampler_weights/…) or base_model ${JSON.stringify(baseModel)}${requested ? `, not ${JSON.stringify(requested)}` : ''}.`,
        );
      }
      return { sampling_session_id: newSampler(await baseDir(), null).id };
    },
    '/api/v1/asample': async (body) => {
      let sampler: Sampler;
      if (typeof body.sampling_session_id === 'string') {
        const found = samplers.get(body.sampling_session_id);
        if (!found)
          throw new HttpError(
            404,
            `asample: unknown sampling_session_id ${JSON.stringify(body.sampling_session_id)}.`,
          );
        sampler = found;
      } else if (typeof body.model_path === 'string') {
        sampler = {
          id: '',
          baseModel,
          modelPath: body.model_path,
          dir: parsePath(body.model_path, 'sampler_weights'),
        };
      } else if (body.base_model === baseModel) {
        sampler = { id: '', baseModel, modelPath: null, dir: await baseDir() };
      } else {
        throw new HttpError(
          400,
          `asample: send sampling_session_id, model_path or base_model ${JSON.stringify(baseModel)}.`,
        );
      }
      modelInputTokens(body.prompt, 'asample prompt');
      const seq = optionalInt(body, 'seq_id', 'asample');
      const key = sampler.id && seq !== undefined ? `${sampler.id}:${seq}` : undefined;
      const existing = dedupe(key, body);
      if (existing) return { request_id: existing };
      const requestId = newFuture('sample');
      remember(key, body, requestId);
      void runFuture(requestId, () => sample(sampler, body));
      return { request_id: requestId };
    },
    '/api/v1/retrieve_future': async (body) => {
      const requestId = str(body, 'request_id', 'retrieve_future');
      const future = futures.get(requestId);
      if (!future)
        throw new HttpError(404, `retrieve_future: unknown request_id ${JSON.stringify(requestId)}.`);
      if (future.state === 'pending') {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, pollTimeoutMs);
          future.waiters.add(() => {
            clearTimeout(timer);
            done();
          });
        });
      }
      return { future: future, requestId };
    },
  };

  function jsonForwardBackward(
    body: Record<string, unknown>,
    inputKey: string,
    forwardOnly: boolean,
  ): ForwardBackwardRequest {
    const where = forwardOnly ? 'forward' : 'forward_backward';
    const input = body[inputKey];
    if (!isRecord(input) || !Array.isArray(input.data) || typeof input.loss_fn !== 'string') {
      throw new HttpError(400, `${where}: ${inputKey} must be {data: [Datum], loss_fn, loss_fn_config?}.`);
    }
    const seq = optionalInt(body, 'seq_id', where);
    return {
      model_id: str(body, 'model_id', where),
      ...(seq !== undefined ? { seq_id: seq } : {}),
      forward_only: forwardOnly,
      forward_backward_input: {
        data: input.data as Datum[],
        loss_fn: input.loss_fn,
        loss_fn_config: isRecord(input.loss_fn_config)
          ? (input.loss_fn_config as Record<string, number>)
          : {},
      },
    };
  }

  function submitForwardBackward(request: ForwardBackwardRequest): unknown {
    const model = modelOf(
      request as unknown as Record<string, unknown>,
      request.forward_only ? 'forward' : 'forward_backward',
    );
    return submitModelJob(model, request.seq_id, request, 'forward_backward', () =>
      forwardBackward(model, request),
    );
  }

  function submitModelJob(
    model: ModelState,
    seq: number | undefined,
    body: unknown,
    kind: FutureKind,
    run: () => Promise<unknown>,
  ): unknown {
    const key = seq !== undefined ? `${model.id}:${seq}` : undefined;
    const existing = dedupe(key, body);
    if (existing) return { request_id: existing, model_id: model.id };
    const requestId = newFuture(kind);
    schedule(model, seq, requestId, run);
    remember(key, body, requestId);
    return { request_id: requestId, model_id: model.id };
  }

  const get: Record<string, () => unknown> = {
    '/api/v1/healthz': () => ({ status: 'ok' }),
    '/api/v1/get_server_capabilities': () => ({
      supported_models: [{ model_name: baseModel, max_context_length: config.maxPositionEmbeddings }],
    }),
  };

  const send = (response: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body, (_key, value) =>
      typeof value === 'number' && Number.isNaN(value) ? null : value,
    );
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(text);
  };

  const answerFuture = (
    request: IncomingMessage,
    response: ServerResponse,
    future: Future,
    requestId: string,
  ) => {
    if (future.state === 'pending')
      return send(response, 200, { type: 'try_again', request_id: requestId, queue_state: 'active' });
    if (future.state === 'error') return send(response, 200, future.error);
    const accept = request.headers.accept ?? '';
    if (accept.includes(PROTOBUF) && future.kind !== 'other') {
      const bytes =
        future.kind === 'sample'
          ? encodeSampleResponse(sampleResponseToProto(future.result as SampleResponse))
          : encodeForwardBackwardOutput(forwardBackwardOutputToProto(future.result as ForwardBackwardOutput));
      response.writeHead(200, { 'content-type': PROTOBUF, 'content-length': bytes.length });
      response.end(Buffer.from(bytes));
      return;
    }
    send(response, 200, future.result);
  };

  const readBody = (request: IncomingMessage): Promise<Buffer> =>
    new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          reject(new HttpError(413, `request body over ${maxBodyBytes} bytes.`));
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => resolveBody(Buffer.concat(chunks)));
      request.on('error', reject);
    });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '');
    counts.set(path, (counts.get(path) ?? 0) + 1);
    try {
      if (options.apiKey !== undefined && request.headers['x-api-key'] !== options.apiKey) {
        throw new HttpError(401, 'missing or wrong X-API-Key.');
      }
      if (request.method === 'GET') {
        const route = get[path];
        if (route) return send(response, 200, route());
        const samplerMatch = /^\/api\/v1\/samplers\/([^/]+)$/.exec(path);
        if (samplerMatch) {
          const sampler = samplers.get(decodeURIComponent(samplerMatch[1] as string));
          if (!sampler) throw new HttpError(404, `unknown sampler ${samplerMatch[1]}.`);
          return send(response, 200, {
            sampler_id: sampler.id,
            base_model: sampler.baseModel,
            model_path: sampler.modelPath,
          });
        }
        throw new HttpError(404, `no route GET ${path}.`);
      }
      if (request.method !== 'POST')
        throw new HttpError(405, `${request.method} is not supported; use POST.`);
      const route = post[path];
      if (!route)
        throw new HttpError(404, `no route POST ${path}; see rl-engines.md §4.3a for the Tinker API.`);
      const raw = await readBody(request);
      let body: Record<string, unknown> = {};
      if (!(request.headers['content-type'] ?? '').startsWith(PROTOBUF) && raw.length > 0) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch (error) {
          throw new HttpError(400, `${path}: the body is not valid JSON (${(error as Error).message}).`);
        }
        if (!isRecord(parsed)) throw new HttpError(400, `${path}: the body must be a JSON object.`);
        body = parsed;
      }
      const result = await route(body, request, raw);
      if (path === '/api/v1/retrieve_future') {
        const { future, requestId } = result as { future: Future; requestId: string };
        return answerFuture(request, response, future, requestId);
      }
      send(response, 200, result);
    } catch (error) {
      const status =
        error instanceof HttpError
          ? error.status
          : RlptError.isInstance(error) && categoryOf(error) === 'user'
            ? 400
            : 500;
      if (status >= 500)
        logger.error(`tinker server: ${request.method} ${path}: ${(error as Error).message}`);
      if (!response.headersSent)
        send(response, status, { detail: (error as Error).message ?? String(error) });
      else response.end();
    }
  };

  const server: Server = createServer((request, response) => {
    void handle(request, response);
  });
  server.keepAliveTimeout = 65_000;
  const listenHost = options.host ?? '127.0.0.1';
  const listenPort = options.port ?? 0;
  try {
    await new Promise<void>((done, reject) => {
      server.once('error', reject);
      server.listen(listenPort, listenHost, () => {
        server.off('error', reject);
        done();
      });
    });
  } catch (cause) {
    clearInterval(sweeper);
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    const code = (cause as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError({
      argument: 'port',
      cause,
      message:
        code === 'EADDRINUSE'
          ? `Cannot listen on ${listenHost}:${listenPort}: the port is in use. Pick another with --port (0 picks a free one).`
          : `Cannot listen on ${listenHost}:${listenPort}: ${(cause as Error).message}`,
    });
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info(`tinker server on http://${host}:${address.port} serving ${baseModel} from ${modelDir}`);

  return {
    url: `http://${host}:${address.port}`,
    baseModel,
    dataDir,
    counts,
    async close() {
      clearInterval(sweeper);
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections?.();
      });
      for (const model of models.values()) {
        if (model.gapTimer) clearTimeout(model.gapTimer);
        await model.chain.catch(() => {});
        await model.learner.close().catch(() => {});
      }
      for (const backend of backends.values()) await backend.close?.().catch(() => {});
      for (const future of futures.values()) for (const waiter of future.waiters) waiter();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
