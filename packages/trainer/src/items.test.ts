import { extractPrediction } from '@rlpt/prompts';
import { createLexicalJudge } from '@rlpt/reward';
import { describe, expect, it } from 'vitest';
import { goldCompletion, goldExample, nextSegmentItem } from './items.js';

const sample = {
  id: 'doc1:2:asr',
  task: 'asr' as const,
  prompt: 'Context: The day was long. Predict the next sentence.',
  target: 'The cat sat on the mat.',
  reference: 'The cat sat on the mat. Then it slept all day.',
  context: 'The day was long.',
};

describe('next-segment items', () => {
  it('judges the prefix window in prefix mode and s_i alone in strict mode', async () => {
    const judge = createLexicalJudge({ tolerance: 0 });
    const score = async (mode: 'prefix' | 'strict', prediction: string) =>
      (await judge.judge([nextSegmentItem(sample, mode).toJudgeItem(prediction)]))[0]!.score;
    // Two sentences: a valid prefix of the reference window, but not s_i alone.
    expect(await score('prefix', 'The cat sat on the mat. Then it slept all day.')).toBe(1);
    expect(await score('strict', 'The cat sat on the mat. Then it slept all day.')).toBe(0);
    expect(await score('strict', 'The cat sat on the mat.')).toBe(1);
    // A fragment of s_i does not cover the target.
    expect(await score('prefix', 'The cat sat on')).toBe(0);
    const [fragment] = await judge.judge([nextSegmentItem(sample).toJudgeItem('The cat sat on')]);
    expect(fragment?.status).toBe('ok'); // judged (not skipped as too short): 0 for not covering s_i
    expect(nextSegmentItem(sample).toJudgeItem('x')).toMatchObject({
      context: 'The day was long.',
      target: 'The cat sat on the mat.',
    });
  });

  it('writes gold completions the prediction extractor reads back', () => {
    expect(extractPrediction(goldCompletion(sample.target))).toMatchObject({
      status: 'ok',
      text: 'The cat sat on the mat.',
    });
    expect(goldExample(sample)).toEqual({
      id: sample.id,
      prompt: sample.prompt,
      completion: '<|startofprediction|> The cat sat on the mat. <|endofprediction|>',
    });
  });
});
