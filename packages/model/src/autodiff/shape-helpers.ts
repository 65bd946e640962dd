import { attr, type GraphBuilder } from '../ir/builder.js';
import type { Dim, DType, TensorData, ValueInfo } from '../ir/types.js';

// Small graph-emitting helpers shared by the backward rules. Not exported from the package.

/** The static shape of a value, or `undefined` when a dim is symbolic or the rank is unknown. */
export function staticShape(value: ValueInfo): number[] | undefined {
  if (!value.shape) return undefined;
  if (value.shape.some((dim) => typeof dim !== 'number')) return undefined;
  return value.shape as number[];
}

/** The rank of a value; throws when the IR does not know it (backward rules need ranks). */
export function rankOf(value: ValueInfo, where: string): number {
  if (!value.shape) {
    throw new Error(
      `autodiff: the rank of '${value.name}' is unknown (${where}); build the forward with static ranks.`,
    );
  }
  return value.shape.length;
}

/** A tensor holding `value` with the given dtype (used for scalar constants in rules). */
export function scalarOf(b: GraphBuilder, value: number, dtype: DType): ValueInfo {
  if (dtype === 'float32' || dtype === 'float64') return b.scalar(value, dtype);
  throw new Error(`autodiff: gradients of ${dtype} values are not supported (float32 and float64 are).`);
}

/** The shape of `value` as an int64 vector: a constant when static, a `Shape` node otherwise. */
export function shapeTensor(b: GraphBuilder, value: ValueInfo): ValueInfo {
  const shape = staticShape(value);
  if (shape) return b.int64s(shape);
  return b.op('Shape', [value])[0] as ValueInfo;
}

/** Runs one node whose single output has exactly the dtype and shape of `like`. */
export function emitLike(
  b: GraphBuilder,
  like: ValueInfo,
  opType: string,
  inputs: readonly (ValueInfo | null)[],
  attributes: Parameters<GraphBuilder['op']>[2] = {},
): ValueInfo {
  return b.op(opType, inputs, attributes, {
    outputTypes: [{ dtype: like.dtype, shape: like.shape ? [...like.shape] : undefined }],
  })[0] as ValueInfo;
}

/** Zeros with the dtype and shape of `like`. */
export function zerosLike(b: GraphBuilder, like: ValueInfo): ValueInfo {
  const zero: TensorData =
    like.dtype === 'float64'
      ? { dtype: 'float64', dims: [1], data: new Float64Array(1) }
      : { dtype: 'float32', dims: [1], data: new Float32Array(1) };
  return emitLike(b, like, 'ConstantOfShape', [shapeTensor(b, like)], { value: attr.tensor(zero) });
}

/** `Reshape(x, shape of like)`, typed as `like`. */
export function reshapeLike(b: GraphBuilder, x: ValueInfo, like: ValueInfo): ValueInfo {
  return emitLike(b, like, 'Reshape', [x, shapeTensor(b, like)]);
}

/**
 * Reduces a broadcast gradient back to the shape of the operand it flowed from (numpy broadcasting in
 * reverse): sums the extra leading axes and every axis where the operand has a static 1 and the gradient
 * does not. Symbolic dims are taken to match the gradient's (the IR only broadcasts static 1s).
 */
export function sumToShape(b: GraphBuilder, grad: ValueInfo, target: ValueInfo): ValueInfo {
  const gradRank = rankOf(grad, 'sum-to-shape');
  const targetRank = rankOf(target, 'sum-to-shape');
  const extra = gradRank - targetRank;
  if (extra < 0) {
    throw new Error(
      `autodiff: gradient '${grad.name}' has rank ${gradRank}, below its operand '${target.name}' (${targetRank}).`,
    );
  }
  const gradShape = grad.shape as readonly Dim[];
  const targetShape = target.shape as readonly Dim[];
  const axes: number[] = [];
  for (let axis = 0; axis < gradRank; axis++) {
    if (axis < extra) axes.push(axis);
    else if (targetShape[axis - extra] === 1 && gradShape[axis] !== 1) axes.push(axis);
  }
  if (axes.length === 0) {
    if (grad.dtype === target.dtype && sameShape(grad.shape, target.shape)) return grad;
    return emitLike(b, target, 'Identity', [grad]);
  }
  if (extra === 0) return emitLike(b, target, 'ReduceSum', [grad, b.int64s(axes)], { keepdims: attr.int(1) });
  const reduced = b.op('ReduceSum', [grad, b.int64s(axes)], { keepdims: attr.int(1) })[0] as ValueInfo;
  return reshapeLike(b, reduced, target);
}

/** Elementwise equality of two shapes (symbolic dims by name). */
export function sameShape(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((dim, index) => dim === b[index]);
}

/** Normalises a possibly negative axis. */
export function normaliseAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, index) => index);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return perm;
}
