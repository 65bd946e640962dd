import { type ConfigIssue, ConfigError } from '@rlpt/spec';

/** Architectures this package can build. */
export type ModelType = 'llama' | 'qwen2' | 'qwen3';

/** Supported `model_type` values. */
export const supportedModelTypes: readonly ModelType[] = ['llama', 'qwen2', 'qwen3'];

/**
 * A decoder's shape and numerics, normalised from a Hugging Face `config.json` (field meanings are
 * Hugging Face's). Every field is resolved: defaults of the HF config class are filled in.
 */
export interface DecoderConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v projections (always on for qwen2; `attention_bias` for llama/qwen3). */
  attentionBias: boolean;
  /** Bias on the attention output projection (llama/qwen3 `attention_bias`; never for qwen2). */
  outputBias: boolean;
  /** Biases on the MLP projections (llama `mlp_bias`). */
  mlpBias: boolean;
  /** RMSNorm on queries and keys per head (Qwen3). */
  qkNorm: boolean;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  initializerRange: number;
}

type Json = Record<string, unknown>;

const rejectedRopeTypes = new Set(['linear', 'dynamic', 'yarn', 'longrope', 'llama3', 'mrope', 'su', 'ntk']);

/**
 * Validates and normalises a Hugging Face `config.json` object. Throws a `ConfigError` listing every
 * problem (unsupported `model_type`, missing sizes, unsupported `rope_scaling`, …).
 *
 * @param json the parsed `config.json`
 * @param source where it came from, for error messages (e.g. the file path)
 */
export function parseDecoderConfig(json: unknown, source?: string): DecoderConfig {
  const issues: ConfigIssue[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError({
      issues: [{ path: '', message: 'expected a JSON object' }],
      ...(source ? { source } : {}),
    });
  }
  const raw = json as Json;
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !supportedModelTypes.includes(modelType as ModelType)) {
    issues.push({
      path: 'model_type',
      message: `unsupported model_type ${JSON.stringify(modelType)}; supported: ${supportedModelTypes.join(', ')}`,
    });
  }
  const positiveInt = (key: string, fallback?: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      issues.push({
        path: key,
        message:
          value === undefined
            ? 'required (a positive integer)'
            : `expected a positive integer, got ${JSON.stringify(value)}`,
      });
      return 1;
    }
    return value;
  };
  const positiveNumber = (key: string, fallback: number, value: unknown = raw[key]): number => {
    const resolved = value ?? fallback;
    if (typeof resolved !== 'number' || !(resolved > 0) || !Number.isFinite(resolved)) {
      issues.push({ path: key, message: `expected a positive number, got ${JSON.stringify(resolved)}` });
      return fallback;
    }
    return resolved;
  };
  const optionalBool = (key: string, fallback: boolean): boolean => {
    const value = raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      issues.push({ path: key, message: `expected true or false, got ${JSON.stringify(value)}` });
      return fallback;
    }
    return value;
  };
  const optionalTokenId = (key: string): number | number[] | undefined => {
    const value = raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    if (
      Array.isArray(value) &&
      value.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0)
    ) {
      return value as number[];
    }
    issues.push({
      path: key,
      message: `expected a token id or a list of token ids, got ${JSON.stringify(value)}`,
    });
    return undefined;
  };

  const type = (supportedModelTypes.includes(modelType as ModelType) ? modelType : 'llama') as ModelType;
  const hiddenSize = positiveInt('hidden_size');
  const numAttentionHeads = positiveInt('num_attention_heads');
  const numKeyValueHeads = positiveInt('num_key_value_heads', raw.num_attention_heads as number | undefined);
  const numHiddenLayers = raw.num_hidden_layers === 0 ? 0 : positiveInt('num_hidden_layers');
  const headDim =
    raw.head_dim === undefined || raw.head_dim === null
      ? hiddenSize / numAttentionHeads
      : positiveInt('head_dim');
  if (!Number.isInteger(headDim)) {
    issues.push({
      path: 'head_dim',
      message: `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}; set head_dim`,
    });
  }
  if (headDim % 2 !== 0)
    issues.push({ path: 'head_dim', message: `rotary embeddings need an even head_dim, got ${headDim}` });
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    issues.push({
      path: 'num_key_value_heads',
      message: `num_attention_heads ${numAttentionHeads} must be a multiple of num_key_value_heads ${numKeyValueHeads}`,
    });
  }
  const hiddenAct = raw.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu')
    issues.push({
      path: 'hidden_act',
      message: `only 'silu' is supported, got ${JSON.stringify(hiddenAct)}`,
    });

  // Rotary embeddings: transformers ≤4.x `rope_theta` + `rope_scaling`; 5.x `rope_parameters`.
  const ropeParameters = (raw.rope_parameters ?? null) as Json | null;
  const ropeScaling = (raw.rope_scaling ?? null) as Json | null;
  for (const [key, block] of [
    ['rope_scaling', ropeScaling],
    ['rope_parameters', ropeParameters],
  ] as const) {
    if (block === null) continue;
    const ropeType = block.rope_type ?? block.type ?? 'default';
    if (ropeType !== 'default') {
      issues.push({
        path: `${key}.rope_type`,
        message: `rope type ${JSON.stringify(ropeType)} is not supported (only the default rotary embedding); ${
          rejectedRopeTypes.has(String(ropeType))
            ? 'remove the scaling block to run at the base context length'
            : 'unknown rope type'
        }`,
      });
    }
  }
  const ropeTheta = positiveNumber('rope_theta', 10000, raw.rope_theta ?? ropeParameters?.rope_theta);
  if (raw.partial_rotary_factor !== undefined && raw.partial_rotary_factor !== 1) {
    issues.push({ path: 'partial_rotary_factor', message: 'partial rotary embeddings are not supported' });
  }
  if (raw.use_sliding_window === true) {
    issues.push({
      path: 'use_sliding_window',
      message: 'sliding-window attention is not supported; set it to false',
    });
  }

  const attentionBiasFlag = optionalBool('attention_bias', false);
  const config: DecoderConfig = {
    modelType: type,
    vocabSize: positiveInt('vocab_size'),
    hiddenSize,
    intermediateSize: positiveInt('intermediate_size'),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: positiveInt('max_position_embeddings', 2048),
    rmsNormEps: positiveNumber('rms_norm_eps', 1e-6),
    ropeTheta,
    tieWordEmbeddings: optionalBool('tie_word_embeddings', false),
    attentionBias: type === 'qwen2' ? true : attentionBiasFlag,
    outputBias: type === 'qwen2' ? false : attentionBiasFlag,
    mlpBias: type === 'llama' ? optionalBool('mlp_bias', false) : false,
    qkNorm: type === 'qwen3',
    initializerRange: positiveNumber('initializer_range', 0.02),
  };
  const bos = optionalTokenId('bos_token_id');
  const eos = optionalTokenId('eos_token_id');
  const pad = optionalTokenId('pad_token_id');
  if (typeof bos === 'number') config.bosTokenId = bos;
  if (eos !== undefined) config.eosTokenId = eos;
  if (typeof pad === 'number') config.padTokenId = pad;
  if (issues.length > 0) throw new ConfigError({ issues, ...(source ? { source } : {}) });
  return config;
}

const architectureNames: Record<ModelType, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/** The Hugging Face `config.json` object for a decoder config (what `parseDecoderConfig` reads back). */
export function decoderConfigToJson(config: DecoderConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: [architectureNames[config.modelType]],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    initializer_range: config.initializerRange,
    torch_dtype: 'float32',
    use_cache: true,
  };
  if (config.modelType !== 'qwen2') json.attention_bias = config.attentionBias;
  if (config.modelType === 'llama') json.mlp_bias = config.mlpBias;
  if (config.modelType === 'qwen2') json.use_sliding_window = false;
  if (config.bosTokenId !== undefined) json.bos_token_id = config.bosTokenId;
  if (config.eosTokenId !== undefined) json.eos_token_id = config.eosTokenId;
  if (config.padTokenId !== undefined) json.pad_token_id = config.padTokenId;
  return json;
}
