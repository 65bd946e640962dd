import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';
import type * as Ort from 'onnxruntime-node';
import type { ModelFolderInfo } from './model-folder.js';

type OrtModule = typeof Ort;
type OrtTensor = Ort.Tensor;

/** Execution providers the backend can ask onnxruntime-node for. */
export type ExecutionProvider = 'cuda' | 'cpu';

/** The KV cache of a batch: past tensors in `pastNames` order, `[batch, kv_heads, length, head_dim]`. */
export interface KvCache {
  tensors: OrtTensor[];
  batch: number;
  length: number;
}

/** One forward's inputs. Arrays are row-major `[batch, …]`. */
export interface ForwardInputs {
  batch: number;
  /** `[batch, sequence]` */
  inputIds: ArrayLike<number>;
  sequence: number;
  /** `[batch, cache.length + sequence]`, 0/1 */
  attentionMask: ArrayLike<number>;
  /** `[batch, sequence]` */
  positionIds: ArrayLike<number>;
  cache: KvCache;
  /** Logits wanted for the last k positions (0 = all); honoured when the graph has the input. */
  keepLast: number;
}

/** Logits `[batch, positions, vocab]` as float32 plus the grown cache. */
export interface ForwardOutputs {
  logits: Float32Array;
  positions: number;
  vocabSize: number;
  cache: KvCache;
}

/** Session options the backend settings map to. */
export interface DecoderSessionOptions {
  threads?: number;
  /** Let idle intra-op threads spin (lower latency on an idle machine, wasted cores on a busy one). */
  spinning?: boolean;
  executionProviders: ExecutionProvider[];
  /** Called for things the caller should know (CUDA fallback). */
  warn: (message: string) => void;
}

const halfTable = (() => {
  let table: Float32Array | undefined;
  return () => {
    if (!table) {
      table = new Float32Array(65536);
      for (let bits = 0; bits < 65536; bits++) {
        const sign = bits & 0x8000 ? -1 : 1;
        const exponent = (bits >> 10) & 0x1f;
        const fraction = bits & 0x3ff;
        table[bits] =
          exponent === 0
            ? sign * 2 ** -14 * (fraction / 1024)
            : exponent === 0x1f
              ? fraction
                ? Number.NaN
                : sign * Number.POSITIVE_INFINITY
              : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
      }
    }
    return table;
  };
})();

/** Whether the CUDA execution provider's shared library sits next to onnxruntime-node's binding. */
export async function cudaProviderInstalled(): Promise<{ installed: boolean; where: string }> {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    root = dirname(dirname(require.resolve('onnxruntime-node')));
  }
  const where = join(root, 'bin', 'napi-v6', process.platform, process.arch);
  const library =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const installed = await stat(join(where, library)).then(
    () => true,
    () => false,
  );
  return { installed, where };
}

/**
 * Opens a decoder session, importing onnxruntime-node only now (so importing this module costs nothing
 * until a model is loaded).
 */
export async function openDecoderSession(
  info: ModelFolderInfo,
  options: DecoderSessionOptions,
): Promise<DecoderSession> {
  const ort = (await import('onnxruntime-node')) as OrtModule;
  return DecoderSession.open(ort, info, options);
}

/** Session options shared by the decoder and helper graphs: CPU threads, no spinning unless asked. */
export function cpuSessionOptions(options: {
  threads?: number;
  spinning?: boolean;
}): Ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
  };
}

function numberOr(value: unknown, fallback: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * An Optimum-layout decoder session: finds the cache inputs/outputs by name, knows the cache shape, and
 * runs forwards with int64 inputs built without per-element BigInt conversions.
 */
export class DecoderSession {
  readonly pastNames: string[];
  readonly presentNames: string[];
  readonly numLayers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly cacheType: 'float32' | 'float16';
  readonly hasAttentionMask: boolean;
  readonly hasPositionIds: boolean;
  readonly logitsToKeepInput: string | undefined;
  readonly hasCacheBranch: boolean;
  vocabSize: number | undefined;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly executionProvider: ExecutionProvider,
    info: ModelFolderInfo,
  ) {
    const inputs = session.inputNames;
    const path = info.onnxPath;
    if (!inputs.includes('input_ids')) {
      throw new ModelLoadError({
        path,
        message: `${path} has no 'input_ids' input (inputs: ${inputs.join(', ')}); it is not a decoder in the Optimum layout.`,
      });
    }
    if (!session.outputNames.includes('logits')) {
      throw new ModelLoadError({
        path,
        message: `${path} has no 'logits' output (outputs: ${session.outputNames.join(', ')}).`,
      });
    }
    const pastPattern = /^past_key_values\.(\d+)\.(key|value)$/;
    const past = inputs
      .map((name) => ({ name, match: pastPattern.exec(name) }))
      .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
      .sort(
        (a, b) =>
          Number(a.match[1]) - Number(b.match[1]) ||
          (a.match[2] as string).localeCompare(b.match[2] as string),
      );
    if (past.length === 0 || past.length % 2 !== 0) {
      throw new ModelLoadError({
        path,
        message: `${path} has no KV-cache inputs named past_key_values.{i}.key|value (inputs: ${inputs.join(', ')}); export it with past key values (Optimum task 'text-generation-with-past').`,
      });
    }
    this.pastNames = past.map((entry) => entry.name);
    this.presentNames = this.pastNames.map((name) => name.replace(/^past_key_values/, 'present'));
    const missing = this.presentNames.filter((name) => !session.outputNames.includes(name));
    if (missing.length > 0) {
      throw new ModelLoadError({
        path,
        message: `${path} lacks the cache outputs ${missing.join(', ')} that match its past_key_values inputs.`,
      });
    }
    this.numLayers = this.pastNames.length / 2;
    this.hasAttentionMask = inputs.includes('attention_mask');
    this.hasPositionIds = inputs.includes('position_ids');
    this.logitsToKeepInput = ['num_logits_to_keep', 'logits_to_keep'].find((name) => inputs.includes(name));
    this.hasCacheBranch = inputs.includes('use_cache_branch');

    const config = info.config;
    const metadata = (session.inputMetadata ?? []).find((entry) => entry.name === this.pastNames[0]);
    const shape = metadata?.isTensor ? metadata.shape : [];
    const heads = numberOr(config.num_attention_heads ?? config.n_head, undefined);
    const hidden = numberOr(config.hidden_size ?? config.n_embd, undefined);
    const kvHeads = numberOr(shape[1], numberOr(config.num_key_value_heads, heads));
    const headDim = numberOr(
      shape[3],
      numberOr(config.head_dim, heads && hidden ? hidden / heads : undefined),
    );
    if (kvHeads === undefined || headDim === undefined) {
      throw new ModelLoadError({
        path: join(info.dir, 'config.json'),
        message: `Cannot tell the KV-cache shape of ${path}: its inputs have symbolic head dims and config.json has no num_key_value_heads / head_dim (or num_attention_heads and hidden_size).`,
      });
    }
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    const type = metadata?.isTensor ? metadata.type : 'float32';
    if (type !== 'float32' && type !== 'float16') {
      throw new ModelLoadError({
        path,
        message: `${path}: KV cache of type ${type} is not supported (float32 or float16).`,
      });
    }
    this.cacheType = type;
    const logitsMetadata = (session.outputMetadata ?? []).find((entry) => entry.name === 'logits');
    const logitsShape = logitsMetadata?.isTensor ? logitsMetadata.shape : [];
    this.vocabSize = numberOr(logitsShape[2], numberOr(config.vocab_size, undefined));
  }

  /** Opens the session; falls back to CPU with a warning when CUDA is asked for but not available. */
  static async open(
    ort: OrtModule,
    info: ModelFolderInfo,
    options: DecoderSessionOptions,
  ): Promise<DecoderSession> {
    const base = cpuSessionOptions(options);
    let providers =
      options.executionProviders.length > 0 ? [...new Set(options.executionProviders)] : ['cpu' as const];
    if (providers.includes('cuda')) {
      const cuda = await cudaProviderInstalled();
      if (!cuda.installed) {
        options.warn(
          `CUDA was requested but onnxruntime-node's CUDA execution provider is not installed (no libonnxruntime_providers_cuda in ${cuda.where}); running on CPU. Install it with ONNXRUNTIME_NODE_INSTALL=cuda12 (onnxruntime-node's install script) on a machine with CUDA 12.`,
        );
        providers = providers.filter((provider) => provider !== 'cuda');
      }
    }
    if (providers.length === 0) providers = ['cpu'];
    const create = (executionProviders: ExecutionProvider[]) =>
      ort.InferenceSession.create(info.onnxPath, { ...base, executionProviders });
    let session: Ort.InferenceSession;
    let used: ExecutionProvider = providers[0] as ExecutionProvider;
    try {
      session = await create(providers);
    } catch (error) {
      if (!providers.includes('cuda')) {
        throw new ModelLoadError({
          path: info.onnxPath,
          message: `onnxruntime-node cannot load ${info.onnxPath}: ${(error as Error).message}`,
          cause: error,
        });
      }
      options.warn(
        `The CUDA execution provider failed to start (${(error as Error).message.split('\n')[0]}); running on CPU.`,
      );
      used = 'cpu';
      try {
        session = await create(['cpu']);
      } catch (cpuError) {
        throw new ModelLoadError({
          path: info.onnxPath,
          message: `onnxruntime-node cannot load ${info.onnxPath}: ${(cpuError as Error).message}`,
          cause: cpuError,
        });
      }
    }
    return new DecoderSession(ort, session, used, info);
  }

  /** An empty cache (length 0) for `batch` rows. */
  emptyCache(batch: number): KvCache {
    return this.zeroCache(batch, 0);
  }

  /** A cache of `batch` rows and `length` positions, all zeros (positions a mask hides). */
  zeroCache(batch: number, length: number): KvCache {
    const size = batch * this.kvHeads * length * this.headDim;
    const dims = [batch, this.kvHeads, length, this.headDim];
    const tensors = this.pastNames.map(() =>
      this.cacheType === 'float16'
        ? new this.ort.Tensor('float16', new Uint16Array(size), dims)
        : new this.ort.Tensor('float32', new Float32Array(size), dims),
    );
    return { tensors, batch, length };
  }

  /**
   * A cache whose row r is row `rows[r]` of `cache` (drops finished rows, or repeats a prompt n times),
   * optionally without its first `dropColumns` positions (padding no remaining row attends to).
   */
  selectRows(cache: KvCache, rows: readonly number[], dropColumns = 0): KvCache {
    return this.reshape(cache, rows, cache.length - dropColumns);
  }

  /**
   * Rebuilds a cache: row r of the result is row `rows[r]` of `cache`, resized to `length` positions by
   * dropping (length < cache.length) or zero-padding (length > cache.length) positions on the left.
   */
  reshape(cache: KvCache, rows: readonly number[], length: number): KvCache {
    const { kvHeads, headDim } = this;
    const keep = Math.min(length, cache.length);
    const sourceRow = kvHeads * cache.length * headDim;
    const targetRow = kvHeads * length * headDim;
    const tensors = cache.tensors.map((tensor) => {
      const source = tensor.data as Float32Array | Uint16Array;
      const target = new (source.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(
        rows.length * targetRow,
      );
      for (const [index, row] of rows.entries()) {
        if (length === cache.length) {
          target.set(source.subarray(row * sourceRow, (row + 1) * sourceRow), index * targetRow);
          continue;
        }
        for (let head = 0; head < kvHeads; head++) {
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

  /** Stacks the rows of two caches of equal length (`first`'s rows, then `second`'s); an empty one is skipped. */
  concat(first: KvCache, second: KvCache): KvCache {
    if (first.batch === 0) return second;
    if (second.batch === 0) return first;
    if (first.length !== second.length)
      throw new Error(`concat: caches of ${first.length} and ${second.length} positions cannot be stacked.`);
    const tensors = first.tensors.map((tensor, index) => {
      const a = tensor.data as Float32Array | Uint16Array;
      const b = second.tensors[index]?.data as Float32Array | Uint16Array;
      const target = new (a.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(
        a.length + b.length,
      );
      target.set(a, 0);
      target.set(b, a.length);
      return new this.ort.Tensor(tensor.type as 'float32', target as Float32Array, [
        first.batch + second.batch,
        this.kvHeads,
        first.length,
        this.headDim,
      ]);
    });
    return { tensors, batch: first.batch + second.batch, length: first.length };
  }

  /** One forward pass. */
  async run(inputs: ForwardInputs): Promise<ForwardOutputs> {
    const { batch, sequence } = inputs;
    const total = inputs.cache.length + sequence;
    const feeds: Record<string, OrtTensor> = { input_ids: this.int64(inputs.inputIds, [batch, sequence]) };
    if (this.hasAttentionMask) feeds.attention_mask = this.int64(inputs.attentionMask, [batch, total]);
    if (this.hasPositionIds) feeds.position_ids = this.int64(inputs.positionIds, [batch, sequence]);
    if (this.logitsToKeepInput) feeds[this.logitsToKeepInput] = this.int64([inputs.keepLast], []);
    if (this.hasCacheBranch)
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
    this.vocabSize = vocab;
    let logits: Float32Array;
    if (logitsTensor.type === 'float16') {
      const words = logitsTensor.data as Uint16Array;
      const table = halfTable();
      logits = new Float32Array(words.length);
      for (let i = 0; i < words.length; i++) logits[i] = table[words[i] as number] as number;
    } else logits = logitsTensor.data as Float32Array;
    const tensors = this.presentNames.map((name) => outputs[name] as OrtTensor);
    return { logits, positions, vocabSize: vocab, cache: { tensors, batch, length: total } };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** int64 tensor from small non-negative integers, written through an Int32 view (no BigInt per element). */
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
