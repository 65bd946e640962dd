export { createModelServer } from './server.js';
export type { ModelServer, ModelServerOptions } from './server.js';
export type { BatcherStats } from './batcher.js';
