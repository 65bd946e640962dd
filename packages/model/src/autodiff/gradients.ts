import type { GraphBuilder } from '../ir/builder.js';
import type { DType, Node, ValueInfo } from '../ir/types.js';
import { type BackwardRule, backwardRules, nonDifferentiableOps } from './rules.js';
import { emitLike, zerosLike } from './shape-helpers.js';

/** Options for {@link buildGradients}. */
export interface GradientOptions {
  /**
   * Gradient of the final objective w.r.t. `of` (same dtype and shape as `of`). Default: 1, which needs a
   * scalar (or single-element) `of`.
   */
  seed?: ValueInfo;
  /**
   * What to return for a `wrt` value that `of` does not depend on: a zeros tensor (`zeros`, the default)
   * or `undefined`.
   */
  unconnected?: 'zeros' | 'undefined';
  /** Name scope of the emitted backward nodes (default `grad`). */
  scope?: string;
}

const floatTypes: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** Whether the gradient of the loss can flow from `node`'s output back into its input `index`. */
function flowsInto(rule: BackwardRule | undefined, index: number): boolean {
  if (!rule) return true;
  return rule.differentiable === 'all' || rule.differentiable.includes(index);
}

/**
 * Reverse-mode automatic differentiation over the graph IR: emits, into the same `builder`, the nodes
 * that compute ∂`of`/∂`x` for every `x` in `wrt`, using one backward rule per ONNX operator
 * ({@link backwardRules}). Only the work that is needed is emitted: gradients flow only along paths from
 * `wrt` to `of` (nothing goes into masks, position tables or other constants), and contributions to a
 * value used several times are summed once.
 *
 * Shapes: rules use the static shapes the builder tracked. Symbolic dims are allowed; a dim is treated as
 * broadcast only where the IR has a static 1 (true for every graph `buildDecoderForward` emits). Slice
 * and Concat gradients need static sizes on the sliced/concatenated axis.
 *
 * @returns the gradient value for each `wrt` name
 * @throws Error naming the node when an op on the differentiated path has no rule (e.g. ORT's fused
 *   `SimplifiedLayerNormalization`: build the forward with `norm: 'primitive'`)
 *
 * @example
 * const b = new GraphBuilder();
 * const x = b.input('x', 'float32', [3]);
 * const loss = b.op('ReduceSum', [b.mul(x, x)], { keepdims: attr.int(0) })[0]!;
 * const grads = buildGradients(b, loss, [x]); // 2·x
 * b.output(grads.get('x')!, 'dx');
 */
export function buildGradients(
  builder: GraphBuilder,
  of: ValueInfo,
  wrt: readonly ValueInfo[],
  options: GradientOptions = {},
): Map<string, ValueInfo | undefined> {
  const b = builder;
  const nodes = b.nodeList();
  const wrtNames = new Set(wrt.map((value) => value.name));
  for (const value of wrt) {
    if (!floatTypes.has(value.dtype)) {
      throw new Error(
        `buildGradients: '${value.name}' is ${value.dtype}; only floating-point values have gradients.`,
      );
    }
  }
  if (!floatTypes.has(of.dtype)) {
    throw new Error(`buildGradients: '${of.name}' is ${of.dtype}; differentiate a floating-point value.`);
  }

  // 1. Forward: which values depend on a `wrt` value through differentiable inputs.
  const requiresGrad = new Set(wrtNames);
  for (const node of nodes) {
    if (nonDifferentiableOps.has(node.opType)) continue;
    const rule = backwardRules.get(node.opType);
    const dependent = node.inputs.some(
      (name, index) => name !== '' && requiresGrad.has(name) && flowsInto(rule, index),
    );
    if (!dependent) continue;
    for (const name of node.outputs) {
      const dtype = b.value(name).dtype;
      if (floatTypes.has(dtype)) requiresGrad.add(name);
    }
  }
  // 2. Backward: which of those values `of` depends on.
  const contributes = new Set<string>([of.name]);
  const relevant: Node[] = [];
  for (let index = nodes.length - 1; index >= 0; index--) {
    const node = nodes[index] as Node;
    if (!node.outputs.some((name) => contributes.has(name) && requiresGrad.has(name))) continue;
    const rule = backwardRules.get(node.opType);
    if (!rule) {
      throw new Error(
        `buildGradients: no backward rule for ${node.opType} (node '${node.name}'), which lies between the differentiated inputs and '${of.name}'. Supported ops: ${[...backwardRules.keys()].join(', ')}.${node.opType.includes('Normalization') ? " Build the forward with norm: 'primitive'." : ''}`,
      );
    }
    relevant.push(node);
    node.inputs.forEach((name, position) => {
      if (name !== '' && requiresGrad.has(name) && flowsInto(rule, position)) contributes.add(name);
    });
  }

  // 3. Reverse sweep: accumulate contributions, apply each node's rule once.
  const contributions = new Map<string, ValueInfo[]>();
  const add = (name: string, grad: ValueInfo) => {
    const list = contributions.get(name);
    if (list) list.push(grad);
    else contributions.set(name, [grad]);
  };
  const total = (name: string): ValueInfo | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const summed = emitLike(b, b.value(name), 'Sum', list);
    contributions.set(name, [summed]);
    return summed;
  };
  return b.scoped(options.scope ?? 'grad', () => {
    if (options.seed) {
      if (options.seed.dtype !== of.dtype) {
        throw new Error(
          `buildGradients: seed '${options.seed.name}' is ${options.seed.dtype}, '${of.name}' is ${of.dtype}.`,
        );
      }
      add(of.name, options.seed);
    } else {
      const count = of.shape?.reduce<number>(
        (product, dim) => product * (typeof dim === 'number' ? dim : Number.NaN),
        1,
      );
      if (count !== 1) {
        throw new Error(
          `buildGradients: '${of.name}' has shape ${JSON.stringify(of.shape)}; pass options.seed for a non-scalar output.`,
        );
      }
      const one = of.dtype === 'float64' ? Float64Array.of(1) : Float32Array.of(1);
      add(of.name, b.constant({ dtype: of.dtype, dims: (of.shape ?? []) as number[], data: one }, 'seed'));
    }
    for (const node of relevant) {
      const rule = backwardRules.get(node.opType) as BackwardRule;
      const grads = node.outputs.map((name) => total(name));
      if (grads.every((grad) => grad === undefined)) continue;
      const inputs = node.inputs.map((name) => (name === '' ? undefined : b.value(name)));
      const needs = node.inputs.map(
        (name, position) =>
          name !== '' && contributes.has(name) && requiresGrad.has(name) && flowsInto(rule, position),
      );
      if (!needs.some(Boolean)) continue;
      const inputGrads = b.scoped(node.name, () =>
        rule.backward({ b, node, inputs, outputs: node.outputs.map((name) => b.value(name)), grads, needs }),
      );
      node.inputs.forEach((name, position) => {
        const grad = inputGrads[position];
        if (grad && needs[position]) add(name, grad);
      });
    }
    const result = new Map<string, ValueInfo | undefined>();
    const handedOut = new Set<string>();
    for (const value of wrt) {
      let grad = total(value.name);
      if (!grad) {
        result.set(value.name, options.unconnected === 'undefined' ? undefined : zerosLike(b, value));
        continue;
      }
      // Hand out node outputs only, each once, so callers can rename them to graph outputs.
      const producedByNode = nodes.some((node) => node.outputs.includes((grad as ValueInfo).name));
      if (!producedByNode || handedOut.has(grad.name)) grad = emitLike(b, value, 'Identity', [grad]);
      handedOut.add(grad.name);
      result.set(value.name, grad);
    }
    return result;
  });
}
