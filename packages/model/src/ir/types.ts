/**
 * The graph IR: a model is data (nodes with op types, named inputs and outputs, attributes; values with
 * static dtypes and shapes), so one model definition can be serialised to ONNX for inference and
 * differentiated into a training graph. Op types and attribute semantics are ONNX's.
 */

/** Element types the IR tracks (ONNX `TensorProto.DataType` names, lower-cased). */
export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int8'
  | 'uint8'
  | 'bool';

/** A dimension: a number when static, a name (`batch_size`, `sequence_length`, …) when symbolic. */
export type Dim = number | string;

/** A named value in the graph (graph input, initializer or node output). */
export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  /** Static shape; symbolic dims are strings. `undefined` when the rank is unknown. */
  readonly shape: readonly Dim[] | undefined;
}

/** Typed arrays that can hold tensor data, by dtype (float16/bfloat16 are raw 16-bit words). */
export type TensorArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

/** A constant tensor: an initializer, a constant, or a tensor-valued attribute. */
export interface TensorData {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorArray;
}

/** A node attribute, tagged with its ONNX attribute type (numbers alone can't tell int from float). */
export type Attribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensor'; readonly value: TensorData };

/** One operation. `inputs` may contain `''` for an omitted optional input (ONNX convention). */
export interface Node {
  readonly name: string;
  readonly opType: string;
  /** Operator domain; `''` is the default ONNX domain (ORT's contrib ops in it too). */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, Attribute>>;
}

/** Role of an initializer-like tensor. Parameters are trainable; constants are not. */
export type TensorRole = 'parameter' | 'constant';

/** A complete graph: what {@link serializeModel} writes and what a training-graph builder reads. */
export interface Graph {
  readonly name: string;
  /** ONNX default-domain opset version the node semantics follow. */
  readonly opset: number;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Topologically sorted. */
  readonly nodes: readonly Node[];
  /** Initializers by name (parameters when weights are embedded, plus constants). */
  readonly initializers: ReadonlyMap<string, TensorData>;
  /** Every value's dtype and static shape, by name (inputs, initializers and node outputs). */
  readonly values: ReadonlyMap<string, ValueInfo>;
  /** Names of trainable parameters (whether they are initializers or graph inputs). */
  readonly parameters: readonly string[];
}

/** Bytes per element for each dtype. */
export const dtypeByteSize: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Number of elements of a static shape. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) count *= dim;
  return count;
}
