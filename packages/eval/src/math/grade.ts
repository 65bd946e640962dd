import { type MathEquivalenceOptions, answersEquivalent } from './equivalence.js';
import { extractMathAnswer } from './extract.js';

/** Options of {@link gradeMathResponse} (the same as for {@link answersEquivalent}). */
export type MathGradeOptions = MathEquivalenceOptions;

/** Result of {@link gradeMathResponse}. */
export interface MathGrade {
  /** The final answer found in the response, or null when none was found (counted as unanswered). */
  extracted: string | null;
  correct: boolean;
}

/**
 * Grades one response against a gold answer: extracts the response's final answer (last `\boxed{}`,
 * "The answer is …", last number — see {@link MathEquivalenceOptions.fallback}) and checks it with
 * {@link answersEquivalent}. The gold may itself be a bare answer or a solution with a boxed answer.
 */
export function gradeMathResponse(response: string, gold: string, options: MathGradeOptions = {}): MathGrade {
  const extractOptions = {
    fallback: options.fallback ?? 'last-number',
    multipleAnswers: options.multipleAnswers,
  };
  const extracted = extractMathAnswer(String(response ?? ''), { ...extractOptions, plainTextAnswers: false });
  if (extracted === null) return { extracted: null, correct: false };
  const goldAnswer = extractMathAnswer(String(gold ?? ''), {
    ...extractOptions,
    multipleAnswers: false,
    gold: true,
  });
  if (goldAnswer === null) return { extracted, correct: false };
  return { extracted, correct: answersEquivalent(goldAnswer, extracted, options) };
}
