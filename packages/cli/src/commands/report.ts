import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt report` — owned by the trainer issue. */
export function register(program: Command): void {
  program
    .command('report')
    .description('Write report.md and plots for a run directory.')
    .allowUnknownOption()
    .action(() => notImplemented('report'));
}
