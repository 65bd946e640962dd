import { type DecoderConfig, decoderConfigToJson, type ModelType, parseDecoderConfig } from './config.js';
import type { InferenceGraphOptions, WeightMap } from './decoder.js';
import { type ModelFolder, writeModelFolder } from './folder.js';
import { randomWeights } from './random.js';
import { charTokenizer, qwen3Tokenizer, type TokenizerFiles, wordTokenizer } from './tokenizers.js';

/** Which tokenizer a tiny model gets. */
export type TinyTokenizer =
  | 'char'
  | 'qwen3'
  | { words: readonly string[]; addedTokens?: readonly string[] }
  | TokenizerFiles;

/** Options for {@link createTinyModel}. Sizes default to a ~100k-parameter model that runs in milliseconds. */
export interface TinyModelOptions {
  /** Folder to write (must not exist unless `overwrite`). */
  dir: string;
  /**
   * `char` (default): char-level tokenizer with byte fallback (~360 tokens). `qwen3`: the real Qwen3
   * tokenizer (151,936-entry vocabulary). `{ words, addedTokens }`: a word-level tokenizer. Or any
   * prepared {@link TokenizerFiles}.
   */
  tokenizer?: TinyTokenizer;
  /** `llama`, `qwen2` (q/k/v biases) or `qwen3` (q/k norm). Default `qwen3`. */
  architecture?: ModelType;
  /** Default 64. */
  hiddenSize?: number;
  /** Default 2. */
  layers?: number;
  /** Attention heads. Default 4. */
  heads?: number;
  /** Key/value heads (grouped-query attention when fewer than `heads`). Default 2. */
  kvHeads?: number;
  /** Default `hiddenSize / heads`. */
  headDim?: number;
  /** MLP width. Default `2 * hiddenSize`. */
  intermediateSize?: number;
  /** Default 2048. */
  maxPositionEmbeddings?: number;
  /** Default 10000. */
  ropeTheta?: number;
  /** Default 1e-6. */
  rmsNormEps?: number;
  /** Share the embedding and LM head. Default true. */
  tieWordEmbeddings?: boolean;
  /** Random-init seed. Default 0. */
  seed?: number;
  /** Std of the normal init. Default 0.02 (as Hugging Face); larger values give peakier distributions. */
  std?: number;
  /** Use these weights instead of random ones (Hugging Face names and layout). */
  weights?: WeightMap;
  /** Replace an existing folder. Default false. */
  overwrite?: boolean;
  /** Also write `model.safetensors`. Default true (the learner reads weights from it). */
  safetensors?: boolean;
  /**
   * Inference graph options (default: ORT kernels and a `num_logits_to_keep` input;
   * `{ norm: 'primitive', linear: 'matmul', numLogitsToKeep: false }` is plain standard ONNX).
   */
  graph?: InferenceGraphOptions;
}

/** A written tiny model. */
export interface TinyModel extends ModelFolder {
  weights: WeightMap;
  tokenizerFiles: TokenizerFiles;
}

async function resolveTokenizer(
  tokenizer: TinyTokenizer | undefined,
  maxLength: number,
): Promise<TokenizerFiles> {
  if (tokenizer === undefined || tokenizer === 'char') return charTokenizer({ modelMaxLength: maxLength });
  if (tokenizer === 'qwen3') return qwen3Tokenizer();
  if ('words' in tokenizer) {
    return wordTokenizer({
      words: tokenizer.words,
      ...(tokenizer.addedTokens ? { addedTokens: tokenizer.addedTokens } : {}),
      modelMaxLength: maxLength,
    });
  }
  return tokenizer;
}

/** The {@link DecoderConfig} a tiny model with these options gets (no files written). */
export function tinyModelConfig(
  options: Omit<TinyModelOptions, 'dir'>,
  tokenizer: TokenizerFiles,
): DecoderConfig {
  const hiddenSize = options.hiddenSize ?? 64;
  const heads = options.heads ?? 4;
  const config: DecoderConfig = {
    modelType: options.architecture ?? 'qwen3',
    vocabSize: tokenizer.vocabSize,
    hiddenSize,
    intermediateSize: options.intermediateSize ?? 2 * hiddenSize,
    numHiddenLayers: options.layers ?? 2,
    numAttentionHeads: heads,
    numKeyValueHeads: options.kvHeads ?? Math.min(2, heads),
    headDim: options.headDim ?? hiddenSize / heads,
    maxPositionEmbeddings: options.maxPositionEmbeddings ?? 2048,
    rmsNormEps: options.rmsNormEps ?? 1e-6,
    ropeTheta: options.ropeTheta ?? 10000,
    tieWordEmbeddings: options.tieWordEmbeddings ?? true,
    attentionBias: options.architecture === 'qwen2',
    outputBias: false,
    mlpBias: false,
    qkNorm: (options.architecture ?? 'qwen3') === 'qwen3',
    eosTokenId: tokenizer.eosTokenId,
    initializerRange: options.std ?? 0.02,
  };
  if (tokenizer.bosTokenId !== undefined) config.bosTokenId = tokenizer.bosTokenId;
  if (tokenizer.padTokenId !== undefined) config.padTokenId = tokenizer.padTokenId;
  // Round-trip through the config.json validator so bad sizes fail with the same ConfigError.
  return parseDecoderConfig(decoderConfigToJson(config), 'tiny model options');
}

/**
 * Writes a small random (seeded) Llama/Qwen decoder as a complete model folder — for tests, examples and
 * the demo. transformers.js and `@rlpt/backend-onnx` load it like any exported Hugging Face model.
 *
 * @example
 * const model = await createTinyModel({ dir: '/tmp/tiny', tokenizer: 'char', seed: 1 });
 * // model.dir/onnx/model.onnx, tokenizer.json, config.json, …
 */
export async function createTinyModel(options: TinyModelOptions): Promise<TinyModel> {
  const tokenizerFiles = await resolveTokenizer(options.tokenizer, options.maxPositionEmbeddings ?? 2048);
  const config = tinyModelConfig(options, tokenizerFiles);
  const weights = options.weights ?? randomWeights(config, { seed: options.seed ?? 0 });
  const folder = await writeModelFolder({
    dir: options.dir,
    config,
    weights,
    tokenizer: tokenizerFiles,
    safetensors: options.safetensors ?? true,
    ...(options.graph ? { graph: options.graph } : {}),
    ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
  });
  return { ...folder, weights, tokenizerFiles };
}
