import type { Command } from 'commander';

/** `rlpt report RUN_DIR` — report.md and SVG plots from a run's metrics.jsonl. */
export function register(program: Command): void {
  program
    .command('report')
    .description(
      'Write report.md and SVG plots (loss, reward, response length, clip fraction, extraction failures, held-out evaluations) for a run directory.',
    )
    .argument('<run-dir>', 'a run directory written by rlpt train (metrics.jsonl, config.json)')
    .option('--out <dir>', 'write the report and plots here instead of the run directory')
    .action(async (runDir: string, flags: { out?: string }) => {
      const { writeRunReport } = await import('../report/run-report.js');
      if (flags.out) {
        const { mkdir } = await import('node:fs/promises');
        await mkdir(flags.out, { recursive: true });
      }
      const report = await writeRunReport(runDir, flags.out ? { outDir: flags.out } : {});
      if (report.skippedLines.length) {
        process.stderr.write(
          `warning: ${report.skippedLines.length} unreadable metrics line(s) left out (lines ${report.skippedLines.slice(0, 10).join(', ')})\n`,
        );
      }
      const rl = report.stages.filter((stage) => stage.kind === 'rl').length;
      process.stdout.write(
        `${report.reportPath}: ${report.stages.length} stage(s) (${rl} RL), ${report.evaluations.length} evaluation(s), ${report.plots.length} plot(s)${report.fit ? `; scaling-law fit R² ${report.fit.r2.toFixed(3)}` : ''}\n`,
      );
    });
}
