import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt fit` — owned by the trainer issue. */
export function register(program: Command): void {
  program
    .command('fit')
    .description('Fit the paper’s scaling law y = a·exp(−b·x^(−c)) to metrics over training tokens.')
    .allowUnknownOption()
    .action(() => notImplemented('fit'));
}
