import { join } from 'node:path';
import { AbortError, type RlptEvent } from '@rlpt/spec';
import type { Command } from 'commander';
import { abortOnInterrupt } from '../signals.js';
import { createProgressBar, formatDuration, formatTable, type ProgressBar, stderrLogger } from '../ui.js';
import type { TrainFlags, TrainOutcome } from '@rlpt/recipes';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

const fmt = (value: unknown, digits = 3) =>
  typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';

/** The headline metrics of a stage's last step, for the summary table. */
function stageNote(type: string, last: Record<string, number>): string {
  if (type === 'pretrain' || type === 'sft') return `loss ${fmt(last.loss)}`;
  if (type === 'rlp')
    return [
      `information gain ${fmt(last['reward.mean'])}`,
      `thought ${fmt(last['thought.length'], 1)} tokens`,
      `cut thoughts ${fmt(last['thought.cut'])}`,
    ].join(' · ');
  return [
    `reward ${fmt(last['reward.mean'])}`,
    `response ${fmt(last['response.length'], 1)} tokens`,
    `extraction failures ${fmt(1 - (last['extract.ok'] ?? Number.NaN))}`,
  ].join(' · ');
}

/** The printed summary of a finished `rlpt train`. */
export function formatTrainSummary(outcome: TrainOutcome): string {
  const sections = [
    formatTable(
      ['stage', 'type', 'steps', 'time', 'last step'],
      outcome.stages.map(({ name, type, summary }) => [
        name,
        type,
        summary.steps,
        formatDuration(summary.seconds),
        stageNote(type, summary.last),
      ]),
    ),
  ];
  if (outcome.evaluations.length > 0) {
    const ks = [...new Set(outcome.evaluations.flatMap((row) => Object.keys(row.passAtK)))]
      .filter((k) => k !== '1')
      .sort((a, b) => Number(a) - Number(b));
    const greedy = outcome.evaluations.some((row) => row.greedy !== undefined);
    sections.push(
      formatTable(
        [
          'held-out evaluation',
          'tokens seen',
          'pass@1',
          ...ks.map((k) => `pass@${k}`),
          ...(greedy ? ['greedy'] : []),
        ],
        outcome.evaluations.map((row) => [
          row.name,
          row.tokensSeen,
          fmt(row.pass1),
          ...ks.map((k) => fmt(row.passAtK[k])),
          ...(greedy ? [fmt(row.greedy)] : []),
        ]),
      ),
    );
  }
  sections.push(
    `run: ${outcome.runDir} (metrics.jsonl, samples/, checkpoints/) · ${formatDuration(outcome.seconds)} · report: rlpt report ${outcome.runDir}`,
  );
  return `${sections.join('\n\n')}\n`;
}

/** Progress bars per stage (steps) and per evaluation (prompts), warnings as lines. */
function progressRenderer(): { onEvent: (event: RlptEvent) => void; finish: () => void } {
  const bars = new Map<string, ProgressBar>();
  const notes = new Map<string, string>();
  let warnings = 0;
  return {
    onEvent(event) {
      if (event.type === 'skipped-input' || event.type === 'warning' || event.type === 'judge-error') {
        warnings++;
        if (warnings <= 10) process.stderr.write(`\r\u001b[Kwarning: ${event.message}\n`);
        else if (warnings === 11)
          process.stderr.write('\r\u001b[Kwarning: more warnings; see metrics.jsonl and samples/\n');
        return;
      }
      if (event.type === 'step-end') {
        const metrics = event.metrics;
        notes.set(
          event.stage,
          'loss' in metrics
            ? `loss ${fmt(metrics.loss)}`
            : `reward ${fmt(metrics['reward.mean'])} · ${fmt(metrics['response.length'] ?? metrics['thought.length'], 1)} tokens`,
        );
        return;
      }
      if (event.type !== 'progress') return;
      let bar = bars.get(event.phase);
      if (!bar) {
        bar = createProgressBar(event.phase, { unit: event.unit ?? 'steps' });
        bars.set(event.phase, bar);
      }
      bar.update(event.done, event.total, notes.get(event.phase));
      if (event.total !== undefined && event.done >= event.total) {
        bar.done(notes.get(event.phase));
        bars.delete(event.phase);
      }
    },
    finish() {
      for (const bar of bars.values()) bar.done();
      bars.clear();
    },
  };
}

/** Runs `rlpt train`; resolves to the exit code. */
export async function runTrain(flags: TrainFlags): Promise<number> {
  const { loadTrainConfig, runTraining } = await import('@rlpt/recipes');
  const config = await loadTrainConfig(flags);
  const progress = progressRenderer();
  const interrupt = abortOnInterrupt(
    '\r\u001b[Krlpt train: stopping; the run resumes from its last checkpoint (press Ctrl-C again to quit now)\n',
    new Error('interrupted'),
  );
  process.stderr.write(
    `rlpt train: ${config.stages.map((stage) => `${stage.name} (${stage.steps} steps)`).join(' → ')}${config.resume ? ', resuming' : ''} · run ${config.runDir}\n`,
  );
  try {
    const outcome = await runTraining(config, {
      onEvent: progress.onEvent,
      logger: { ...stderrLogger(false), info: () => {} },
      signal: interrupt.signal,
      onInfo: (line) => process.stderr.write(`${line}\n`),
    });
    progress.finish();
    process.stdout.write(formatTrainSummary(outcome));
    return 0;
  } catch (error) {
    progress.finish();
    if (AbortError.isInstance(error)) {
      process.stderr.write(
        `rlpt train: stopped. Steps after the last checkpoint (${join(config.runDir, 'checkpoints')}) are recomputed; continue with: rlpt train --run-dir ${config.runDir} --resume\n`,
      );
      return 130;
    }
    throw error;
  } finally {
    interrupt.dispose();
  }
}

/** `rlpt train` — pretrain, SFT, RLPT and RLVR stages from a config file, on any model the learner loads. */
export function register(program: Command): void {
  program
    .command('train')
    .description(
      'Train a policy with RLPT (pretrain, SFT, RLPT, RLVR stages) from a YAML or JSON config file.',
    )
    .option(
      '-c, --config <file>',
      'YAML or JSON run configuration (see examples/train/run.yaml); flags override its keys',
    )
    .option('--run-dir <dir>', 'run directory (config.json, metrics.jsonl, samples/, checkpoints/)')
    .option(
      '--resume',
      'continue the run in --run-dir from its latest checkpoint (without --config: its config.json)',
    )
    .option('--seed <n>', 'base seed of data order, rollouts and init (default 0)')
    .option('--checkpoint-every <n>', 'checkpoint every N steps of each stage (default 50)')
    .option(
      '--threads <n>',
      'onnxruntime threads of the onnx policy, and of the learner with --fast (default: all cores)',
    )
    .option(
      '--fast',
      'train with --threads learner threads too: faster, but runs are no longer bit-for-bit reproducible',
    )
    .option('--model <dir>', 'model folder the learner trains (sets model.dir)')
    .option(
      '--learner <spec>',
      "learner: 'onnx' (default, in process) or 'tinker:<server URL>' (sets learner.backend)",
    )
    .option(
      '--policy <spec>',
      "rollout backend: 'onnx' (default), 'openai:<base URL>' or 'tinker:<server URL>' (sets policy.backend)",
    )
    .option(
      '--judge <spec>',
      "judge: 'lexical', 'openai:<base URL>' or 'onnx:<model folder>' (a generative judge)",
    )
    .option('--data <path>', 'rlpt prepare output folder or samples JSONL (sets data.path)')
    .option('--set <key=value>', 'set any config key, e.g. --set stages.2.steps=100 (repeatable)', collect)
    .addHelpText(
      'after',
      `
Examples:
  rlpt prepare --demo --out data/demo
  rlpt train --config examples/train/run.yaml
  rlpt train --config run.yaml --run-dir runs/lr-3e-6 --set stages.1.learningRate=3e-6
  rlpt train --run-dir runs/my-run --resume
`,
    )
    .action(async (flags: TrainFlags) => {
      process.exitCode = await runTrain(flags);
    });
}
