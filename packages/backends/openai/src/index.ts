export { createOpenAIBackend } from './openai-backend.js';
export type { OpenAIBackend, OpenAIBackendSettings } from './openai-backend.js';
export type { ServerKind } from './wire.js';
export { backoffDelayMs, parseRetryAfterMs } from './retry.js';
export type { BackoffOptions } from './retry.js';
