import { defineConfig } from 'vitest/config';

// `pnpm vitest` at the root runs every package's project; CI runs them per package through turbo.
export default defineConfig({
  test: {
    projects: ['packages/*', 'packages/backends/*', 'packages/learners/*', 'internal/*'],
  },
});
