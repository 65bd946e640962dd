export {
  type DecoderConfig,
  decoderConfigToJson,
  type ModelType,
  parseDecoderConfig,
  supportedModelTypes,
} from './config.js';
export {
  buildDecoderForward,
  buildInferenceGraph,
  countParameters,
  type DecoderForward,
  type DecoderForwardOptions,
  decoderParameterSpecs,
  type InferenceGraphOptions,
  type ParameterInit,
  type ParameterSpec,
  type WeightMap,
} from './decoder.js';
export { attr, GraphBuilder, type NodeOptions, type ParameterMode } from './ir/builder.js';
export { broadcastShapes, dtypeFromOnnx, inferNode, onnxDataType } from './ir/shapes.js';
export {
  serializeModel,
  type WriteOnnxOptions,
  type WrittenOnnxModel,
  writeOnnxModel,
} from './ir/serialize.js';
export {
  type Attribute,
  type Dim,
  type DType,
  dtypeByteSize,
  elementCount,
  type Graph,
  type Node,
  type TensorArray,
  type TensorData,
  type ValueInfo,
} from './ir/types.js';
export {
  type ModelFolder,
  readModelConfig,
  type WriteModelFolderOptions,
  writeDirectoryAtomically,
  writeModelFolder,
} from './folder.js';
export { SeededRandom, Xoshiro128 } from './prng.js';
export { hashString, randomWeights, type RandomWeightsOptions } from './random.js';
export {
  readCheckpointWeights,
  readSafetensors,
  readSafetensorsHeader,
  type ReadSafetensorsOptions,
  type SafetensorsEntry,
  writeSafetensors,
} from './safetensors.js';
export { checkWeights, type ConvertCheckpointOptions, convertCheckpoint } from './convert.js';
export {
  createTinyModel,
  type TinyModel,
  type TinyModelOptions,
  type TinyTokenizer,
  tinyModelConfig,
} from './tiny.js';
export {
  type CharTokenizerOptions,
  charTokenizer,
  defaultCharAlphabet,
  loadTextTokenizer,
  loadTokenizer,
  qwen3Tokenizer,
  qwen3TokenizerPaths,
  qwen3VocabSize,
  type TextTokenizer,
  type Tokenizer,
  type TokenizerFiles,
  tinyChatTemplate,
  tinySpecialTokens,
  type WordTokenizerOptions,
  wordTokenizer,
} from './tokenizers.js';
export { referenceForward } from './reference.js';
// Training graphs and reverse-mode autodiff (learner-onnx).
export { buildGradients, type GradientOptions } from './autodiff/gradients.js';
export {
  type BackwardContext,
  type BackwardRule,
  backwardRules,
  nonDifferentiableOps,
} from './autodiff/rules.js';
export {
  type AdamWGraphOptions,
  buildAdamWGraph,
  buildGradientGraph,
  buildLogprobsGraph,
  buildTrainStepGraph,
  decaysByDefault,
  type TrainingGraph,
  type TrainingGraphOptions,
  trainingNames,
} from './training.js';
