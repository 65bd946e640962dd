import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../../vitest.shared.ts';

const config = sharedProjectConfig(import.meta.url);
// `RLPT_GPU_TESTS=1` also runs `*.gpu.test.ts` (needs onnxruntime-node's CUDA provider; never in CI).
if (process.env.RLPT_GPU_TESTS === '1' && config.test?.exclude) {
  config.test.exclude = config.test.exclude.filter((pattern) => pattern !== '**/*.gpu.test.ts');
}

export default defineProject(config);
