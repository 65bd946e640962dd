import type * as Ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../ir/builder.js';
import { serializeModel } from '../ir/serialize.js';
import type { Dim, DType, TensorData, ValueInfo } from '../ir/types.js';
import { SeededRandom } from '../prng.js';
import { loadOrt, type OrtModule } from '../testing/ort.js';
import { buildGradients } from './gradients.js';

// Finite-difference checks of every backward rule. Graphs run in float64 in onnxruntime-node, so the
// central difference (h = 1e-5) has truncation error ~h²·f''' ≈ 1e-10 and rounding error ~1e-16/h ≈ 1e-11:
// a relative tolerance of 1e-6 leaves a wide margin while still catching any wrong rule (a wrong sign,
// a missing broadcast reduction or a transposed product is off by O(1)).

let ort: OrtModule;
beforeAll(async () => {
  ort = await loadOrt();
});

interface InputSpec {
  name: string;
  shape: number[];
  /** `positive`: values in [0.5, 2] (Log, Sqrt, Div, Pow); `awayFromZero`: |x| in [0.2, 1.5] (Relu, Abs). */
  range?: 'normal' | 'positive' | 'awayFromZero';
}

interface CheckOptions {
  dtype?: DType;
  /** Relative tolerance against max |gradient|. */
  tolerance?: number;
  step?: number;
  seed?: number;
  /** Declare the inputs with these (symbolic) shapes instead of their static ones. */
  declaredShapes?: Dim[][];
  /** The output's run-time shape, when it is symbolic in the graph. */
  outputShape?: number[];
}

function randomValues(spec: InputSpec, random: SeededRandom, dtype: DType): Float64Array | Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'float64' ? new Float64Array(count) : new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = random.nextFloat();
    if (spec.range === 'positive') values[i] = 0.5 + 1.5 * u;
    else if (spec.range === 'awayFromZero') values[i] = (u < 0.5 ? -1 : 1) * (0.2 + 1.3 * random.nextFloat());
    else values[i] = random.nextNormal();
  }
  return values;
}

interface GradientCheck {
  /** max |analytic − finite difference| / max(|analytic|, 1e-3), per input. */
  errors: Record<string, number>;
  analytic: Record<string, Float64Array>;
  nodeCount: number;
}

/**
 * Builds `f(inputs)`, the scalar loss L = Σ f(x)·r with a fixed random r, and its gradient graph; returns
 * the relative error of each analytic gradient against central finite differences of L.
 */
async function checkGradients(
  specs: InputSpec[],
  build: (b: GraphBuilder, inputs: ValueInfo[]) => ValueInfo,
  options: CheckOptions = {},
): Promise<GradientCheck> {
  const dtype = options.dtype ?? 'float64';
  const random = new SeededRandom(options.seed ?? 7);
  const b = new GraphBuilder({ name: 'check' });
  const inputs = specs.map((spec, index) =>
    b.input(spec.name, dtype, options.declaredShapes?.[index] ?? spec.shape),
  );
  const y = build(b, inputs);
  const yShape = options.outputShape ?? (y.shape as number[]);
  const weights = randomValues({ name: 'r', shape: yShape }, random, dtype);
  const r = b.constant({ dtype, dims: yShape, data: weights } as TensorData, 'r');
  const loss = b.op('ReduceSum', [b.mul(y, r)], { keepdims: attr.int(0) })[0] as ValueInfo;
  const before = b.nodeList().length;
  const grads = buildGradients(b, loss, inputs);
  const nodeCount = b.nodeList().length - before;
  b.output(loss, 'loss');
  for (const spec of specs) b.output(grads.get(spec.name) as ValueInfo, `d_${spec.name}`);
  const session = await ort.InferenceSession.create(serializeModel(b.build()), { logSeverityLevel: 3 });
  const values = specs.map((spec) => randomValues(spec, random, dtype));
  const tensorType = dtype === 'float64' ? 'float64' : 'float32';
  const feeds = (): Record<string, Ort.Tensor> =>
    Object.fromEntries(
      specs.map((spec, i) => [spec.name, new ort.Tensor(tensorType, values[i] as Float64Array, spec.shape)]),
    );
  const base = await session.run(feeds());
  const lossAt = async () => Number(((await session.run(feeds())).loss as Ort.Tensor).data[0]);
  const errors: Record<string, number> = {};
  const analytic: Record<string, Float64Array> = {};
  const h = options.step ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  for (const [index, spec] of specs.entries()) {
    const data = values[index] as Float64Array;
    const grad = Float64Array.from((base[`d_${spec.name}`] as Ort.Tensor).data as Float64Array);
    analytic[spec.name] = grad;
    let maxError = 0;
    let maxGrad = 1e-3;
    for (let i = 0; i < data.length; i++) {
      const original = data[i] as number;
      data[i] = original + h;
      const plus = await lossAt();
      data[i] = original - h;
      const minus = await lossAt();
      data[i] = original;
      const numeric = (plus - minus) / (2 * h);
      maxError = Math.max(maxError, Math.abs(numeric - (grad[i] as number)));
      maxGrad = Math.max(maxGrad, Math.abs(grad[i] as number));
    }
    errors[spec.name] = maxError / maxGrad;
  }
  await session.release();
  return { errors, analytic, nodeCount };
}

function expectClose(check: GradientCheck, tolerance = 1e-6): void {
  for (const [name, error] of Object.entries(check.errors)) {
    expect(error, `relative FD error of d/d${name}`).toBeLessThan(tolerance);
  }
}

const reduceSumAll = (b: GraphBuilder, x: ValueInfo) =>
  b.op('ReduceSum', [x], { keepdims: attr.int(0) })[0] as ValueInfo;

describe('backward rules match float64 finite differences', () => {
  it.each([
    ['Add', [2, 3, 4], [3, 1]],
    ['Add', [4], [2, 3, 4]],
    ['Sub', [2, 1, 4], [3, 4]],
    ['Mul', [2, 3, 4], [1, 3, 1]],
    ['Mul', [3, 4], [3, 4]],
  ])('%s with broadcasting %j ⊕ %j', async (op, shapeA, shapeB) => {
    const check = await checkGradients(
      [
        { name: 'a', shape: shapeA as number[] },
        { name: 'b', shape: shapeB as number[] },
      ],
      (b, [a, c]) => b.op(op as string, [a as ValueInfo, c as ValueInfo])[0] as ValueInfo,
    );
    expectClose(check);
  });

  it('Mul of a value with itself (the RMSNorm square)', async () => {
    const check = await checkGradients([{ name: 'x', shape: [2, 3] }], (b, [x]) =>
      b.mul(x as ValueInfo, x as ValueInfo),
    );
    expectClose(check);
  });

  it('Div with broadcasting', async () => {
    const check = await checkGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3], range: 'positive' },
      ],
      (b, [a, c]) => b.div(a as ValueInfo, c as ValueInfo),
    );
    expectClose(check);
  });

  it('Pow with a tensor exponent and with a constant exponent', async () => {
    const tensorExponent = await checkGradients(
      [
        { name: 'a', shape: [2, 3], range: 'positive' },
        { name: 'e', shape: [3] },
      ],
      (b, [a, e]) => b.op('Pow', [a as ValueInfo, e as ValueInfo])[0] as ValueInfo,
    );
    expectClose(tensorExponent);
    const square = await checkGradients([{ name: 'a', shape: [5] }], (b, [a]) =>
      b.mul(b.op('Pow', [a as ValueInfo, b.scalar(3, 'float64')])[0] as ValueInfo, b.scalar(0.5, 'float64')),
    );
    expectClose(square);
  });

  it.each([
    ['Neg', 'normal'],
    ['Exp', 'normal'],
    ['Log', 'positive'],
    ['Sqrt', 'positive'],
    ['Reciprocal', 'positive'],
    ['Sigmoid', 'normal'],
    ['Tanh', 'normal'],
    ['Relu', 'awayFromZero'],
    ['Abs', 'awayFromZero'],
    ['Cos', 'normal'],
    ['Sin', 'normal'],
    ['Identity', 'normal'],
  ] as const)('%s', async (op, range) => {
    const check = await checkGradients(
      [{ name: 'x', shape: [2, 3], range }],
      (b, [x]) => b.op(op, [x as ValueInfo])[0] as ValueInfo,
    );
    expectClose(check);
  });

  it('Erf (ORT has no float64 Erf: float32, h = 1e-2, truncation h²·|erf‴|/6 < 1e-4, tolerance 1e-3)', async () => {
    const check = await checkGradients(
      [{ name: 'x', shape: [2, 3] }],
      (b, [x]) => b.op('Erf', [x as ValueInfo])[0] as ValueInfo,
      { dtype: 'float32' },
    );
    expectClose(check, 1e-3);
  });

  it.each([
    ['Softmax', -1],
    ['Softmax', 1],
    ['LogSoftmax', -1],
    ['LogSoftmax', 0],
  ] as const)('%s over axis %d', async (op, axis) => {
    const check = await checkGradients(
      [{ name: 'x', shape: [2, 3, 4] }],
      (b, [x]) => b.op(op, [x as ValueInfo], { axis: attr.int(axis) })[0] as ValueInfo,
    );
    expectClose(check);
  });

  it.each([
    [
      [2, 3, 4],
      [4, 5],
    ],
    [
      [2, 1, 3, 4],
      [3, 4, 5],
    ],
    [
      [2, 3, 4],
      [2, 4, 5],
    ],
    [
      [3, 4],
      [4, 5],
    ],
    [[4], [4, 5]],
    [[3, 4], [4]],
    [[4], [4]],
    [[2, 3, 4], [4]],
  ])('MatMul %j × %j', async (shapeA, shapeB) => {
    const check = await checkGradients(
      [
        { name: 'a', shape: shapeA },
        { name: 'b', shape: shapeB },
      ],
      (b, [a, c]) => b.matMul(a as ValueInfo, c as ValueInfo),
    );
    expectClose(check);
  });

  it.each([
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ])('Gemm transA=%d transB=%d with alpha, beta and a broadcast C', async (transA, transB) => {
    const check = await checkGradients(
      [
        { name: 'a', shape: transA ? [4, 3] : [3, 4] },
        { name: 'b', shape: transB ? [5, 4] : [4, 5] },
        { name: 'c', shape: [5] },
      ],
      (b, [a, w, c]) =>
        b.op('Gemm', [a as ValueInfo, w as ValueInfo, c as ValueInfo], {
          alpha: attr.float(0.75),
          beta: attr.float(-1.5),
          transA: attr.int(transA),
          transB: attr.int(transB),
        })[0] as ValueInfo,
    );
    expectClose(check);
  });

  it.each([
    ['ReduceSum', [1], 1],
    ['ReduceSum', [0, -1], 0],
    ['ReduceSum', undefined, 0],
    ['ReduceMean', [-1], 1],
    ['ReduceMean', [0, 2], 0],
    ['ReduceMean', undefined, 1],
  ] as const)('%s over axes %j, keepdims %d', async (op, axes, keepdims) => {
    const check = await checkGradients(
      [{ name: 'x', shape: [2, 3, 4] }],
      (b, [x]) =>
        b.op(op, axes ? [x as ValueInfo, b.int64s(axes)] : [x as ValueInfo], {
          keepdims: attr.int(keepdims),
        })[0] as ValueInfo,
    );
    expectClose(check);
  });

  it('ReduceMean and Reshape over symbolic dims (run-time sizes and shapes)', async () => {
    const check = await checkGradients(
      [{ name: 'x', shape: [3, 2, 4] }],
      (b, [x]) => {
        // Mean over the symbolic axis 1 ([n, 1, 4], a static 1 that broadcasts back), then a reshape with
        // a run-time target shape.
        const mean = b.reduceMean(x as ValueInfo, [1], true);
        return b.reshape(b.mul(x as ValueInfo, mean), [0, -1]);
      },
      { declaredShapes: [['n', 'm', 4]], outputShape: [3, 8] },
    );
    expectClose(check);
  });

  it('Gather along axis 0 with repeated indices (embedding rows are scatter-added)', async () => {
    const check = await checkGradients([{ name: 'table', shape: [5, 3] }], (b, [table]) => {
      const ids = b.constant({
        dtype: 'int64',
        dims: [2, 3],
        data: BigInt64Array.of(1n, 4n, 1n, 0n, 1n, 2n),
      });
      return b.gather(table as ValueInfo, ids);
    });
    expectClose(check);
    // Row 3 is never gathered: its gradient must be exactly zero.
    expect(Array.from(check.analytic.table?.subarray(9, 12) ?? [])).toEqual([0, 0, 0]);
  });

  it('Gather along axis 1 with a matrix of indices', async () => {
    const check = await checkGradients([{ name: 'x', shape: [2, 4, 3] }], (b, [x]) => {
      const ids = b.constant({ dtype: 'int64', dims: [2, 2], data: BigInt64Array.of(3n, 0n, 3n, 1n) });
      return b.gather(x as ValueInfo, ids, 1);
    });
    expectClose(check);
  });

  it('GatherElements along the last axis', async () => {
    const check = await checkGradients([{ name: 'x', shape: [2, 3, 4] }], (b, [x]) => {
      const ids = b.constant({
        dtype: 'int64',
        dims: [2, 3, 1],
        data: BigInt64Array.of(0n, 3n, 3n, 1n, 2n, 2n),
      });
      return b.op('GatherElements', [x as ValueInfo, ids], { axis: attr.int(-1) })[0] as ValueInfo;
    });
    expectClose(check);
  });

  it('Slice with positive, negative and open-ended bounds', async () => {
    const check = await checkGradients([{ name: 'x', shape: [3, 6, 4] }], (b, [x]) =>
      b.slice(x as ValueInfo, [1, -3], [3, Number.MAX_SAFE_INTEGER], [1, 2]),
    );
    expectClose(check);
  });

  it('Concat of two inputs and a constant; Split with one output unused', async () => {
    const concat = await checkGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [2, 2] },
      ],
      (b, [a, c]) => {
        const constant = b.constant({ dtype: 'float64', dims: [2, 1], data: Float64Array.of(1, 2) });
        return b.concat([a as ValueInfo, constant, c as ValueInfo], -1);
      },
    );
    expectClose(concat);
    const split = await checkGradients([{ name: 'x', shape: [2, 5] }], (b, [x]) => {
      const [, middle, last] = b.split(x as ValueInfo, [1, 2, 2], 1) as [ValueInfo, ValueInfo, ValueInfo];
      return b.mul(middle, last);
    });
    expectClose(split);
    // The unused first column gets a zero gradient.
    expect(split.analytic.x?.[0]).toBe(0);
    expect(split.analytic.x?.[5]).toBe(0);
  });

  it('Transpose, Reshape, Unsqueeze, Squeeze, Flatten, Expand', async () => {
    const check = await checkGradients([{ name: 'x', shape: [2, 3, 4] }], (b, [x]) => {
      const t = b.transpose(x as ValueInfo, [2, 0, 1]);
      const r = b.reshape(t, [4, 6]);
      const u = b.unsqueeze(r, [0, 2]);
      const s = b.op('Squeeze', [u, b.int64s([0])])[0] as ValueInfo;
      const f = b.op(
        'Flatten',
        [s],
        { axis: attr.int(1) },
        { outputTypes: [{ dtype: 'float64', shape: [4, 6] }] },
      )[0] as ValueInfo;
      return b.op('Expand', [b.reshape(f, [4, 1, 6]), b.int64s([4, 2, 6])])[0] as ValueInfo;
    });
    expectClose(check);
  });

  it('Where with a broadcast condition and both branches', async () => {
    const check = await checkGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3] },
      ],
      (b, [a, c]) => {
        const condition = b.constant({ dtype: 'bool', dims: [2, 1], data: Uint8Array.of(1, 0) });
        return b.where(condition, a as ValueInfo, c as ValueInfo);
      },
    );
    expectClose(check);
  });

  it('Sum (variadic, broadcasting) and Cast float64 → float64', async () => {
    const check = await checkGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3] },
      ],
      (b, [a, c]) => {
        const summed = b.op(
          'Sum',
          [a as ValueInfo, c as ValueInfo, a as ValueInfo],
          {},
          {
            outputTypes: [{ dtype: 'float64', shape: [2, 3] }],
          },
        )[0] as ValueInfo;
        return b.cast(summed, 'float64');
      },
    );
    expectClose(check);
  });

  it('Cast through float32 (FD resolution is float32: h = 1e-2, tolerance 1e-4)', async () => {
    const check = await checkGradients(
      [{ name: 'x', shape: [2, 3] }],
      (b, [x]) => b.cast(b.mul(b.cast(x as ValueInfo, 'float32'), b.scalar(3)), 'float64'),
      { step: 1e-2 },
    );
    expectClose(check, 1e-4);
  });

  it('RMSNorm as the decoder emits it (ReduceMean, Sqrt, Reciprocal, broadcast Mul)', async () => {
    const check = await checkGradients(
      [
        { name: 'x', shape: [2, 3, 8] },
        { name: 'w', shape: [8] },
      ],
      (b, [x, w]) => {
        const xv = x as ValueInfo;
        const variance = b.reduceMean(b.mul(xv, xv), [-1], true);
        const inverse = b.reciprocal(b.sqrt(b.add(variance, b.scalar(1e-6, 'float64'))));
        return b.mul(b.mul(xv, inverse), w as ValueInfo);
      },
    );
    expectClose(check);
  });

  it('rotary embedding as the decoder emits it (Split, Neg, Concat, Mul by constant tables)', async () => {
    const random = new SeededRandom(3);
    const table = (name: string) =>
      Float64Array.from({ length: 5 * 8 }, () => (name === 'cos' ? Math.cos : Math.sin)(random.nextNormal()));
    const check = await checkGradients([{ name: 'x', shape: [2, 2, 5, 8] }], (b, [x]) => {
      const xv = x as ValueInfo;
      const cos = b.constant({ dtype: 'float64', dims: [1, 1, 5, 8], data: table('cos') });
      const sin = b.constant({ dtype: 'float64', dims: [1, 1, 5, 8], data: table('sin') });
      const [x1, x2] = b.split(xv, [4, 4], -1) as [ValueInfo, ValueInfo];
      const rotated = b.concat([b.neg(x2), x1], -1);
      return b.add(b.mul(xv, cos), b.mul(rotated, sin));
    });
    expectClose(check);
  });

  it('a value used several times accumulates every contribution', async () => {
    const check = await checkGradients([{ name: 'x', shape: [4] }], (b, [x]) => {
      const xv = x as ValueInfo;
      return b.add(b.mul(xv, b.op('Exp', [xv])[0] as ValueInfo), b.mul(b.sigmoid(xv), xv));
    });
    expectClose(check);
  });
});

describe('gradients only where needed', () => {
  it('computes no gradient into constants: d(x·c)/dx is a single Mul by c', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [3]);
    const c = b.constant({ dtype: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) }, 'c');
    const loss = reduceSumAll(b, b.mul(x, c));
    const before = b.nodeList().length;
    buildGradients(b, loss, [x]);
    const emitted = b.nodeList().slice(before);
    const products = emitted.filter((node) => node.opType === 'Mul');
    expect(products).toHaveLength(1);
    expect(products[0]?.inputs).toContain(c.name);
    expect(products[0]?.inputs).not.toContain(x.name);
  });

  it('does not differentiate through masks, indices or shape computations', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 4]);
    const ids = b.input('ids', 'int64', [2, 4]);
    const mask = b.op('Greater', [b.cast(ids, 'float32'), b.scalar(1)])[0] as ValueInfo;
    const masked = b.where(mask, x, b.scalar(-1e9));
    const loss = reduceSumAll(b, b.softmax(masked, -1));
    const maskNodes = new Set(
      b
        .nodeList()
        .map((node) => node.name)
        .filter(
          (name) => !name.startsWith('Where') && !name.startsWith('Softmax') && !name.startsWith('ReduceSum'),
        ),
    );
    buildGradients(b, loss, [x]);
    const backward = b.nodeList().filter((node) => node.name.startsWith('grad/'));
    for (const node of backward) {
      const forwardName = node.name.split('/')[1] ?? '';
      expect(maskNodes.has(forwardName), `backward node ${node.name}`).toBe(false);
    }
  });

  it('names the node and suggests the fix when an op has no rule', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 4]);
    const w = b.input('w', 'float32', [4]);
    const y = b.op('SimplifiedLayerNormalization', [x, w], { epsilon: attr.float(1e-6) })[0] as ValueInfo;
    expect(() => buildGradients(b, reduceSumAll(b, y), [w])).toThrow(
      /no backward rule for SimplifiedLayerNormalization \(node 'SimplifiedLayerNormalization_\d+'\).*norm: 'primitive'/,
    );
  });

  it('returns zeros for an input the output does not depend on, or undefined on request', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    const unused = b.input('unused', 'float32', [3]);
    const loss = reduceSumAll(b, x);
    expect(buildGradients(b, loss, [x, unused]).get('unused')?.shape).toEqual([3]);
    expect(buildGradients(b, loss, [unused], { unconnected: 'undefined' }).get('unused')).toBeUndefined();
  });

  it('requires a seed for a non-scalar output', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    expect(() => buildGradients(b, b.op('Exp', [x])[0] as ValueInfo, [x])).toThrow(/pass options.seed/);
  });
});
