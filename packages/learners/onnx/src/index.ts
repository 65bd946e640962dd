export { type AdamWSettings, createOnnxLearner, OnnxLearner } from './learner.js';
export type { OnnxLearnerOptions } from './options.js';
export type { ShapeMode } from './sessions.js';
