import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../vitest.shared.ts';

const shared = sharedProjectConfig(import.meta.url);
export default defineProject({ ...shared, test: { ...shared.test, include: ['*.test.ts'] } });
