/** Libraries never print: they take a logger and emit typed events. Only the CLI renders. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (the default for libraries). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Progress of a long operation. `total` is absent when unknown. */
export interface ProgressEvent {
  type: 'progress';
  /** What is progressing, e.g. `prepare`, `rollout`, `eval:gsm8k`. */
  phase: string;
  done: number;
  total?: number;
  /** Unit of `done`/`total`, e.g. `documents`, `bytes`, `steps`. */
  unit?: string;
}

/** Bad input that was counted and skipped. */
export interface SkippedInputEvent {
  type: 'skipped-input';
  reason: string;
  message: string;
  file?: string;
  line?: number;
  id?: string;
}

export interface WarningEvent {
  type: 'warning';
  message: string;
}

export interface StepEndEvent {
  type: 'step-end';
  stage: string;
  step: number;
  metrics: Record<string, number>;
}

export interface RolloutEndEvent {
  type: 'rollout-end';
  step: number;
  prompts: number;
  completions: number;
  seconds: number;
}

export interface JudgeErrorEvent {
  type: 'judge-error';
  id?: string;
  reason: string;
  message: string;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  step: number;
  path: string;
}

export type RlptEvent =
  | ProgressEvent
  | SkippedInputEvent
  | WarningEvent
  | StepEndEvent
  | RolloutEndEvent
  | JudgeErrorEvent
  | CheckpointEvent;

export type EventHandler = (event: RlptEvent) => void;
