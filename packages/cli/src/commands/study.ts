import { Argument, type Command, Option } from 'commander';
import { studies } from '../study/index.js';
import { createProgressBar, formatDuration, type ProgressBar } from '../ui.js';

interface StudyFlags {
  out?: string;
  smoke?: boolean;
  seeds?: string;
  parallel?: string;
  resume?: boolean;
  overwrite?: boolean;
  worker?: string;
}

/** `rlpt study <name>`: a named, seeded experiment grid on the demo corpus family, with a report. */
export function register(program: Command): void {
  program
    .command('study')
    .description(
      `Run a named, seeded experiment grid on the built-in corpus and write a paper-style report (mean ± sd over seeds, paired differences and their p-values, plots). Studies:\n${Object.entries(
        studies,
      )
        .map(([name, study]) => `  ${name}: ${study.title}`)
        .join('\n')}`,
    )
    .addArgument(new Argument('<name>', 'the study').choices(Object.keys(studies)))
    .option('--out <dir>', 'study folder (jobs, report.md, report.json, plots; default runs/study-<name>)')
    .option(
      '--smoke',
      'the seconds-long version CI runs (tiny corpus, few steps, 1 seed) — checks the machinery, not the science',
    )
    .option('--seeds <n>', 'seeds (default: the study’s, 3; smoke 1)')
    .option('--parallel <n>', 'jobs at once, one core each (default: min(2, cores))')
    .option(
      '--resume',
      'continue an interrupted study in --out (finished jobs are kept, the rest resume from checkpoints)',
    )
    .option('--overwrite', 'delete an earlier study in --out and start over')
    // Internal: one job in a child process.
    .addOption(new Option('--worker <json>').hideHelp())
    .action(async (name: string, flags: StudyFlags) => {
      const definition = await studies[name]!.load();
      const { runStudy, runStudyWorker } = await import('../study/run.js');
      if (flags.worker) {
        await runStudyWorker(definition, flags.worker);
        return;
      }
      const out = flags.out ?? `runs/study-${name}`;
      const bars = new Map<string, ProgressBar>();
      process.stderr.write(
        `rlpt study ${name}${flags.smoke ? ' --smoke' : ''}: ${definition.title} (output: ${out})\n`,
      );
      const outcome = await runStudy(definition, {
        out,
        smoke: Boolean(flags.smoke),
        ...(flags.seeds ? { seeds: Number(flags.seeds) } : {}),
        ...(flags.parallel ? { parallel: Number(flags.parallel) } : {}),
        resume: Boolean(flags.resume),
        overwrite: Boolean(flags.overwrite),
        onProgress: (job, phase, done, total) => {
          const key = `${job.name}:${phase}`;
          let bar = bars.get(key);
          if (!bar) {
            bar = createProgressBar(`[${job.name}] ${phase}`, {
              unit: phase.startsWith('eval') ? 'prompts' : '',
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
      process.stdout.write(
        [
          '',
          ...outcome.summary,
          `report: ${outcome.reportPath} (${formatDuration(outcome.seconds)})`,
          '',
        ].join('\n'),
      );
    });
}
