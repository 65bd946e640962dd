import { buildGradients } from './autodiff/gradients.js';
import type { DecoderConfig } from './config.js';
import { buildDecoderForward, decoderParameterSpecs, type ParameterSpec } from './decoder.js';
import { attr, GraphBuilder } from './ir/builder.js';
import type { Dim, Graph, ValueInfo } from './ir/types.js';

/**
 * Graph input and output names shared by the training graphs and the code that feeds them.
 *
 * Inputs: `input_ids`, `attention_mask`, `position_ids`, `target_ids` (int64 `[batch, sequence]`),
 * `coefficients` (float32 `[batch, sequence]`), every parameter by its Hugging Face name, and for AdamW
 * `adam_m.<name>`, `adam_v.<name>` plus the float32 scalars `learning_rate`, `beta1`, `beta2`, `epsilon`,
 * `weight_decay`, `max_grad_norm` and `step` (1-based, after this update).
 */
export const trainingNames = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  targetIds: 'target_ids',
  coefficients: 'coefficients',
  /** Output: log π(target_t | tokens ≤ t), float32 `[batch, sequence]`. */
  logprobs: 'logprobs',
  /** Output: O = Σ_t c_t · logπ_t (scalar); the loss is −O. */
  objective: 'objective',
  /** Output: global L2 norm of the gradient of −O before clipping (scalar). */
  gradNorm: 'grad_norm',
  learningRate: 'learning_rate',
  beta1: 'beta1',
  beta2: 'beta2',
  epsilon: 'epsilon',
  weightDecay: 'weight_decay',
  maxGradNorm: 'max_grad_norm',
  step: 'step',
  /** Gradient of the loss −O w.r.t. a parameter (input of the AdamW graph, output of the gradient graph). */
  grad: (name: string): string => `grad.${name}`,
  adamM: (name: string): string => `adam_m.${name}`,
  adamV: (name: string): string => `adam_v.${name}`,
  /** Updated value of a parameter or moment (`next.<name>`, `next.adam_m.<name>`, …). */
  next: (name: string): string => `next.${name}`,
} as const;

/** Options shared by the training graphs. */
export interface TrainingGraphOptions {
  /** The batch dim: a number for a static shape bucket, a name for a dynamic dim. Default `batch_size`. */
  batch?: Dim;
  /** The sequence dim, likewise. Default `sequence_length`. */
  sequence?: Dim;
}

/** Options for the graphs that contain the AdamW update. */
export interface AdamWGraphOptions {
  /**
   * Which parameters get decoupled weight decay. Default: tensors of rank ≥ 2 (linear and embedding
   * matrices), not norm weights or biases — Hugging Face Trainer's convention.
   */
  decay?: (name: string, shape: readonly number[]) => boolean;
}

/** A training graph and the names of what it reads and writes. */
export interface TrainingGraph {
  graph: Graph;
  /** Parameters in graph-input order (Hugging Face names and shapes). */
  parameters: ParameterSpec[];
}

/** Default weight-decay selection: matrices only. */
export function decaysByDefault(_name: string, shape: readonly number[]): boolean {
  return shape.length >= 2;
}

interface ForwardObjective {
  builder: GraphBuilder;
  logits: ValueInfo;
  logSoftmax: ValueInfo;
  targets: ValueInfo;
  coefficients: ValueInfo;
  logprobs: ValueInfo;
  objective: ValueInfo;
  parameters: Map<string, ValueInfo>;
}

/**
 * Emits the decoder (parameters as graph inputs, no KV cache, primitive RMSNorm) and, on top of it, the
 * per-token log-likelihood of `target_ids` and the weighted objective O = Σ c_t·logπ_t.
 */
function emitObjective(name: string, config: DecoderConfig, options: TrainingGraphOptions): ForwardObjective {
  const batch = options.batch ?? 'batch_size';
  const sequence = options.sequence ?? 'sequence_length';
  const b = new GraphBuilder({ name });
  const forward = buildDecoderForward(b, config, {
    weights: 'inputs',
    kvCache: false,
    norm: 'primitive',
    attentionMask: true,
    dims: { batch, sequence },
  });
  const targets = b.input(trainingNames.targetIds, 'int64', [batch, sequence]);
  const coefficients = b.input(trainingNames.coefficients, 'float32', [batch, sequence]);
  const { logSoftmax, logprobs, objective } = b.scoped('objective', () => {
    const logSoftmax = b.op('LogSoftmax', [forward.logits], { axis: attr.int(-1) })[0] as ValueInfo;
    const picked = b.op('GatherElements', [logSoftmax, b.unsqueeze(targets, [-1])], {
      axis: attr.int(-1),
    })[0] as ValueInfo;
    const tokenLogprobs = b.op(
      'Squeeze',
      [picked, b.int64s([-1])],
      {},
      {
        outputTypes: [{ dtype: 'float32', shape: [batch, sequence] }],
      },
    )[0] as ValueInfo;
    const weighted = b.mul(tokenLogprobs, coefficients);
    const total = b.op('ReduceSum', [weighted], { keepdims: attr.int(0) })[0] as ValueInfo;
    return { logSoftmax, logprobs: tokenLogprobs, objective: total };
  });
  return {
    builder: b,
    logits: forward.logits,
    logSoftmax,
    targets,
    coefficients,
    logprobs,
    objective,
    parameters: forward.parameters,
  };
}

/**
 * The scoring graph: forward → `logprobs` `[batch, sequence]`, the log-probability of each target
 * token (`target_ids[t]` is the token after position t). Coefficients are an input too (ignored), so one
 * feed serves every training graph.
 */
export function buildLogprobsGraph(config: DecoderConfig, options: TrainingGraphOptions = {}): TrainingGraph {
  const { builder, logprobs } = emitObjective(`${config.modelType}-logprobs`, config, options);
  builder.output(logprobs, trainingNames.logprobs);
  return { graph: builder.build(), parameters: decoderParameterSpecs(config) };
}

/**
 * Gradients of the loss L = −O w.r.t. every parameter. The loss head is differentiated by hand —
 * ∂L/∂logits = c·(softmax − onehot(target)): c·exp(logSoftmax), then −c scattered onto the target —
 * three passes over the `[batch, sequence, vocab]` logits instead of the seven that the generic
 * LogSoftmax and GatherElements rules emit. Reverse-mode autodiff takes it from the logits down.
 */
function emitLossGradients(forward: ForwardObjective): Map<string, ValueInfo> {
  const b = forward.builder;
  const logitsGrad = b.scoped('grad/objective', () => {
    const column = b.unsqueeze(forward.coefficients, [-1]);
    const weightedSoftmax = b.mul(b.op('Exp', [forward.logSoftmax])[0] as ValueInfo, column);
    const logitsType = {
      dtype: 'float32' as const,
      shape: forward.logits.shape ? [...forward.logits.shape] : undefined,
    };
    return b.op(
      'ScatterElements',
      [weightedSoftmax, b.unsqueeze(forward.targets, [-1]), b.neg(column)],
      { axis: attr.int(-1), reduction: attr.string('add') },
      { outputTypes: [logitsType] },
    )[0] as ValueInfo;
  });
  const grads = buildGradients(b, forward.logits, [...forward.parameters.values()], { seed: logitsGrad });
  return new Map([...grads].map(([name, grad]) => [name, grad as ValueInfo]));
}

/** √(Σ ‖g‖²) over all gradients: the global norm that clipping uses. */
function emitGlobalNorm(b: GraphBuilder, grads: readonly ValueInfo[]): ValueInfo {
  const scalarType = { outputTypes: [{ dtype: 'float32' as const, shape: [] }] };
  const squares = grads.map(
    (grad) => b.op('ReduceSumSquare', [grad], { keepdims: attr.int(0) }, scalarType)[0] as ValueInfo,
  );
  const sumSquares =
    squares.length === 1 ? (squares[0] as ValueInfo) : (b.op('Sum', squares, {}, scalarType)[0] as ValueInfo);
  return b.sqrt(sumSquares);
}

/**
 * The gradient graph: forward → O = Σ c_t·logπ_t → reverse-mode gradients of the loss −O. Outputs
 * `objective`, `logprobs`, `grad_norm` (global L2 norm of the gradients) and `grad.<name>` for every
 * parameter.
 */
export function buildGradientGraph(config: DecoderConfig, options: TrainingGraphOptions = {}): TrainingGraph {
  const forward = emitObjective(`${config.modelType}-gradients`, config, options);
  const grads = emitLossGradients(forward);
  const b = forward.builder;
  const norm = b.scoped('grad_norm', () => emitGlobalNorm(b, [...grads.values()]));
  b.output(forward.objective, trainingNames.objective);
  b.output(forward.logprobs, trainingNames.logprobs);
  b.output(norm, trainingNames.gradNorm);
  for (const [name, grad] of grads) b.output(grad, trainingNames.grad(name));
  return { graph: b.build(), parameters: decoderParameterSpecs(config) };
}

interface AdamWScalars {
  clip: ValueInfo;
  norm: ValueInfo;
  beta1: ValueInfo;
  beta2: ValueInfo;
  gradScale1: ValueInfo;
  gradScale2: ValueInfo;
  epsilonScaled: ValueInfo;
  stepSize: ValueInfo;
  decayFactor: ValueInfo;
}

/**
 * Emits clipping by global norm and one AdamW update (PyTorch `AdamW` semantics: bias-corrected moments,
 * decoupled weight decay p ← p·(1 − lr·wd) applied before the Adam step) for every parameter.
 */
function emitAdamW(
  b: GraphBuilder,
  parameters: readonly ParameterSpec[],
  parameterOf: (name: string) => ValueInfo,
  gradOf: (name: string) => ValueInfo,
  options: AdamWGraphOptions,
): ValueInfo {
  const decay = options.decay ?? decaysByDefault;
  const scalar = (name: string) => b.input(name, 'float32', []);
  const learningRate = scalar(trainingNames.learningRate);
  const beta1 = scalar(trainingNames.beta1);
  const beta2 = scalar(trainingNames.beta2);
  const epsilon = scalar(trainingNames.epsilon);
  const weightDecay = scalar(trainingNames.weightDecay);
  const maxGradNorm = scalar(trainingNames.maxGradNorm);
  const step = scalar(trainingNames.step);
  const one = b.scalar(1);
  const scalars = b.scoped('adamw', (): AdamWScalars => {
    const norm = emitGlobalNorm(
      b,
      parameters.map((spec) => gradOf(spec.name)),
    );
    // clip = min(1, max_norm / (norm + 1e-6)) (PyTorch clip_grad_norm_); max_norm = ∞ disables it.
    const clip = b.op('Min', [one, b.div(maxGradNorm, b.add(norm, b.scalar(1e-6)))])[0] as ValueInfo;
    const correction1 = b.sub(one, b.op('Pow', [beta1, step])[0] as ValueInfo);
    const correction2Sqrt = b.sqrt(b.sub(one, b.op('Pow', [beta2, step])[0] as ValueInfo));
    // m̂/(√v̂ + ε) = (√c2/c1)·m/(√v + ε·√c2): two scalars instead of two extra passes per tensor.
    return {
      clip,
      norm,
      beta1,
      beta2,
      gradScale1: b.mul(b.sub(one, beta1), clip),
      gradScale2: b.mul(b.sub(one, beta2), b.mul(clip, clip)),
      epsilonScaled: b.mul(epsilon, correction2Sqrt),
      stepSize: b.div(b.mul(learningRate, correction2Sqrt), correction1),
      decayFactor: b.sub(one, b.mul(learningRate, weightDecay)),
    };
  });
  for (const spec of parameters) {
    b.scoped(`adamw/${spec.name}`, () => {
      const grad = gradOf(spec.name);
      const m = b.input(trainingNames.adamM(spec.name), 'float32', spec.shape);
      const v = b.input(trainingNames.adamV(spec.name), 'float32', spec.shape);
      const nextM = b.add(b.mul(m, scalars.beta1), b.mul(grad, scalars.gradScale1));
      const nextV = b.add(b.mul(v, scalars.beta2), b.mul(b.mul(grad, grad), scalars.gradScale2));
      const update = b.mul(b.div(nextM, b.add(b.sqrt(nextV), scalars.epsilonScaled)), scalars.stepSize);
      const parameter = parameterOf(spec.name);
      const decayed = decay(spec.name, spec.shape) ? b.mul(parameter, scalars.decayFactor) : parameter;
      b.output(b.sub(decayed, update), trainingNames.next(spec.name));
      b.output(nextM, trainingNames.next(trainingNames.adamM(spec.name)));
      b.output(nextV, trainingNames.next(trainingNames.adamV(spec.name)));
    });
  }
  return scalars.norm;
}

/**
 * The fused training step, one `session.run` per step: forward → O = Σ c_t·logπ_t → gradients of −O →
 * clipping by global norm → AdamW. Parameters and Adam moments are inputs; their updated values are the
 * outputs `next.<name>`, `next.adam_m.<name>`, `next.adam_v.<name>`, together with `objective`,
 * `grad_norm` (before clipping) and `logprobs`.
 */
export function buildTrainStepGraph(
  config: DecoderConfig,
  options: TrainingGraphOptions & AdamWGraphOptions = {},
): TrainingGraph {
  const forward = emitObjective(`${config.modelType}-train-step`, config, options);
  const grads = emitLossGradients(forward);
  const b = forward.builder;
  const parameters = decoderParameterSpecs(config);
  const norm = emitAdamW(
    b,
    parameters,
    (name) => forward.parameters.get(name) as ValueInfo,
    (name) => grads.get(name) as ValueInfo,
    options,
  );
  b.output(forward.objective, trainingNames.objective);
  b.output(forward.logprobs, trainingNames.logprobs);
  b.output(norm, trainingNames.gradNorm);
  return { graph: b.build(), parameters };
}

/**
 * AdamW alone (for accumulated gradients): inputs every parameter, `grad.<name>`, the moments and the
 * scalars; outputs the updated tensors and `grad_norm`.
 */
export function buildAdamWGraph(
  parameters: readonly ParameterSpec[],
  options: AdamWGraphOptions = {},
): TrainingGraph {
  const b = new GraphBuilder({ name: 'adamw' });
  const values = new Map<string, ValueInfo>();
  const grads = new Map<string, ValueInfo>();
  for (const spec of parameters) {
    values.set(spec.name, b.parameter(spec.name, { dtype: 'float32', dims: spec.shape }, 'input'));
    grads.set(spec.name, b.input(trainingNames.grad(spec.name), 'float32', spec.shape));
  }
  const norm = emitAdamW(
    b,
    parameters,
    (name) => values.get(name) as ValueInfo,
    (name) => grads.get(name) as ValueInfo,
    options,
  );
  b.output(norm, trainingNames.gradNorm);
  return { graph: b.build(), parameters: [...parameters] };
}
