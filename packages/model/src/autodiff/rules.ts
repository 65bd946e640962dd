import { attr, type GraphBuilder } from '../ir/builder.js';
import type { Attribute, Dim, Node, ValueInfo } from '../ir/types.js';
import {
  emitLike,
  normaliseAxis,
  rankOf,
  reshapeLike,
  scalarOf,
  shapeTensor,
  staticShape,
  sumToShape,
  swapLastTwo,
  zerosLike,
} from './shape-helpers.js';

/** What a backward rule sees: the forward node, its typed inputs/outputs and the incoming gradients. */
export interface BackwardContext {
  readonly b: GraphBuilder;
  readonly node: Node;
  /** Forward inputs (`undefined` for omitted optional inputs). */
  readonly inputs: readonly (ValueInfo | undefined)[];
  readonly outputs: readonly ValueInfo[];
  /** Gradient of the loss w.r.t. each output (`undefined` when that output does not reach the loss). */
  readonly grads: readonly (ValueInfo | undefined)[];
  /** Whether a gradient is wanted for each input (others must not be computed). */
  readonly needs: readonly boolean[];
}

/** Reverse-mode rule of one ONNX operator. */
export interface BackwardRule {
  /** Input positions a gradient can flow into (indices, masks, shapes and axes never do). */
  readonly differentiable: readonly number[] | 'all';
  /** Emits gradient nodes into `ctx.b`; returns one gradient per input (`undefined` where not needed). */
  readonly backward: (ctx: BackwardContext) => (ValueInfo | undefined)[];
}

/**
 * Ops whose outputs carry no gradient: integer/boolean results, shape computations and piecewise-constant
 * functions (their derivative is zero almost everywhere).
 */
export const nonDifferentiableOps: ReadonlySet<string> = new Set([
  'Shape',
  'Size',
  'Range',
  'ConstantOfShape',
  'Constant',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Not',
  'ArgMax',
  'ArgMin',
  'NonZero',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'IsNaN',
  'IsInf',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'EyeLike',
]);

// ---- small helpers ----

function intAttr(node: Node, name: string, fallback: number): number {
  const value: Attribute | undefined = node.attributes[name];
  return value?.type === 'int' ? value.value : fallback;
}

function floatAttr(node: Node, name: string, fallback: number): number {
  const value = node.attributes[name];
  return value?.type === 'float' ? value.value : fallback;
}

function intsAttr(node: Node, name: string): number[] | undefined {
  const value = node.attributes[name];
  return value?.type === 'ints' ? [...value.value] : undefined;
}

/** The values of a constant int input (axes, starts, split sizes), or `undefined` when not constant. */
function constantInts(b: GraphBuilder, value: ValueInfo | undefined): number[] | undefined {
  if (!value) return undefined;
  const tensor = b.constantOf(value.name);
  if (!tensor) return undefined;
  return Array.from(tensor.data as ArrayLike<number | bigint>, (entry) => Number(entry));
}

function requireConstantInts(ctx: BackwardContext, index: number, what: string): number[] | undefined {
  const value = ctx.inputs[index];
  if (!value) return undefined;
  const ints = constantInts(ctx.b, value);
  if (!ints) {
    throw new Error(
      `autodiff: ${ctx.node.opType} node '${ctx.node.name}' needs constant ${what} to be differentiated (got the computed value '${value.name}').`,
    );
  }
  return ints;
}

function grad0(ctx: BackwardContext): ValueInfo {
  const grad = ctx.grads[0];
  if (!grad) throw new Error(`autodiff: internal error, no gradient for the output of '${ctx.node.name}'.`);
  return grad;
}

function input(ctx: BackwardContext, index: number): ValueInfo {
  const value = ctx.inputs[index];
  if (!value) throw new Error(`autodiff: ${ctx.node.opType} node '${ctx.node.name}' lacks input ${index}.`);
  return value;
}

/** A unary rule: dx = f(ctx, g, x, y). */
function unary(derivative: (ctx: BackwardContext, g: ValueInfo, x: ValueInfo, y: ValueInfo) => ValueInfo) {
  return {
    differentiable: [0],
    backward: (ctx: BackwardContext) => [
      derivative(ctx, grad0(ctx), input(ctx, 0), ctx.outputs[0] as ValueInfo),
    ],
  } satisfies BackwardRule;
}

/** Elementwise helpers that keep dtypes (scalars in the gradient's dtype). */
function mul(b: GraphBuilder, x: ValueInfo, y: ValueInfo): ValueInfo {
  return b.mul(x, y);
}

function mulScalar(b: GraphBuilder, x: ValueInfo, value: number): ValueInfo {
  return b.mul(x, scalarOf(b, value, x.dtype));
}

// ---- the rules ----

const binary = (
  derivativeA: ((ctx: BackwardContext, g: ValueInfo, a: ValueInfo, bb: ValueInfo) => ValueInfo) | undefined,
  derivativeB: ((ctx: BackwardContext, g: ValueInfo, a: ValueInfo, bb: ValueInfo) => ValueInfo) | undefined,
): BackwardRule => ({
  differentiable: [0, 1],
  backward: (ctx) => {
    const g = grad0(ctx);
    const a = input(ctx, 0);
    const bb = input(ctx, 1);
    return [
      ctx.needs[0] && derivativeA ? sumToShape(ctx.b, derivativeA(ctx, g, a, bb), a) : undefined,
      ctx.needs[1] && derivativeB ? sumToShape(ctx.b, derivativeB(ctx, g, a, bb), bb) : undefined,
    ];
  },
});

const productRule = binary(
  (ctx, g, _a, bb) => mul(ctx.b, g, bb),
  (ctx, g, a) => mul(ctx.b, g, a),
);

function mulRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const [first, second] = ctx.node.inputs;
  if (first !== second) return productRule.backward(ctx);
  // Mul(x, x) (RMSNorm's square): one 2·g·x instead of two contributions and a Sum.
  const x = input(ctx, 0);
  return [ctx.b.mul(grad0(ctx), ctx.b.mul(x, scalarOf(ctx.b, 2, x.dtype))), undefined];
}

function matMulRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const g = grad0(ctx);
  const a = input(ctx, 0);
  const w = input(ctx, 1);
  const rankA = rankOf(a, `MatMul '${ctx.node.name}'`);
  const rankB = rankOf(w, `MatMul '${ctx.node.name}'`);
  if (rankA === 1 || rankB === 1) return matMulVectorRule(ctx, g, a, w);
  let gradA: ValueInfo | undefined;
  let gradB: ValueInfo | undefined;
  if (ctx.needs[0]) {
    // dA = g · Bᵀ, summed over broadcast batch dims.
    const bT = b.transpose(w, swapLastTwo(rankB));
    gradA = sumToShape(b, b.matMul(g, bT), a);
  }
  if (ctx.needs[1]) {
    const [k, n] = (w.shape as Dim[]).slice(-2) as [Dim, Dim];
    if (rankB === 2 && rankA > 2 && typeof k === 'number' && typeof n === 'number') {
      // A linear layer: dW = Aᵀ·g over all rows at once, one GEMM instead of a batched matmul + sum.
      const a2 = b.reshape(a, [-1, k]);
      const g2 = b.reshape(g, [-1, n]);
      gradB = emitLike(b, w, 'Gemm', [a2, g2], { transA: attr.int(1) });
    } else {
      const aT = b.transpose(a, swapLastTwo(rankA));
      gradB = sumToShape(b, b.matMul(aT, g), w);
    }
  }
  return [gradA, gradB];
}

/** MatMul where an operand is a vector: promote to matrices, use the matrix rule, squeeze back. */
function matMulVectorRule(
  ctx: BackwardContext,
  g: ValueInfo,
  a: ValueInfo,
  w: ValueInfo,
): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const aMatrix = a.shape?.length === 1 ? b.unsqueeze(a, [0]) : a;
  const wMatrix = w.shape?.length === 1 ? b.unsqueeze(w, [1]) : w;
  let gMatrix = g;
  if (a.shape?.length === 1) gMatrix = b.unsqueeze(gMatrix, [-2 + (w.shape?.length === 1 ? 1 : 0)]);
  if (w.shape?.length === 1) gMatrix = b.unsqueeze(gMatrix, [-1]);
  const gradA = ctx.needs[0]
    ? reshapeLike(
        b,
        sumToShape(
          b,
          b.matMul(gMatrix, b.transpose(wMatrix, swapLastTwo(wMatrix.shape?.length ?? 2))),
          aMatrix,
        ),
        a,
      )
    : undefined;
  const gradB = ctx.needs[1]
    ? reshapeLike(
        b,
        sumToShape(
          b,
          b.matMul(b.transpose(aMatrix, swapLastTwo(aMatrix.shape?.length ?? 2)), gMatrix),
          wMatrix,
        ),
        w,
      )
    : undefined;
  return [gradA, gradB];
}

function gemmRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b, node } = ctx;
  const g = grad0(ctx);
  const a = input(ctx, 0);
  const w = input(ctx, 1);
  const c = ctx.inputs[2];
  const alpha = floatAttr(node, 'alpha', 1);
  const beta = floatAttr(node, 'beta', 1);
  const transA = intAttr(node, 'transA', 0) === 1;
  const transB = intAttr(node, 'transB', 0) === 1;
  const gemm = (x: ValueInfo, y: ValueInfo, tA: boolean, tB: boolean, like: ValueInfo) =>
    emitLike(b, like, 'Gemm', [x, y], {
      alpha: attr.float(alpha),
      transA: attr.int(tA ? 1 : 0),
      transB: attr.int(tB ? 1 : 0),
    });
  // op(X) = Xᵀ when transX. Y = α·op(A)·op(B) + β·C.
  let gradA: ValueInfo | undefined;
  let gradB: ValueInfo | undefined;
  if (ctx.needs[0]) {
    gradA = transA ? gemm(w, g, transB, true, a) : gemm(g, w, false, !transB, a);
  }
  if (ctx.needs[1]) {
    gradB = transB ? gemm(g, a, true, transA, w) : gemm(a, g, !transA, false, w);
  }
  let gradC: ValueInfo | undefined;
  if (c && ctx.needs[2]) gradC = sumToShape(b, beta === 1 ? g : mulScalar(b, g, beta), c);
  return [gradA, gradB, gradC];
}

/** Axes of a Reduce* node: input 1 (opset ≥ 13 ReduceSum, ≥ 18 others) or the `axes` attribute. */
function reduceAxes(ctx: BackwardContext, rank: number): number[] {
  const fromInput = ctx.inputs[1] ? requireConstantInts(ctx, 1, 'axes') : undefined;
  const axes = fromInput ?? intsAttr(ctx.node, 'axes');
  if (!axes || axes.length === 0) {
    if (intAttr(ctx.node, 'noop_with_empty_axes', 0) === 1) return [];
    return Array.from({ length: rank }, (_, index) => index);
  }
  return axes.map((axis) => normaliseAxis(axis, rank)).sort((x, y) => x - y);
}

function reduceRule(mean: boolean): BackwardRule {
  return {
    differentiable: [0],
    backward: (ctx) => {
      const { b } = ctx;
      const g = grad0(ctx);
      const x = input(ctx, 0);
      const rank = rankOf(x, `${ctx.node.opType} '${ctx.node.name}'`);
      const axes = reduceAxes(ctx, rank);
      if (axes.length === 0) return [g];
      const keepdims = intAttr(ctx.node, 'keepdims', 1) === 1;
      let kept = keepdims ? g : b.unsqueeze(g, axes);
      if (mean) {
        // Scale the reduced (small) gradient before expanding it: one full-size pass instead of two.
        const dims = axes.map((axis) => (x.shape as Dim[])[axis]);
        if (dims.every((dim) => typeof dim === 'number')) {
          const count = (dims as number[]).reduce((p, q) => p * q, 1);
          kept = b.mul(kept, scalarOf(b, 1 / count, x.dtype));
        } else {
          // Symbolic reduced dims: divide by size(x) / size(y) computed at run time.
          const sizeX = b.cast(b.op('Size', [x])[0] as ValueInfo, x.dtype);
          const sizeY = b.cast(b.op('Size', [ctx.outputs[0] as ValueInfo])[0] as ValueInfo, x.dtype);
          kept = b.div(kept, b.div(sizeX, sizeY));
        }
      }
      const expanded = emitLike(b, x, 'Expand', [kept, shapeTensor(b, x)]);
      return [expanded];
    },
  };
}

function softmaxRule(log: boolean): BackwardRule {
  return {
    differentiable: [0],
    backward: (ctx) => {
      const { b } = ctx;
      const g = grad0(ctx);
      const y = ctx.outputs[0] as ValueInfo;
      const rank = rankOf(y, `${ctx.node.opType} '${ctx.node.name}'`);
      const axis = normaliseAxis(intAttr(ctx.node, 'axis', -1), rank);
      const sum = (value: ValueInfo) =>
        b.op('ReduceSum', [value, b.int64s([axis])], { keepdims: attr.int(1) })[0] as ValueInfo;
      if (log) {
        // y = x − logΣexp(x): dx = g − softmax(x)·Σg.
        return [emitLike(b, y, 'Sub', [g, b.mul(b.op('Exp', [y])[0] as ValueInfo, sum(g))])];
      }
      // dx = y·(g − Σ g·y).
      return [emitLike(b, y, 'Mul', [y, b.sub(g, sum(b.mul(g, y)))])];
    },
  };
}

/** Gather along `axis`: scatter-add the gradient rows back into a zero tensor shaped like the data. */
function gatherRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const g = grad0(ctx);
  const data = input(ctx, 0);
  let indices = input(ctx, 1);
  if (indices.dtype !== 'int64') indices = b.cast(indices, 'int64');
  const dataRank = rankOf(data, `Gather '${ctx.node.name}'`);
  const indexRank = rankOf(indices, `Gather '${ctx.node.name}'`);
  const axis = normaliseAxis(intAttr(ctx.node, 'axis', 0), dataRank);
  const columns = b.unsqueeze(indices, [-1]);
  if (axis === 0) {
    return [
      emitLike(b, data, 'ScatterND', [zerosLike(b, data), columns, g], { reduction: attr.string('add') }),
    ];
  }
  // Move `axis` to the front of the data and of the gradient, scatter there, move it back.
  const dataPerm = [axis, ...Array.from({ length: dataRank }, (_, i) => i).filter((i) => i !== axis)];
  const inverse = dataPerm.map((_, i) => dataPerm.indexOf(i));
  const gradPerm = [
    ...Array.from({ length: indexRank }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: dataRank - axis - 1 }, (_, i) => axis + indexRank + i),
  ];
  const movedData = b.transpose(data, dataPerm);
  const scattered = b.op('ScatterND', [zerosLike(b, movedData), columns, b.transpose(g, gradPerm)], {
    reduction: attr.string('add'),
  })[0] as ValueInfo;
  return [emitLike(b, data, 'Transpose', [scattered], { perm: attr.ints(inverse) })];
}

function gatherElementsRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const data = input(ctx, 0);
  return [
    emitLike(b, data, 'ScatterElements', [zerosLike(b, data), input(ctx, 1), grad0(ctx)], {
      axis: attr.int(intAttr(ctx.node, 'axis', 0)),
      reduction: attr.string('add'),
    }),
  ];
}

function sliceRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const data = input(ctx, 0);
  const shape = staticShape(data);
  if (!shape) {
    throw new Error(
      `autodiff: Slice node '${ctx.node.name}' slices '${data.name}' of shape ${JSON.stringify(data.shape)}; its gradient needs a static shape (build the training graph with static dims).`,
    );
  }
  const starts = requireConstantInts(ctx, 1, 'starts') ?? [];
  const ends = requireConstantInts(ctx, 2, 'ends') ?? [];
  const axes = requireConstantInts(ctx, 3, 'axes') ?? starts.map((_, index) => index);
  const steps = requireConstantInts(ctx, 4, 'steps') ?? starts.map(() => 1);
  const before = shape.map(() => 0);
  const after = shape.map(() => 0);
  for (const [position, rawAxis] of axes.entries()) {
    const axis = normaliseAxis(rawAxis, shape.length);
    const dim = shape[axis] as number;
    if (steps[position] !== 1) {
      throw new Error(
        `autodiff: Slice node '${ctx.node.name}' uses step ${steps[position]}; only 1 is supported.`,
      );
    }
    const clamp = (value: number) => Math.min(Math.max(value < 0 ? value + dim : value, 0), dim);
    const start = clamp(starts[position] as number);
    const end = Math.max(start, clamp(ends[position] as number));
    before[axis] = start;
    after[axis] = dim - end;
  }
  return [
    emitLike(b, data, 'Pad', [grad0(ctx), b.int64s([...before, ...after])], {
      mode: attr.string('constant'),
    }),
  ];
}

function concatRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const g = grad0(ctx);
  const parts = ctx.inputs as ValueInfo[];
  const rank = rankOf(g, `Concat '${ctx.node.name}'`);
  const axis = normaliseAxis(intAttr(ctx.node, 'axis', 0), rank);
  const sizes = parts.map((part) => part.shape?.[axis]);
  if (sizes.some((size) => typeof size !== 'number')) {
    throw new Error(
      `autodiff: Concat node '${ctx.node.name}' joins inputs with symbolic sizes ${JSON.stringify(sizes)} on axis ${axis}; its gradient needs static sizes there.`,
    );
  }
  const pieces = b.op(
    'Split',
    [g, b.int64s(sizes as number[])],
    { axis: attr.int(axis) },
    {
      outputs: parts.length,
      outputTypes: parts.map((part) => ({
        dtype: part.dtype,
        shape: part.shape ? [...part.shape] : undefined,
      })),
    },
  );
  return pieces.map((piece, index) => (ctx.needs[index] ? piece : undefined));
}

function splitRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const { b } = ctx;
  const x = input(ctx, 0);
  const rank = rankOf(x, `Split '${ctx.node.name}'`);
  const axis = normaliseAxis(intAttr(ctx.node, 'axis', 0), rank);
  const parts = ctx.outputs.map((output, index) => ctx.grads[index] ?? zerosLike(b, output));
  return [emitLike(b, x, 'Concat', parts, { axis: attr.int(axis) })];
}

function transposeRule(ctx: BackwardContext): (ValueInfo | undefined)[] {
  const x = input(ctx, 0);
  const rank = rankOf(x, `Transpose '${ctx.node.name}'`);
  const perm = intsAttr(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return [emitLike(ctx.b, x, 'Transpose', [grad0(ctx)], { perm: attr.ints(inverse) })];
}

/** Reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze): reshape the gradient back. */
const reshapeRule: BackwardRule = {
  differentiable: [0],
  backward: (ctx) => [reshapeLike(ctx.b, grad0(ctx), input(ctx, 0))],
};

const whereRule: BackwardRule = {
  differentiable: [1, 2],
  backward: (ctx) => {
    const { b } = ctx;
    const g = grad0(ctx);
    const condition = input(ctx, 0);
    const zero = scalarOf(b, 0, g.dtype);
    return [
      undefined,
      ctx.needs[1] ? sumToShape(b, b.where(condition, g, zero), input(ctx, 1)) : undefined,
      ctx.needs[2] ? sumToShape(b, b.where(condition, zero, g), input(ctx, 2)) : undefined,
    ];
  },
};

const castRule: BackwardRule = {
  differentiable: [0],
  backward: (ctx) => {
    const x = input(ctx, 0);
    if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16') return [undefined];
    return [ctx.b.cast(grad0(ctx), x.dtype)];
  },
};

const sumRule: BackwardRule = {
  differentiable: 'all',
  backward: (ctx) =>
    ctx.inputs.map((value, index) =>
      value && ctx.needs[index] ? sumToShape(ctx.b, grad0(ctx), value) : undefined,
    ),
};

const expandRule: BackwardRule = {
  differentiable: [0],
  backward: (ctx) => [sumToShape(ctx.b, grad0(ctx), input(ctx, 0))],
};

/** Every operator with a reverse-mode rule, by ONNX op type (default domain). */
export const backwardRules: ReadonlyMap<string, BackwardRule> = new Map<string, BackwardRule>([
  [
    'Add',
    binary(
      (_, g) => g,
      (_, g) => g,
    ),
  ],
  [
    'Sub',
    binary(
      (_, g) => g,
      (ctx, g) => ctx.b.neg(g),
    ),
  ],
  ['Mul', { differentiable: [0, 1], backward: mulRule }],
  [
    'Div',
    binary(
      (ctx, g, _a, bb) => ctx.b.div(g, bb),
      // d(a/b)/db = −y/b.
      (ctx, g, _a, bb) => ctx.b.neg(ctx.b.div(mul(ctx.b, g, ctx.outputs[0] as ValueInfo), bb)),
    ),
  ],
  [
    'Pow',
    binary(
      (ctx, g, a, bb) => {
        const exponent = bb.dtype === a.dtype ? bb : ctx.b.cast(bb, a.dtype);
        const power = ctx.b.op('Pow', [a, ctx.b.sub(exponent, scalarOf(ctx.b, 1, a.dtype))])[0] as ValueInfo;
        return mul(ctx.b, mul(ctx.b, g, exponent), power);
      },
      (ctx, g, a) => {
        const log = ctx.b.op('Log', [a])[0] as ValueInfo;
        return mul(ctx.b, mul(ctx.b, g, ctx.outputs[0] as ValueInfo), log);
      },
    ),
  ],
  ['Sum', sumRule],
  ['Identity', unary((_, g) => g)],
  ['Neg', unary((ctx, g) => ctx.b.neg(g))],
  ['Exp', unary((ctx, g, _x, y) => mul(ctx.b, g, y))],
  ['Log', unary((ctx, g, x) => ctx.b.div(g, x))],
  ['Sqrt', unary((ctx, g, _x, y) => ctx.b.div(mulScalar(ctx.b, g, 0.5), y))],
  // d(1/x) = −y².
  ['Reciprocal', unary((ctx, g, _x, y) => ctx.b.neg(mul(ctx.b, g, mul(ctx.b, y, y))))],
  [
    'Sigmoid',
    unary((ctx, g, _x, y) => mul(ctx.b, g, mul(ctx.b, y, ctx.b.sub(scalarOf(ctx.b, 1, y.dtype), y)))),
  ],
  ['Tanh', unary((ctx, g, _x, y) => mul(ctx.b, g, ctx.b.sub(scalarOf(ctx.b, 1, y.dtype), mul(ctx.b, y, y))))],
  [
    'Relu',
    unary((ctx, g, x) =>
      ctx.b.where(
        ctx.b.op('Greater', [x, scalarOf(ctx.b, 0, x.dtype)])[0] as ValueInfo,
        g,
        scalarOf(ctx.b, 0, g.dtype),
      ),
    ),
  ],
  ['Abs', unary((ctx, g, x) => mul(ctx.b, g, emitLike(ctx.b, x, 'Sign', [x])))],
  [
    'Erf',
    unary((ctx, g, x) => {
      // d erf(x) = 2/√π · exp(−x²).
      const gaussian = ctx.b.op('Exp', [ctx.b.neg(mul(ctx.b, x, x))])[0] as ValueInfo;
      return mul(ctx.b, mulScalar(ctx.b, g, 2 / Math.sqrt(Math.PI)), gaussian);
    }),
  ],
  ['Cos', unary((ctx, g, x) => ctx.b.neg(mul(ctx.b, g, ctx.b.sin(x))))],
  ['Sin', unary((ctx, g, x) => mul(ctx.b, g, ctx.b.cos(x)))],
  ['Softmax', softmaxRule(false)],
  ['LogSoftmax', softmaxRule(true)],
  ['MatMul', { differentiable: [0, 1], backward: matMulRule }],
  ['Gemm', { differentiable: [0, 1, 2], backward: gemmRule }],
  ['ReduceSum', reduceRule(false)],
  ['ReduceMean', reduceRule(true)],
  ['Gather', { differentiable: [0], backward: gatherRule }],
  ['GatherElements', { differentiable: [0], backward: gatherElementsRule }],
  ['Slice', { differentiable: [0], backward: sliceRule }],
  ['Concat', { differentiable: 'all', backward: concatRule }],
  ['Split', { differentiable: [0], backward: splitRule }],
  ['Transpose', { differentiable: [0], backward: transposeRule }],
  ['Reshape', reshapeRule],
  ['Flatten', reshapeRule],
  ['Squeeze', reshapeRule],
  ['Unsqueeze', reshapeRule],
  ['Expand', expandRule],
  ['Where', whereRule],
  ['Cast', castRule],
]);
