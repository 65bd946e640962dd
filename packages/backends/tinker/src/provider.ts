import type { BackendProvider, InferenceBackendV1, ProviderOptions } from '@rlpt/spec';
import { InvalidArgumentError } from '@rlpt/spec';
import { createTinkerBackend } from './backend.js';

function stringOption(options: ProviderOptions, key: string): string | undefined {
  const value = options[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The `tinker:<URL>` backend spec for `@rlpt/spec`'s registry (`registerBackendProvider(tinkerBackendProvider)`).
 * Options: `baseModel` (or `model`; required), `tokenizerDir`, `modelPath`, `apiKeyEnv`, `logger`.
 */
export const tinkerBackendProvider: BackendProvider = {
  scheme: 'tinker',
  description:
    'Tinker API sampling (hosted Tinker, SkyRL, rlpt serve tinker): asample over a sampling session',
  example: 'tinker:http://127.0.0.1:8000',
  async create(target: string, options: ProviderOptions): Promise<InferenceBackendV1> {
    const baseModel = stringOption(options, 'baseModel') ?? stringOption(options, 'model');
    if (!baseModel) {
      throw new InvalidArgumentError({
        argument: 'baseModel',
        message: `tinker:${target} needs the base model name (option baseModel or model), as get_server_capabilities lists it.`,
      });
    }
    const tokenizerDir = stringOption(options, 'tokenizerDir');
    const modelPath = stringOption(options, 'modelPath');
    const apiKeyEnv = stringOption(options, 'apiKeyEnv');
    const backend = createTinkerBackend({
      baseURL: target,
      baseModel,
      ...(tokenizerDir ? { tokenizerDir } : {}),
      ...(modelPath ? { modelPath } : {}),
      ...(apiKeyEnv ? { apiKeyEnv } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    await backend.init();
    return backend;
  },
};
