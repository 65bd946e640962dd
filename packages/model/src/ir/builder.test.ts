import { InvalidArgumentError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { loadOrt } from '../testing/ort.js';
import { attr, GraphBuilder } from './builder.js';
import { serializeModel } from './serialize.js';

describe('GraphBuilder shape inference', () => {
  it('broadcasts elementwise ops, keeping symbolic dims', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    const w = b.constant({ dtype: 'float32', dims: [8], data: new Float32Array(8) });
    expect(b.add(x, w).shape).toEqual(['batch', 'seq', 8]);
    const column = b.input('c', 'float32', ['seq', 1]);
    expect(b.mul(column, w).shape).toEqual(['seq', 8]);
    expect(() => b.add(x, b.constant({ dtype: 'float32', dims: [3], data: new Float32Array(3) }))).toThrow(
      /Add node .*cannot broadcast dimensions 8 and 3/,
    );
  });

  it('infers MatMul with broadcast batch dims, Transpose, Reshape with 0 and −1', () => {
    const b = new GraphBuilder();
    const q = b.input('q', 'float32', ['B', 2, 3, 'S', 16]);
    const k = b.input('k', 'float32', ['B', 2, 1, 16, 'T']);
    expect(b.matMul(q, k).shape).toEqual(['B', 2, 3, 'S', 'T']);
    const h = b.input('h', 'float32', ['B', 6, 'S', 16]);
    expect(b.reshape(h, [0, 2, 3, -1, 16]).shape).toEqual(['B', 2, 3, 'S', 16]);
    expect(b.transpose(h, [0, 2, 1, 3]).shape).toEqual(['B', 'S', 6, 16]);
    expect(b.reshape(b.input('flat', 'float32', [4, 6]), [-1, 3]).shape).toEqual([8, 3]);
  });

  it('infers Gather, Concat (summing symbolic dims), Slice, Split, ReduceMean, Cast, Where', () => {
    const b = new GraphBuilder();
    const table = b.input('table', 'float32', [100, 8]);
    const ids = b.input('ids', 'int64', ['B', 'S']);
    expect(b.gather(table, ids).shape).toEqual(['B', 'S', 8]);
    const past = b.input('past', 'float32', ['B', 2, 'P', 4]);
    const now = b.input('now', 'float32', ['B', 2, 'S', 4]);
    expect(b.concat([past, now], 2).shape).toEqual(['B', 2, 'P+S', 4]);
    const x = b.input('x', 'float32', [2, 10, 6]);
    expect(b.slice(x, [2], [7], [1]).shape).toEqual([2, 5, 6]);
    expect(b.slice(x, [-3], [Number.MAX_SAFE_INTEGER], [1]).shape).toEqual([2, 3, 6]);
    expect(b.split(x, [2, 4], -1).map((value) => value.shape)).toEqual([
      [2, 10, 2],
      [2, 10, 4],
    ]);
    expect(b.reduceMean(x, [-1], true).shape).toEqual([2, 10, 1]);
    expect(b.cast(ids, 'float32').dtype).toBe('float32');
    const cond = b.input('cond', 'bool', [10, 1]);
    const picked = b.where(cond, x, b.scalar(0));
    expect(picked.shape).toEqual([2, 10, 6]);
    expect(picked.dtype).toBe('float32');
  });

  it('asks for output types of ops it does not know', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    expect(() => b.op('MyCustomOp', [x])).toThrow(/can't infer the outputs of MyCustomOp/);
    const [y] = b.op(
      'MyCustomOp',
      [x],
      {},
      { domain: 'custom', outputTypes: [{ dtype: 'float32', shape: [2] }] },
    );
    expect(y?.shape).toEqual([2]);
  });

  it('shares identical small constants, tracks parameters, renames outputs and scopes names', () => {
    const b = new GraphBuilder();
    expect(b.int64s([1, 2]).name).toBe(b.int64s([1, 2]).name);
    expect(b.scalar(1).name).not.toBe(b.scalar(2).name);
    const x = b.input('x', 'float32', [1, 4]);
    const w = b.parameter('w', { dtype: 'float32', dims: [4, 4] }, 'input');
    const y = b.scoped('layer', () => b.matMul(x, w));
    expect(y.name.startsWith('layer/')).toBe(true);
    b.output(y, 'y');
    const graph = b.build();
    expect(graph.parameters).toEqual(['w']);
    expect(graph.inputs.map((input) => input.name)).toEqual(['x', 'w']);
    expect(graph.nodes.at(-1)?.outputs).toEqual(['y']);
    expect(() => new GraphBuilder().build()).toThrow(/no outputs/);
  });
});

describe('GraphBuilder renames', () => {
  it('keeps handles taken before a rename usable and reserves the old name', async () => {
    const ort = await loadOrt();
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    const doubled = b.add(x, x);
    b.output(doubled, 'doubled');
    // `doubled` still has its old name; the new node must read 'doubled'.
    const tripled = b.add(doubled, x);
    b.output(tripled, 'tripled');
    const graph = b.build();
    expect(graph.nodes.at(-1)?.inputs).toEqual(['doubled', 'x']);
    expect(graph.values.has(doubled.name)).toBe(false);
    expect(() => b.input(doubled.name, 'float32', [1])).toThrow(/duplicate value name/);
    const session = await ort.InferenceSession.create(serializeModel(graph), { logSeverityLevel: 3 });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
    expect(Array.from(out.tripled?.data as Float32Array)).toEqual([3, 6]);
    expect(Array.from(out.doubled?.data as Float32Array)).toEqual([2, 4]);
  });
});

describe('serializeModel', () => {
  it('refuses graphs beyond the 2 GiB protobuf limit and points to external data', () => {
    const b = new GraphBuilder({ name: 'big' });
    const x = b.input('x', 'float32', [1]);
    // Only byteLength is read before refusing, so a stand-in for a 3 GiB tensor is enough.
    const huge = { byteLength: 3 * 2 ** 30, length: 3 * 2 ** 28 } as unknown as Float32Array;
    b.output(
      b.add(x, b.parameter('w', { dtype: 'float32', dims: [3 * 2 ** 28], data: huge }, 'initializer')),
      'y',
    );
    const error = (() => {
      try {
        serializeModel(b.build());
      } catch (caught) {
        return caught;
      }
    })();
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /3.00 GiB of weights, more than an ONNX file can hold inline.*external data/,
    );
  });

  it('writes a model onnxruntime-node runs (affine + attribute types)', async () => {
    const ort = await loadOrt();
    const b = new GraphBuilder({ name: 'affine' });
    const x = b.input('x', 'float32', ['batch_size', 3]);
    const w = b.parameter(
      'w',
      { dtype: 'float32', dims: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
      'initializer',
    );
    const y = b.add(b.matMul(x, w), b.scalar(0.5));
    const [softmax] = b.op('Softmax', [y], { axis: attr.int(-1) });
    b.output(y, 'y');
    b.output(softmax as never, 'p');
    const session = await ort.InferenceSession.create(serializeModel(b.build()), { logSeverityLevel: 3 });
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y', 'p']);
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.of(1, 0, -1, 2, 1, 0), [2, 3]),
    });
    // [1,0,-1]·W = [1−5, 2−6] = [−4, −4]; [2,1,0]·W = [2+3, 4+4] = [5, 8]; plus 0.5
    expect(Array.from(out.y?.data as Float32Array)).toEqual([-3.5, -3.5, 5.5, 8.5]);
    const p = out.p?.data as Float32Array;
    expect(p[0]).toBeCloseTo(0.5, 6);
    expect(p[3]).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
  });
});
