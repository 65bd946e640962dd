import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scalingLaw } from '@rlpt/trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { stageStats } from '../report/run-report.js';
import { captureOutput, useTempDirs } from '../testing.js';
import { parseFitFlags, runFit } from './fit.js';

const { stdout, stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
let runDir: string;
const law = { a: 0.8, b: 0.6, c: 0.5 };

/** A run's metrics as the trainer writes them: pretrain, SFT, RLPT with evaluations, a torn last line. */
function metricsLines(): string {
  const rows: Record<string, unknown>[] = [];
  let tokensSeen = 0;
  for (let step = 1; step <= 20; step++) {
    tokensSeen += 100;
    rows.push({
      stage: 'pretrain',
      step,
      loss: 5 / step,
      tokens: 100,
      learningRate: 1e-3,
      tokensSeen,
      seconds: 0.5,
    });
  }
  for (let step = 1; step <= 10; step++) {
    tokensSeen += 50;
    rows.push({
      stage: 'sft',
      step,
      loss: 2 - step / 10,
      tokens: 50,
      learningRate: 1e-4,
      tokensSeen,
      seconds: 0.25,
    });
  }
  const rlStart = tokensSeen;
  rows.push({
    stage: 'eval:start',
    step: 0,
    tokensSeen,
    pass1: 0.1,
    'pass@1': 0.1,
    'pass@8': 0.3,
    greedy: 0.2,
  });
  for (let step = 1; step <= 40; step++) {
    tokensSeen += 1000;
    rows.push({
      stage: 'rlpt',
      step,
      'reward.mean': step / 50,
      'reward.asr': step / 45,
      'reward.msr': step / 60,
      'extract.ok': 0.9,
      'extract.missing': 0.05,
      'extract.empty': 0,
      'extract.unterminated': 0.05,
      'judge.failed': step === 3 ? 2 : 0,
      'response.length': 20 + step,
      'grpo.clipFraction': 0,
      completionTokens: 1000,
      updated: step % 10 === 0 ? 0 : 1,
      tokensSeen,
      'seconds.rollout': 1,
      'seconds.judge': 0.5,
    });
    if (step % 10 === 0) {
      const pass1 = scalingLaw(law, (tokensSeen - rlStart) / 1e6);
      rows.push({
        stage: `eval:rlpt@${step}`,
        step: 0,
        tokensSeen,
        pass1,
        'pass@1': pass1,
        'pass@8': pass1 + 0.1,
      });
    }
  }
  return `${rows.map((row) => JSON.stringify(row)).join('\n')}\n{"stage":"rlpt","st`;
}

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-report-');
  runDir = join(dir, 'run');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(runDir);
  await writeFile(join(runDir, 'metrics.jsonl'), metricsLines());
  await writeFile(
    join(runDir, 'config.json'),
    JSON.stringify({
      seed: 2,
      model: { dir: '/models/m' },
      policy: { backend: 'onnx' },
      judge: { type: 'lexical' },
      stages: [{ name: 'pretrain', type: 'pretrain', steps: 20 }],
    }),
  );
});

describe('rlpt report', () => {
  it('writes report.md with stage and evaluation tables and the plots of what the run has', async () => {
    expect(await main(['report', runDir])).toBe(0);
    const report = await readFile(join(runDir, 'report.md'), 'utf8');
    expect(report).toContain('model folder /models/m; policy onnx; judge lexical; seed 2');
    expect(report).toMatch(/\| pretrain \| 20 +\| 2000 +\| 10 s \| loss 2\.283 → 0\.280/);
    expect(report).toMatch(
      /\| rlpt +\| 40 +\| 42500 +\| 60 s \| reward 0\.060 → 0\.760 +\| 40\.5 +\| 0\.100 +\| 36\/40/,
    );
    expect(report).toContain('Judge failures (excluded from rewards and updates): 2 in total');
    expect(report).toMatch(/\| rlpt@40 +\| 42500 +\| 0\.\d{3} +\| 0\.\d{3} +\|/);
    // The held-out points follow a known law; the report recovers it.
    expect(report).toMatch(/a = 0\.80\d, b = 0\.60\d, c = 0\.50\d, R² = 1\.000/);
    for (const plot of [
      'loss',
      'reward',
      'response-length',
      'clip-fraction',
      'extraction-failures',
      'heldout',
    ]) {
      expect(report).toContain(`(${plot}.svg)`);
      expect(await readFile(join(runDir, `${plot}.svg`), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    }
    expect(await readFile(join(runDir, 'reward.svg'), 'utf8')).toContain('rlpt MSR');
    expect(await readFile(join(runDir, 'heldout.svg'), 'utf8')).toContain('fit y = 0.800');
    // The torn last line is reported, not fatal.
    expect(report).toContain('1 line(s)');
    expect(stderr.join('')).toContain('unreadable metrics line(s) left out (lines 76)');
    expect(stdout.join('')).toContain('3 stage(s) (1 RL), 5 evaluation(s), 6 plot(s)');
  });

  it('reports a run with only supervised stages without RL plots, and names a missing run directory', async () => {
    const supervised = join(dir, 'supervised');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(supervised);
    await writeFile(
      join(supervised, 'metrics.jsonl'),
      `${JSON.stringify({ stage: 'pretrain', step: 1, loss: 3, tokens: 10, tokensSeen: 10, seconds: 1 })}\n`,
    );
    const out = join(dir, 'elsewhere');
    expect(await main(['report', supervised, '--out', out])).toBe(0);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toContain('![training loss](loss.svg)');
    expect(report).not.toContain('reward.svg');
    expect(report).not.toContain('Held-out');
    expect(await main(['report', join(dir, 'missing')])).toBe(1);
    expect(stderr.join('')).toMatch(/missing does not exist: give a run directory/);
  });

  it('groups rows into stages with the tokens they started and ended at', () => {
    const rows = [
      { stage: 'sft', step: 1, loss: 1, tokens: 10, tokensSeen: 110 },
      { stage: 'sft', step: 2, loss: 1, tokens: 10, tokensSeen: 120 },
      { stage: 'eval:x', step: 0, tokensSeen: 120, pass1: 0.5 },
      { stage: 'rlpt', step: 1, 'reward.mean': 0, completionTokens: 30, tokensSeen: 150 },
    ];
    expect(
      stageStats(rows).map(({ stage, kind, steps, tokensStart, tokensEnd }) => ({
        stage,
        kind,
        steps,
        tokensStart,
        tokensEnd,
      })),
    ).toEqual([
      { stage: 'sft', kind: 'supervised', steps: 2, tokensStart: 100, tokensEnd: 120 },
      { stage: 'rlpt', kind: 'rl', steps: 1, tokensStart: 120, tokensEnd: 150 },
    ]);
  });
});

/** Metrics of a run whose held-out pass@1 rises almost linearly over a short range. */
function shortRiseLines(ys: number[], opts: { pass8?: boolean } = {}): string {
  const rows: Record<string, unknown>[] = [
    { stage: 'eval:start', step: 0, tokensSeen: 1000, pass1: 0.3, 'pass@1': 0.3, 'pass@8': 0.5 },
  ];
  let tokensSeen = 1000;
  ys.forEach((pass1, index) => {
    tokensSeen += 10_000;
    rows.push({ stage: 'rlpt', step: index + 1, 'reward.mean': pass1, tokensSeen, completionTokens: 100 });
    rows.push({
      stage: `eval:rlpt@${index + 1}`,
      step: 0,
      tokensSeen,
      pass1,
      'pass@1': pass1,
      ...(opts.pass8 ? { 'pass@8': Math.min(1, pass1 + 0.1) } : {}),
    });
  });
  return `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
}

describe('rlpt report: honest fits and n/a', () => {
  const rise = [0.45, 0.6, 0.66, 0.7, 0.76, 0.8];

  it('bounds the held-out fit of a pass rate by 1 and says so', async () => {
    const run = join(dir, 'short-rise');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(run);
    await writeFile(join(run, 'metrics.jsonl'), shortRiseLines(rise));
    expect(await main(['report', run])).toBe(0);
    const report = await readFile(join(run, 'report.md'), 'utf8');
    const a = Number(/a = ([0-9.]+), b =/.exec(report)?.[1]);
    expect(a).toBeGreaterThan(0.8);
    expect(a).toBeLessThanOrEqual(1);
    expect(report).toContain('a ≤ 1 (pass@1 is a rate)');
  });

  it('shows a missing pass@k and an impossible fit as n/a with the reason', async () => {
    const run = join(dir, 'two-evals');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(run);
    // Two RL evaluations (one without pass@8): no fit, and the missing value is n/a, not a dash.
    const lines = shortRiseLines(rise.slice(0, 2), { pass8: true }).replace(/,"pass@8":[0-9.]+}\n$/, '}\n');
    await writeFile(join(run, 'metrics.jsonl'), lines);
    expect(await main(['report', run])).toBe(0);
    const report = await readFile(join(run, 'report.md'), 'utf8');
    expect(report).toMatch(/\| rlpt@2 +\| 21000 +\| 0\.600 +\| n\/a +\|/);
    expect(report).toContain('n/a: pass@8 not measured in that evaluation');
    expect(report).toContain(
      'Scaling-law fit: n/a (2 held-out evaluation(s) after the start of RL; the 3-parameter fit needs at least 3).',
    );
  });

  it('rlpt fit bounds a rate by 1 unless --max-a none, and prints the bound', async () => {
    const file = join(dir, 'rise.jsonl');
    await writeFile(
      file,
      `${rise.map((y, index) => JSON.stringify({ stage: 'eval:x', tokens: (index + 1) * 0.01, pass1: y })).join('\n')}\n`,
    );
    const bounded = await runFit(parseFitFlags({ metrics: file, x: 'tokens', y: 'pass1', xUnit: '1' }));
    expect(bounded.law.a).toBeLessThanOrEqual(1);
    expect(bounded.maxA).toBe(1);
    expect(bounded.maxAReason).toMatch(/a ≤ 1: every pass1 is a rate in \[0, 1\]/);
    const free = await runFit(
      parseFitFlags({ metrics: file, x: 'tokens', y: 'pass1', xUnit: '1', maxA: 'none' }),
    );
    expect(free.law.a).toBeGreaterThan(1);
    expect(free.maxA).toBeNull();
    expect(await main(['fit', '--metrics', file, '--x', 'tokens'])).toBe(0);
    expect(stdout.join('')).toContain(
      'a ≤ 1: every pass1 is a rate in [0, 1] (--max-a none lifts the bound)',
    );
  });
});

describe('rlpt fit', () => {
  it('recovers a, b, c of points generated from the law and predicts at given x', async () => {
    const outcome = await runFit(
      parseFitFlags({
        metrics: runDir,
        x: 'tokensSeen',
        y: 'pass1',
        stage: 'eval:rlpt@*',
        xUnit: '1',
        predict: '1e5',
      }),
    );
    // tokensSeen is absolute here (RL started at 2500 tokens), so the law in those coordinates differs
    // from the generating one; check the fit reproduces the points instead.
    expect(outcome.points).toHaveLength(4);
    expect(outcome.law.r2).toBeGreaterThan(0.999);
    expect(outcome.predictions).toHaveLength(1);
    expect(outcome.predictions[0]!.y).toBeGreaterThan(outcome.points.at(-1)![1]);

    // With x = RL tokens in millions, the generating parameters come back.
    const rlRows = join(dir, 'rl-only.jsonl');
    const lines = Array.from({ length: 8 }, (_, index) => {
      const x = (index + 1) * 2e5;
      return JSON.stringify({
        stage: `eval:rlpt@${index}`,
        step: 0,
        rlTokens: x,
        pass1: scalingLaw(law, x / 1e6),
      });
    });
    await writeFile(
      rlRows,
      `${lines.join('\n')}\n${JSON.stringify({ stage: 'eval:start', step: 0, rlTokens: 0, pass1: 0.1 })}\n`,
    );
    const recovered = await runFit(
      parseFitFlags({ metrics: rlRows, x: 'rlTokens', y: 'pass1', xUnit: '1e6', predict: '2e6' }),
    );
    expect(recovered.dropped).toBe(1); // x = 0 is outside the law's domain
    expect(recovered.law.a).toBeCloseTo(0.8, 3);
    expect(recovered.law.b).toBeCloseTo(0.6, 3);
    expect(recovered.law.c).toBeCloseTo(0.5, 3);
    expect(recovered.predictions[0]!.y).toBeCloseTo(scalingLaw(law, 2), 4);
  });

  it('prints a, b, c, R² and predictions; errors name the flag or say what is missing', async () => {
    expect(await main(['fit', '--metrics', runDir, '--stage', 'eval:*', '--predict', '5e4,1e5'])).toBe(0);
    const out = stdout.join('');
    expect(out).toContain('pass1 = a·exp(−b·tokensSeen^(−c)), least squares over 5 points');
    expect(out).toMatch(/\| a +\| b +\| c +\| R² +\| RMSE +\|/);
    expect(out).toMatch(/\| 5\.0000e\+4 +\| 0\.\d+ +\|/);

    expect(await main(['fit', '--metrics', runDir, '--y', 'greedy', '--stage', 'eval:*'])).toBe(1);
    expect(stderr.join('')).toContain('1 point(s) with numeric tokensSeen > 0 and greedy');

    expect(await main(['fit', '--x-unit', '0', '--predict', '-1'])).toBe(2);
    const errors = stderr.join('');
    expect(errors).toContain('--metrics: is required');
    expect(errors).toContain('--x-unit: must be greater than 0');
    expect(errors).toContain('--predict: must be comma-separated positive numbers');
  });
});
