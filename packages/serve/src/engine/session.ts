/**
 * A minimal Optimum-layout decoder session for the serve engine: `input_ids`, `attention_mask`,
 * `position_ids`, `past_key_values.{i}.key|value` in, `logits` and `present.{i}.key|value` out. The engine
 * keeps a session per weights version, so a weight update never touches a running batch's session.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';
import type * as Ort from 'onnxruntime-node';

type OrtModule = typeof Ort;
type OrtTensor = Ort.Tensor;

/** The KV cache of a batch: one tensor per past input, `[batch, kv_heads, length, head_dim]`. */
export interface KvCache {
  tensors: OrtTensor[];
  batch: number;
  length: number;
}

export interface ForwardInputs {
  batch: number;
  inputIds: ArrayLike<number>;
  sequence: number;
  attentionMask: ArrayLike<number>;
  positionIds: ArrayLike<number>;
  cache: KvCache;
  /** Logits wanted for the last k positions (0 = all). */
  keepLast: number;
}

export interface ForwardOutputs {
  /** `[batch, positions, vocab]` */
  logits: Float32Array;
  positions: number;
  vocabSize: number;
  cache: KvCache;
}

/** What the engine reads from a model folder. */
export interface ModelFolder {
  dir: string;
  onnxPath: string;
  config: Record<string, unknown>;
  eosIds: number[];
  padId: number;
  maxPositions: number;
}

const modelFiles = [
  'onnx/model.onnx',
  'model.onnx',
  'onnx/decoder_model_merged.onnx',
  'decoder_model_merged.onnx',
];

function ids(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((item): item is number => Number.isInteger(item));
  return [];
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (!required) return {};
    throw new ModelLoadError({
      path,
      message: `Cannot read ${path}: a model folder needs config.json and an ONNX graph.`,
      cause,
    });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new ModelLoadError({ path, message: `${path} is not valid JSON.`, cause });
  }
}

/** Reads config.json, generation_config.json and finds the ONNX graph of a model folder. */
export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const config = await readJson(join(dir, 'config.json'), true);
  const generation = await readJson(join(dir, 'generation_config.json'), false);
  let onnxPath: string | undefined;
  for (const file of modelFiles) {
    const found = await stat(join(dir, file)).then(
      (entry) => entry.isFile(),
      () => false,
    );
    if (found) {
      onnxPath = join(dir, file);
      break;
    }
  }
  if (!onnxPath) {
    throw new ModelLoadError({
      path: dir,
      message: `${dir} has no ONNX graph (looked for ${modelFiles.join(', ')}).`,
    });
  }
  // As in transformers: generation_config.json's eos wins; config.json's is the fallback.
  const generationEos = ids(generation.eos_token_id);
  const eosIds = generationEos.length > 0 ? generationEos : ids(config.eos_token_id);
  const padId = ids(generation.pad_token_id)[0] ?? ids(config.pad_token_id)[0] ?? eosIds[0] ?? 0;
  const positions = config.max_position_embeddings ?? config.n_positions;
  const maxPositions = typeof positions === 'number' && positions > 0 ? positions : Number.POSITIVE_INFINITY;
  return { dir, onnxPath, config, eosIds, padId, maxPositions };
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

let halfTable: Float32Array | undefined;
function halfToFloat(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) {
      const sign = bits & 0x8000 ? -1 : 1;
      const exponent = (bits >> 10) & 0x1f;
      const fraction = bits & 0x3ff;
      halfTable[bits] =
        exponent === 0
          ? sign * 2 ** -14 * (fraction / 1024)
          : exponent === 0x1f
            ? fraction
              ? Number.NaN
              : sign * Number.POSITIVE_INFINITY
            : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
    }
  }
  return halfTable;
}

export interface SessionOptions {
  threads?: number;
  executionProviders?: ('cpu' | 'cuda')[];
}

/** One loaded ONNX decoder (one weights version). */
export class EngineSession {
  readonly pastNames: string[];
  readonly presentNames: string[];
  readonly kvHeads: number;
  readonly headDim: number;
  readonly cacheType: 'float32' | 'float16';
  readonly #hasMask: boolean;
  readonly #hasPositions: boolean;
  readonly #keepInput: string | undefined;
  readonly #cacheBranch: boolean;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly folder: ModelFolder,
  ) {
    const inputs = session.inputNames;
    const path = folder.onnxPath;
    const pattern = /^past_key_values\.(\d+)\.(key|value)$/;
    const past = inputs
      .map((name) => ({ name, match: pattern.exec(name) }))
      .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
      .sort(
        (a, b) =>
          Number(a.match[1]) - Number(b.match[1]) ||
          (a.match[2] as string).localeCompare(b.match[2] as string),
      );
    if (!inputs.includes('input_ids') || !session.outputNames.includes('logits') || past.length === 0) {
      throw new ModelLoadError({
        path,
        message: `${path} is not a decoder in the Optimum layout with a KV cache (inputs: ${inputs.join(', ')}).`,
      });
    }
    this.pastNames = past.map((entry) => entry.name);
    this.presentNames = this.pastNames.map((name) => name.replace(/^past_key_values/, 'present'));
    this.#hasMask = inputs.includes('attention_mask');
    this.#hasPositions = inputs.includes('position_ids');
    this.#keepInput = ['num_logits_to_keep', 'logits_to_keep'].find((name) => inputs.includes(name));
    this.#cacheBranch = inputs.includes('use_cache_branch');
    const config = folder.config;
    const metadata = (session.inputMetadata ?? []).find((entry) => entry.name === this.pastNames[0]);
    const shape = metadata?.isTensor ? metadata.shape : [];
    const heads = positive(config.num_attention_heads ?? config.n_head);
    const hidden = positive(config.hidden_size ?? config.n_embd);
    const kvHeads = positive(shape[1]) ?? positive(config.num_key_value_heads) ?? heads;
    const headDim =
      positive(shape[3]) ?? positive(config.head_dim) ?? (heads && hidden ? hidden / heads : undefined);
    if (kvHeads === undefined || headDim === undefined) {
      throw new ModelLoadError({
        path: join(folder.dir, 'config.json'),
        message: `Cannot tell the KV-cache shape of ${path} (config.json lacks num_key_value_heads / head_dim).`,
      });
    }
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.cacheType = metadata?.isTensor && metadata.type === 'float16' ? 'float16' : 'float32';
  }

  static async open(folder: ModelFolder, options: SessionOptions = {}): Promise<EngineSession> {
    const ort = (await import('onnxruntime-node')) as OrtModule;
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(folder.onnxPath, {
        graphOptimizationLevel: 'all',
        interOpNumThreads: 1,
        logSeverityLevel: 3,
        executionProviders: options.executionProviders ?? ['cpu'],
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
    } catch (cause) {
      throw new ModelLoadError({
        path: folder.onnxPath,
        message: `onnxruntime-node cannot load ${folder.onnxPath}: ${(cause as Error).message}`,
        cause,
      });
    }
    return new EngineSession(ort, session, folder);
  }

  emptyCache(batch: number): KvCache {
    return this.zeroCache(batch, 0);
  }

  zeroCache(batch: number, length: number): KvCache {
    const size = batch * this.kvHeads * length * this.headDim;
    const tensors = this.pastNames.map(() =>
      this.cacheType === 'float16'
        ? new this.ort.Tensor('float16', new Uint16Array(size), [batch, this.kvHeads, length, this.headDim])
        : new this.ort.Tensor('float32', new Float32Array(size), [batch, this.kvHeads, length, this.headDim]),
    );
    return { tensors, batch, length };
  }

  /**
   * Rebuilds a cache: row r of the result is row `rows[r]` of `cache`, resized to `length` columns by
   * dropping (length < cache.length) or zero-padding (length > cache.length) columns on the left.
   */
  reshape(cache: KvCache, rows: readonly number[], length: number): KvCache {
    const { kvHeads, headDim } = this;
    const tensors = cache.tensors.map((tensor) => {
      const source = tensor.data as Float32Array | Uint16Array;
      const target = new (source.constructor as Float32ArrayConstructor)(
        rows.length * kvHeads * length * headDim,
      );
      for (const [index, row] of rows.entries()) {
        for (let head = 0; head < kvHeads; head++) {
          const keep = Math.min(length, cache.length);
          const from = ((row * kvHeads + head) * cache.length + (cache.length - keep)) * headDim;
          const to = ((index * kvHeads + head) * length + (length - keep)) * headDim;
          target.set(source.subarray(from, from + keep * headDim), to);
        }
      }
      return new this.ort.Tensor(tensor.type as 'float32', target as Float32Array, [
        rows.length,
        kvHeads,
        length,
        headDim,
      ]);
    });
    return { tensors, batch: rows.length, length };
  }

  /** Stacks the rows of two caches of equal length. */
  concat(first: KvCache, second: KvCache): KvCache {
    if (first.batch === 0) return second;
    if (second.batch === 0) return first;
    const tensors = first.tensors.map((tensor, index) => {
      const a = tensor.data as Float32Array;
      const b = second.tensors[index]!.data as Float32Array;
      const target = new (a.constructor as Float32ArrayConstructor)(a.length + b.length);
      target.set(a, 0);
      target.set(b, a.length);
      return new this.ort.Tensor(tensor.type as 'float32', target, [
        first.batch + second.batch,
        this.kvHeads,
        first.length,
        this.headDim,
      ]);
    });
    return { tensors, batch: first.batch + second.batch, length: first.length };
  }

  async run(inputs: ForwardInputs): Promise<ForwardOutputs> {
    const { batch, sequence } = inputs;
    const total = inputs.cache.length + sequence;
    const feeds: Record<string, OrtTensor> = { input_ids: this.int64(inputs.inputIds, [batch, sequence]) };
    if (this.#hasMask) feeds.attention_mask = this.int64(inputs.attentionMask, [batch, total]);
    if (this.#hasPositions) feeds.position_ids = this.int64(inputs.positionIds, [batch, sequence]);
    if (this.#keepInput) feeds[this.#keepInput] = this.int64([inputs.keepLast], []);
    if (this.#cacheBranch)
      feeds.use_cache_branch = new this.ort.Tensor(
        'bool',
        Uint8Array.of(inputs.cache.length > 0 ? 1 : 0),
        [1],
      );
    for (const [index, name] of this.pastNames.entries())
      feeds[name] = inputs.cache.tensors[index] as OrtTensor;
    const outputs = await this.session.run(feeds);
    const logitsTensor = outputs.logits as OrtTensor;
    const [, positions = 1, vocab = 0] = logitsTensor.dims;
    let logits: Float32Array;
    if (logitsTensor.type === 'float16') {
      const words = logitsTensor.data as Uint16Array;
      const table = halfToFloat();
      logits = new Float32Array(words.length);
      for (let i = 0; i < words.length; i++) logits[i] = table[words[i] as number] as number;
    } else logits = logitsTensor.data as Float32Array;
    const tensors = this.presentNames.map((name) => outputs[name] as OrtTensor);
    return { logits, positions, vocabSize: vocab, cache: { tensors, batch, length: total } };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private int64(values: ArrayLike<number>, dims: number[]): OrtTensor {
    const data = new BigInt64Array(values.length);
    const words = new Int32Array(data.buffer);
    for (let i = 0; i < values.length; i++) {
      const value = values[i] as number;
      words[2 * i] = value;
      words[2 * i + 1] = value < 0 ? -1 : 0;
    }
    return new this.ort.Tensor('int64', data, dims);
  }
}
