export { createLlamaCppBackend } from './llamacpp-backend.js';
export type { LlamaCppBackendOptions } from './llamacpp-backend.js';
