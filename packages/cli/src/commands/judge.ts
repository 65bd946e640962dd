import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt judge` — owned by the @rlpt/reward issue. */
export function register(program: Command): void {
  program
    .command('judge')
    .description('Judge predictions against references from a JSONL file with any judge.')
    .allowUnknownOption()
    .action(() => notImplemented('judge'));
}
