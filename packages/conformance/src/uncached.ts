/**
 * An independent, uncached reference forward over a model folder's ONNX decoder: the whole sequence every
 * time, no KV cache reuse, batch 1, no padding. The backend suite compares greedy choices and logprobs
 * against it, so a backend's cache, padding and batching bugs show up as differences.
 */
import { access, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

/** Files tried, in order, when no `modelFile` is given (the same list `@rlpt/backend-onnx` uses). */
export const defaultOnnxFiles = [
  'onnx/model.onnx',
  'model.onnx',
  'onnx/decoder_model_merged.onnx',
  'decoder_model_merged.onnx',
] as const;

/** Logits of every position of one sequence. */
export interface SequenceLogits {
  /** Row-major `[positions, vocab]`. */
  data: Float32Array;
  vocab: number;
  positions: number;
}

/** The uncached forward of {@link openUncachedForward}. */
export interface UncachedForward {
  /** The ONNX file in use. */
  readonly file: string;
  /** `config.json`'s `max_position_embeddings`, when present. */
  readonly maxPositions: number | undefined;
  /** Logits of every position of `ids` (one full forward). */
  logits(ids: readonly number[]): Promise<SequenceLogits>;
  close(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * Opens `modelDir`'s ONNX decoder (Hugging Face Optimum layout) in onnxruntime-node for uncached forwards.
 * onnxruntime-node is imported here, lazily. Throws an `Error` naming the folder when it has no ONNX file
 * or the graph is not an Optimum decoder.
 */
export async function openUncachedForward(
  modelDir: string,
  options: { modelFile?: string; threads?: number } = {},
): Promise<UncachedForward> {
  const candidates = options.modelFile
    ? [isAbsolute(options.modelFile) ? options.modelFile : join(modelDir, options.modelFile)]
    : defaultOnnxFiles.map((file) => join(modelDir, file));
  let file: string | undefined;
  for (const candidate of candidates) {
    if (await exists(candidate)) {
      file = candidate;
      break;
    }
  }
  if (!file) {
    throw new Error(
      `conformance: no ONNX decoder in ${modelDir} (looked for ${candidates.join(', ')}); pass setup.modelFile or drop setup.modelDir to skip the uncached checks.`,
    );
  }
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    // config.json only supplies fallbacks (cache shape, context length).
  }
  const ort = (await import('onnxruntime-node')) as typeof Ort;
  const session = await ort.InferenceSession.create(file, {
    logSeverityLevel: 3,
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
  });
  if (!session.inputNames.includes('input_ids') || !session.outputNames.includes('logits')) {
    await session.release();
    throw new Error(
      `conformance: ${file} is not a decoder in the Optimum layout (inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')}); it needs an input_ids input and a logits output.`,
    );
  }
  const heads = positiveInteger(config.num_key_value_heads) ?? positiveInteger(config.num_attention_heads);
  const headDim =
    positiveInteger(config.head_dim) ??
    (positiveInteger(config.hidden_size) && positiveInteger(config.num_attention_heads)
      ? (config.hidden_size as number) / (config.num_attention_heads as number)
      : undefined);
  const emptyCache: Record<string, Ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.name.startsWith('past_key_values.')) continue;
    const shape = meta.isTensor ? meta.shape : [];
    // [batch, kv heads, past length, head dim]: numeric dims pass through, symbolic ones come from config.
    const dims = [1, 1, 0, 1].map((fallback, axis) => {
      const dim = shape[axis];
      if (typeof dim === 'number' && dim >= 0) return axis === 0 ? 1 : dim;
      if (axis === 1) return heads ?? fallback;
      if (axis === 3) return headDim ?? fallback;
      return fallback;
    });
    const type = meta.isTensor ? meta.type : 'float32';
    emptyCache[meta.name] =
      type === 'float16'
        ? new ort.Tensor('float16', new Uint16Array(0), dims)
        : new ort.Tensor('float32', new Float32Array(0), dims);
  }
  return {
    file,
    maxPositions: positiveInteger(config.max_position_embeddings) ?? positiveInteger(config.n_positions),
    async logits(ids) {
      const length = ids.length;
      const feeds: Record<string, Ort.Tensor> = {
        ...emptyCache,
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, length]),
      };
      if (session.inputNames.includes('attention_mask'))
        feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]);
      if (session.inputNames.includes('position_ids')) {
        feeds.position_ids = new ort.Tensor(
          'int64',
          BigInt64Array.from(ids, (_, index) => BigInt(index)),
          [1, length],
        );
      }
      for (const name of ['num_logits_to_keep', 'logits_to_keep']) {
        if (session.inputNames.includes(name))
          feeds[name] = new ort.Tensor('int64', BigInt64Array.of(0n), []);
      }
      if (session.inputNames.includes('use_cache_branch'))
        feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(0), [1]);
      const output = (await session.run(feeds, ['logits'])).logits as Ort.Tensor;
      if (output.type !== 'float32') {
        throw new Error(
          `conformance: ${file} returns ${output.type} logits; the uncached reference supports float32 only.`,
        );
      }
      const [, positions, vocab] = output.dims as [number, number, number];
      return { data: output.data as Float32Array, vocab, positions };
    },
    async close() {
      await session.release();
    },
  };
}

/** Logits row of position `position` (0-based) of a {@link SequenceLogits}. */
export function logitsRow(logits: SequenceLogits, position: number): Float32Array {
  return logits.data.subarray(position * logits.vocab, (position + 1) * logits.vocab);
}

/** Index of the largest value (the first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let index = 1; index < values.length; index++)
    if ((values[index] as number) > (values[best] as number)) best = index;
  return best;
}

/** `log softmax(values / temperature)[index]`, computed in float64. */
export function logSoftmaxAt(values: ArrayLike<number>, index: number, temperature = 1): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) max = Math.max(max, (values[i] as number) / temperature);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp((values[i] as number) / temperature - max);
  return (values[index] as number) / temperature - max - Math.log(sum);
}
