/**
 * Live weight updates over HTTP: SGLang's `POST /update_weights_from_disk {"model_path": …}` (served at
 * the server root, beside `/v1`), which `rlpt serve model` serves too. The reply is
 * `{ success, message, num_paused_requests }`, HTTP 400 with `success: false` when loading failed.
 */
import { ApiCallError, UnsupportedFunctionalityError } from '@rlpt/spec';
import { type HttpSettings, postJson, redact } from './http.js';

/** `http://host:30000/v1` → `http://host:30000/update_weights_from_disk`. */
export function updateWeightsURL(baseURL: string): string {
  return `${baseURL.replace(/\/v1$/, '')}/update_weights_from_disk`;
}

export async function updateWeightsFromDisk(
  http: HttpSettings,
  baseURL: string,
  modelDir: string,
  signal: AbortSignal,
): Promise<{ message: string }> {
  const url = updateWeightsURL(baseURL);
  let json: unknown;
  try {
    json = await postJson(http, url, { model_path: modelDir }, signal);
  } catch (error) {
    if (ApiCallError.isInstance(error) && (error.statusCode === 404 || error.statusCode === 405)) {
      throw new UnsupportedFunctionalityError({
        functionality: 'updateWeights',
        message: `updateWeights: ${redact(url, http.secrets)} answered ${error.statusCode}: this server cannot load weights from a folder over HTTP. SGLang and rlpt serve model can (POST /update_weights_from_disk); vLLM cannot from a path — restart it on the new folder, or use its dev-mode sleep / wake_up + collective_rpc reload_weights recipe.`,
      });
    }
    throw error;
  }
  const reply = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const message = typeof reply.message === 'string' ? reply.message : '';
  if (reply.success !== true) {
    throw new ApiCallError({
      url: redact(url, http.secrets),
      message: `updateWeights: ${redact(url, http.secrets)} did not load ${modelDir}: ${message || JSON.stringify(json)}`,
      responseBody: JSON.stringify(json),
      isRetryable: false,
    });
  }
  return { message };
}
