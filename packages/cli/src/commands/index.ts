import type { Command } from 'commander';
import * as demo from './demo.js';
import * as evaluate from './eval.js';
import * as fit from './fit.js';
import * as judge from './judge.js';
import * as model from './model.js';
import * as prepare from './prepare.js';
import * as report from './report.js';
import * as serve from './serve.js';
import * as study from './study.js';
import * as train from './train.js';

/**
 * Every subcommand registers itself here. One file per command (`./<name>.ts`) exporting
 * `register(program)`. Commands import their packages lazily inside the action, so `rlpt --help`
 * never loads onnxruntime.
 */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  prepare.register,
  judge.register,
  serve.register,
  model.register,
  train.register,
  evaluate.register,
  fit.register,
  report.register,
  demo.register,
  study.register,
];
