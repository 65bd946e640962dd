import { cp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RewardsJobResult } from '../study/rewards.js';
import { runCli, useTempDirs } from '../testing.js';

const makeTempDir = useTempDirs();

interface Report {
  study: string;
  seeds: number;
  budget: { computeBudget: number; chunks: number };
  results: Record<string, RewardsJobResult>;
}

const readReport = async (out: string) =>
  JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report;

describe('rlpt study rewards --smoke (the CI version of the study)', () => {
  it('runs the grid, compute-matches the four methods, writes the report, and resumes to identical numbers', async () => {
    const out = await makeTempDir('rlpt-study-');
    const { code, stdout, stderr } = await runCli(['study', 'rewards', '--smoke', '--out', out]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/next-segment NLL: best \w+/);
    const report = await readReport(out);
    expect(Object.keys(report.results).sort()).toEqual(['base-0', 'cpt-0', 'rlp-0', 'rlpt-0', 'rpt-0']);
    const base = report.results['base-0']!;
    expect(base.points).toHaveLength(1);
    expect(base.points[0]!.computeTokens).toBe(0);
    for (const arm of ['rlpt', 'rpt', 'rlp', 'cpt']) {
      const result = report.results[`${arm}-0`]!;
      // Every method starts from the same cold start and measures it identically.
      expect(result.points[0]).toEqual(base.points[0]);
      expect(result.points).toHaveLength(report.budget.chunks + 1);
      // Each part spends at least its share of the budget, and overshoots by less than one step's worth.
      const final = result.points.at(-1)!.computeTokens;
      expect(final).toBeGreaterThanOrEqual(report.budget.computeBudget);
      expect(final).toBeLessThan(report.budget.computeBudget * 1.5);
      for (const point of result.points) {
        expect(point.nll).toBeGreaterThan(0);
        expect(point.tokenAccuracy).toBeGreaterThanOrEqual(0);
        expect(point.tokenAccuracy).toBeLessThanOrEqual(1);
      }
    }
    // The control trains on the text itself: its held-out NLL must fall below the cold start's.
    expect(report.results['cpt-0']!.points.at(-1)!.nll).toBeLessThan(base.points[0]!.nll!);
    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('## Paired differences');
    expect(markdown).toMatch(/\| continued pretraining \(control\)\s+\|/);
    for (const plot of ['nll.svg', 'tokenAccuracy.svg', 'segmentPass1.svg', 'segmentGreedy.svg']) {
      expect((await stat(join(out, plot))).size).toBeGreaterThan(500);
    }

    // An interrupted study: one method's result lost, another method's folder gone. --resume runs only
    // those two and ends with the same numbers (each job is seeded by (seed, method) alone).
    const copy = await makeTempDir('rlpt-study-resume-');
    await cp(out, copy, { recursive: true });
    await rm(join(copy, 'rpt-0', 'result.json'));
    await rm(join(copy, 'rlp-0'), { recursive: true });
    const resumed = await runCli(['study', 'rewards', '--smoke', '--out', copy, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('[rlp-0]');
    expect(resumed.stderr).not.toContain('[base-0]');
    const again = await readReport(copy);
    for (const name of Object.keys(report.results)) {
      const { seconds: _a, ...first } = report.results[name]!;
      const { seconds: _b, ...second } = again.results[name]!;
      expect(second, name).toEqual(first);
    }

    // The same folder without --resume/--overwrite is refused; --resume with other settings too.
    const refused = await runCli(['study', 'rewards', '--smoke', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds a study.*--resume.*--overwrite/s);
    const mixed = await runCli(['study', 'rewards', '--smoke', '--seeds', '2', '--out', out, '--resume']);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/would mix settings/);
  }, 600_000);

  it.each([
    ['tasks', ['asr', 'msr', 'mix'], '## Paired differences'],
    ['scaling', ['rlpt'], '## Scaling law'],
    ['transfer', ['rlpt', 'sft'], 'unseen (apples)'],
    ['rlvr', ['rlvr', 'rlpt-rlvr'], 'held-out sums'],
    ['reward-shape', ['prefix', 'strict'], '## Training panels (Fig. 4)'],
  ])(
    'rlpt study %s --smoke runs every arm from the shared cold start and writes its report',
    async (name, arms, section) => {
      const out = await makeTempDir(`rlpt-study-${name}-`);
      const { code, stderr } = await runCli(['study', name, '--smoke', '--out', out]);
      expect(code, stderr).toBe(0);
      const report = await readReport(out);
      expect(Object.keys(report.results).sort()).toEqual(['base-0', ...arms.map((arm) => `${arm}-0`)].sort());
      for (const arm of arms) {
        const points = report.results[`${arm}-0`]!.points;
        expect(points[0]).toEqual(report.results['base-0']!.points[0]);
        expect(points).toHaveLength(report.budget.chunks + 1);
        expect(points.at(-1)!.computeTokens).toBeGreaterThanOrEqual(report.budget.computeBudget);
      }
      expect(await readFile(join(out, 'report.md'), 'utf8')).toContain(section);
    },
    300_000,
  );

  it('an unknown study is an error listing the studies', async () => {
    const { code, stderr } = await runCli(['study', 'nope']);
    // Commander's usage errors exit 1, as everywhere in this CLI.
    expect(code).toBe(1);
    expect(stderr).toMatch(/rewards/);
  });
});
