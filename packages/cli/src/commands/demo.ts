import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt demo` — owned by the trainer issue. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('The embedded demo: build a tiny model, pretrain, cold start, RLPT, evaluate, report.')
    .allowUnknownOption()
    .action(() => notImplemented('demo'));
}
