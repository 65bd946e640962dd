/**
 * The judge in docs/guides/add-a-judge.md must pass the judge conformance suite: its code block is
 * written under this package's node_modules/.cache (so `@rlpt/reward` resolves) and run unchanged.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runJudgeConformance } from '@rlpt/conformance';
import type { JudgeV1 } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const guidePath = resolve(here, '../../../docs/guides/add-a-judge.md');
const blocks = [...readFileSync(guidePath, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (match) => match[1] as string,
);
const judgeBlock = blocks.find((block) => block.includes('export function createOverlapJudge'));

describe('docs/guides/add-a-judge.md', () => {
  it('has the example judge block', () => {
    expect(judgeBlock, `${guidePath}: no ts block exporting createOverlapJudge`).toBeDefined();
  });
});

const folder = join(here, '../node_modules/.cache/guide-examples');
mkdirSync(folder, { recursive: true });
const file = join(folder, 'overlap-judge.ts');
writeFileSync(file, judgeBlock ?? 'export function createOverlapJudge() { throw new Error("no block"); }');
const { createOverlapJudge } = (await import(file)) as { createOverlapJudge: () => JudgeV1 };
runJudgeConformance('add-a-judge guide: overlap judge', () => createOverlapJudge());
