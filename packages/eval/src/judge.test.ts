import { AbortError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { mathVerifierJudge } from './judge.js';

describe('mathVerifierJudge', () => {
  it('scores responses against references as a JudgeV1', async () => {
    const judge = mathVerifierJudge();
    expect(judge.specificationVersion).toBe('v1');
    expect(judge.name).toBe('math-verify');
    const verdicts = await judge.judge([
      { id: 'a', prediction: 'Thus \\boxed{\\frac{1}{2}}.', reference: '0.5' },
      { id: 'b', prediction: 'Thus \\boxed{3}.', reference: '\\boxed{4}' },
      { id: 'c', prediction: 'I give up', reference: '4' },
      { id: 'd', prediction: 'x = 2, x = 3', reference: '\\{3, 2\\}' },
    ]);
    expect(verdicts).toEqual([
      { score: 1, status: 'ok', raw: '\\frac{1}{2}' },
      { score: 0, status: 'ok', raw: '3' },
      { score: 0, status: 'ok', reason: 'no-answer' },
      { score: 1, status: 'ok', raw: 'x = 2, x = 3' },
    ]);
  });

  it('passes grading options through', async () => {
    const strict = mathVerifierJudge({ fallback: 'none', name: 'strict-math' });
    expect(strict.name).toBe('strict-math');
    const [verdict] = await strict.judge([
      { prediction: 'We computed 2 + 2 and it equals 4 in the end', reference: '4' },
    ]);
    expect(verdict).toEqual({ score: 0, status: 'ok', reason: 'no-answer' });
    const [lenient] = await mathVerifierJudge().judge([
      { prediction: 'We computed 2 + 2 and it equals 4 in the end', reference: '4' },
    ]);
    expect(lenient!.score).toBe(1);
  });

  it('grades with the same grader as gradeMathResponse (issue 15 cases)', async () => {
    const verdicts = await mathVerifierJudge().judge([
      { prediction: 'Final Answer: The final answer is $1,22$. I hope it is correct.', reference: '1.22' },
      { prediction: 'So the answer is $-2 \\le x \\le 7$.', reference: 'x \\in [-2,7]' },
      { prediction: 'The answer is 5<|im_end|>\n<|im_start|>user\nThe answer is 6', reference: '6' },
      { prediction: 'We get \\boxed{\\sum_{k=1}^{10} k}.', reference: '55' },
    ]);
    expect(verdicts.map((verdict) => verdict.score)).toEqual([1, 1, 0, 1]);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      mathVerifierJudge().judge([{ prediction: '1', reference: '1' }], { signal: controller.signal }),
    ).rejects.toSatisfy(AbortError.isInstance);
  });
});
