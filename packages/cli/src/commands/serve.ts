import type { Command } from 'commander';
import * as serveModel from './serve-model.js';
import * as serveReward from './serve-reward.js';
import * as serveTinker from './serve-tinker.js';

/** `rlpt serve model|reward`. */
export function register(program: Command): void {
  const serve = program
    .command('serve')
    .description('Run an HTTP server: `model` (OpenAI API) or `reward` (judge).');
  serveModel.register(serve);
  serveReward.register(serve);
  serveTinker.register(serve);
}
