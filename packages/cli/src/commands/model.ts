import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt model` — owned by the @rlpt/model issue. */
export function register(program: Command): void {
  program
    .command('model')
    .description('Create (init) and convert (safetensors → ONNX) model folders.')
    .allowUnknownOption()
    .action(() => notImplemented('model'));
}
