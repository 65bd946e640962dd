export { createTinkerBackend, type TinkerBackend, type TinkerBackendSettings } from './backend.js';
export { tinkerBackendProvider } from './provider.js';
