import type { DecoderConfig } from './config.js';
import { attr, GraphBuilder, type ParameterMode } from './ir/builder.js';
import type { Dim, Graph, TensorData, ValueInfo } from './ir/types.js';

/** Model weights by Hugging Face tensor name, in Hugging Face layout (linear weights `[out, in]`). */
export type WeightMap = Map<string, TensorData>;

/** How a parameter is initialised by seeded random init. */
export type ParameterInit = 'normal' | 'ones' | 'zeros';

/** One trainable tensor of the decoder, with its Hugging Face name and shape. */
export interface ParameterSpec {
  name: string;
  shape: number[];
  init: ParameterInit;
}

/**
 * Every parameter of the decoder in Hugging Face naming and layout (`model.embed_tokens.weight`,
 * `model.layers.0.self_attn.q_proj.weight` `[out, in]`, …, `lm_head.weight` unless tied), in the order
 * the forward uses them.
 */
export function decoderParameterSpecs(config: DecoderConfig): ParameterSpec[] {
  const { hiddenSize: hidden, headDim, numAttentionHeads: heads, numKeyValueHeads: kvHeads } = config;
  const specs: ParameterSpec[] = [
    { name: 'model.embed_tokens.weight', shape: [config.vocabSize, hidden], init: 'normal' },
  ];
  const linear = (name: string, outFeatures: number, inFeatures: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [outFeatures, inFeatures], init: 'normal' });
    if (bias) specs.push({ name: `${name}.bias`, shape: [outFeatures], init: 'zeros' });
  };
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    specs.push({ name: `${prefix}.input_layernorm.weight`, shape: [hidden], init: 'ones' });
    linear(`${prefix}.self_attn.q_proj`, heads * headDim, hidden, config.attentionBias);
    linear(`${prefix}.self_attn.k_proj`, kvHeads * headDim, hidden, config.attentionBias);
    linear(`${prefix}.self_attn.v_proj`, kvHeads * headDim, hidden, config.attentionBias);
    linear(`${prefix}.self_attn.o_proj`, hidden, heads * headDim, config.outputBias);
    if (config.qkNorm) {
      specs.push({ name: `${prefix}.self_attn.q_norm.weight`, shape: [headDim], init: 'ones' });
      specs.push({ name: `${prefix}.self_attn.k_norm.weight`, shape: [headDim], init: 'ones' });
    }
    specs.push({ name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden], init: 'ones' });
    linear(`${prefix}.mlp.gate_proj`, config.intermediateSize, hidden, config.mlpBias);
    linear(`${prefix}.mlp.up_proj`, config.intermediateSize, hidden, config.mlpBias);
    linear(`${prefix}.mlp.down_proj`, hidden, config.intermediateSize, config.mlpBias);
  }
  specs.push({ name: 'model.norm.weight', shape: [hidden], init: 'ones' });
  if (!config.tieWordEmbeddings)
    specs.push({ name: 'lm_head.weight', shape: [config.vocabSize, hidden], init: 'normal' });
  return specs;
}

/** Total number of parameters. */
export function countParameters(config: DecoderConfig): number {
  return decoderParameterSpecs(config).reduce(
    (total, spec) => total + spec.shape.reduce((a, b) => a * b, 1),
    0,
  );
}

/** Options for {@link buildDecoderForward}. */
export interface DecoderForwardOptions {
  /**
   * `initializers` embeds `weights` in the graph (inference); `inputs` makes every parameter a graph input
   * named by its Hugging Face name (training: weights fed per step).
   */
  weights: 'initializers' | 'inputs';
  /** Required with `weights: 'initializers'`. */
  weightValues?: WeightMap;
  /** Add `past_key_values.{i}.key|value` inputs and `present.{i}.key|value` outputs (Optimum layout). */
  kvCache: boolean;
  /**
   * RMSNorm as primitive ops (`primitive`: Mul, ReduceMean, Add, Sqrt, Reciprocal, Mul — differentiable by
   * simple rules) or ORT's fused `SimplifiedLayerNormalization` (`fused`, inference only). Default
   * `primitive`.
   */
  norm?: 'primitive' | 'fused';
  /**
   * Linear layers as `MatMul(x, Transpose(W))` (`matmul`, standard ONNX, differentiable; default) or ORT's
   * `com.microsoft` `FusedMatMul(x, W, transB=1)` (`fused`, inference: nothing to constant-fold, so large
   * models load several times faster).
   */
  linear?: 'matmul' | 'fused';
  /** Add an `attention_mask` input (padding mask over past + current positions). Default true. */
  attentionMask?: boolean;
  /**
   * Add a `num_logits_to_keep` int64 scalar input: logits only for the last k positions (0 = all). Saves
   * a `[batch, sequence, vocab]` projection during prefill. Default false.
   */
  numLogitsToKeep?: boolean;
  /** Names (or static sizes) of the batch and sequence dims. Defaults follow Optimum. */
  dims?: { batch?: Dim; sequence?: Dim; past?: Dim; total?: Dim };
}

/** The values {@link buildDecoderForward} created. */
export interface DecoderForward {
  inputIds: ValueInfo;
  attentionMask?: ValueInfo;
  positionIds: ValueInfo;
  numLogitsToKeep?: ValueInfo;
  /** Per layer, when `kvCache`. */
  pastKeyValues: { key: ValueInfo; value: ValueInfo }[];
  /** Per layer, when `kvCache`: past concatenated with the new keys/values. */
  presentKeyValues: { key: ValueInfo; value: ValueInfo }[];
  /** Final hidden states after the last norm, `[batch, sequence, hidden]`. */
  hiddenStates: ValueInfo;
  /** `[batch, sequence (or num_logits_to_keep), vocab]`. */
  logits: ValueInfo;
  /** Parameter values by Hugging Face name. */
  parameters: Map<string, ValueInfo>;
}

/** Lowest finite float32: masked attention scores (finite, so fully masked rows stay NaN-free). */
const maskedScore = -3.4028234663852886e38;

/**
 * Emits the decoder forward (Llama / Qwen2 / Qwen3) into `builder` as plain ONNX ops. The graph is data:
 * a training-graph builder can differentiate it (every op on the parameter path has a simple reverse
 * rule; build with `weights: 'inputs'`, `kvCache: false`, `norm: 'primitive'`).
 *
 * Inputs: `input_ids` int64 `[batch, sequence]`, `attention_mask` int64 `[batch, past + sequence]`,
 * `position_ids` int64 `[batch, sequence]`, and with `kvCache` `past_key_values.{i}.key|value` float32
 * `[batch, kv_heads, past, head_dim]`.
 */
export function buildDecoderForward(
  builder: GraphBuilder,
  config: DecoderConfig,
  options: DecoderForwardOptions,
): DecoderForward {
  const b = builder;
  const batch = options.dims?.batch ?? 'batch_size';
  const sequence = options.dims?.sequence ?? 'sequence_length';
  const past = options.dims?.past ?? 'past_sequence_length';
  const total = options.dims?.total ?? 'total_sequence_length';
  const norm = options.norm ?? 'primitive';
  const { headDim, numAttentionHeads: heads, numKeyValueHeads: kvHeads, hiddenSize: hidden } = config;
  const groups = heads / kvHeads;

  const inputIds = b.input('input_ids', 'int64', [batch, sequence]);
  const attentionMask =
    options.attentionMask === false
      ? undefined
      : b.input('attention_mask', 'int64', [batch, options.kvCache ? total : sequence]);
  const positionIds = b.input('position_ids', 'int64', [batch, sequence]);
  const pastKeyValues: DecoderForward['pastKeyValues'] = [];
  if (options.kvCache) {
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      pastKeyValues.push({
        key: b.input(`past_key_values.${layer}.key`, 'float32', [batch, kvHeads, past, headDim]),
        value: b.input(`past_key_values.${layer}.value`, 'float32', [batch, kvHeads, past, headDim]),
      });
    }
  }
  const numLogitsToKeep = options.numLogitsToKeep ? b.input('num_logits_to_keep', 'int64', []) : undefined;

  // Parameters, by Hugging Face name.
  const parameters = new Map<string, ValueInfo>();
  const mode: ParameterMode = options.weights === 'initializers' ? 'initializer' : 'input';
  for (const spec of decoderParameterSpecs(config)) {
    let tensor: TensorData | { dtype: 'float32'; dims: number[] } = { dtype: 'float32', dims: spec.shape };
    if (mode === 'initializer') {
      const value = options.weightValues?.get(spec.name);
      if (!value)
        throw new Error(`buildDecoderForward: missing weight '${spec.name}' ${JSON.stringify(spec.shape)}.`);
      if (
        value.dims.length !== spec.shape.length ||
        value.dims.some((dim, index) => dim !== spec.shape[index])
      ) {
        throw new Error(
          `buildDecoderForward: weight '${spec.name}' has shape ${JSON.stringify(value.dims)}, expected ${JSON.stringify(spec.shape)}.`,
        );
      }
      tensor = value;
    }
    parameters.set(spec.name, b.parameter(spec.name, tensor, mode));
  }
  const param = (name: string): ValueInfo => parameters.get(name) as ValueInfo;
  const transposedCache = new Map<string, ValueInfo>();
  const linear = (x: ValueInfo, name: string, bias: boolean): ValueInfo => {
    if (options.linear === 'fused') {
      // ORT's FusedMatMul reads W [out, in] transposed in place: no Transpose to constant-fold at load time.
      const y = b.op(
        'FusedMatMul',
        [x, param(`${name}.weight`)],
        { transB: attr.int(1) },
        { domain: 'com.microsoft' },
      )[0] as ValueInfo;
      return bias ? b.add(y, param(`${name}.bias`)) : y;
    }
    let weightT = transposedCache.get(name);
    if (!weightT) {
      weightT = b.transpose(param(`${name}.weight`), [1, 0]);
      transposedCache.set(name, weightT);
    }
    const y = b.matMul(x, weightT);
    return bias ? b.add(y, param(`${name}.bias`)) : y;
  };
  let epsilon: ValueInfo | undefined;
  const rmsNorm = (x: ValueInfo, weight: ValueInfo): ValueInfo => {
    if (norm === 'fused') {
      return b.op('SimplifiedLayerNormalization', [x, weight], {
        axis: attr.int(-1),
        epsilon: attr.float(config.rmsNormEps),
        stash_type: attr.int(1),
      })[0] as ValueInfo;
    }
    epsilon ??= b.scalar(config.rmsNormEps);
    const variance = b.reduceMean(b.mul(x, x), [-1], true);
    const inverseRms = b.reciprocal(b.sqrt(b.add(variance, epsilon)));
    return b.mul(b.mul(x, inverseRms), weight);
  };

  // Rotary tables from position ids, in float32 like Hugging Face: freqs = pos · inv_freq.
  const { cos, sin } = b.scoped('rope', () => {
    const inverseFrequencies = new Float32Array(headDim / 2);
    for (let i = 0; i < headDim / 2; i++) inverseFrequencies[i] = 1 / config.ropeTheta ** ((2 * i) / headDim);
    const frequencies = b.mul(
      b.unsqueeze(b.cast(positionIds, 'float32'), [2]),
      b.constant({ dtype: 'float32', dims: [headDim / 2], data: inverseFrequencies }, 'inv_freq'),
    );
    const angles = b.concat([frequencies, frequencies], -1);
    // [batch, 1, sequence, head_dim]: broadcasts over heads.
    return { cos: b.unsqueeze(b.cos(angles), [1]), sin: b.unsqueeze(b.sin(angles), [1]) };
  });
  const rotate = (x: ValueInfo): ValueInfo => {
    // x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1] (Hugging Face's non-interleaved layout).
    const [x1, x2] = b.split(x, [headDim / 2, headDim / 2], -1) as [ValueInfo, ValueInfo];
    const rotated = b.concat([b.neg(x2), x1], -1);
    return b.add(b.mul(x, cos), b.mul(rotated, sin));
  };

  // Attention mask: key j is visible to query i iff j ≤ past + i and attention_mask[j] = 1.
  const allowed = b.scoped('mask', () => {
    const sequenceLength = b.gather(b.op('Shape', [inputIds])[0] as ValueInfo, b.scalar(1, 'int64'));
    const totalLength = attentionMask
      ? b.gather(b.op('Shape', [attentionMask])[0] as ValueInfo, b.scalar(1, 'int64'))
      : sequenceLength;
    const pastLength = b.sub(totalLength, sequenceLength);
    const one = b.scalar(1, 'int64');
    const queryPositions = b.op('Range', [pastLength, totalLength, one])[0] as ValueInfo;
    const keyPositions = b.op('Range', [b.scalar(0, 'int64'), totalLength, one])[0] as ValueInfo;
    const causal = b.op('LessOrEqual', [
      b.unsqueeze(keyPositions, [0]),
      b.unsqueeze(queryPositions, [1]),
    ])[0] as ValueInfo;
    if (!attentionMask) return causal;
    const padding = b.unsqueeze(b.cast(attentionMask, 'bool'), [1, 2]);
    return b.op('And', [causal, padding])[0] as ValueInfo;
  });
  // One additive bias per forward, shared by every layer: 0 where visible, the lowest float32 elsewhere.
  // Scores are [batch, kv_heads, groups × sequence, total] (row g·S + s), so the bias is tiled per group.
  const bias = b.scoped('mask', () => {
    const additive = b.where(allowed, b.scalar(0), b.scalar(maskedScore));
    const batched = attentionMask ? additive : b.unsqueeze(additive, [0, 1]);
    return groups > 1 ? (b.op('Tile', [batched, b.int64s([1, 1, groups, 1])])[0] as ValueInfo) : batched;
  });
  const scale = b.scalar(1 / Math.sqrt(headDim));

  let x = b.scoped('embed', () => b.gather(param('model.embed_tokens.weight'), inputIds));
  const presentKeyValues: DecoderForward['presentKeyValues'] = [];
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    x = b.scoped(`layers.${layer}`, () => {
      const attentionInput = rmsNorm(x, param(`${prefix}.input_layernorm.weight`));
      const projectHeads = (name: string, count: number, normWeight?: string): ValueInfo => {
        let projected = b.reshape(
          linear(
            attentionInput,
            `${prefix}.self_attn.${name}`,
            name === 'o_proj' ? config.outputBias : config.attentionBias,
          ),
          [0, 0, count, headDim],
        );
        if (normWeight) projected = rmsNorm(projected, param(normWeight));
        return b.transpose(projected, [0, 2, 1, 3]);
      };
      const query = rotate(
        projectHeads('q_proj', heads, config.qkNorm ? `${prefix}.self_attn.q_norm.weight` : undefined),
      );
      let key = rotate(
        projectHeads('k_proj', kvHeads, config.qkNorm ? `${prefix}.self_attn.k_norm.weight` : undefined),
      );
      let value = projectHeads('v_proj', kvHeads);
      const pastEntry = pastKeyValues[layer];
      if (pastEntry) {
        key = b.concat([pastEntry.key, key], 2);
        value = b.concat([pastEntry.value, value], 2);
        presentKeyValues.push({ key, value });
      }
      // Grouped-query attention without repeating K/V: the queries of each K/V head's group are stacked
      // along the sequence axis, [B, kv, groups·S, D] × [B, kv, D, T] (plain batched MatMuls).
      const stackedQuery = groups > 1 ? b.reshape(query, [0, kvHeads, -1, headDim]) : query;
      const scores = b.add(b.mul(b.matMul(stackedQuery, b.transpose(key, [0, 1, 3, 2])), scale), bias);
      const stackedContext = b.matMul(b.softmax(scores, -1), value);
      const context = groups > 1 ? b.reshape(stackedContext, [0, heads, -1, headDim]) : stackedContext;
      const merged = b.reshape(b.transpose(context, [0, 2, 1, 3]), [0, 0, heads * headDim]);
      const attentionOutput = linear(merged, `${prefix}.self_attn.o_proj`, config.outputBias);
      const residual = b.add(x, attentionOutput);
      const mlpInput = rmsNorm(residual, param(`${prefix}.post_attention_layernorm.weight`));
      const gate = linear(mlpInput, `${prefix}.mlp.gate_proj`, config.mlpBias);
      const up = linear(mlpInput, `${prefix}.mlp.up_proj`, config.mlpBias);
      const activated = b.mul(b.mul(gate, b.sigmoid(gate)), up);
      return b.add(residual, linear(activated, `${prefix}.mlp.down_proj`, config.mlpBias));
    });
  }
  let hiddenStates = rmsNorm(x, param('model.norm.weight'));
  const finalHidden = hiddenStates;
  if (numLogitsToKeep) {
    // Keep the last k positions: Slice(start = −k); k = 0 gives start 0, i.e. every position.
    const start = b.neg(b.reshape(numLogitsToKeep, [1]));
    hiddenStates = b.op(
      'Slice',
      [hiddenStates, start, b.int64s([Number.MAX_SAFE_INTEGER]), b.int64s([1])],
      {},
      {
        outputTypes: [{ dtype: 'float32', shape: [batch, 'num_logits', hidden] }],
      },
    )[0] as ValueInfo;
  }
  const headWeight = config.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head';
  const logits = b.scoped('lm_head', () => linear(hiddenStates, headWeight, false));
  return {
    inputIds,
    ...(attentionMask ? { attentionMask } : {}),
    positionIds,
    ...(numLogitsToKeep ? { numLogitsToKeep } : {}),
    pastKeyValues,
    presentKeyValues,
    hiddenStates: finalHidden,
    logits,
    parameters,
  };
}

/** Options for {@link buildInferenceGraph}. */
export interface InferenceGraphOptions {
  /** RMSNorm implementation (default `fused`: ORT's SimplifiedLayerNormalization). */
  norm?: 'primitive' | 'fused';
  /** Declare a `num_logits_to_keep` input (default true; transformers.js feeds it when present). */
  numLogitsToKeep?: boolean;
  /** Linear layers (default `fused`: ORT's FusedMatMul with transB, fast loading; `matmul`: standard ONNX). */
  linear?: 'matmul' | 'fused';
}

/**
 * The inference graph in the Hugging Face Optimum decoder layout: inputs `input_ids`, `attention_mask`,
 * `position_ids` (int64), `past_key_values.{i}.key|value` `[batch_size, kv_heads, past_sequence_length,
 * head_dim]` (and `num_logits_to_keep`); outputs `logits` and `present.{i}.key|value`.
 */
export function buildInferenceGraph(
  config: DecoderConfig,
  weights: WeightMap,
  options: InferenceGraphOptions = {},
): Graph {
  const builder = new GraphBuilder({ name: `${config.modelType}-decoder` });
  const forward = buildDecoderForward(builder, config, {
    weights: 'initializers',
    weightValues: weights,
    kvCache: true,
    norm: options.norm ?? 'fused',
    numLogitsToKeep: options.numLogitsToKeep ?? true,
    linear: options.linear ?? 'fused',
  });
  const logitsLength = (options.numLogitsToKeep ?? true) ? 'logits_length' : 'sequence_length';
  builder.output(forward.logits, 'logits', ['batch_size', logitsLength, config.vocabSize]);
  for (const [layer, entry] of forward.presentKeyValues.entries()) {
    const shape = ['batch_size', config.numKeyValueHeads, 'total_sequence_length', config.headDim];
    builder.output(entry.key, `present.${layer}.key`, shape);
    builder.output(entry.value, `present.${layer}.value`, shape);
  }
  return builder.build();
}
