import { defineConfig } from 'tsup';

export default defineConfig({
  // worker.ts is its own entry: the pool starts dist/worker.js next to the module that imports it.
  entry: ['src/index.ts', 'src/worker.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts', compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
