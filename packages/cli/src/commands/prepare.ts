import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt prepare` — owned by the @rlpt/data issue. */
export function register(program: Command): void {
  program
    .command('prepare')
    .description('Turn raw corpora into RLPT training sets (samples JSONL, verl Parquet, OpenRLHF JSONL).')
    .allowUnknownOption()
    .action(() => notImplemented('prepare'));
}
