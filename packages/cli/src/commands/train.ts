import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt train` — owned by the trainer issue. */
export function register(program: Command): void {
  program
    .command('train')
    .description('Train a policy with RLPT (pretrain, SFT, RLPT, RLVR stages) from a config file.')
    .allowUnknownOption()
    .action(() => notImplemented('train'));
}
