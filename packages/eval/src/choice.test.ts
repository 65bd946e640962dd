import { describe, expect, it } from 'vitest';
import { extractChoice, extractDoubleBracket, gradeBracketResponse, gradeChoiceResponse } from './choice.js';

describe('extractChoice', () => {
  it.each([
    ['The answer is (C).', 'C'],
    ['Therefore, the answer is C', 'C'],
    ['**Answer: C**', 'C'],
    ['**Answer:** B', 'B'],
    ['Answer: C) 12 m/s', 'C'],
    ['The correct answer is option D.', 'D'],
    ['The correct option is (b).', 'B'],
    ['So the final answer is $\\boxed{C}$.', 'C'],
    ['\\boxed{\\text{(A)}}', 'A'],
    ['Reasoning...\n\nAnswer: A because the rest fail', 'A'],
    ['Thinking about it.\n(D)', 'D'],
    ['Thinking about it.\n\nB', 'B'],
    ['After elimination only one remains: C is consistent with the data.', 'C'],
    ['答案是 B', 'B'],
  ])('%j → %s', (response, letter) => {
    expect(extractChoice(response)).toBe(letter);
  });

  it('takes the last stated answer when the model changes its mind', () => {
    expect(extractChoice('At first the answer is A. Wait, recheck: the answer is B.')).toBe('B');
  });

  it('does not read articles and pronouns as options', () => {
    expect(extractChoice('A good question. I think we need more data.')).toBeNull();
    expect(extractChoice('The answer is a bit unclear to me')).toBeNull();
  });

  it('respects the valid letters: E–J only exist for 10-option questions', () => {
    expect(extractChoice('The answer is (H).', { letters: 'ABCDEFGHIJ' })).toBe('H');
    expect(extractChoice('The answer is (H).')).toBeNull();
    expect(extractChoice('The answer is (E).', { choices: ['1', '2', '3', '4', '5'] })).toBe('E');
  });

  it('falls back to the stated option text (exact or mathematically equal)', () => {
    const choices = ['Paris', 'London', 'Berlin', 'Madrid'];
    expect(extractChoice('The answer is Berlin.', { choices })).toBe('C');
    const numeric = ['\\frac{1}{2}', '2', '3', '4'];
    expect(extractChoice('So the value is \\boxed{0.5}', { choices: numeric })).toBe('A');
  });

  it('ignores a reasoning block when the final part answers', () => {
    expect(extractChoice('<think>maybe the answer is A</think>\nThe answer is D.')).toBe('D');
  });

  it('returns null instead of guessing', () => {
    expect(extractChoice('')).toBeNull();
    expect(extractChoice('I cannot decide between these options.')).toBeNull();
  });
});

describe('gradeChoiceResponse', () => {
  it('a standalone letter in byte soup is not an answer', () => {
    expect(extractChoice('\uFFFD\u0013B\uFFFD(x\uFFFD\u0002 C \uFFFD\uFFFD')).toBeNull();
    expect(extractChoice('Answer: C \uFFFD\uFFFD')).toBe('C');
  });

  it('compares the letter and reports unanswered as null', () => {
    expect(gradeChoiceResponse('Answer: B', 'B')).toEqual({ extracted: 'B', correct: true });
    expect(gradeChoiceResponse('Answer: C', 'b')).toEqual({ extracted: 'C', correct: false });
    expect(gradeChoiceResponse('no idea', 'B')).toEqual({ extracted: null, correct: false });
  });
});

describe('KOR-Bench [[…]] answers', () => {
  it('extracts the last double-bracketed answer', () => {
    expect(extractDoubleBracket('first [[1]] then [[ 42 ]]')).toBe('42');
    expect(extractDoubleBracket('no brackets')).toBeNull();
    expect(extractDoubleBracket('[[]]')).toBeNull();
  });
  it('grades text case- and space-insensitively and math by equivalence', () => {
    expect(gradeBracketResponse('So [[ABC DEF]]', '[[abc def]]').correct).toBe(true);
    expect(gradeBracketResponse('So [[ABCDEF]]', 'ABC DEF').correct).toBe(true);
    expect(gradeBracketResponse('So [[\\frac{1}{2}]]', '0.5').correct).toBe(true);
    expect(gradeBracketResponse('So [[XYZ]]', '[[ABC]]').correct).toBe(false);
    expect(gradeBracketResponse('no answer', '[[ABC]]')).toEqual({ extracted: null, correct: false });
  });
});
