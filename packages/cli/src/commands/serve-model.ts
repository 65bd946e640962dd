import type { Command } from 'commander';
import { notImplemented } from './not-implemented.js';

/** `rlpt serve model` — owned by the @rlpt/backend-openai issue. `serve` is the parent command. */
export function register(serve: Command): void {
  serve
    .command('model')
    .description('OpenAI-compatible HTTP server over a local ONNX model.')
    .allowUnknownOption()
    .action(() => notImplemented('serve model'));
}
