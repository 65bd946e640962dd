import { createOpenAIBackend } from '@rlpt/backend-openai';
import type { InferenceBackendV1 } from '@rlpt/spec';
import type { ScriptedJudgeServer } from '../src/testing/index.js';

/** The real OpenAI-compatible backend pointed at a scripted judge server (no retries of its own). */
export function backendFor(
  server: ScriptedJudgeServer,
  settings: { timeoutMs?: number } = {},
): InferenceBackendV1 {
  return createOpenAIBackend({
    baseURL: server.baseURL,
    model: server.modelName,
    apiKey: 'test-key',
    maxRetries: 0,
    ...settings,
  });
}
