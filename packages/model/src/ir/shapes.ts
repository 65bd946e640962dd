import type { Attribute, DType, Dim, TensorData, ValueInfo } from './types.js';

/** Output dtype and shape of one node output, as inferred. */
export interface InferredValue {
  dtype: DType;
  shape: Dim[] | undefined;
}

/** What shape inference may ask about the node's inputs. */
export interface InferenceContext {
  /** The constant value of an input (an initializer marked constant), when known. */
  constantOf(name: string): TensorData | undefined;
  /** A fresh symbolic dimension for a size that can't be inferred statically. */
  unknownDim(): string;
}

const unaryOps = new Set([
  'Identity',
  'Neg',
  'Abs',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Sigmoid',
  'Tanh',
  'Relu',
  'Erf',
  'Cos',
  'Sin',
  'Softmax',
  'LogSoftmax',
  'Not',
  'Floor',
  'Ceil',
  'Round',
  'CumSum',
  'SimplifiedLayerNormalization',
  'LayerNormalization',
  'RMSNormalization',
  'ScatterND',
  'ScatterElements',
  'Trilu',
  'Dropout',
]);
const arithmeticBinaryOps = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Mod',
  'And',
  'Or',
  'Xor',
]);
const comparisonOps = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual']);
const reduceOps = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2']);

/** ONNX `TensorProto.DataType` codes for the dtypes the IR knows. */
export const onnxDataType: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

/** The IR dtype for an ONNX data type code. */
export function dtypeFromOnnx(code: number): DType {
  for (const [dtype, value] of Object.entries(onnxDataType)) if (value === code) return dtype as DType;
  throw new Error(`ONNX data type ${code} is not supported by the rlpt graph IR.`);
}

/** Combines two dims under numpy broadcasting (`undefined` when they can't be reconciled statically). */
export function broadcastDim(a: Dim, b: Dim, context: InferenceContext): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') {
    throw new Error(`cannot broadcast dimensions ${a} and ${b}`);
  }
  // A symbolic dim against a number ≠ 1 must equal that number at run time.
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return context.unknownDim();
}

/** Broadcast shape of several shapes (numpy rules). */
export function broadcastShapes(
  shapes: (readonly Dim[] | undefined)[],
  context: InferenceContext,
): Dim[] | undefined {
  if (shapes.some((shape) => shape === undefined)) return undefined;
  const known = shapes as (readonly Dim[])[];
  const rank = Math.max(...known.map((shape) => shape.length));
  const result: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let dim: Dim = 1;
    for (const shape of known) {
      const index = axis - (rank - shape.length);
      if (index >= 0) dim = broadcastDim(dim, shape[index] as Dim, context);
    }
    result.push(dim);
  }
  return result;
}

function intAttribute(
  attributes: Readonly<Record<string, Attribute>>,
  name: string,
  fallback: number,
): number {
  const attribute = attributes[name];
  return attribute?.type === 'int' ? attribute.value : fallback;
}

function intsAttribute(attributes: Readonly<Record<string, Attribute>>, name: string): number[] | undefined {
  const attribute = attributes[name];
  return attribute?.type === 'ints' ? [...attribute.value] : undefined;
}

function constantInts(context: InferenceContext, name: string | undefined): number[] | undefined {
  if (name === undefined || name === '') return undefined;
  const tensor = context.constantOf(name);
  if (!tensor) return undefined;
  return Array.from(tensor.data as ArrayLike<number | bigint>, (value) => Number(value));
}

function normaliseAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function sumDims(dims: Dim[]): Dim {
  if (dims.every((dim) => typeof dim === 'number')) return (dims as number[]).reduce((a, b) => a + b, 0);
  return dims.filter((dim) => dim !== 0).join('+');
}

function reshapeShape(input: readonly Dim[] | undefined, target: number[], context: InferenceContext): Dim[] {
  const output: Dim[] = target.map((dim, index) => {
    if (dim === 0) return input?.[index] ?? context.unknownDim();
    return dim;
  });
  const inferIndex = output.indexOf(-1);
  if (inferIndex < 0) return output;
  if (input === undefined) {
    output[inferIndex] = context.unknownDim();
    return output;
  }
  // Cancel the known factors on both sides; what is left is the inferred dim.
  const remainingSymbols: string[] = input.filter((dim): dim is string => typeof dim === 'string');
  let numericIn = 1;
  for (const dim of input) if (typeof dim === 'number') numericIn *= dim;
  let numericOut = 1;
  for (const [index, dim] of output.entries()) {
    if (index === inferIndex) continue;
    if (typeof dim === 'number') numericOut *= dim;
    else {
      const position = remainingSymbols.indexOf(dim);
      if (position < 0) {
        output[inferIndex] = context.unknownDim();
        return output;
      }
      remainingSymbols.splice(position, 1);
    }
  }
  if (remainingSymbols.length === 0 && numericIn % numericOut === 0)
    output[inferIndex] = numericIn / numericOut;
  else if (remainingSymbols.length === 1 && numericIn === numericOut)
    output[inferIndex] = remainingSymbols[0] as string;
  else output[inferIndex] = context.unknownDim();
  return output;
}

function sliceDim(dim: Dim, start: number, end: number, step: number, context: InferenceContext): Dim {
  if (typeof dim !== 'number') {
    // `x[-k:]` or `x[:k]` keep a known count only when the size is known; otherwise unknown.
    if (step === 1 && start >= 0 && end >= 0 && end < 2 ** 31 && end >= start) return end - start;
    if (step === 1 && start === 0 && end >= 2 ** 31) return dim;
    return context.unknownDim();
  }
  const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
  if (step > 0) {
    const first = clamp(start < 0 ? start + dim : start, 0, dim);
    const last = clamp(end < 0 ? end + dim : end, 0, dim);
    return Math.max(0, Math.ceil((last - first) / step));
  }
  const first = clamp(start < 0 ? start + dim : start, -1, dim - 1);
  const last = clamp(end < 0 ? end + dim : end, -1, dim - 1);
  return Math.max(0, Math.ceil((last - first) / step));
}

function matMulShape(a: readonly Dim[], b: readonly Dim[], context: InferenceContext): Dim[] {
  const left = a.length === 1 ? [1, a[0] as Dim] : [...a];
  const right = b.length === 1 ? [b[0] as Dim, 1] : [...b];
  const batch = broadcastShapes([left.slice(0, -2), right.slice(0, -2)], context) ?? ([] as Dim[]);
  const result = [...batch, left[left.length - 2] as Dim, right[right.length - 1] as Dim];
  if (a.length === 1) result.splice(result.length - 2, 1);
  if (b.length === 1) result.pop();
  return result;
}

/**
 * Infers output dtypes and shapes for the ops the decoder and its gradients use. Unknown ops return
 * `undefined`, and the caller must state the output types.
 */
export function inferNode(
  opType: string,
  inputs: (ValueInfo | undefined)[],
  attributes: Readonly<Record<string, Attribute>>,
  inputNames: readonly string[],
  context: InferenceContext,
): InferredValue[] | undefined {
  const first = inputs[0];
  const shapeOf = (index: number) => inputs[index]?.shape;
  if (unaryOps.has(opType) && first)
    return [{ dtype: first.dtype, shape: first.shape ? [...first.shape] : undefined }];
  if (arithmeticBinaryOps.has(opType) && first) {
    return [
      {
        dtype: first.dtype,
        shape: broadcastShapes(
          inputs.map((input) => input?.shape),
          context,
        ),
      },
    ];
  }
  if (comparisonOps.has(opType)) {
    return [
      {
        dtype: 'bool',
        shape: broadcastShapes(
          inputs.map((input) => input?.shape),
          context,
        ),
      },
    ];
  }
  switch (opType) {
    case 'Where': {
      const value = inputs[1];
      if (!value) return undefined;
      return [
        {
          dtype: value.dtype,
          shape: broadcastShapes(
            inputs.map((input) => input?.shape),
            context,
          ),
        },
      ];
    }
    case 'Cast': {
      const to = intAttribute(attributes, 'to', 0);
      return [{ dtype: dtypeFromOnnx(to), shape: first?.shape ? [...first.shape] : undefined }];
    }
    case 'MatMul': {
      const a = shapeOf(0);
      const b = shapeOf(1);
      if (!first) return undefined;
      return [{ dtype: first.dtype, shape: a && b ? matMulShape(a, b, context) : undefined }];
    }
    case 'FusedMatMul': {
      const a = shapeOf(0);
      const b = shapeOf(1);
      if (!first) return undefined;
      if (!a || !b) return [{ dtype: first.dtype, shape: undefined }];
      const swapLast = (shape: readonly Dim[], swap: boolean) =>
        swap && shape.length >= 2
          ? [...shape.slice(0, -2), shape[shape.length - 1] as Dim, shape[shape.length - 2] as Dim]
          : shape;
      return [
        {
          dtype: first.dtype,
          shape: matMulShape(
            swapLast(a, intAttribute(attributes, 'transA', 0) === 1),
            swapLast(b, intAttribute(attributes, 'transB', 0) === 1),
            context,
          ),
        },
      ];
    }
    case 'Gemm': {
      const a = shapeOf(0);
      const b = shapeOf(1);
      if (!first) return undefined;
      if (!a || !b) return [{ dtype: first.dtype, shape: undefined }];
      const transA = intAttribute(attributes, 'transA', 0);
      const transB = intAttribute(attributes, 'transB', 0);
      return [{ dtype: first.dtype, shape: [a[transA ? 1 : 0] as Dim, b[transB ? 0 : 1] as Dim] }];
    }
    case 'Transpose': {
      const shape = shapeOf(0);
      if (!first) return undefined;
      if (!shape) return [{ dtype: first.dtype, shape: undefined }];
      const perm = intsAttribute(attributes, 'perm') ?? shape.map((_, index) => shape.length - 1 - index);
      return [{ dtype: first.dtype, shape: perm.map((axis) => shape[axis] as Dim) }];
    }
    case 'Reshape': {
      if (!first) return undefined;
      const target = constantInts(context, inputNames[1]);
      if (!target) return [{ dtype: first.dtype, shape: undefined }];
      return [{ dtype: first.dtype, shape: reshapeShape(first.shape, target, context) }];
    }
    case 'Unsqueeze': {
      if (!first) return undefined;
      const axes = constantInts(context, inputNames[1]) ?? intsAttribute(attributes, 'axes');
      const shape = first.shape;
      if (!axes || !shape) return [{ dtype: first.dtype, shape: undefined }];
      const rank = shape.length + axes.length;
      const normalised = axes.map((axis) => normaliseAxis(axis, rank)).sort((a, b) => a - b);
      const result: Dim[] = [...shape];
      for (const axis of normalised) result.splice(axis, 0, 1);
      return [{ dtype: first.dtype, shape: result }];
    }
    case 'Squeeze': {
      if (!first) return undefined;
      const axes = constantInts(context, inputNames[1]) ?? intsAttribute(attributes, 'axes');
      const shape = first.shape;
      if (!shape) return [{ dtype: first.dtype, shape: undefined }];
      const drop = new Set(
        axes
          ? axes.map((axis) => normaliseAxis(axis, shape.length))
          : shape.flatMap((dim, i) => (dim === 1 ? [i] : [])),
      );
      return [{ dtype: first.dtype, shape: shape.filter((_, index) => !drop.has(index)) }];
    }
    case 'Concat': {
      if (!first) return undefined;
      const shapes = inputs.map((input) => input?.shape);
      if (shapes.some((shape) => !shape)) return [{ dtype: first.dtype, shape: undefined }];
      const known = shapes as (readonly Dim[])[];
      const base = known[0] as readonly Dim[];
      const axis = normaliseAxis(intAttribute(attributes, 'axis', 0), base.length);
      const result = [...base];
      result[axis] = sumDims(known.map((shape) => shape[axis] as Dim));
      return [{ dtype: first.dtype, shape: result }];
    }
    case 'Gather': {
      const indices = inputs[1];
      if (!first || !indices) return undefined;
      if (!first.shape || !indices.shape) return [{ dtype: first.dtype, shape: undefined }];
      const axis = normaliseAxis(intAttribute(attributes, 'axis', 0), first.shape.length);
      return [
        {
          dtype: first.dtype,
          shape: [...first.shape.slice(0, axis), ...indices.shape, ...first.shape.slice(axis + 1)],
        },
      ];
    }
    case 'GatherElements': {
      const indices = inputs[1];
      if (!first || !indices) return undefined;
      return [{ dtype: first.dtype, shape: indices.shape ? [...indices.shape] : undefined }];
    }
    case 'Slice': {
      if (!first) return undefined;
      const shape = first.shape;
      const starts = constantInts(context, inputNames[1]);
      const ends = constantInts(context, inputNames[2]);
      if (!shape) return [{ dtype: first.dtype, shape: undefined }];
      const axes = constantInts(context, inputNames[3]) ?? starts?.map((_, index) => index);
      const steps = constantInts(context, inputNames[4]);
      const result: Dim[] = [...shape];
      if (!axes) return [{ dtype: first.dtype, shape: shape.map(() => context.unknownDim()) }];
      for (const [position, rawAxis] of axes.entries()) {
        const axis = normaliseAxis(rawAxis, shape.length);
        const start = starts?.[position];
        const end = ends?.[position];
        result[axis] =
          start === undefined || end === undefined
            ? context.unknownDim()
            : sliceDim(shape[axis] as Dim, start, end, steps?.[position] ?? 1, context);
      }
      return [{ dtype: first.dtype, shape: result }];
    }
    case 'Split': {
      if (!first) return undefined;
      const shape = first.shape;
      const sizes = constantInts(context, inputNames[1]);
      const count = sizes?.length ?? intAttribute(attributes, 'num_outputs', 0);
      if (!sizes || !shape) return undefined;
      const axis = normaliseAxis(intAttribute(attributes, 'axis', 0), shape.length);
      return Array.from({ length: count }, (_, index) => {
        const result = [...shape];
        result[axis] = sizes[index] as number;
        return { dtype: first.dtype, shape: result };
      });
    }
    case 'Shape':
      return [{ dtype: 'int64', shape: [first?.shape ? first.shape.length : context.unknownDim()] }];
    case 'Size':
      return [{ dtype: 'int64', shape: [] }];
    case 'Range':
      return [{ dtype: first?.dtype ?? 'int64', shape: [context.unknownDim()] }];
    case 'Expand': {
      if (!first) return undefined;
      const target = constantInts(context, inputNames[1]);
      if (!target) return [{ dtype: first.dtype, shape: undefined }];
      return [{ dtype: first.dtype, shape: broadcastShapes([first.shape, target], context) }];
    }
    case 'Tile': {
      if (!first) return undefined;
      const repeats = constantInts(context, inputNames[1]);
      const shape = first.shape;
      if (!repeats || !shape) return [{ dtype: first.dtype, shape: undefined }];
      return [
        {
          dtype: first.dtype,
          shape: shape.map((dim, axis) => {
            const times = repeats[axis] ?? 1;
            if (times === 1) return dim;
            return typeof dim === 'number' ? dim * times : `${times}*${dim}`;
          }),
        },
      ];
    }
    case 'ConstantOfShape': {
      const target = constantInts(context, inputNames[0]);
      const value = attributes.value;
      const dtype = value?.type === 'tensor' ? value.value.dtype : 'float32';
      return [{ dtype, shape: target ?? undefined }];
    }
    default:
      break;
  }
  if (reduceOps.has(opType) && first) {
    const shape = first.shape;
    const keepdims = intAttribute(attributes, 'keepdims', 1) === 1;
    const axes = intsAttribute(attributes, 'axes') ?? constantInts(context, inputNames[1]);
    if (!shape) return [{ dtype: first.dtype, shape: undefined }];
    const reduced = new Set(
      (axes ?? shape.map((_, index) => index)).map((axis) => normaliseAxis(axis, shape.length)),
    );
    const result: Dim[] = [];
    for (const [index, dim] of shape.entries()) {
      if (!reduced.has(index)) result.push(dim);
      else if (keepdims) result.push(1);
    }
    return [{ dtype: first.dtype, shape: result }];
  }
  return undefined;
}
