import type { Benchmark, BenchmarkItem } from './benchmarks.js';
import { gradeBracketResponse, gradeChoiceResponse } from './choice.js';
import { type MathGradeOptions, gradeMathResponse } from './math/grade.js';

/** A graded response: the answer found (null = unanswered) and whether it is right. */
export interface ResponseGrade {
  extracted: string | null;
  correct: boolean;
}

/**
 * Grades one response to a benchmark item with the benchmark's grader: math equivalence (OlympiadBench
 * multi-answer items join the final boxes), option letters, or KOR-Bench's `[[…]]`.
 */
export function gradeItemResponse(
  benchmark: Pick<Benchmark, 'grading'>,
  item: BenchmarkItem,
  response: string,
  options: MathGradeOptions = {},
): ResponseGrade {
  switch (benchmark.grading) {
    case 'multiple-choice':
      return gradeChoiceResponse(response, item.answer, item.choices ? { choices: item.choices } : {});
    case 'bracket':
      return gradeBracketResponse(response, item.answer);
    default:
      return gradeMathResponse(response, item.answer, {
        ...options,
        multipleAnswers: options.multipleAnswers ?? item.multipleAnswers ?? false,
      });
  }
}
