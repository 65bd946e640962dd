import { describe, expect, it } from 'vitest';
import { boxedAnswers, extractMathAnswer, isGarbled, lastBoxed, looksLikeResponse } from './extract.js';
import { gradeMathResponse } from './grade.js';

describe('boxed extraction', () => {
  it('takes the last box and keeps nested braces', () => {
    expect(lastBoxed('first \\boxed{1}, then \\boxed{\\frac{\\sqrt{2}}{2}} done')).toBe(
      '\\frac{\\sqrt{2}}{2}',
    );
    expect(boxedAnswers('\\boxed{a} \\boxed{b{c}}')).toEqual(['a', 'b{c}']);
  });
  it('reads \\boxed 5, \\fbox{} and \\framebox[…]{}', () => {
    expect(extractMathAnswer('so the answer is $\\boxed 5$.')).toBe('5');
    expect(extractMathAnswer('result: \\fbox{42}')).toBe('42');
    expect(extractMathAnswer('$\\framebox[1.1\\width]{204}$ minutes')).toBe('204');
  });
  it('escaped braces inside a box do not end it', () => {
    expect(lastBoxed('\\boxed{\\{1, 2\\}}')).toBe('\\{1, 2\\}');
  });
  it('an unterminated (truncated) box yields its remainder', () => {
    expect(lastBoxed('we get \\boxed{\\frac{1}{2')).toBe('\\frac{1}{2');
  });
  it('strips a trailing period inside the box', () => {
    expect(extractMathAnswer('\\boxed{5.}')).toBe('5');
  });
});

describe('answer markers', () => {
  it('"The answer is …" up to the end of the sentence', () => {
    expect(extractMathAnswer('Adding them up, the answer is 12. I am sure.')).toBe('12');
    expect(extractMathAnswer('The answer is 3.5 meters.\nDone')).toBe('3.5 meters');
  });
  it('"final answer is $…$. I hope" (Minerva)', () => {
    expect(extractMathAnswer('Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.')).toBe(
      '\\frac{1}{2}',
    );
  });
  it('"**Final Answer**" on its own line, and "Answer:"', () => {
    expect(extractMathAnswer('Work.\n\n**Final Answer**\n$x = 7$')).toBe('x = 7');
    expect(extractMathAnswer('Work work.\nAnswer: 17')).toBe('17');
  });
  it("GSM8K's #### N", () => {
    expect(extractMathAnswer('She sells 9 eggs.\n#### 18')).toBe('18');
  });
  it('a box wins over a marker', () => {
    expect(extractMathAnswer('The answer is 3. Actually \\boxed{4}')).toBe('4');
  });
});

describe('fallbacks', () => {
  const response = 'We compute 3 + 4 = 7 and then multiply by 2 to get 14 in total';
  it('last number by default (commas removed)', () => {
    expect(extractMathAnswer(response)).toBe('14');
    expect(extractMathAnswer('So the total comes to a large sum, 1,234 apples overall')).toBe('1234');
  });
  it('none: an answerless response gives null', () => {
    expect(extractMathAnswer(response, { fallback: 'none' })).toBeNull();
    expect(gradeMathResponse(response, '14', { fallback: 'none' })).toEqual({
      extracted: null,
      correct: false,
    });
  });
  it('bare answers are returned whole, not reduced to their last number', () => {
    expect(extractMathAnswer('x^2+1')).toBe('x^2+1');
    expect(extractMathAnswer('$\\frac{3}{4}$')).toBe('$\\frac{3}{4}$');
    expect(extractMathAnswer('all real numbers')).toBe('all real numbers');
    expect(extractMathAnswer('5 apples')).toBe('5 apples');
  });
  it('byte soup (undecodable or control characters) has no answer: neither whole nor its last number', () => {
    const soup =
      '1\uFFFD\u0013\uFFFD\uFFFDg=\uFFFD\uFFFD#\u0002\uFFFD\uFFFD%K|f\uFFFD\uFFFDX\uFFFD\tD\uFFFD26o=5@';
    expect(isGarbled(soup)).toBe(true);
    expect(extractMathAnswer(soup)).toBeNull();
    expect(gradeMathResponse(soup, '5')).toEqual({ extracted: null, correct: false });
    // A boxed answer still counts, and one broken emoji in a long response does not make it garbage.
    expect(extractMathAnswer(`${soup} \\boxed{5}`)).toBe('5');
    const long = `${'We add the two numbers and carry the one. '.repeat(3)}\uFFFD So we get 42`;
    expect(isGarbled(long)).toBe(false);
    expect(extractMathAnswer(long)).toBe('42');
  });
  it('empty input gives null', () => {
    expect(extractMathAnswer('')).toBeNull();
    expect(extractMathAnswer('   ')).toBeNull();
  });
});

describe('think blocks', () => {
  it('prefers the answer after </think>', () => {
    expect(extractMathAnswer('<think>maybe \\boxed{2}</think>\nThe final answer is $\\boxed{3}$.')).toBe('3');
  });
  it('falls back to the thinking when nothing follows it', () => {
    expect(extractMathAnswer('<think>so \\boxed{2}</think>')).toBe('2');
  });
  it('an unfinished think block is searched as a whole', () => {
    expect(extractMathAnswer('<think>I get \\boxed{8} but let me check')).toBe('8');
  });
});

describe('multiple answers', () => {
  it('joins the boxes of the final paragraph when asked', () => {
    const text = 'Try \\boxed{1}.\n\nThe solutions are \\boxed{2} and \\boxed{3}.';
    // Adjacent final boxes ("\boxed{2} and \boxed{3}") are one answer by default, as in Math-Verify.
    expect(extractMathAnswer(text)).toBe('2, 3');
    expect(extractMathAnswer('Try \\boxed{1}, then \\boxed{2}.')).toBe('2');
    expect(extractMathAnswer(text, { multipleAnswers: true })).toBe('2, 3');
    expect(gradeMathResponse(text, '3, 2', { multipleAnswers: true }).correct).toBe(true);
  });
});

describe('looksLikeResponse', () => {
  it.each([
    ['mn - \\lfloor m/2 \\rfloor', false],
    ['\\text{Monday}', false],
    ['x \\in [1, 2]', false],
    ['So we get 12', true],
    ['The value is twelve. It follows from the definition.', true],
  ])('%s → %s', (text, expected) => {
    expect(looksLikeResponse(text)).toBe(expected);
  });
});

describe('gradeMathResponse on chain-of-thought responses', () => {
  const cot = (answer: string) =>
    `To solve this, we first note that the sum of the roots is $-b/a$.\n\nThen, substituting, we have $x^2 - 5x + 6 = 0$, which factors as $(x-2)(x-3)=0$.\n\nTherefore, the final answer is $\\boxed{${answer}}$.`;
  it.each([
    ['\\frac{5}{2}', '2.5', true],
    ['2.5', '\\dfrac{5}{2}', true],
    ['10080', '10,080', true],
    ['(-\\infty, -3) \\cup (3, \\infty)', '(-\\infty,-3)\\cup(3,\\infty)', true],
    ['2\\sqrt{2}', '\\sqrt{8}', true],
    ['3', 'x = 3', true],
    ['5', '5\\text{ inches}', true],
    ['1.5', '\\$1.50', true],
    ['5', '\\textbf{(C)}', false],
    ['\\frac{\\sqrt{3}}{2}', '\\frac{1}{2}\\sqrt{3}', true],
    ['7', '8', false],
  ])('gold %s, boxed %s → %s', (gold, boxed, expected) => {
    const grade = gradeMathResponse(cot(boxed), gold);
    expect(grade.extracted).toBe(boxed);
    expect(grade.correct).toBe(expected);
  });

  it('the gold may be a solution with a box (Minerva, MATH)', () => {
    const solution =
      'Start with $s = \\alpha f$, so\n\\[\ns=\\frac{45}{3600} \\frac{\\pi}{180} 7200=\\boxed{1.6} \\mathrm{~cm}\n\\]';
    expect(gradeMathResponse('The diameter is \\boxed{1.6 \\text{ cm}}', solution).correct).toBe(true);
  });
});

describe('answer markers with math delimiters', () => {
  it.each([
    ['The answer is $\\$100$.', '\\$100'],
    ['The answer is \\(\\frac{3}{4}\\)', '\\frac{3}{4}'],
    ['The answer is $$x = 2$$', 'x = 2'],
    ['The answer is \\[ 7 \\]', '7'],
    ['**Final Answer:** 10', '10'],
    ['The answer is: $5$', '5'],
  ])('%j → %j', (text, expected) => {
    expect(extractMathAnswer(text)).toBe(expected);
  });
});

describe('several answers after a marker', () => {
  it('keeps every math segment of the sentence', () => {
    expect(extractMathAnswer('The answer is $69$, $84$.')).toBe('$69$, $84$');
    expect(gradeMathResponse('So the answer is $69$ and $84$. Done.', '84, 69').correct).toBe(true);
    expect(extractMathAnswer('The answer is $3.5$ kg. Next we check.')).toBe('$3.5$ kg');
  });
});
