import type { CallOptions, JudgeItem, JudgeV1, JudgeVerdict } from '@rlpt/spec';
import { AbortError } from '@rlpt/spec';
import { type MathGradeOptions, gradeMathResponse } from './math/grade.js';

/** Options of {@link mathVerifierJudge}: the math grading options plus the judge's name. */
export interface MathVerifierJudgeOptions extends MathGradeOptions {
  /** Judge name in caches and logs. Default `math-verify`. */
  name?: string;
}

/**
 * The math grader as a {@link JudgeV1} for RLVR: `prediction` is the policy's response (or its extracted
 * answer), `reference` the gold answer (bare, or a solution with a `\boxed{}` answer). Score 1 when
 * equivalent, else 0; a response without an answer scores 0 with reason `no-answer`. Never calls a model
 * and never fails an item.
 */
export function mathVerifierJudge(options: MathVerifierJudgeOptions = {}): JudgeV1 {
  const { name = 'math-verify', ...gradeOptions } = options;
  return {
    specificationVersion: 'v1',
    name,
    async judge(items: JudgeItem[], callOptions?: CallOptions): Promise<JudgeVerdict[]> {
      const verdicts: JudgeVerdict[] = [];
      for (const item of items) {
        if (callOptions?.signal?.aborted) throw new AbortError({ cause: callOptions.signal.reason });
        const grade = gradeMathResponse(
          String(item.prediction ?? ''),
          String(item.reference ?? ''),
          gradeOptions,
        );
        if (grade.extracted === null) verdicts.push({ score: 0, status: 'ok', reason: 'no-answer' });
        else verdicts.push({ score: grade.correct ? 1 : 0, status: 'ok', raw: grade.extracted });
      }
      return verdicts;
    },
  };
}
