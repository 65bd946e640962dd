import { type Command, Option } from 'commander';
import { createProgressBar, formatDuration, type ProgressBar } from '../ui.js';

interface DemoFlags {
  out: string;
  quick?: boolean;
  seeds?: string;
  parallel?: string;
  resume?: boolean;
  overwrite?: boolean;
  policy: string;
  worker?: string;
}

/** `rlpt demo`: the embedded default — RLPT end to end on a tiny model, on the CPU, with a report. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('The embedded demo: build a tiny model, pretrain, cold start, RLPT, evaluate, report.')
    .option('--out <dir>', 'demo folder (runs, report.md, plots)', 'runs/demo')
    .option('--quick', 'a ≤ 2-minute smoke version (2 seeds, short phases, no control runs)')
    .option('--seeds <n>', 'prefix-reward seeds (default 3; quick 2)')
    .option('--parallel <n>', 'jobs at once, one core each (default: min(2, cores))')
    .option('--resume', 'continue an interrupted demo in --out from its checkpoints')
    .option('--overwrite', 'delete an earlier demo in --out and start over')
    .addOption(
      new Option(
        '--policy <where>',
        'rollouts in process (local); behind a real `rlpt serve model` that gets the weights pushed after every update (served); or learner and sampler behind a real `rlpt serve tinker`, over the Tinker API (tinker)',
      )
        .choices(['local', 'served', 'tinker'])
        .default('local'),
    )
    // Internal: one job in a child process.
    .addOption(new Option('--worker <json>').hideHelp())
    .action(async (flags: DemoFlags) => {
      const { runDemo, runDemoWorker } = await import('../demo/run.js');
      if (flags.worker) {
        await runDemoWorker(flags.worker);
        return;
      }
      const bars = new Map<string, ProgressBar>();
      const started = performance.now();
      process.stderr.write(
        `rlpt demo${flags.quick ? ' --quick' : ''}: tiny model → pretrain → cold start → RLPT → held-out evaluation (output: ${flags.out})\n`,
      );
      const outcome = await runDemo({
        out: flags.out,
        quick: Boolean(flags.quick),
        ...(flags.seeds ? { seeds: Number(flags.seeds) } : {}),
        ...(flags.parallel ? { parallel: Number(flags.parallel) } : {}),
        resume: Boolean(flags.resume),
        overwrite: Boolean(flags.overwrite),
        policy: flags.policy as 'local' | 'served' | 'tinker',
        onProgress: (job, phase, done, total) => {
          const key = `${job.name}:${phase}`;
          let bar = bars.get(key);
          if (!bar) {
            bar = createProgressBar(`[${job.name}] ${phase}`, {
              unit: phase.startsWith('eval') ? 'prompts' : 'steps',
            });
            bars.set(key, bar);
          }
          bar.update(done, total);
          if (total !== undefined && done >= total) {
            bar.done();
            bars.delete(key);
          }
        },
        onLog: (line) => process.stderr.write(`${line}\n`),
      });
      const headline = outcome.headline;
      process.stdout.write(
        [
          '',
          `held-out pass@1: ${headline.cold.mean.toFixed(3)} ± ${headline.cold.sd.toFixed(3)} (cold start) → ${headline.rl.mean.toFixed(3)} ± ${headline.rl.sd.toFixed(3)} (after RLPT)`,
          `gain ${headline.gain.mean.toFixed(3)} = ${Number.isFinite(headline.gainOverSeedSd) ? headline.gainOverSeedSd.toFixed(1) : '∞'}× seed noise (per seed: ${headline.gains.map((gain) => gain.toFixed(3)).join(', ')})`,
          `report: ${outcome.reportPath} (${formatDuration((performance.now() - started) / 1000)})`,
          '',
        ].join('\n'),
      );
    });
}
