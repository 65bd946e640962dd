import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The suites call vitest's describe/it: use the test runner's own copy, never a bundled one.
  external: ['vitest'],
});
