export { createTinkerBackend, type TinkerBackend, type TinkerBackendSettings } from './backend.js';
