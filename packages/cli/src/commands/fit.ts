import type { Command } from 'commander';
import * as z from 'zod';
import { flagError } from '../flags.js';
import { formatTable } from '../ui.js';

/** Flags of `rlpt fit` as commander hands them over. */
export interface RawFitFlags {
  metrics?: string;
  x: string;
  y: string;
  stage?: string;
  xUnit: string;
  predict?: string;
  maxA?: string;
  json?: boolean;
}

const numberList = z
  .string()
  .transform((value) => value.split(',').map((entry) => Number(entry.trim())))
  .refine((values) => values.length > 0 && values.every((value) => Number.isFinite(value) && value > 0), {
    error: 'must be comma-separated positive numbers (in the units of the metrics file), e.g. 1e9,1e10',
  });

const flagsSchema = z.object({
  metrics: z.string({ error: 'is required: a run directory or its metrics.jsonl' }).min(1),
  x: z.string().min(1, { error: 'must name a metrics field, e.g. tokensSeen' }),
  y: z.string().min(1, { error: 'must name a metrics field, e.g. pass1' }),
  stage: z.string().min(1).optional(),
  xUnit: z.coerce.number({ error: 'must be a number' }).positive({ error: 'must be greater than 0' }),
  predict: numberList.optional(),
  maxA: z
    .union(
      [
        z.literal('none'),
        z.coerce.number({ error: 'must be a number' }).positive({ error: 'must be greater than 0' }),
      ],
      { error: "must be a number greater than 0, or 'none'" },
    )
    .optional(),
  json: z.boolean().optional(),
});

export type FitSettings = z.infer<typeof flagsSchema>;

/** Validates the flags; a `ConfigError` lists every bad flag. */
export function parseFitFlags(flags: RawFitFlags): FitSettings {
  const result = flagsSchema.safeParse(flags);
  if (!result.success) throw flagError('rlpt fit flags', result.error.issues);
  return result.data;
}

/** The points and the fit of `rlpt fit`. */
export interface FitOutcome {
  file: string;
  points: [number, number][];
  /** Rows left out: no numeric x or y, or x ≤ 0 (the law needs x > 0). */
  dropped: number;
  law: { a: number; b: number; c: number; r2: number; rmse: number };
  /** The bound on a used (null: unbounded), and why. */
  maxA: number | null;
  maxAReason: string;
  predictions: { x: number; y: number }[];
}

/** Reads the metrics, selects (x, y) points and fits y = a·exp(−b·x^(−c)) with x in `xUnit` units. */
export async function runFit(settings: FitSettings): Promise<FitOutcome> {
  const { readMetricsFile, numberOf, stageMatches } = await import('../report/metrics.js');
  const { defaultMaxA, fitScalingLaw, scalingLaw } = await import('@rlpt/trainer');
  const { InvalidInputError } = await import('@rlpt/spec');
  const { rows, path } = await readMetricsFile(settings.metrics);
  const selected = settings.stage ? rows.filter((row) => stageMatches(row.stage, settings.stage!)) : rows;
  const points: [number, number][] = [];
  let dropped = 0;
  for (const row of selected) {
    const x = numberOf(row, settings.x);
    const y = numberOf(row, settings.y);
    if (Number.isFinite(x) && Number.isFinite(y) && x > 0) points.push([x / settings.xUnit, y]);
    else if (Number.isFinite(y) || Number.isFinite(x)) dropped++;
  }
  if (points.length < 3) {
    const stages = [...new Set(rows.filter((row) => settings.y in row).map((row) => row.stage))].slice(0, 8);
    throw new InvalidInputError({
      reason: 'too-few-points',
      message: `${path}: ${points.length} point(s) with numeric ${settings.x} > 0 and ${settings.y}${settings.stage ? ` in stages matching ${settings.stage}` : ''}; the 3-parameter fit needs at least 3.${stages.length ? ` Stages with ${settings.y}: ${stages.join(', ')}.` : ` No line has a ${settings.y} field.`}`,
      location: { file: path },
    });
  }
  if (new Set(points.map(([, y]) => y)).size === 1) {
    throw new InvalidInputError({
      reason: 'constant',
      message: `${path}: all ${points.length} points have ${settings.y} = ${points[0]![1]}; a constant curve has nothing to fit.`,
      location: { file: path },
    });
  }
  // A rate (every y in [0, 1]) is bounded by 1 unless --max-a says otherwise.
  const ys = points.map(([, y]) => y);
  const rateBound = defaultMaxA(ys);
  const maxA = settings.maxA === 'none' ? undefined : (settings.maxA ?? rateBound);
  const maxAReason =
    settings.maxA === 'none'
      ? 'unbounded (--max-a none)'
      : settings.maxA !== undefined
        ? `a ≤ ${settings.maxA} (--max-a)`
        : rateBound !== undefined
          ? `a ≤ 1: every ${settings.y} is a rate in [0, 1] (--max-a none lifts the bound)`
          : `unbounded: ${settings.y} leaves [0, 1] (--max-a sets a bound)`;
  const law = fitScalingLaw(
    points.map(([x]) => x),
    ys,
    maxA !== undefined ? { maxA } : {},
  );
  const predictions = (settings.predict ?? []).map((x) => ({ x, y: scalingLaw(law, x / settings.xUnit) }));
  return {
    file: path,
    points,
    dropped,
    law: { a: law.a, b: law.b, c: law.c, r2: law.r2, rmse: law.rmse },
    maxA: maxA ?? null,
    maxAReason,
    predictions,
  };
}

const show = (value: number) =>
  Math.abs(value) >= 1e4 || (Math.abs(value) < 1e-3 && value !== 0)
    ? value.toExponential(4)
    : value.toPrecision(6);

/** `rlpt fit` — the paper's scaling law y = a·exp(−b·x^(−c)) fitted to metrics of a run. */
export function register(program: Command): void {
  program
    .command('fit')
    .description('Fit the paper’s scaling law y = a·exp(−b·x^(−c)) to metrics over training tokens.')
    .option('--metrics <path>', 'a run directory or a metrics.jsonl file')
    .option('--x <field>', 'metrics field on the x axis (must be > 0)', 'tokensSeen')
    .option('--y <field>', 'metrics field on the y axis', 'pass1')
    .option('--stage <pattern>', 'only lines whose stage matches (* matches any text), e.g. "eval:rlpt@*"')
    .option(
      '--x-unit <n>',
      'divide x by this before fitting, e.g. 1e9 for billions of tokens as in the paper',
      '1',
    )
    .option('--predict <xs>', 'comma-separated x values (in the file’s units) to predict y at, e.g. 1e9,1e10')
    .option(
      '--max-a <a>',
      "upper bound on the asymptote a (default: 1 when every y is in [0, 1], a rate; 100 for percentages; 'none' for no bound)",
    )
    .option('--json', 'print the fit as JSON')
    .addHelpText(
      'after',
      `
Examples:
  rlpt fit --metrics runs/my-run --x tokensSeen --y pass1 --stage 'eval:*'
  rlpt fit --metrics runs/my-run/metrics.jsonl --y reward.mean --stage rlpt --x-unit 1e6 --predict 5e6,1e7
`,
    )
    .action(async (flags: RawFitFlags) => {
      const settings = parseFitFlags(flags);
      const outcome = await runFit(settings);
      if (settings.json) {
        process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
        return;
      }
      const unit = settings.xUnit === 1 ? '' : ` (x in units of ${settings.xUnit})`;
      const { law } = outcome;
      const sections = [
        `${settings.y} = a·exp(−b·${settings.x}^(−c))${unit}, least squares over ${outcome.points.length} points of ${outcome.file}${outcome.dropped ? ` (${outcome.dropped} left out: x ≤ 0 or not numeric)` : ''}; ${outcome.maxAReason}`,
        formatTable(
          ['a', 'b', 'c', 'R²', 'RMSE'],
          [[show(law.a), show(law.b), show(law.c), law.r2.toFixed(4), show(law.rmse)]],
        ),
      ];
      if (law.r2 < 0.5) {
        sections.push(
          `The fit is poor (R² ${law.r2.toFixed(3)}). The law rises towards a as x grows: fit metrics that improve upwards (pass1, reward.mean), not losses.`,
        );
      }
      if (outcome.predictions.length) {
        sections.push(
          formatTable(
            [settings.x, `predicted ${settings.y}`],
            outcome.predictions.map((prediction) => [show(prediction.x), show(prediction.y)]),
          ),
          'Predictions beyond the measured range are extrapolations of a curve fitted to it.',
        );
      }
      process.stdout.write(`${sections.join('\n\n')}\n`);
    });
}
