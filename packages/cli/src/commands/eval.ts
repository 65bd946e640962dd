import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt eval` — owned by the @rlpt/eval issue. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('Evaluate a model on the paper’s benchmarks (pass@k, accuracy) with any backend.')
    .allowUnknownOption()
    .action(() => notImplemented('eval'));
}
