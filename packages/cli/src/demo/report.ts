import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lineChart, type Series } from '../report/svg.js';
import { meanSd } from '../study/stats.js';
import { formatTable } from '../ui.js';
import type { DemoBudget, DemoSeedResult } from './seed.js';

export interface MetricComparison {
  metric: string;
  cold: { mean: number; sd: number };
  rl: { mean: number; sd: number };
  /** Per-seed paired gains (after RL − cold start). */
  gains: number[];
  gain: { mean: number; sd: number };
  /** Seed noise: the larger of the cold and after-RL standard deviations across seeds. */
  seedSd: number;
  /** Mean gain in units of seed noise (∞ when the noise is 0; NaN, shown n/a, when the metric is missing). */
  gainOverSeedSd: number;
}

export function compare(
  results: DemoSeedResult[],
  metric: string,
  pick: (r: DemoSeedResult, which: 'cold' | 'rl') => number,
): MetricComparison {
  const cold = results.map((result) => pick(result, 'cold'));
  const rl = results.map((result) => pick(result, 'rl'));
  const gains = rl.map((value, index) => value - cold[index]!);
  const coldStats = meanSd(cold);
  const rlStats = meanSd(rl);
  const gain = meanSd(gains);
  const seedSd = Math.max(coldStats.sd, rlStats.sd);
  return {
    metric,
    cold: coldStats,
    rl: rlStats,
    gains,
    gain,
    seedSd,
    // NaN (n/a) when the metric was not measured, not 0.
    gainOverSeedSd: Number.isNaN(gain.mean)
      ? Number.NaN
      : seedSd > 0
        ? gain.mean / seedSd
        : gain.mean > 0
          ? Number.POSITIVE_INFINITY
          : 0,
  };
}

export interface DemoReportInput {
  outDir: string;
  quick: boolean;
  budget: DemoBudget;
  results: DemoSeedResult[];
  strict?: DemoSeedResult;
  /** Training metrics per seed (from each run's metrics.jsonl). */
  metrics: Map<number, Record<string, unknown>[]>;
  seconds: number;
  scaling?: { a: number; b: number; c: number; r2: number; points: [number, number][] };
  /** Why there is no scaling-law fit, when there is none. */
  scalingUnavailable?: string;
}

/** A number; n/a for a metric that was not measured (NaN), ∞ for an infinite ratio. */
const fmt = (value: number, digits = 3) =>
  Number.isFinite(value) ? value.toFixed(digits) : Number.isNaN(value) ? 'n/a' : '∞';
const pm = (stats: { mean: number; sd: number }) => `${fmt(stats.mean)} ± ${fmt(stats.sd)}`;

/** Writes `report.md`, `summary.json` and the SVG plots; returns the headline comparison. */
export async function writeDemoReport(input: DemoReportInput): Promise<MetricComparison> {
  const { results, outDir } = input;
  const pass1 = compare(
    results,
    'held-out pass@1 (sampled, T=1, 8 samples)',
    (result, which) => result[which].pass1,
  );
  const pass8 = compare(
    results,
    'held-out pass@8',
    (result, which) => result[which].passAtK['8'] ?? Number.NaN,
  );
  const greedy = compare(
    results,
    'held-out greedy accuracy',
    (result, which) => result[which].greedy ?? Number.NaN,
  );
  const extraction = compare(
    results,
    'extraction failures',
    (result, which) => result[which].extractionFailureRate,
  );
  const comparisons = [pass1, pass8, greedy, extraction];

  // Plots.
  const rewardSeries: Series[] = [];
  const lengthSeries: Series[] = [];
  for (const result of results) {
    const rows = (input.metrics.get(result.seed) ?? []).filter((row) => row.stage === 'rlpt');
    rewardSeries.push({
      name: `seed ${result.seed}`,
      points: smooth(
        rows.map((row) => [Number(row.step), Number(row['reward.mean'])] as [number, number]),
        5,
      ),
    });
    lengthSeries.push({
      name: `seed ${result.seed}`,
      points: smooth(
        rows.map((row) => [Number(row.step), Number(row['response.length'])] as [number, number]),
        5,
      ),
    });
  }
  await writeFile(
    join(outDir, 'reward.svg'),
    lineChart({
      title: 'RLPT training reward (prefix, lexical judge; 5-step mean)',
      xLabel: 'RL step',
      yLabel: 'mean reward',
      series: rewardSeries,
    }),
  );
  await writeFile(
    join(outDir, 'response-length.svg'),
    lineChart({
      title: 'Response length during RLPT (5-step mean)',
      xLabel: 'RL step',
      yLabel: 'tokens',
      series: lengthSeries,
    }),
  );
  const heldOutSeries: Series[] = results.map((result) => ({
    name: `seed ${result.seed}`,
    // x = RLPT training tokens: the cold start sits at 0.
    points: [[0, result.cold.pass1] as [number, number], ...result.curve].map(
      ([tokens, value]) => [tokens / 1e6, value] as [number, number],
    ),
    style: 'points',
  }));
  if (input.scaling) {
    const { a, b, c } = input.scaling;
    const xs = input.scaling.points.map(([x]) => x);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    heldOutSeries.push({
      name: `fit y = ${fmt(a, 3)}·exp(−${fmt(b, 3)}·x^(−${fmt(c, 3)}))`,
      points: Array.from({ length: 50 }, (_, i) => {
        const x = lo + ((hi - lo) * i) / 49;
        return [x, a * Math.exp(-b * x ** -c)] as [number, number];
      }),
      style: 'dashed',
      color: '#333',
    });
  }
  await writeFile(
    join(outDir, 'heldout-vs-tokens.svg'),
    lineChart({
      title: 'Held-out next-segment pass@1 vs RLPT training tokens',
      xLabel: 'RLPT training tokens (millions; 0 = cold start)',
      yLabel: 'pass@1',
      series: heldOutSeries,
    }),
  );

  const lines: string[] = [];
  const verdict = pass1.gainOverSeedSd > 3;
  lines.push(
    `# rlpt demo${input.quick ? ' (quick)' : ''}`,
    '',
    `A ${results[0]?.parameters.toLocaleString('en-US') ?? '?'}-parameter word-level decoder, built and trained from scratch on the`,
    'built-in demo corpus (documents whose next sentence is inferable: running arithmetic, counting sequences,',
    'weekdays, syllogisms): pretrain (next token) → cold start (SFT on the task format) → RLPT (on-policy GRPO,',
    '16 prompts × 8 rollouts at T = 1, ASR:MSR = 1:0.5, prefix reward from the lexical judge) → evaluation on',
    `held-out documents never seen in training (${results[0]?.heldOutPrompts ?? '?'} prompts, 8 samples each at T = 1; reward = the exact next sentence).`,
    '',
    `Budget per seed: ${input.budget.pretrainSteps} pretraining steps (32 documents, lr 2e-3 cosine), ${input.budget.sftSteps} cold-start`,
    `SFT steps (32 examples, lr ${input.budget.sftLearningRate}), ${input.budget.rlSteps} RLPT steps (lr ${input.budget.rlLearningRate}).`,
    '',
    `**Headline:** held-out sampled pass@1 went from ${pm(pass1.cold)} after cold start to ${pm(pass1.rl)} after RLPT`,
    `(mean ± sd over ${results.length} seeds); the mean gain ${fmt(pass1.gain.mean)} is ${fmt(pass1.gainOverSeedSd, 1)}× the seed noise`,
    `(${fmt(pass1.seedSd)}) — ${verdict ? 'more' : '**not** more'} than 3 standard deviations.`,
    '',
    '## Cold start vs after RLPT',
    '',
    formatTable(
      ['metric', 'cold start', 'after RLPT', 'gain (mean ± sd, paired)', 'per-seed gains', 'gain / seed sd'],
      comparisons.map((comparison) => [
        comparison.metric,
        pm(comparison.cold),
        pm(comparison.rl),
        pm(comparison.gain),
        comparison.gains.map((gain) => fmt(gain)).join(', '),
        fmt(comparison.gainOverSeedSd, 1),
      ]),
    ),
    '',
    'Seed sd is the larger of the cold-start and after-RLPT standard deviations across seeds (an unpaired',
    'test); the paired sd of the gains is shown beside the mean gain.',
    '',
    '## Per seed',
    '',
    formatTable(
      [
        'seed',
        'cold pass@1',
        'RLPT pass@1',
        'cold pass@8',
        'RLPT pass@8',
        'cold greedy',
        'RLPT greedy',
        'seconds',
      ],
      results.map((result) => [
        result.seed,
        fmt(result.cold.pass1),
        fmt(result.rl.pass1),
        fmt(result.cold.passAtK['8'] ?? Number.NaN),
        fmt(result.rl.passAtK['8'] ?? Number.NaN),
        fmt(result.cold.greedy ?? Number.NaN),
        fmt(result.rl.greedy ?? Number.NaN),
        Math.round(Object.values(result.seconds).reduce((a, b) => a + b, 0)),
      ]),
    ),
    '',
  );
  const controls = results.filter((result) => result.control);
  if (controls.length) {
    const control = meanSd(controls.map((result) => result.control!.pass1));
    const controlGreedy = meanSd(controls.map((result) => result.control!.greedy ?? Number.NaN));
    const rlOfControls = meanSd(controls.map((result) => result.rl.pass1));
    lines.push(
      '## Compute-matched SFT control',
      '',
      'From the same cold-start weights, continued supervised training on the gold next sentences until it has',
      `spent the RLPT phase's compute in forward-equivalent tokens (a token sampled counts 1, a token trained 3; ${controls.map((result) => `${((result.rlComputeTokens ?? 0) / 1e6).toFixed(2)}M`).join(', ')} per seed) — ${controls.map((result) => result.control!.steps).join(', ')} steps. Tokens, not seconds: the match does not depend on the machine or its load.`,
      '',
      formatTable(
        ['run', 'held-out pass@1', 'greedy'],
        [
          ['RLPT', pm(rlOfControls), pm(meanSd(controls.map((result) => result.rl.greedy ?? Number.NaN)))],
          ['SFT control', pm(control), pm(controlGreedy)],
        ],
      ),
      '',
      control.mean > rlOfControls.mean
        ? 'On this toy task supervised training on the gold sentences beats RL for the same compute: SFT gets the whole target, RL one bit per sample. The demo shows that RL on next-segment reward improves a pretrained model beyond seed noise — not that it beats more supervised training.'
        : 'Here RLPT matched or beat the SFT control for the same compute.',
      '',
    );
  }
  if (input.strict) {
    lines.push(
      '## Strict reward (one run)',
      '',
      `Seed ${input.strict.seed} trained with the strict reward (prediction must equal s_i) instead of the prefix reward:`,
      `held-out pass@1 ${fmt(input.strict.cold.pass1)} → ${fmt(input.strict.rl.pass1)} (prefix-reward run of the same seed: ` +
        `${fmt(results.find((result) => result.seed === input.strict!.seed)?.rl.pass1 ?? Number.NaN)}).`,
      'With a cold start that teaches one-sentence predictions, the prefix reward rarely differs from the strict one',
      '(the lexical judge requires the whole target sentence before any following text counts).',
      '',
    );
  }
  if (input.scaling) {
    lines.push(
      '## Held-out reward vs RLPT training tokens',
      '',
      `Fitted y = a·exp(−b·x^(−c)) (the paper's scaling-law form; x = RLPT training tokens in millions) to the`,
      `held-out pass@1 points measured during RLPT, all seeds pooled (cold start: ${fmt(pass1.cold.mean)} at x = 0), a ≤ 1 (pass@1 is a rate): a = ${fmt(input.scaling.a)}, b = ${fmt(input.scaling.b)}, c = ${fmt(input.scaling.c)}, R² = ${fmt(input.scaling.r2)}.`,
      input.scaling.r2 < 0.8
        ? 'The fit is loose (seeds scatter around it); over a range this short it is a description of the measured points, not evidence for extrapolation.'
        : 'Over a range this short the fit describes the measured curve; it is not evidence for extrapolation.',
      '',
    );
  } else if (input.scalingUnavailable) {
    lines.push(
      '## Held-out reward vs RLPT training tokens',
      '',
      `Scaling-law fit: n/a (${input.scalingUnavailable}).`,
      '',
    );
  }
  lines.push(
    '## Plots',
    '',
    '![training reward](reward.svg)',
    '![response length](response-length.svg)',
    '![held-out pass@1 vs tokens](heldout-vs-tokens.svg)',
    '',
    `Total wall time: ${Math.round(input.seconds)} s. Seeds ran in parallel, one onnxruntime thread each.`,
    '',
  );
  const servedRuns = results.filter((result) => result.policy === 'served');
  if (servedRuns.length > 0) {
    lines.push(
      `Policy: rollouts and evaluations ran behind \`rlpt serve model\` (one server per seed), which received the learner's weights after every update (POST /update_weights_from_disk): ${servedRuns.map((result) => `seed ${result.seed}: ${result.weightPushes ?? 0} pushes`).join(', ')}.`,
      '',
    );
  }
  const tinkerRuns = results.filter((result) => result.policy === 'tinker');
  if (tinkerRuns.length > 0) {
    lines.push(
      `Learner and policy: every stage ran behind \`rlpt serve tinker\` (one server per seed) over the Tinker API — forward_backward and optim_step for the updates, asample for rollouts and evaluations, which followed the learner's saved sampler weights: ${tinkerRuns.map((result) => `seed ${result.seed}: ${result.weightPushes ?? 0} sampler updates`).join(', ')}.`,
      '',
    );
  }
  await writeFile(join(outDir, 'report.md'), lines.join('\n'));
  await writeFile(
    join(outDir, 'summary.json'),
    `${JSON.stringify({ quick: input.quick, seconds: input.seconds, comparisons, results, strict: input.strict ?? null, scaling: input.scaling ?? null }, null, 2)}\n`,
  );
  return pass1;
}

function smooth(points: [number, number][], window: number): [number, number][] {
  return points.map(([x], index) => {
    const slice = points.slice(Math.max(0, index - window + 1), index + 1);
    return [x, slice.reduce((sum, [, y]) => sum + y, 0) / slice.length];
  });
}
