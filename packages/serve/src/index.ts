export { createModelServer } from './server.js';
export type { ModelServer, ModelServerOptions, TokenizeInput } from './server.js';
export type { BatcherStats } from './batcher.js';
