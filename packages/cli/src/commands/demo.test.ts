import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, useTempDirs } from '../testing.js';

const makeTempDir = useTempDirs();

interface Summary {
  quick: boolean;
  comparisons: { metric: string; gain: { mean: number }; gainOverSeedSd: number; gains: number[] }[];
  results: { seed: number; cold: { pass1: number }; rl: { pass1: number } }[];
}

describe('rlpt demo --quick (the CI smoke run of the embedded demo)', () => {
  it('trains two seeds end to end and shows RLPT improving held-out reward beyond seed noise', async () => {
    const out = await makeTempDir('rlpt-demo-');
    const { code, stdout, stderr } = await runCli(['demo', '--quick', '--out', out]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/held-out pass@1: .* \(cold start\) → .* \(after RLPT\)/);
    for (const file of [
      'report.md',
      'summary.json',
      'reward.svg',
      'response-length.svg',
      'heldout-vs-tokens.svg',
    ]) {
      expect((await stat(join(out, file))).size).toBeGreaterThan(100);
    }
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.results.map((result) => result.seed)).toEqual([0, 1]);
    const pass1 = summary.comparisons[0]!;
    expect(pass1.metric).toMatch(/pass@1/);
    // The method must actually learn: every seed improves, and the mean gain clears 3× seed noise.
    for (const gain of pass1.gains) expect(gain).toBeGreaterThan(0.03);
    expect(pass1.gainOverSeedSd).toBeGreaterThan(3);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Cold start vs after RLPT');
    // Resuming a finished demo reuses every job's result and rewrites the same report.
    const resumed = await runCli(['demo', '--quick', '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const again = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(again.results).toEqual(summary.results);
    // Running again into the same folder without --resume/--overwrite is refused, naming the options.
    const refused = await runCli(['demo', '--quick', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds a demo.*--resume.*--overwrite/s);
  }, 600_000);
});
