/**
 * `rlpt report RUN_DIR`: `report.md` and SVG plots from a run's `metrics.jsonl` (and `config.json` when
 * present). Supervised stages are the rows with a `loss`, RL stages the rows with `reward.mean`,
 * evaluations the `eval:<name>` rows.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultMaxA, fitScalingLaw, scalingLaw, writeFileAtomic } from '@rlpt/trainer';
import { formatTable } from '../ui.js';
import { type MetricsRow, numberOf, readMetricsFile } from './metrics.js';
import { lineChart, type Series } from './svg.js';

export interface RunReport {
  /** Path of the written `report.md`. */
  reportPath: string;
  /** SVG files written next to it. */
  plots: string[];
  stages: StageStats[];
  evaluations: MetricsRow[];
  /** The scaling-law fit of held-out pass@1 vs RL tokens, when there were ≥ 3 points (a ≤ `maxA`: pass@1 is a rate). */
  fit?: { a: number; b: number; c: number; r2: number; points: number; maxA: number | null };
  /** Why there is no fit, when there are evaluations but no fit. */
  fitUnavailable?: string;
  /** Metrics lines that could not be read. */
  skippedLines: number[];
}

export interface StageStats {
  stage: string;
  kind: 'supervised' | 'rl' | 'other';
  steps: number;
  rows: MetricsRow[];
  /** tokensSeen at the stage's first and last line. */
  tokensStart: number;
  tokensEnd: number;
  seconds: number;
}

const fmt = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
/** A metric value, or n/a when it was not measured. */
const metric = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : 'n/a');

function mean(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length ? finite.reduce((sum, value) => sum + value, 0) / finite.length : Number.NaN;
}

/** Trailing moving average over `window` points. */
export function smooth(points: [number, number][], window: number): [number, number][] {
  if (window <= 1) return points;
  return points.map(([x], index) => {
    const slice = points.slice(Math.max(0, index - window + 1), index + 1).map(([, y]) => y);
    return [x, mean(slice)];
  });
}

/** Groups training rows by stage, in the order stages first appear. */
export function stageStats(rows: MetricsRow[]): StageStats[] {
  const byStage = new Map<string, MetricsRow[]>();
  for (const row of rows) {
    if (row.stage.startsWith('eval:')) continue;
    const list = byStage.get(row.stage) ?? [];
    list.push(row);
    byStage.set(row.stage, list);
  }
  return [...byStage].map(([stage, list]) => {
    const kind = list.some((row) => 'reward.mean' in row)
      ? 'rl'
      : list.some((row) => 'loss' in row)
        ? 'supervised'
        : 'other';
    const first = list[0]!;
    const last = list.at(-1)!;
    const tokensEnd = numberOf(last, 'tokensSeen');
    const firstTokens = kind === 'rl' ? numberOf(first, 'completionTokens') : numberOf(first, 'tokens');
    return {
      stage,
      kind,
      steps: Math.max(...list.map((row) => row.step)),
      rows: list,
      tokensStart: numberOf(first, 'tokensSeen') - (Number.isFinite(firstTokens) ? firstTokens : 0),
      tokensEnd,
      seconds: list.reduce(
        (sum, row) =>
          sum + (Number.isFinite(numberOf(row, 'seconds')) ? numberOf(row, 'seconds') : 0) + stepSeconds(row),
        0,
      ),
    };
  });
}

/** RL rows time their phases (`seconds.rollout`, …) instead of one `seconds`. */
function stepSeconds(row: MetricsRow): number {
  return Object.entries(row)
    .filter(([key, value]) => key.startsWith('seconds.') && typeof value === 'number')
    .reduce((sum, [, value]) => sum + (value as number), 0);
}

function series(
  stats: StageStats[],
  field: string,
  window: number,
  name = (stage: string) => stage,
): Series[] {
  return stats
    .map((stage) => ({
      name: name(stage.stage),
      points: smooth(
        stage.rows
          .map((row) => [row.step, numberOf(row, field)] as [number, number])
          .filter(([, y]) => Number.isFinite(y)),
        window,
      ),
    }))
    .filter((entry) => entry.points.length > 0);
}

/** Writes `report.md` and the plots into the run directory (or `outDir`). */
export async function writeRunReport(runDir: string, options: { outDir?: string } = {}): Promise<RunReport> {
  const outDir = options.outDir ?? runDir;
  const { rows, skippedLines, path } = await readMetricsFile(runDir);
  const config = await readFile(join(runDir, 'config.json'), 'utf8')
    .then((text) => JSON.parse(text) as Record<string, unknown>)
    .catch(() => undefined);
  const stats = stageStats(rows);
  const supervised = stats.filter((stage) => stage.kind === 'supervised');
  const rl = stats.filter((stage) => stage.kind === 'rl');
  const evaluations = rows.filter((row) => row.stage.startsWith('eval:'));
  const plots: { file: string; title: string; svg: string }[] = [];
  const window = (stage: StageStats[]) =>
    Math.max(1, Math.round(Math.max(0, ...stage.map((entry) => entry.steps)) / 25));

  if (supervised.length) {
    plots.push({
      file: 'loss.svg',
      title: 'training loss',
      svg: lineChart({
        title: 'Loss of the supervised stages (next-token NLL per token)',
        xLabel: 'step',
        yLabel: 'loss',
        series: series(supervised, 'loss', 1),
      }),
    });
  }
  if (rl.length) {
    const w = window(rl);
    const note = w > 1 ? ` (${w}-step mean)` : '';
    const rewardSeries = [
      ...series(rl, 'reward.mean', w, (stage) => `${stage} mean`),
      ...series(rl, 'reward.asr', w, (stage) => `${stage} ASR`).map((entry) => ({
        ...entry,
        style: 'dashed' as const,
      })),
      ...series(rl, 'reward.msr', w, (stage) => `${stage} MSR`).map((entry) => ({
        ...entry,
        style: 'dashed' as const,
      })),
    ];
    plots.push({
      file: 'reward.svg',
      title: 'reward',
      svg: lineChart({
        title: `RL training reward${note}`,
        xLabel: 'step',
        yLabel: 'mean reward',
        series: rewardSeries,
      }),
    });
    plots.push({
      file: 'response-length.svg',
      title: 'response length',
      svg: lineChart({
        title: `Response length${note}`,
        xLabel: 'step',
        yLabel: 'tokens',
        series: series(rl, 'response.length', w),
      }),
    });
    plots.push({
      file: 'clip-fraction.svg',
      title: 'clip fraction',
      svg: lineChart({
        title: `Clipped token share (GRPO ratio outside [1 − ε, 1 + ε])${note}`,
        xLabel: 'step',
        yLabel: 'share of tokens',
        series: series(rl, 'grpo.clipFraction', w),
      }),
    });
    const failures: Series[] = [];
    for (const status of ['missing', 'unterminated', 'empty']) {
      failures.push(...series(rl, `extract.${status}`, w, (stage) => `${stage} ${status}`));
    }
    plots.push({
      file: 'extraction-failures.svg',
      title: 'extraction failures',
      svg: lineChart({
        title: `Outputs without a usable prediction, by reason${note}`,
        xLabel: 'step',
        yLabel: 'share of rollouts',
        series: failures,
      }),
    });
  }

  // Held-out evaluations over training tokens, and the paper's scaling law on the RL part.
  let fit: RunReport['fit'];
  let fitUnavailable: string | undefined;
  const evalPoints = evaluations
    .map((row) => [numberOf(row, 'tokensSeen'), numberOf(row, 'pass1')] as [number, number])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (evalPoints.length) {
    const rlStart = rl[0]?.tokensStart;
    const heldOut: Series[] = [
      { name: 'pass@1 (sampled)', points: evalPoints.map(([x, y]) => [x / 1e6, y]), style: 'points' },
    ];
    const greedy = evaluations
      .map((row) => [numberOf(row, 'tokensSeen') / 1e6, numberOf(row, 'greedy')] as [number, number])
      .filter(([, y]) => Number.isFinite(y));
    if (greedy.length) heldOut.push({ name: 'greedy', points: greedy, style: 'points' });
    if (rlStart !== undefined && Number.isFinite(rlStart)) {
      const points = evalPoints
        .map(([x, y]) => [(x - rlStart) / 1e6, y] as [number, number])
        .filter(([x]) => x > 0);
      // At least 3 points that differ (a constant curve has nothing to fit).
      if (points.length < 3) {
        fitUnavailable = `${points.length} held-out evaluation(s) after the start of RL; the 3-parameter fit needs at least 3`;
      } else if (new Set(points.map(([, y]) => y)).size === 1) {
        fitUnavailable = `all ${points.length} held-out pass@1 values after the start of RL are equal; a constant curve has nothing to fit`;
      } else {
        try {
          // pass@1 is a rate: its asymptote a is bounded by 1.
          const maxA = defaultMaxA(points.map(([, y]) => y));
          const law = fitScalingLaw(
            points.map(([x]) => x),
            points.map(([, y]) => y),
            maxA !== undefined ? { maxA } : {},
          );
          fit = { a: law.a, b: law.b, c: law.c, r2: law.r2, points: points.length, maxA: maxA ?? null };
          const xs = points.map(([x]) => x);
          const lo = Math.min(...xs);
          const hi = Math.max(...xs);
          heldOut.push({
            name: `fit y = ${fmt(law.a)}·exp(−${fmt(law.b)}·x^(−${fmt(law.c)})), x = RL tokens (M)`,
            points: Array.from({ length: 50 }, (_, i) => {
              const x = lo + ((hi - lo) * i) / 49;
              return [rlStart / 1e6 + x, scalingLaw(law, x)] as [number, number];
            }),
            style: 'dashed',
            color: '#333',
          });
        } catch (error) {
          fitUnavailable = `the fit failed: ${(error as Error).message}`;
        }
      }
    } else {
      fitUnavailable = 'no RL stage: the law is fitted over RL training tokens';
    }
    plots.push({
      file: 'heldout.svg',
      title: 'held-out evaluation',
      svg: lineChart({
        title: 'Held-out next-segment reward vs training tokens',
        xLabel: 'training tokens (millions)',
        yLabel: 'pass@1',
        series: heldOut,
      }),
    });
  }

  for (const plot of plots) await writeFileAtomic(join(outDir, plot.file), plot.svg);

  const lines: string[] = [`# Run report: ${runDir}`, ''];
  if (config) {
    const stages = Array.isArray(config.stages) ? (config.stages as Record<string, unknown>[]) : [];
    const model = config.model as Record<string, unknown> | undefined;
    const modelText = model?.dir
      ? `model folder ${String(model.dir)}`
      : model?.init
        ? `a tiny model built from ${JSON.stringify(model.init)}`
        : 'model: see config.json';
    lines.push(
      `Configuration (\`config.json\`): ${modelText}; policy ${String((config.policy as Record<string, unknown> | undefined)?.backend ?? '?')}; judge ${String((config.judge as Record<string, unknown> | undefined)?.type ?? '?')}; seed ${String(config.seed ?? '?')}.`,
      stages.length
        ? `Stages: ${stages.map((stage) => `${String(stage.name ?? stage.type)} (${String(stage.type)}, ${String(stage.steps)} steps)`).join(' → ')}.`
        : '',
      '',
    );
  }
  if (stats.length) {
    lines.push(
      '## Stages',
      '',
      formatTable(
        [
          'stage',
          'steps',
          'tokens seen (end)',
          'time',
          'first → last (mean of 5 steps)',
          'response tokens',
          'extraction failures',
          'steps with an update',
        ],
        stats.map((stage) => {
          const field = stage.kind === 'rl' ? 'reward.mean' : 'loss';
          const values = stage.rows.map((row) => numberOf(row, field));
          const headline = `${stage.kind === 'rl' ? 'reward' : 'loss'} ${fmt(mean(values.slice(0, 5)))} → ${fmt(mean(values.slice(-5)))}`;
          const rlOnly = (text: string) => (stage.kind === 'rl' ? text : '');
          return [
            stage.stage,
            stage.steps,
            stage.tokensEnd,
            `${Math.round(stage.seconds)} s`,
            stage.kind === 'other' ? '' : headline,
            rlOnly(fmt(mean(stage.rows.map((row) => numberOf(row, 'response.length'))), 1)),
            rlOnly(fmt(mean(stage.rows.map((row) => 1 - numberOf(row, 'extract.ok'))))),
            rlOnly(`${stage.rows.filter((row) => row.updated === 1).length}/${stage.rows.length}`),
          ];
        }),
      ),
      '',
    );
  }
  if (rl.length) {
    const judgeFailed = rl
      .flatMap((stage) => stage.rows)
      .reduce(
        (sum, row) =>
          sum + (Number.isFinite(numberOf(row, 'judge.failed')) ? numberOf(row, 'judge.failed') : 0),
        0,
      );
    lines.push(
      `Judge failures (excluded from rewards and updates): ${judgeFailed} in total. A step without an update had only groups whose rewards were all equal (no learning signal).`,
      '',
    );
  }
  if (evaluations.length) {
    const ks = [
      ...new Set(evaluations.flatMap((row) => Object.keys(row).filter((key) => key.startsWith('pass@')))),
    ].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
    const greedy = evaluations.some((row) => typeof row.greedy === 'number');
    lines.push(
      '## Held-out evaluations',
      '',
      formatTable(
        ['evaluation', 'tokens seen', ...ks, ...(greedy ? ['greedy'] : [])],
        evaluations.map((row) => [
          row.stage.slice('eval:'.length),
          numberOf(row, 'tokensSeen'),
          ...ks.map((key) => metric(numberOf(row, key))),
          ...(greedy ? [metric(numberOf(row, 'greedy'))] : []),
        ]),
      ),
      '',
      'pass@1 is the mean reward of the samples (sampled pass@1); pass@k is the unbiased estimator 1 − C(n−c, k)/C(n, k).',
      '',
    );
    const missing = [...ks, ...(greedy ? ['greedy'] : [])].filter((key) =>
      evaluations.some((row) => !Number.isFinite(numberOf(row, key))),
    );
    if (missing.length) {
      lines.push(
        `n/a: ${missing.join(', ')} not measured in that evaluation (pass@k needs at least k samples per item, eval.n; greedy only with eval.greedy).`,
        '',
      );
    }
    if (fit) {
      lines.push(
        `Fitted y = a·exp(−b·x^(−c)) (the paper's scaling-law form) to the ${fit.points} held-out pass@1 points after the start of RL, x = RL training tokens in millions${fit.maxA !== null ? `, a ≤ ${fit.maxA} (pass@1 is a rate)` : ''}: a = ${fmt(fit.a)}, b = ${fmt(fit.b)}, c = ${fmt(fit.c)}, R² = ${fmt(fit.r2)}. A fit over a short range describes the measured curve; it is no evidence for extrapolation. Refit with other axes: \`rlpt fit --metrics ${runDir} --x tokensSeen --y pass1\`.`,
        '',
      );
    } else if (fitUnavailable) {
      lines.push(`Scaling-law fit: n/a (${fitUnavailable}).`, '');
    }
  }
  if (plots.length) {
    lines.push('## Plots', '', ...plots.map((plot) => `![${plot.title}](${plot.file})`), '');
  }
  if (skippedLines.length) {
    lines.push(
      `${skippedLines.length} line(s) of ${path} could not be read and were left out (lines ${skippedLines.slice(0, 10).join(', ')}${skippedLines.length > 10 ? ', …' : ''}).`,
      '',
    );
  }
  if (!rows.length) lines.push(`${path} holds no metrics yet.`, '');
  const reportPath = join(outDir, 'report.md');
  await writeFileAtomic(reportPath, lines.join('\n'));
  return {
    reportPath,
    plots: plots.map((plot) => join(outDir, plot.file)),
    stages: stats,
    evaluations,
    ...(fit ? { fit } : {}),
    ...(!fit && fitUnavailable ? { fitUnavailable } : {}),
    skippedLines,
  };
}
