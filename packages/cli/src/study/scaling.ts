// `rlpt study scaling` (issue 17): the paper's Fig. 1 law y = a·exp(−b·x^(−c)) on held-out next-segment
// pass@1 along RLPT training, per seed and on the seed-mean curve, with R² and a held-out extrapolation check
// (fit on the first part of the curve, predict the rest, against the naive "it stays where it is" forecast).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, SftExample } from '@rlpt/trainer';
import { type DemoWorld, demoItem, demoRollouts, demoTask } from '../demo/world.js';
import { lineChart, type Series } from '../report/svg.js';
import { formatTable } from '../ui.js';
import { lexicalJudges, type GridBudget, type GridJobResult, gridStudy } from './grid.js';
import { meanSd } from './stats.js';

export interface ScalingBudget extends GridBudget {
  evalPrompts: number;
  evalSamples: number;
  /** Points the extrapolation check fits on (the rest are predicted). */
  fitPoints: number;
}

export const scalingBudgets: Record<'full' | 'smoke', ScalingBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 600,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 2_000_000,
    chunks: 12,
    evalPrompts: 200,
    evalSamples: 4,
    fitPoints: 8,
  },
  smoke: {
    trainDocuments: 120,
    heldOutDocuments: 40,
    pretrainSteps: 8,
    sftSteps: 4,
    computeBudget: 40_000,
    chunks: 4,
    evalPrompts: 12,
    evalSamples: 2,
    fitPoints: 3,
  },
};

interface Items {
  train: RlItem[];
  sft: SftExample[];
  documents: string[];
  held: RlItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1 };
}

async function buildItems(world: DemoWorld, budget: ScalingBudget, seed: number): Promise<Items> {
  const { goldCompletion } = await import('@rlpt/trainer');
  const { corpus } = world;
  const train = corpus.trainTargets.map((target, index) =>
    demoItem(target, demoTask(target, index, seed), 'prefix'),
  );
  return {
    train,
    sft: train.map((entry, index) => ({
      id: entry.id,
      prompt: entry.prompt,
      completion: goldCompletion(corpus.trainTargets[index]!.target),
    })),
    documents: corpus.train.map((document) => document.text),
    held: corpus.heldOutTargets
      .slice(0, budget.evalPrompts)
      .map((target) => demoItem(target, 'asr', 'strict')),
    judges: {
      ...(await lexicalJudges()),
    },
  };
}

interface FitRow {
  curve: string;
  a: number;
  b: number;
  c: number;
  r2: number;
  /** RMSE of the law fitted on the first points, over the remaining points. */
  extrapolationRmse: number;
  /** RMSE of carrying the last fitted point forward, over the same points. */
  naiveRmse: number;
}

async function analyse(
  results: Map<string, GridJobResult>,
  settings: { out: string; seeds: number; smoke: boolean },
): Promise<{ markdown: string[]; summary: string[] }> {
  const { fitScalingLaw, scalingLaw } = await import('@rlpt/trainer');
  const budget = scalingBudgets[settings.smoke ? 'smoke' : 'full'];
  const seeds = Array.from({ length: settings.seeds }, (_, seed) => seed);
  // x: millions of forward-equivalent tokens since the cold start; the cold start (x = 0) is outside the law.
  const curves = seeds.map((seed) =>
    results
      .get(`rlpt-${seed}`)!
      .points.slice(1)
      .map((point) => [point.computeTokens / 1e6, point.pass1!] as [number, number]),
  );
  const meanCurve = curves[0]!.map((_, index) => [
    meanSd(curves.map((curve) => curve[index]![0])).mean,
    meanSd(curves.map((curve) => curve[index]![1])).mean,
  ]) as [number, number][];
  const rmse = (pairs: [number, number][]) =>
    Math.sqrt(pairs.reduce((sum, [a, b]) => sum + (a - b) ** 2, 0) / Math.max(1, pairs.length));
  const fits: FitRow[] = [];
  const failures: string[] = [];
  const fitCurve = (name: string, points: [number, number][]) => {
    try {
      const all = fitScalingLaw(
        points.map(([x]) => x),
        points.map(([, y]) => y),
        { maxA: 1 },
      );
      const head = points.slice(0, budget.fitPoints);
      const tail = points.slice(budget.fitPoints);
      const early = fitScalingLaw(
        head.map(([x]) => x),
        head.map(([, y]) => y),
        { maxA: 1 },
      );
      const last = head.at(-1)![1];
      fits.push({
        curve: name,
        a: all.a,
        b: all.b,
        c: all.c,
        r2: all.r2,
        extrapolationRmse: rmse(tail.map(([x, y]) => [scalingLaw(early, x), y])),
        naiveRmse: rmse(tail.map(([, y]) => [last, y])),
      });
      return all;
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const series: Series[] = [];
  curves.forEach((curve, seed) => {
    fitCurve(`seed ${seed}`, curve);
    series.push({ name: `seed ${seed}`, points: curve, style: 'points' });
  });
  const meanFit = fitCurve('seed mean', meanCurve);
  const pooled = curves.flat();
  fitCurve(
    'pooled points',
    [...pooled].sort((a, b) => a[0] - b[0]),
  );
  if (meanFit) {
    const xs = meanCurve.map(([x]) => x);
    const span = Array.from({ length: 60 }, (_, index) => xs[0]! + ((xs.at(-1)! - xs[0]!) * index) / 59);
    series.push({ name: 'law (seed mean)', points: span.map((x) => [x, scalingLaw(meanFit, x)]) });
  }
  await writeFile(
    join(settings.out, 'scaling.svg'),
    lineChart({
      title: 'Held-out next-segment pass@1 along RLPT and the fitted law y = a·exp(−b·x^(−c))',
      xLabel: 'forward-equivalent tokens since the cold start (millions)',
      yLabel: 'held-out pass@1',
      series,
    }),
  );
  const markdown = [
    '## Scaling law',
    '',
    `Fits of y = a·exp(−b·x^(−c)) (a ≤ 1) to held-out pass@1 at the ${budget.chunks} points after the cold start; x in millions of forward-equivalent tokens. Extrapolation: the law fitted on the first ${budget.fitPoints} points predicts the last ${budget.chunks - budget.fitPoints}; "naive" carries the last fitted point forward. A law that extrapolates better than naive has RMSE below it.`,
    '',
    formatTable(
      ['curve', 'a', 'b', 'c', 'R²', 'extrapolation RMSE', 'naive RMSE'],
      fits.map((fit) => [
        fit.curve,
        fit.a.toFixed(3),
        fit.b.toFixed(3),
        fit.c.toFixed(3),
        fit.r2.toFixed(3),
        fit.extrapolationRmse.toFixed(4),
        fit.naiveRmse.toFixed(4),
      ]),
    ),
    '',
    ...(failures.length ? ['Fits that failed:', '', ...failures.map((line) => `- ${line}`), ''] : []),
    '![scaling law](scaling.svg)',
    '',
  ];
  const mean = fits.find((fit) => fit.curve === 'seed mean');
  const perSeed = fits.filter((fit) => fit.curve.startsWith('seed ') && fit.curve !== 'seed mean');
  const summary = mean
    ? [
        `scaling law on the seed-mean curve: R² ${mean.r2.toFixed(3)} (per seed ${perSeed.map((fit) => fit.r2.toFixed(3)).join(', ')}); extrapolation RMSE ${mean.extrapolationRmse.toFixed(4)} vs naive ${mean.naiveRmse.toFixed(4)}`,
      ]
    : [`scaling law: no fit (${failures.join('; ')})`];
  return { markdown, summary };
}

export const scalingStudy = gridStudy<Items, ScalingBudget>({
  name: 'scaling',
  title: "The paper's scaling law on held-out pass@1 along RLPT: per seed, seed mean, extrapolation check",
  defaultSeeds: 3,
  budgets: scalingBudgets,
  world: { prompts: ['asr', 'msr'] },
  items: buildItems,
  sft: (items) => items.sft,
  documents: (items) => items.documents,
  control: 'rlpt',
  arms: [
    {
      name: 'rlpt',
      title: 'RLPT (lexical prefix judge, ASR + MSR)',
      training: 'reward',
      train: (trainer, items, chunk) =>
        trainer.rl(items.train, {
          ...chunk,
          ...demoRollouts,
          maxTokens: 24,
          judge: items.judges.prefix,
        }),
    },
  ],
  yardsticks: [
    { key: 'pass1', label: 'held-out pass@1' },
    { key: 'greedy', label: 'held-out greedy' },
  ],
  measure: async (trainer, items, budget, label) => {
    const result = await trainer.evaluate(items.held, {
      judge: items.judges.strict,
      n: budget.evalSamples,
      temperature: 1,
      maxTokens: 24,
      greedy: true,
      name: `heldout@${label}`,
    });
    return { pass1: result.pass1, greedy: result.greedy ?? Number.NaN };
  },
  analyse,
  describe: (budget, _settings, parameters) => [
    `RLPT from one cold start per seed (a ${parameters.toLocaleString('en-US')}-parameter word-level model, ${budget.pretrainSteps} pretraining steps on ${budget.trainDocuments} demo documents, ${budget.sftSteps} SFT steps), with held-out next-segment pass@1 (${budget.evalPrompts} ASR prompts × ${budget.evalSamples} samples, strict lexical judge) measured at ${budget.chunks} evenly spaced compute points. The paper's Fig. 1 fits y = a·exp(−b·x^(−c)) to such a curve.`,
  ],
});
