export { createModelServer } from './server.js';
export type { ModelServer, ModelServerOptions, TokenizeInput } from './server.js';
export type { BatcherStats } from './batcher.js';
export {
  DecodeEngine,
  type EngineOptions,
  type EngineRequest,
  type EngineResult,
  type EngineStats,
  type SequenceDelta,
  type SequenceResult,
} from './engine/engine.js';
export type { SequenceSampling, TokenChoice } from './engine/sampling.js';

import { DecodeEngine, type EngineOptions } from './engine/engine.js';

/** Loads a model folder into rlpt's step-wise decode engine (for `createModelServer({ engine })`). */
export function createDecodeEngine(options: EngineOptions): Promise<DecodeEngine> {
  return DecodeEngine.create(options);
}
