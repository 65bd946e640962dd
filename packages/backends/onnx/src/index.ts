export { createOnnxBackend, type OnnxBackend, type OnnxBackendSettings } from './backend.js';
export { completionStream, Xoshiro128 } from './prng.js';
export { type SampledToken, Sampler, type SamplingSettings } from './sampler.js';
export { cudaProviderInstalled, type ExecutionProvider } from './session.js';
