import { fileURLToPath } from 'node:url';
import type { UserWorkspaceConfig } from 'vitest/config';

/**
 * Settings every package's vitest project shares. Workspace packages resolve to their TypeScript
 * sources through the `@rlpt/source` export condition, so tests never need a prior build.
 */
export function sharedProjectConfig(configUrl: string): UserWorkspaceConfig {
  const root = fileURLToPath(new URL('.', configUrl));
  return {
    root,
    resolve: { conditions: ['@rlpt/source', 'import', 'module', 'node', 'default'] },
    ssr: { resolve: { conditions: ['@rlpt/source', 'import', 'module', 'node', 'default'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: ['**/*.gpu.test.ts', '**/node_modules/**', '**/dist/**'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
    },
  };
}
