export {
  createTransformersBackend,
  type TransformersBackend,
  type TransformersBackendSettings,
  type TransformersDevice,
} from './backend.js';
export type { TransformersDtype } from './folder.js';
