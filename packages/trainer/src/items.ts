import { PREDICTION_END, PREDICTION_START } from '@rlpt/prompts';
import type { TaskKind } from '@rlpt/spec';
import type { RlItem, SftExample } from './types.js';

/**
 * One sample as the trainer needs it: what `@rlpt/data` writes per line — next-segment (ASR, MSR) or
 * RPT's next-token (the target is the next token, the reference the continuation after the context).
 */
export interface NextSegmentSample {
  id: string;
  task: TaskKind | 'next-token';
  /** The rendered prompt (context, and for MSR the following segment, in the task template). */
  prompt: string;
  /** s_i, the segment to predict. */
  target: string;
  /** The judge's reference: s_i and the segments after it (the paper's prefix window). */
  reference: string;
  /** The preceding text (lets the judge refuse copies of the context). */
  context?: string;
}

/**
 * The RL item of a next-segment sample. `prefix` (RLPT's reward) judges the prediction against the
 * reference window and requires it to cover s_i; `strict` judges it against s_i alone.
 */
export function nextSegmentItem(sample: NextSegmentSample, mode: 'prefix' | 'strict' = 'prefix'): RlItem {
  return {
    id: sample.id,
    prompt: sample.prompt,
    task: sample.task,
    toJudgeItem: (prediction) => ({
      prediction,
      reference: mode === 'strict' ? sample.target : sample.reference,
      target: sample.target,
      ...(sample.context ? { context: sample.context } : {}),
      mode,
    }),
  };
}

/** The gold completion of a target: `<|startofprediction|> s_i <|endofprediction|>` (cold-start SFT). */
export function goldCompletion(target: string): string {
  return `${PREDICTION_START} ${target} ${PREDICTION_END}`;
}

/** The cold-start SFT example of a sample: its prompt and the gold completion. */
export function goldExample(sample: Pick<NextSegmentSample, 'id' | 'prompt' | 'target'>): SftExample {
  return { id: sample.id, prompt: sample.prompt, completion: goldCompletion(sample.target) };
}
