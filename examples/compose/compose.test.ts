import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compose } from './compose.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('examples/compose', () => {
  it('runs a custom judge + onnx backend + local learner through the rlpt train stage runner', {
    timeout: 180_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rlpt-compose-'));
    dirs.push(dir);
    const outcome = await compose(dir, true);
    expect(outcome.stages.map((stage) => stage.type)).toEqual(['pretrain', 'sft', 'rlpt']);
    const samples = (await readFile(join(dir, 'run', 'samples', 'rlpt-step-1.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { verdict: { status: string; score: number } | null });
    const judged = samples.filter((sample) => sample.verdict?.status === 'ok');
    // The custom judge scored the rollouts: graded scores, not only 0/1.
    expect(judged.length).toBeGreaterThan(0);
    for (const sample of judged) expect(sample.verdict!.score).toBeGreaterThanOrEqual(0);
    expect(outcome.evaluations.length).toBeGreaterThan(0);
  });
});
