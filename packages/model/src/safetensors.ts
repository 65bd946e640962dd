import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type EventHandler, ModelLoadError } from '@rlpt/spec';
import type { WeightMap } from './decoder.js';
import type { TensorData } from './ir/types.js';

/** One tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const bytesPerDtype: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Reads and validates the JSON header of a safetensors file. */
export async function readSafetensorsHeader(
  path: string,
): Promise<{ entries: Map<string, SafetensorsEntry>; metadata: Record<string, string>; dataStart: number }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new ModelLoadError({ path, message: `Cannot open safetensors file ${path}.`, cause: error });
  }
  try {
    const size = (await handle.stat()).size;
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = Number(prefix.readBigUInt64LE(0));
    if (size < 8 || headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > size) {
      throw new ModelLoadError({
        path,
        message: `${path} is not a safetensors file (bad header length ${headerLength}).`,
      });
    }
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ModelLoadError({
        path,
        message: `${path}: the safetensors header is not valid JSON.`,
        cause: error,
      });
    }
    const entries = new Map<string, SafetensorsEntry>();
    const dataLength = size - 8 - headerLength;
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const entry = value as SafetensorsEntry;
      const elementBytes = bytesPerDtype[entry.dtype];
      const [begin, end] = entry.data_offsets ?? [];
      const count = (entry.shape ?? []).reduce((a, b) => a * b, 1);
      if (
        elementBytes === undefined ||
        typeof begin !== 'number' ||
        typeof end !== 'number' ||
        end - begin !== count * elementBytes ||
        end > dataLength
      ) {
        throw new ModelLoadError({
          path,
          message: `${path}: tensor '${name}' has an invalid header entry ${JSON.stringify(value)} (dtype, shape and offsets must agree and lie within the file).`,
        });
      }
      entries.set(name, entry);
    }
    return {
      entries,
      metadata: (header.__metadata__ ?? {}) as Record<string, string>,
      dataStart: 8 + headerLength,
    };
  } finally {
    await handle.close();
  }
}

/** float16 bits → float32. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

let halfLookup: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!halfLookup) {
    halfLookup = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfLookup[i] = halfToFloat(i);
  }
  return halfLookup;
}

function toFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4).slice();
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8));
    case 'F16': {
      const words = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      const table = halfTable();
      const out = new Float32Array(words.length);
      for (let i = 0; i < words.length; i++) out[i] = table[words[i] as number] as number;
      return out;
    }
    case 'BF16': {
      const words = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      const out = new Float32Array(words.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < words.length; i++) outBits[i] = (words[i] as number) << 16;
      return out;
    }
    default:
      throw new Error(`dtype ${dtype} is not a floating-point type`);
  }
}

/** Options for {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** Only these tensors (default: all). */
  names?: Iterable<string>;
  /** Called after each tensor is read (for progress). */
  onTensor?: (name: string) => void;
}

/**
 * Reads a `.safetensors` file into float32 tensors (F32, F16, BF16 and F64 are converted to F32; integer
 * tensors are rejected). Tensors are read one at a time, so files larger than memory-per-buffer limits
 * work.
 */
export async function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<WeightMap> {
  const { entries, dataStart } = await readSafetensorsHeader(path);
  const wanted = options.names ? new Set(options.names) : undefined;
  const weights: WeightMap = new Map();
  const handle = await open(path, 'r');
  try {
    for (const [name, entry] of entries) {
      if (wanted && !wanted.has(name)) continue;
      if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) {
        throw new ModelLoadError({
          path,
          message: `${path}: tensor '${name}' has dtype ${entry.dtype}; only F32, F16, BF16 and F64 weights can be read (quantised checkpoints are not supported).`,
        });
      }
      const [begin, end] = entry.data_offsets;
      const bytes = Buffer.alloc(end - begin);
      await handle.read(bytes, 0, bytes.length, dataStart + begin);
      weights.set(name, { dtype: 'float32', dims: [...entry.shape], data: toFloat32(entry.dtype, bytes) });
      options.onTensor?.(name);
    }
  } finally {
    await handle.close();
  }
  return weights;
}

/**
 * Reads every weight of a Hugging Face checkpoint folder: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`.
 */
export async function readCheckpointWeights(
  dir: string,
  options: { onEvent?: EventHandler } = {},
): Promise<WeightMap> {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const singlePath = join(dir, 'model.safetensors');
  const exists = async (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );
  if (await exists(indexPath)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(await readFile(indexPath, 'utf8')) as typeof index;
    } catch (error) {
      throw new ModelLoadError({ path: indexPath, message: `${indexPath} is not valid JSON.`, cause: error });
    }
    const weightMap = index.weight_map;
    if (!weightMap || typeof weightMap !== 'object') {
      throw new ModelLoadError({ path: indexPath, message: `${indexPath} has no "weight_map".` });
    }
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap))
      byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    const weights: WeightMap = new Map();
    const total = Object.keys(weightMap).length;
    let done = 0;
    const onTensor = () =>
      options.onEvent?.({ type: 'progress', phase: 'read-weights', done: ++done, total, unit: 'tensors' });
    for (const [shard, names] of byShard) {
      for (const [name, tensor] of await readSafetensors(join(dir, shard), { names, onTensor }))
        weights.set(name, tensor);
    }
    return weights;
  }
  if (await exists(singlePath)) {
    const { entries } = await readSafetensorsHeader(singlePath);
    let done = 0;
    return readSafetensors(singlePath, {
      onTensor: () =>
        options.onEvent?.({
          type: 'progress',
          phase: 'read-weights',
          done: ++done,
          total: entries.size,
          unit: 'tensors',
        }),
    });
  }
  throw new ModelLoadError({
    path: dir,
    message: `No weights in ${dir}: expected model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not supported; convert them to safetensors first).`,
  });
}

function safetensorsDtype(tensor: TensorData): string {
  switch (tensor.dtype) {
    case 'float32':
      return 'F32';
    case 'float16':
      return 'F16';
    case 'bfloat16':
      return 'BF16';
    case 'float64':
      return 'F64';
    case 'int64':
      return 'I64';
    case 'int32':
      return 'I32';
    default:
      throw new Error(`safetensors: dtype ${tensor.dtype} can't be written`);
  }
}

/**
 * Writes tensors to a `.safetensors` file (Hugging Face names, dtypes as given) atomically: a temp file
 * in the same folder, then a rename.
 */
export async function writeSafetensors(
  path: string,
  weights: WeightMap,
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...weights.keys()].sort();
  for (const name of names) {
    const tensor = weights.get(name) as TensorData;
    const length = tensor.data.byteLength;
    header[name] = {
      dtype: safetensorsDtype(tensor),
      shape: [...tensor.dims],
      data_offsets: [offset, offset + length],
    };
    offset += length;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const temp = join(dirname(path), `.${Date.now()}-${process.pid}.safetensors.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.write(prefix);
    await handle.write(headerBytes);
    for (const name of names) {
      const { data } = weights.get(name) as TensorData;
      await handle.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
  await rename(temp, path);
}
