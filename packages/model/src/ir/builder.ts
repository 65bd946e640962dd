import { type InferenceContext, inferNode, onnxDataType } from './shapes.js';
import type { Attribute, DType, Dim, Graph, Node, TensorData, ValueInfo } from './types.js';

/** Attribute constructors: `attr.int(1)`, `attr.float(1e-6)`, `attr.ints([0, 2, 1, 3])`, … */
export const attr = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value }),
  tensor: (value: TensorData): Attribute => ({ type: 'tensor', value }),
};

/** Options for one node. */
export interface NodeOptions {
  /** Node name (default: `<OpType>_<n>`). */
  name?: string;
  /** Operator domain (default `''`, the ONNX domain). */
  domain?: string;
  /** Number of outputs (default 1, or what shape inference says). */
  outputs?: number;
  /** Names for the outputs (default: `<node name>_out<i>`). */
  outputNames?: string[];
  /** Output types, required for ops the IR can't infer. */
  outputTypes?: { dtype: DType; shape: Dim[] | undefined }[];
}

/** Where a parameter lives: embedded in the graph (inference) or fed at run time (training). */
export type ParameterMode = 'initializer' | 'input';

/**
 * Builds a {@link Graph} op by op, tracking dtypes and static shapes (symbolic dims stay names) so that a
 * later pass (serialisation, reverse-mode autodiff) needs no ONNX shape inference.
 *
 * @example
 * const b = new GraphBuilder({ name: 'affine' });
 * const x = b.input('x', 'float32', ['batch_size', 4]);
 * const w = b.parameter('w', { dtype: 'float32', dims: [4, 2], data: new Float32Array(8) }, 'initializer');
 * b.output(b.matMul(x, w), 'y');
 * const graph = b.build();
 */
export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly nodes: Node[] = [];
  private readonly initializers = new Map<string, TensorData>();
  private readonly constants = new Set<string>();
  private readonly values = new Map<string, ValueInfo>();
  private readonly parameterNames: string[] = [];
  private readonly constantCache = new Map<string, ValueInfo>();
  private readonly usedNames = new Set<string>();
  /** Old name → new name for renamed values, so handles taken before a rename stay usable. */
  private readonly aliases = new Map<string, string>();
  private nodeCounter = 0;
  private unknownCounter = 0;
  private scopePrefix = '';

  constructor(options: { name?: string; opset?: number } = {}) {
    this.name = options.name ?? 'graph';
    this.opset = options.opset ?? 18;
  }

  /** Looks up a value by name. */
  value(name: string): ValueInfo {
    const value = this.values.get(name);
    if (!value) throw new Error(`GraphBuilder: no value named '${name}'.`);
    return value;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DType, shape: readonly Dim[]): ValueInfo {
    const value = this.register({ name, dtype, shape: [...shape] });
    this.inputs.push(value);
    return value;
  }

  /**
   * Declares a trainable parameter. `initializer` embeds `tensor` in the graph; `input` makes it a graph
   * input of the same dtype and shape (the data, if any, is ignored).
   */
  parameter(
    name: string,
    tensor: TensorData | { dtype: DType; dims: readonly number[] },
    mode: ParameterMode,
  ): ValueInfo {
    const value = this.register({ name, dtype: tensor.dtype, shape: [...tensor.dims] });
    this.parameterNames.push(name);
    if (mode === 'input') this.inputs.push(value);
    else {
      if (!('data' in tensor))
        throw new Error(`GraphBuilder: parameter '${name}' needs data to be an initializer.`);
      this.initializers.set(name, tensor);
    }
    return value;
  }

  /** Adds a non-trainable constant tensor (an initializer). Small identical constants are shared. */
  constant(tensor: TensorData, nameHint = 'const'): ValueInfo {
    const small = tensor.data.length <= 16;
    const key = small
      ? `${tensor.dtype}|${tensor.dims.join(',')}|${Array.from(tensor.data as ArrayLike<unknown>).join(',')}`
      : '';
    const cached = small ? this.constantCache.get(key) : undefined;
    if (cached) return cached;
    const value = this.register({
      name: this.uniqueName(nameHint),
      dtype: tensor.dtype,
      shape: [...tensor.dims],
    });
    this.initializers.set(value.name, tensor);
    this.constants.add(value.name);
    if (small) this.constantCache.set(key, value);
    return value;
  }

  /** An int64 vector constant (shapes, axes, starts/ends). */
  int64s(values: readonly number[]): ValueInfo {
    return this.constant({
      dtype: 'int64',
      dims: [values.length],
      data: BigInt64Array.from(values, (value) => BigInt(value)),
    });
  }

  /** A scalar constant of the given dtype (shape `[]`). */
  scalar(value: number, dtype: DType = 'float32'): ValueInfo {
    const data =
      dtype === 'int64'
        ? BigInt64Array.of(BigInt(value))
        : dtype === 'float32'
          ? Float32Array.of(value)
          : dtype === 'int32'
            ? Int32Array.of(value)
            : dtype === 'float64'
              ? Float64Array.of(value)
              : dtype === 'bool'
                ? Uint8Array.of(value ? 1 : 0)
                : undefined;
    if (!data) throw new Error(`GraphBuilder.scalar: dtype ${dtype} is not supported.`);
    return this.constant({ dtype, dims: [], data });
  }

  /** The constant tensor behind a value, if it is a constant initializer. */
  constantOf(name: string): TensorData | undefined {
    return this.constants.has(name) ? this.initializers.get(name) : undefined;
  }

  /** The nodes added so far, in topological order (a read-only view for passes such as autodiff). */
  nodeList(): readonly Node[] {
    return this.nodes;
  }

  /** Adds a node of any op type; outputs are typed by shape inference or `options.outputTypes`. */
  op(
    opType: string,
    inputs: readonly (ValueInfo | null)[],
    attributes: Record<string, Attribute> = {},
    options: NodeOptions = {},
  ): ValueInfo[] {
    const name = options.name ?? this.uniqueName(opType);
    const inputNames = inputs.map((input) => (input ? this.resolveName(input.name) : ''));
    const context: InferenceContext = {
      constantOf: (valueName) => this.constantOf(valueName),
      unknownDim: () => `unk_${this.unknownCounter++}`,
    };
    let types: { dtype: DType; shape: Dim[] | undefined }[] | undefined = options.outputTypes;
    if (!types) {
      try {
        types = inferNode(
          opType,
          inputs.map((input) => input ?? undefined),
          attributes,
          inputNames,
          context,
        );
      } catch (error) {
        throw new Error(
          `GraphBuilder: shape inference failed for ${opType} node '${name}': ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
    if (!types) {
      throw new Error(
        `GraphBuilder: can't infer the outputs of ${opType} node '${name}'; pass options.outputTypes.`,
      );
    }
    const count = options.outputs ?? types.length;
    const outputs: ValueInfo[] = [];
    for (let index = 0; index < count; index++) {
      const type = types[index] ?? types[0];
      if (!type) throw new Error(`GraphBuilder: ${opType} node '${name}' has no type for output ${index}.`);
      const outputName = options.outputNames?.[index] ?? this.uniqueName(`${name}_out${index}`);
      outputs.push(this.register({ name: outputName, dtype: type.dtype, shape: type.shape }));
    }
    this.nodes.push({
      name,
      opType,
      domain: options.domain ?? '',
      inputs: inputNames,
      outputs: outputs.map((output) => output.name),
      attributes,
    });
    return outputs;
  }

  /** Marks a value as a graph output, renaming it to `name` (and optionally restating its dims). */
  output(value: ValueInfo, name?: string, shape?: readonly Dim[]): ValueInfo {
    let result = this.values.get(this.resolveName(value.name)) ?? value;
    if (name !== undefined && name !== result.name) result = this.rename(result, name);
    if (shape) {
      result = { ...result, shape: [...shape] };
      this.values.set(result.name, result);
    }
    this.outputs.push(result);
    return result;
  }

  /**
   * Renames a node output everywhere it is used. Graph inputs and initializers can't be renamed. Handles
   * taken before the rename keep working (later nodes read the new name); the old name stays reserved.
   */
  rename(value: ValueInfo, name: string): ValueInfo {
    value = this.values.get(this.resolveName(value.name)) ?? value;
    if (this.usedNames.has(name)) throw new Error(`GraphBuilder: the name '${name}' is already taken.`);
    const producer = this.nodes.findIndex((node) => node.outputs.includes(value.name));
    if (producer < 0)
      throw new Error(`GraphBuilder: '${value.name}' is not a node output and can't be renamed.`);
    const swap = (names: readonly string[]) => names.map((entry) => (entry === value.name ? name : entry));
    for (const [index, node] of this.nodes.entries()) {
      if (node.inputs.includes(value.name) || node.outputs.includes(value.name)) {
        this.nodes[index] = { ...node, inputs: swap(node.inputs), outputs: swap(node.outputs) };
      }
    }
    this.values.delete(value.name);
    this.aliases.set(value.name, name);
    return this.register({ name, dtype: value.dtype, shape: value.shape });
  }

  private resolveName(name: string): string {
    let current = name;
    for (let next = this.aliases.get(current); next !== undefined; next = this.aliases.get(current))
      current = next;
    return current;
  }

  /** Finishes the graph. */
  build(): Graph {
    if (this.outputs.length === 0) throw new Error(`GraphBuilder: graph '${this.name}' has no outputs.`);
    return {
      name: this.name,
      opset: this.opset,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      nodes: [...this.nodes],
      initializers: new Map(this.initializers),
      values: new Map(this.values),
      parameters: [...this.parameterNames],
    };
  }

  // ---- op helpers (one output each unless stated) ----

  private one(
    opType: string,
    inputs: (ValueInfo | null)[],
    attributes: Record<string, Attribute> = {},
  ): ValueInfo {
    return this.op(opType, inputs, attributes)[0] as ValueInfo;
  }

  add(a: ValueInfo, b: ValueInfo): ValueInfo {
    return this.one('Add', [a, b]);
  }
  sub(a: ValueInfo, b: ValueInfo): ValueInfo {
    return this.one('Sub', [a, b]);
  }
  mul(a: ValueInfo, b: ValueInfo): ValueInfo {
    return this.one('Mul', [a, b]);
  }
  div(a: ValueInfo, b: ValueInfo): ValueInfo {
    return this.one('Div', [a, b]);
  }
  neg(x: ValueInfo): ValueInfo {
    return this.one('Neg', [x]);
  }
  sqrt(x: ValueInfo): ValueInfo {
    return this.one('Sqrt', [x]);
  }
  reciprocal(x: ValueInfo): ValueInfo {
    return this.one('Reciprocal', [x]);
  }
  sigmoid(x: ValueInfo): ValueInfo {
    return this.one('Sigmoid', [x]);
  }
  cos(x: ValueInfo): ValueInfo {
    return this.one('Cos', [x]);
  }
  sin(x: ValueInfo): ValueInfo {
    return this.one('Sin', [x]);
  }
  matMul(a: ValueInfo, b: ValueInfo): ValueInfo {
    return this.one('MatMul', [a, b]);
  }
  softmax(x: ValueInfo, axis = -1): ValueInfo {
    return this.one('Softmax', [x], { axis: attr.int(axis) });
  }
  cast(x: ValueInfo, to: DType): ValueInfo {
    return this.one('Cast', [x], { to: attr.int(onnxDataType[to]) });
  }
  transpose(x: ValueInfo, perm: readonly number[]): ValueInfo {
    return this.one('Transpose', [x], { perm: attr.ints(perm) });
  }
  /** `Reshape` to a constant target (`0` copies the input dim, `-1` is inferred). */
  reshape(x: ValueInfo, shape: readonly number[]): ValueInfo {
    return this.one('Reshape', [x, this.int64s(shape)]);
  }
  unsqueeze(x: ValueInfo, axes: readonly number[]): ValueInfo {
    return this.one('Unsqueeze', [x, this.int64s(axes)]);
  }
  concat(values: readonly ValueInfo[], axis: number): ValueInfo {
    return this.one('Concat', [...values], { axis: attr.int(axis) });
  }
  gather(data: ValueInfo, indices: ValueInfo, axis = 0): ValueInfo {
    return this.one('Gather', [data, indices], { axis: attr.int(axis) });
  }
  where(condition: ValueInfo, whenTrue: ValueInfo, whenFalse: ValueInfo): ValueInfo {
    return this.one('Where', [condition, whenTrue, whenFalse]);
  }
  /** `Slice` with constant starts/ends along `axes`. */
  slice(
    x: ValueInfo,
    starts: readonly number[],
    ends: readonly number[],
    axes: readonly number[],
  ): ValueInfo {
    return this.one('Slice', [x, this.int64s(starts), this.int64s(ends), this.int64s(axes)]);
  }
  /** `Split` into pieces of the given sizes along `axis`. */
  split(x: ValueInfo, sizes: readonly number[], axis: number): ValueInfo[] {
    return this.op('Split', [x, this.int64s(sizes)], { axis: attr.int(axis) }, { outputs: sizes.length });
  }
  /** `ReduceMean` over `axes` (attribute form below opset 18, input form from 18). */
  reduceMean(x: ValueInfo, axes: readonly number[], keepdims = true): ValueInfo {
    if (this.opset >= 18)
      return this.one('ReduceMean', [x, this.int64s(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
    return this.one('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) });
  }

  private register(value: ValueInfo): ValueInfo {
    if (this.usedNames.has(value.name))
      throw new Error(`GraphBuilder: duplicate value name '${value.name}'.`);
    this.usedNames.add(value.name);
    this.values.set(value.name, value);
    return value;
  }

  private uniqueName(hint: string): string {
    let name = `${this.scopePrefix}${hint}_${this.nodeCounter++}`;
    while (this.usedNames.has(name)) name = `${this.scopePrefix}${hint}_${this.nodeCounter++}`;
    return name;
  }

  /** Runs `build` with node and value names prefixed by `scope/` (readable graphs, e.g. `layers.0/attn/`). */
  scoped<T>(scope: string, build: () => T): T {
    const previous = this.scopePrefix;
    this.scopePrefix = `${previous}${scope}/`;
    try {
      return build();
    } finally {
      this.scopePrefix = previous;
    }
  }
}
