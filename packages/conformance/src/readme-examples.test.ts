/**
 * Every code block of `@rlpt/spec`'s README must pass conformance: the backend block is written to a file
 * next to this package's node_modules (so `@rlpt/spec` and `@rlpt/conformance` resolve), and the README's
 * own conformance block is run on it, unchanged.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const readmePath = resolve(here, '../../spec/README.md');
const readme = readFileSync(readmePath, 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
const backendBlocks = blocks.filter((block) => /export function create\w+\(/.test(block));
const suiteBlocks = blocks.filter((block) => block.includes('runBackendConformance('));

describe('@rlpt/spec README code blocks', () => {
  it('has one backend block and one conformance block, and no other ts block', () => {
    expect(backendBlocks, `${readmePath}: backend blocks`).toHaveLength(1);
    expect(suiteBlocks, `${readmePath}: conformance blocks`).toHaveLength(1);
    expect(blocks).toHaveLength(2);
  });
});

// Written under node_modules/.cache (git-ignored); the suite registers its tests when imported.
const folder = join(here, '../node_modules/.cache/readme-examples');
mkdirSync(folder, { recursive: true });
const moduleName = /from '\.\/(\w+)\.js'/.exec(suiteBlocks[0] ?? '')?.[1] ?? 'toy';
writeFileSync(join(folder, `${moduleName}.ts`), backendBlocks[0] ?? '');
writeFileSync(join(folder, `${moduleName}.conformance.ts`), suiteBlocks[0] ?? '');
await import(join(folder, `${moduleName}.conformance.ts`));
