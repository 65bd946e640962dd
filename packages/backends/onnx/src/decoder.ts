/**
 * `@rlpt/backend-onnx/decoder`: the Optimum-layout decoder session and model-folder reading that this
 * backend's decode loop runs on, shared with `@rlpt/serve`'s step-wise engine so both run one
 * implementation. Not a stable public API: it may change in any minor release. onnxruntime-node is
 * imported only when a session is opened.
 */
export {
  type DecodingConfig,
  decodingConfig,
  defaultModelFiles,
  type ModelFolderInfo,
  type ReadModelFolderOptions,
  readModelFolder,
} from './model-folder.js';
export {
  DecoderSession,
  type DecoderSessionOptions,
  type ExecutionProvider,
  type ForwardInputs,
  type ForwardOutputs,
  type KvCache,
  openDecoderSession,
} from './session.js';
