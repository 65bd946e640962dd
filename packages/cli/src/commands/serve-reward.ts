import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt serve reward` — owned by the @rlpt/reward issue. `serve` is the parent command. */
export function register(serve: Command): void {
  serve
    .command('reward')
    .description('Reward HTTP server (OpenRLHF /get_reward protocol, /v1/reward) over any judge.')
    .allowUnknownOption()
    .action(() => notImplemented('serve reward'));
}
