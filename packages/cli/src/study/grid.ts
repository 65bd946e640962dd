// The shape most studies share: per seed, one cold start on the demo world (pretrain + SFT), then several
// arms (methods, settings) from that same cold start, each spending the same compute budget (forward-
// equivalent tokens, the trainer's `computeBudget`) in equal parts with held-out yardsticks measured after
// each part. The report: mean ± sd over seeds, paired differences (t-test) against a control arm and the
// cold start, the per-seed table, and one plot per yardstick against compute.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JudgeV1, LearnerV1 } from '@rlpt/spec';
import type { SftExample, StageSummary, Trainer } from '@rlpt/trainer';
import { createDemoWorld, type DemoWorld } from '../demo/world.js';
import { lineChart, type Series } from '../report/svg.js';
import { formatTable } from '../ui.js';
import type { StudyDefinition, StudyJob, StudyJobContext, StudySettings } from './run.js';
import { meanSd, pairedDifference } from './stats.js';

export interface GridBudget {
  trainDocuments: number;
  heldOutDocuments: number;
  pretrainSteps: number;
  sftSteps: number;
  /** Forward-equivalent tokens each arm may spend after the cold start. */
  computeBudget: number;
  /** The budget is spent in this many equal parts with the yardsticks measured after each. */
  chunks: number;
}

/** What every arm's stage gets: a name per part, the part's budget, the shared learning rate. */
export interface ChunkOptions {
  name: string;
  steps: number;
  computeBudget: number;
  learningRate: number;
  samplesEvery: number;
}

export interface GridArm<Items> {
  name: string;
  title: string;
  /** Keep an EMA teacher in the learner (RLP), with this decay. */
  emaDecay?: number;
  /** `reward` (the stage's last `reward.mean`) or `loss` (supervised stages) in the per-seed table. */
  training: 'reward' | 'loss';
  train(
    trainer: Trainer,
    items: Items,
    chunk: ChunkOptions,
    world: DemoWorld,
    /** Which part of the budget this is (1-based) of how many. */
    part: { index: number; count: number },
  ): Promise<StageSummary>;
}

export interface Yardstick {
  key: string;
  label: string;
  lowerIsBetter?: boolean;
  /** A description, not a score (e.g. response length): no "best" in the summary. */
  neutral?: boolean;
}

/** The yardsticks at one point of a run (x: forward-equivalent tokens spent since the cold start). */
export type GridPoint = { computeTokens: number } & Record<string, number>;

export interface GridJobResult {
  seed: number;
  arm: string;
  /** points[0] is the cold start; the last point is the arm's result. */
  points: GridPoint[];
  /** Optimizer steps taken (all parts). */
  steps: number;
  /** Training reward or loss of each part's last step. */
  training: number[];
  /** Every metric of each part's last step (training reward, response length, …). */
  parts?: Record<string, number>[];
  seconds: number;
  parameters: number;
}

export interface GridStudySpec<Items, Budget extends GridBudget> {
  name: string;
  title: string;
  defaultSeeds: number;
  budgets: { full: Budget; smoke: Budget };
  /** Prompts of the `tiny` preset and added tokens the world's tokenizer needs. */
  world: { prompts: ('asr' | 'msr' | 'nextToken')[]; addedTokens?: string[] };
  items(world: DemoWorld, budget: Budget, seed: number): Promise<Items>;
  /** The cold start's SFT examples (after pretraining on the training documents). */
  sft(items: Items): SftExample[];
  documents(items: Items): string[];
  arms: GridArm<Items>[];
  /** The arm the others are paired against. */
  control: string;
  yardsticks: Yardstick[];
  measure(trainer: Trainer, items: Items, budget: Budget, label: string): Promise<Record<string, number>>;
  /** The report's opening paragraphs. */
  describe(budget: Budget, settings: StudySettings, parameters: number): string[];
  /** Sections after the summary (markdown lines) and lines for the printed summary. */
  analyse?(
    results: Map<string, GridJobResult>,
    settings: StudySettings,
  ): Promise<{ markdown: string[]; summary: string[] }>;
}

const adam = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 };
/** One learning rate for every arm after the cold start (the demo's RLPT rate). */
export const armLearningRate = 2e-4;

/** A deterministic integer from a string (positions and task choices of items). */
export function hashOf(text: string): number {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash;
}

async function runGridJob<Items, Budget extends GridBudget>(
  spec: GridStudySpec<Items, Budget>,
  job: StudyJob,
  context: StudyJobContext,
): Promise<GridJobResult> {
  const started = performance.now();
  const budget = spec.budgets[context.smoke ? 'smoke' : 'full'];
  const { seed } = job;
  const arm = job.arm === 'base' ? undefined : spec.arms.find((entry) => entry.name === job.arm);
  if (job.arm !== 'base' && !arm) throw new Error(`study ${spec.name}: no arm ${job.arm}`);
  const [{ createOnnxLearner }, { createOnnxBackend }, { Trainer }] = await Promise.all([
    import('@rlpt/learner-onnx'),
    import('@rlpt/backend-onnx'),
    import('@rlpt/trainer'),
  ]);
  const world = await createDemoWorld({
    seed,
    dir: context.dir,
    trainDocuments: budget.trainDocuments,
    heldOutDocuments: budget.heldOutDocuments,
    prompts: spec.world.prompts,
    ...(spec.world.addedTokens ? { addedTokens: spec.world.addedTokens } : {}),
  });
  const items = await spec.items(world, budget, seed);
  const coldDir = join(context.out, `base-${seed}`, 'cold-start');
  const learner: LearnerV1 & {
    close(): Promise<void>;
    save(dir: string): Promise<void>;
    load(dir: string): Promise<void>;
  } = await createOnnxLearner({
    modelDir: world.modelDir,
    threads: 1,
    adam,
    maxGradNorm: 1,
    seed,
    ...(arm?.emaDecay !== undefined ? { ema: { decay: arm.emaDecay } } : {}),
  });
  if (arm) await learner.load(coldDir);
  const trainer = await Trainer.create({
    runDir: join(context.dir, 'run'),
    learner,
    loadPolicy: async (dir) => createOnnxBackend({ modelDir: dir, threads: 1 }),
    tokenizer: world.tokenizer,
    seed,
    resume: context.resume,
    checkpointEvery: 50,
    config: { study: spec.name, arm: job.arm, seed, budget },
    onEvent: (event) => {
      // Arms report compute spent (thousands of forward-equivalent tokens), not steps: steps differ in cost.
      if (arm && event.type === 'step-end') {
        const spent = Math.min(budget.computeBudget, Number(event.metrics.computeTokens)) / 1000;
        context.onProgress(
          `${arm.name} (k tokens)`,
          Math.round(spent),
          Math.round(budget.computeBudget / 1000),
        );
      } else if (event.type === 'progress' && (!arm || event.unit !== 'steps')) {
        context.onProgress(event.phase, event.done, event.total);
      }
    },
  });
  const points: GridPoint[] = [];
  const training: number[] = [];
  const parts: Record<string, number>[] = [];
  let steps = 0;
  try {
    if (!arm) {
      await trainer.pretrain(spec.documents(items), {
        steps: budget.pretrainSteps,
        batchSize: 32,
        learningRate: 2e-3,
        schedule: 'cosine',
        warmupSteps: Math.min(20, budget.pretrainSteps),
      });
      await trainer.sft(spec.sft(items), { steps: budget.sftSteps, batchSize: 32, learningRate: 5e-4 });
      await learner.save(coldDir);
      points.push({ ...(await spec.measure(trainer, items, budget, 'cold')), computeTokens: 0 });
    } else {
      const base = await context.resultOf<GridJobResult>(`base-${seed}`);
      points.push(base.points[0]!);
      const computeBudget = budget.computeBudget / budget.chunks;
      for (let chunk = 1; chunk <= budget.chunks; chunk++) {
        const summary = await arm.train(
          trainer,
          items,
          {
            name: `${arm.name}-${chunk}`,
            steps: 100_000,
            computeBudget,
            learningRate: armLearningRate,
            samplesEvery: 50,
          },
          world,
          { index: chunk, count: budget.chunks },
        );
        steps += summary.steps;
        // Timings differ from run to run; the rest is deterministic.
        parts.push(
          Object.fromEntries(Object.entries(summary.last).filter(([key]) => !key.startsWith('seconds'))),
        );
        training.push(Number(arm.training === 'loss' ? summary.last.loss : summary.last['reward.mean']));
        points.push({
          ...(await spec.measure(trainer, items, budget, String(chunk))),
          // From the stage's stored summary, not the trainer's current count: a resumed job whose later
          // parts already ran must report this part's position.
          computeTokens: Number(summary.last.computeTokens),
        });
      }
    }
  } finally {
    await trainer.close();
    await learner.close();
  }
  return {
    seed,
    arm: job.arm,
    points,
    steps,
    training,
    ...(parts.length ? { parts } : {}),
    seconds: (performance.now() - started) / 1000,
    parameters: world.parameters,
  };
}

const format = (value: { mean: number; sd: number }, digits = 3) =>
  `${value.mean.toFixed(digits)} ± ${value.sd.toFixed(digits)}`;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(3)}`;
const pText = (paired: { p: number; sd: number; mean: number }) =>
  // Every seed moving by the same amount gives t = ∞ and p = 0: with coarse metrics that overstates it.
  paired.sd === 0 && paired.mean !== 0
    ? 'n/a: the same difference on every seed'
    : Number.isNaN(paired.p)
      ? 'n/a'
      : paired.p < 0.001
        ? '< 0.001'
        : paired.p.toFixed(3);

async function writeGridReport<Items, Budget extends GridBudget>(
  spec: GridStudySpec<Items, Budget>,
  results: Map<string, GridJobResult>,
  settings: StudySettings & { seconds: number; jobs: StudyJob[]; ran: string[] },
) {
  const budget = spec.budgets[settings.smoke ? 'smoke' : 'full'];
  const seeds = Array.from({ length: settings.seeds }, (_, seed) => seed);
  const arms = spec.arms.map((arm) => arm.name);
  const titles: Record<string, string> = {
    start: 'cold start (before)',
    ...Object.fromEntries(spec.arms.map((arm) => [arm.name, arm.title])),
  };
  const jobOf = (arm: string, seed: number) =>
    results.get(arm === 'start' ? `base-${seed}` : `${arm}-${seed}`)!;
  const pointOf = (arm: string, seed: number) =>
    arm === 'start' ? jobOf(arm, seed).points[0]! : jobOf(arm, seed).points.at(-1)!;
  const valuesOf = (arm: string, key: string) => seeds.map((seed) => pointOf(arm, seed)[key]!);
  const sticks = spec.yardsticks;
  const rows = ['start', ...arms].map((arm) => [
    titles[arm]!,
    ...sticks.map((stick) => format(meanSd(valuesOf(arm, stick.key)))),
    arm === 'start' ? '0' : format(meanSd(seeds.map((seed) => pointOf(arm, seed).computeTokens / 1e6)), 2),
    arm === 'start' ? '' : format(meanSd(seeds.map((seed) => jobOf(arm, seed).steps)), 0),
  ]);
  const pairedRows: string[][] = [];
  for (const arm of arms) {
    for (const against of [spec.control, 'start']) {
      if (arm === against) continue;
      pairedRows.push([
        `${arm} − ${against}`,
        ...sticks.map((stick) => {
          const paired = pairedDifference(valuesOf(arm, stick.key), valuesOf(against, stick.key));
          return `${signed(paired.mean)} ± ${paired.sd.toFixed(3)} (p ${pText(paired)})`;
        }),
      ]);
    }
  }
  const perSeed = seeds.flatMap((seed) =>
    ['start', ...arms].map((arm) => {
      const point = pointOf(arm, seed);
      const job = jobOf(arm, seed);
      return [
        String(seed),
        arm,
        ...sticks.map((stick) => point[stick.key]!.toFixed(3)),
        (point.computeTokens / 1e6).toFixed(3),
        String(job.steps),
        job.training.map((value) => value.toFixed(3)).join(' → '),
        job.seconds.toFixed(0),
      ];
    }),
  );
  const summary = sticks.map((stick) => {
    if (stick.neutral)
      return `${stick.label}: ${arms.map((arm) => `${arm} ${format(meanSd(valuesOf(arm, stick.key)))}`).join(', ')}`;
    const better = (a: number, b: number) => (stick.lowerIsBetter ? a < b : a > b);
    const means = arms.map((arm) => ({ arm, ...meanSd(valuesOf(arm, stick.key)) }));
    const best = means.reduce((a, b) => (better(b.mean, a.mean) ? b : a));
    if (best.arm === spec.control) return `${stick.label}: best ${best.arm} ${format(best)} (the control)`;
    const paired = pairedDifference(valuesOf(best.arm, stick.key), valuesOf(spec.control, stick.key));
    return `${stick.label}: best ${best.arm} ${format(best)}; vs ${spec.control} ${signed(paired.mean)} ± ${paired.sd.toFixed(3)} over seeds (paired p ${pText(paired)})`;
  });
  for (const stick of sticks) {
    const series: Series[] = arms.map((arm) => {
      const curves = seeds.map((seed) => jobOf(arm, seed).points);
      return {
        name: arm,
        points: curves[0]!.map((_, index) => {
          const x = meanSd(curves.map((curve) => curve[index]!.computeTokens)).mean / 1e6;
          const y = meanSd(curves.map((curve) => curve[index]![stick.key]!)).mean;
          return [x, y] as [number, number];
        }),
      };
    });
    await writeFile(
      join(settings.out, `${stick.key}.svg`),
      lineChart({
        title: `Held-out ${stick.label} vs compute (mean of ${seeds.length} seed${seeds.length > 1 ? 's' : ''})`,
        xLabel: 'forward-equivalent tokens since the cold start (millions)',
        yLabel: stick.lowerIsBetter ? `${stick.label} (lower is better)` : stick.label,
        series,
      }),
    );
  }
  const analysis = (await spec.analyse?.(results, settings)) ?? { markdown: [], summary: [] };
  summary.push(...analysis.summary);
  const parameters = results.get('base-0')?.parameters ?? 0;
  const jobSeconds = [...results.values()].reduce((sum, job) => sum + job.seconds, 0);
  const markdown = [
    `# Study: ${spec.name}${settings.smoke ? ' (smoke)' : ''}`,
    '',
    ...spec.describe(budget, settings, parameters).flatMap((paragraph) => [paragraph, '']),
    `Command: \`rlpt study ${spec.name}${settings.smoke ? ' --smoke' : ''}${settings.seeds !== spec.defaultSeeds ? ` --seeds ${settings.seeds}` : ''}\`.`,
    '',
    `Compute-matched: after the shared cold start, every arm spends at least ${(budget.computeBudget / 1e6).toFixed(2)}M forward-equivalent tokens (a token sampled or scored counts 1, a token trained 3 — forward + backward; the lexical and RPT judges run no model), in ${budget.chunks} equal parts with the yardsticks measured after each; a part ends after the step that crosses its share, so each arm overspends by less than one step per part (its actual spend is in the compute column). Tokens rather than seconds: the count does not depend on the machine or its load, so the match is the same on every run.`,
    '',
    settings.ran.length === settings.jobs.length
      ? `Wall time: ${(settings.seconds / 60).toFixed(1)} min for the command that wrote this report; the jobs' own times sum to ${(jobSeconds / 60).toFixed(1)} min (jobs run in parallel, one core each).`
      : `This report was written by a command that ran ${settings.ran.length} of the ${settings.jobs.length} jobs (${(settings.seconds / 60).toFixed(1)} min); the rest were read from earlier runs. The jobs' own times, as recorded, sum to ${(jobSeconds / 60).toFixed(1)} min.`,
    '',
    `## Result (mean ± sd over ${settings.seeds} seed${settings.seeds > 1 ? 's' : ''})`,
    '',
    formatTable(['arm', ...sticks.map((stick) => stick.label), 'compute (M tok)', 'steps'], rows),
    '',
    `## Paired differences (same seed, same cold start; two-sided paired t-test, ${settings.seeds - 1} df)`,
    '',
    formatTable(['difference', ...sticks.map((stick) => stick.label)], pairedRows),
    '',
    '## Summary',
    '',
    'The best arm per yardstick is picked by its mean, then tested against the control: with several arms and yardsticks, read single p-values near 0.05 with care (no correction for multiple comparisons).',
    '',
    ...summary.map((line) => `- ${line}`),
    '',
    ...analysis.markdown,
    '## Curves',
    '',
    ...sticks.map((stick) => `![${stick.label}](${stick.key}.svg)`),
    '',
    '## Per seed',
    '',
    formatTable(
      [
        'seed',
        'arm',
        ...sticks.map((stick) => stick.label),
        'compute (M tok)',
        'steps',
        'training reward / loss per part',
        'wall s',
      ],
      perSeed,
    ),
    '',
  ].join('\n');
  await writeFile(join(settings.out, 'report.md'), markdown);
  await writeFile(
    join(settings.out, 'report.json'),
    `${JSON.stringify({ study: spec.name, smoke: settings.smoke, seeds: settings.seeds, budget, results: Object.fromEntries(results) }, null, 2)}\n`,
  );
  return { summary };
}

/** A study of this shape: the jobs (a base per seed, then every arm from it), the job runner, the report. */
export function gridStudy<Items, Budget extends GridBudget>(
  spec: GridStudySpec<Items, Budget>,
): StudyDefinition<GridJobResult> {
  return {
    name: spec.name,
    title: spec.title,
    defaultSeeds: spec.defaultSeeds,
    jobs: (settings) =>
      Array.from({ length: settings.seeds }, (_, seed) => seed).flatMap((seed) => [
        { name: `base-${seed}`, seed, arm: 'base', needs: [] },
        ...spec.arms.map((arm) => ({
          name: `${arm.name}-${seed}`,
          seed,
          arm: arm.name,
          needs: [`base-${seed}`],
        })),
      ]),
    runJob: (job, context) => runGridJob(spec, job, context),
    report: (results, settings) => writeGridReport(spec, results, settings),
  };
}

/** The lexical judges every study uses: RLPT's prefix reward for training, the strict one for held-out scores. */
export async function lexicalJudges(): Promise<{ prefix: JudgeV1; strict: JudgeV1 }> {
  const { createLexicalJudge } = await import('@rlpt/reward');
  return {
    prefix: createLexicalJudge({ tolerance: 0, mode: 'prefix' }),
    strict: createLexicalJudge({ tolerance: 0, mode: 'strict' }),
  };
}
