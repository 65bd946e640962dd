import { describe, expect, it } from 'vitest';
import { answersEquivalent, isEquivalent } from './equivalence.js';

type Case = [gold: string, predicted: string, expected: boolean];

function table(name: string, cases: Case[]) {
  describe(name, () => {
    it.each(cases)('%s vs %s → %s', (gold, predicted, expected) => {
      expect(isEquivalent(gold, predicted)).toBe(expected);
    });
  });
}

table('exact and numeric', [
  ['1', '1', true],
  ['1', '2', false],
  ['-3', '-3', true],
  ['-3', '3', false],
  ['0', '-0', true],
  ['5.0', '5', true],
  ['5.00', '5', true],
  ['2.50', '2.5', true],
  ['.5', '0.5', true],
  ['0.0833333333333333', '\\frac{1}{12}', true],
  ['\\frac{1}{3}', '0.333', false],
  ['\\frac{1}{3}', '0.33333', false],
  ['\\frac{100}{3}', '33.3', false],
  ['16\\pi', '50.27', false],
  // Integers compare exactly: a relative tolerance would accept an off-by-one large answer.
  ['3986729', '3986730', false],
  ['204', '204.0', true],
  ['0', '0.00001', false],
]);

table('LaTeX spacing, sizing and delimiters', [
  ['\\frac{1}{2}', '\\frac{1}{2}\\,', true],
  ['1\\,000', '1000', true],
  ['3\\!\\cdot\\!4', '12', true],
  ['x\\ +\\ 1', 'x+1', true],
  ['2~\\pi', '2\\pi', true],
  ['\\left(1, 2\\right)', '(1,2)', true],
  ['\\left[ 0, 1 \\right)', '[0,1)', true],
  ['\\Big(3\\Big)', '3', true],
  ['$\\frac{1}{2}$', '0.5', true],
  ['\\(\\frac{1}{2}\\)', '0.5', true],
  ['\\[\\frac{1}{2}\\]', '0.5', true],
  ['$$2$$', '2', true],
  ['\\displaystyle \\frac{3}{4}', '0.75', true],
]);

table('fractions: \\dfrac, \\tfrac, \\frac12 shorthand, a/b', [
  ['\\dfrac{1}{2}', '\\frac{1}{2}', true],
  ['\\tfrac{3}{4}', '0.75', true],
  ['\\frac12', '\\frac{1}{2}', true],
  ['\\frac1{72}', '\\frac{1}{72}', true],
  ['\\frac{1}2', '0.5', true],
  ['\\frac ab', '\\frac{a}{b}', true],
  ['\\frac{1}{2}', '1/2', true],
  ['-\\frac{1}{2}', '\\frac{-1}{2}', true],
  ['\\frac{2}{4}', '\\frac{1}{2}', true],
  ['\\frac{3}{2}', '\\frac{2}{3}', false],
]);

table('\\text{}, \\mathrm{}, \\textbf{} and text answers', [
  ['\\text{Evelyn}', 'Evelyn', true],
  ['\\text{Monday}', 'monday', true],
  ['\\textbf{12}', '12', true],
  ['\\mathrm{odd}', 'odd', true],
  ['\\text{even}', 'odd', false],
  ['\\text{(C)}', 'C', true],
  ['\\text{B}', 'B', true],
  ['C', '\\text{(C)}', true],
  ['C', 'D', false],
]);

table('units', [
  ['10', '10 \\text{ cm}', true],
  ['10', '10\\text{cm}', true],
  ['10', '10 \\mbox{ units}', true],
  ['1.6', '1.6 \\mathrm{~cm}', true],
  ['9.8', '9.8 \\mathrm{~m} / \\mathrm{s}^{2}', true],
  ['5', '5 cm', true],
  ['5', '5cm', true],
  ['18', '18 dollars', true],
  ['12', '12 apples', true],
  ['3', '3 hours', true],
  ['20', '20 \\text{ square units}', true],
  ['20', '20 \\text{ cm}^2', true],
  ['5', '5 m', true],
  ['5', '6 cm', false],
  // "2m" is a product, not 2 metres.
  ['2', '2m', false],
]);

table('degrees', [
  ['30', '30^\\circ', true],
  ['30', '30^{\\circ}', true],
  ['30', '30°', true],
  ['30', '30 degrees', true],
  ['45^\\circ', '45', true],
  ['30', '60^\\circ', false],
]);

table('percentages', [
  ['50\\%', '50', true],
  ['50\\%', '0.5', true],
  ['0.5', '50\\%', true],
  ['0.5', '50%', true],
  ['25', '25\\%', true],
  ['4.2', '4.2\\%', true],
  ['50\\%', '25\\%', false],
  ['10', '10 percent', true],
  // Without a percent sign, values compare as written (Qwen's include_percentage is an option).
  ['0.5', '50', false],
]);

table('money', [
  ['18', '\\$18', true],
  ['\\$1.50', '1.5', true],
  ['18', '$18', true],
  ['\\$18.00', '18', true],
]);

table('thousands separators versus tuples', [
  ['1,000', '1000', true],
  ['1,000,000', '1000000', true],
  ['1{,}000', '1000', true],
  ['1000', '1 000', true],
  ['12,345.5', '12345.5', true],
  // Not thousands groups: a list.
  ['1,2', '12', false],
  ['1, 000', '1000', false],
]);

table('leading variable and assignments', [
  ['1', 'x=1', true],
  ['x=1', '1', true],
  ['5', 'y = 5', true],
  ['k=1', '1', true],
  ['M=\\frac{9}{32} \\sqrt{2}', '\\frac{9\\sqrt2}{32}', true],
  ['m_{\\max }=n^{2}-n-1', 'n^2-n-1', true],
  ['f(x)=2x', '2x', true],
  ['2x+3', 'y = 2x+3', true],
  ['y = 2x+3', 'y=3+2x', true],
  ['x = 3', 'x = 4', false],
  ['2', 'x = 3', false],
]);

table('equations', [
  ['-34x-45y+20z-100=0', '34x+45y-20z+100=0', true],
  ['x+y=1', 'y=1-x', true],
  ['x^2+y^2=1', 'x^2+y^2=2', false],
  ['2x+4y=6', 'x+2y=3', true],
]);

table('radicals and roots', [
  ['\\frac{\\sqrt{2}}{2}', '\\sqrt{2}/2', true],
  ['\\frac{\\sqrt2}{2}', '\\frac{1}{\\sqrt{2}}', true],
  ['\\frac{\\sqrt3}{3}', '\\frac{1}{\\sqrt{3}}', true],
  ['2\\sqrt{3}', '\\sqrt{12}', true],
  ['4\\sqrt{2}', '\\sqrt{32}', true],
  ['\\sqrt[3]{2}', '2^{1/3}', true],
  ['\\sqrt[3]{-8}', '-2', true],
  ['\\sqrt{2}', '1.414', false],
  ['\\sqrt{2}', '1.41421', false],
  ['3\\sqrt{2}', '2\\sqrt{3}', false],
  [
    '\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}',
    '\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}',
    true,
  ],
]);

table('π, e and powers', [
  ['\\pi', '3.14', false],
  ['\\pi', '3.1416', false],
  ['2\\pi', '\\pi \\cdot 2', true],
  ['\\frac{\\pi}{4}', '0.25\\pi', true],
  ['\\pi r^2', 'r^2\\pi', true],
  ['2^{10}', '1024', true],
  ['2^10', '1024', true],
  ['2^{1009}', '2^{1009}', true],
  ['2^{1009}', '2^{1010}', false],
  ['e^{i\\pi}', '-1', true],
  ['e^2', '7.389056', true],
  ['\\log_2 8', '3', true],
  ['\\ln e', '1', true],
  ['10^{-5}', '\\frac{1}{100000}', true],
  ['\\frac{1}{x}', 'x^{-1}', true],
  ['5!', '120', true],
  ['\\binom{5}{2}', '10', true],
  ['\\frac{100!}{2^{50}}', '\\frac{100!}{2^{50}}', true],
]);

table('scientific notation', [
  ['1.5 \\times 10^{3}', '1500', true],
  ['1500', '1.5 \\cdot 10^3', true],
  ['1e-3', '0.001', true],
  ['3.0 \\times 10^8', '3 \\times 10^{8}', true],
  ['6.63 \\times 10^{-34}', '6.63e-34', true],
  ['6.63 \\times 10^{-34}', '6.64 \\times 10^{-34}', false],
]);

table('algebra (evaluated at fixed random points)', [
  ['a+b', 'b+a', true],
  ['x^2', 'x\\cdot x', true],
  ['x^2+2x+1', '(x+1)^2', true],
  ['x^2+2x+1', '(x+1)^3', false],
  ['\\frac{x}{7}+\\frac{2}{7}', '\\frac{x+2}{7}', true],
  ['\\sec^2(y)', '\\tan^2(y)+1', true],
  ['\\sin^2 x + \\cos^2 x', '1', true],
  ['2n-2', '2(n-1)', true],
  ['-(n-1) / 2', '\\frac{1-n}{2}', true],
  ['\\binom{2n}{n}', '\\frac{(2n)!}{(n!)^2}', true],
  ['m n-\\lfloor m / 2\\rfloor', 'mn - \\lfloor \\frac{m}{2} \\rfloor', true],
  ['\\left\\lfloor\\log _{2} n\\right\\rfloor+1', '\\lfloor \\log_2 n \\rfloor + 1', true],
  ['\\frac{1}{3x^{2/3}}', '\\frac{1}{3\\sqrt[3]{x}^2}', true],
  ['x+1', 'y+1', false],
  ['(a+5)(b+2)', '(+5)(b+2)', false],
  ['x+2n+1', 'x+1', false],
  ['\\frac{1}{2}x', 'x/2', true],
  ['0.5x', '\\frac{x}{2}', true],
  ['0.333x', '\\frac{x}{3}', false],
  ['\\sqrt{x^2}', 'x', false],
  ['|x|', '\\sqrt{x^2}', true],
]);

table('intervals', [
  ['[1,2)', '[1,2)', true],
  ['[1,2]', '(1,2)', false],
  ['[0,1]', '[0, 1)', false],
  ['(-\\infty, 3]', '(-\\infty,3]', true],
  ['(0.6,2.6667]', '(\\frac{3}{5},\\frac{8}{3}]', false],
  ['x \\in [1, 2]', '[1,2]', true],
  ['(3, \\infty)', 'x > 3', true],
  ['(3, \\infty)', '3 < x', true],
  ['[3, \\infty)', 'x \\ge 3', true],
  ['(-\\infty, 3)', 'x < 3', true],
  ['(1, 2]', '1 < x \\le 2', true],
  ['[1, 2]', '1 \\le x \\le 2', true],
  ['(3, \\infty)', 'x \\ge 3', false],
  ['(-\\infty,-2]\\cup[1,\\infty)', '(-\\infty, -2] \\cup [1, \\infty)', true],
  ['(0,1)\\cup(2,3)', '(2,3)\\cup(0,1)', true],
  ['(0,1)\\cup(2,3)', '(0,1)\\cup(2,4)', false],
  ['\\mathbb{R}', '(-\\infty,\\infty)', true],
  ['-\\infty', '\\infty', false],
  ['\\infty', '\\infty', true],
]);

table('sets, tuples and lists', [
  ['\\{1,2\\}', '\\{2,1\\}', true],
  ['\\{1,2,3\\}', '\\{3,2,1\\}', true],
  ['\\{1,2\\}', '\\{1,3\\}', false],
  ['\\{1,2\\}', '1, 2', true],
  ['(1,2)', '(2,1)', false],
  ['(1,2,3)', '(3,2,1)', false],
  ['(3, -1)', '(3,-1)', true],
  ['(1,4.5)', '(1,\\frac{9}{2})', true],
  ['(2,4)', '2, 4', true],
  ['1,2,3', '3,2,1', true],
  ['69, 84', '84, 69', true],
  ['1,3,5', '1,3', false],
  ['-2,0,2', '0, \\pm 2', true],
  ['1 \\pm \\sqrt{2}', '1+\\sqrt{2}, 1-\\sqrt{2}', true],
  ['1 \\pm \\sqrt{2}', '1+\\sqrt{2}', false],
  ['x=1, x=2', '1, 2', true],
  ['2 \\text{ and } 3', '2, 3', true],
  ['\\emptyset', '\\{\\}', true],
  ['\\emptyset', '\\varnothing', true],
  ['(6,3),(9,3),(9,5),(54,5)', '(9,3), (6,3), (54,5), (9,5)', true],
  ['(6,3),(9,3),(9,5),(54,5)', '(6,3), (9,3), (9,5)', false],
  ['f(n)=n, g(n)=1', 'f(n) = n, g(n) = 1', true],
]);

table('matrices', [
  ['\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}', '\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}', true],
  [
    '\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\end{pmatrix}',
    '(\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmatrix})',
    true,
  ],
  ['\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', '\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}', false],
  ['\\begin{pmatrix} 1 & 2 \\end{pmatrix}', '\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', false],
  [
    '\\begin{pmatrix} 0.5 \\\\ \\sqrt{4} \\end{pmatrix}',
    '\\begin{pmatrix} \\frac12 \\\\ 2 \\end{pmatrix}',
    true,
  ],
]);

table('complex numbers', [
  ['1+i', 'i+1', true],
  ['3+4i', '4i+3', true],
  ['i', '\\sqrt{-1}', true],
  ['2i', '-2i', false],
  ['\\frac{1}{i}', '-i', true],
]);

table('repeating decimals and number words', [
  ['\\frac{1}{3}', '0.\\overline{3}', true],
  ['\\frac{7}{6}', '1.1\\overline{6}', true],
  ['6', 'six', true],
  ['21', 'twenty-one', true],
]);

describe('whole responses on either side', () => {
  it('extracts the last box from both arguments', () => {
    expect(isEquivalent('The answer is \\boxed{\\frac{1}{2}}.', 'So we get $\\boxed{0.5}$')).toBe(true);
    expect(isEquivalent('\\boxed{2}', 'first \\boxed{2} then \\boxed{3}')).toBe(false);
  });
  it('accepts a GSM8K solution as gold', () => {
    expect(isEquivalent('She makes 9 * 2 = $18.\n#### 18', '\\boxed{18}')).toBe(true);
  });
  it('an empty or answerless prediction is never equivalent', () => {
    expect(isEquivalent('5', '')).toBe(false);
    expect(isEquivalent('', '')).toBe(false);
  });
});

describe('options', () => {
  it('percentage: always reproduces Qwen include_percentage for plain numbers', () => {
    expect(isEquivalent('0.5', '50', { percentage: 'always' })).toBe(true);
    expect(isEquivalent('0.5', '50', { percentage: 'sign' })).toBe(false);
    expect(isEquivalent('50\\%', '0.5', { percentage: 'never' })).toBe(false);
  });
  it('relativeTolerance widens or narrows numeric comparison', () => {
    expect(isEquivalent('3.14159', '3.14', { relativeTolerance: 1e-2 })).toBe(true);
    expect(isEquivalent('3.14159', '3.1416', { relativeTolerance: 1e-7 })).toBe(false);
  });
  it('orderedLists compares bare lists in order', () => {
    expect(isEquivalent('1, 2', '2, 1', { orderedLists: true })).toBe(false);
    expect(isEquivalent('1, 2', '1, 2', { orderedLists: true })).toBe(true);
  });
});

describe('properties', () => {
  // Deterministic pseudo-random integers so failures reproduce.
  let state = 12345;
  const random = (max: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return 1 + (state % max);
  };

  it('a fraction equals its decimal (8 places) and differs from its reciprocal', () => {
    for (let trial = 0; trial < 200; trial++) {
      const numerator = random(997);
      let denominator = random(997);
      if (denominator === numerator) denominator++;
      const decimal = (numerator / denominator).toFixed(8);
      expect(answersEquivalent(`\\frac{${numerator}}{${denominator}}`, decimal)).toBe(true);
      expect(
        answersEquivalent(`\\frac{${numerator}}{${denominator}}`, `\\frac{${denominator}}{${numerator}}`),
      ).toBe(false);
    }
  });

  it('is symmetric on a mixed sample', () => {
    const answers = [
      '\\frac{1}{2}',
      '0.5',
      '(1,2)',
      '[1,2]',
      '\\{1,2\\}',
      'x+1',
      '1+x',
      '50\\%',
      '\\sqrt{2}',
      '2^{1/2}',
      '3',
      'x=3',
    ];
    for (const a of answers) {
      for (const b of answers) expect(isEquivalent(a, b)).toBe(isEquivalent(b, a));
    }
  });

  it('expanded and factored quadratics agree exactly when their roots do', () => {
    for (let trial = 0; trial < 60; trial++) {
      const r = random(9);
      const s = random(9);
      const expanded = `x^2 - ${r + s}x + ${r * s}`;
      expect(answersEquivalent(expanded, `(x-${r})(x-${s})`)).toBe(true);
      expect(answersEquivalent(expanded, `(x-${r})(x-${s + 1})`)).toBe(false);
    }
  });
});

table('set algebra', [
  ['\\{1,3\\} \\cup \\{2,4\\}', '\\{1,2,3,4\\}', true],
  ['{1,3} \\cup {2,4}', '{1,2,3,4}', true],
  ['\\{1,3\\} \\cup \\{2,4\\}', '\\{1,2,3\\}', false],
  ['(-\\infty, 0) \\cup (0, \\infty)', '\\mathbb{R} \\setminus \\{0\\}', true],
  ['(-\\infty, 1) \\cup (1, 2) \\cup (2, \\infty)', '\\mathbb{R} \\setminus \\{2, 1\\}', true],
  ['(-\\infty, 0) \\cup (0, \\infty)', '\\mathbb{R} \\setminus \\{1\\}', false],
]);

table('mixed numbers, inverse functions, temperatures', [
  ['2\\frac{1}{2}', '2.5', true],
  ['2\\frac{1}{2}', '\\frac{5}{2}', true],
  ['-1\\frac{3}{4}', '-1.75', true],
  ['2\\frac{1}{2}', '1', false],
  ['2\\frac{\\pi}{3}', '\\frac{2\\pi}{3}', true],
  ['\\frac{x-1}{2}', 'f^{-1}(x) = \\frac{x-1}{2}', true],
  ['100', '100^\\circ C', true],
  ['212', '212 F', true],
]);

table('set-builder notation and "or" between inequalities', [
  ['(0, \\infty)', '\\{x \\mid x > 0\\}', true],
  ['[1, 2]', '\\{x | 1 \\le x \\le 2\\}', true],
  ['(0, \\infty)', '\\{x : x \\ge 0\\}', false],
  ['(-\\infty, 1) \\cup (2, \\infty)', 'x < 1 \\text{ or } x > 2', true],
  ['x < 1 \\text{ or } x > 2', '(2, \\infty) \\cup (-\\infty, 1)', true],
  ['(-\\infty, 1) \\cup (2, \\infty)', 'x < 1 \\text{ or } x > 3', false],
]);

// Math-Verify rounds a decimal literal to 6 places (float_rounding), so these are not equal by default;
// Qwen2.5-Math's math_equal (relative 1e-4) accepts them: `relativeTolerance` switches to it.
describe('relativeTolerance: Qwen2.5-Math numeric leniency', () => {
  it.each([
    ['\\frac{1}{3}', '0.33333'],
    ['16\\pi', '50.27'],
    ['\\sqrt{2}', '1.41421'],
    ['\\pi', '3.1416'],
    ['(0.6,2.6667]', '(\\frac{3}{5},\\frac{8}{3}]'],
  ])('%s vs %s → true with relativeTolerance 1e-4, false by default', (gold, predicted) => {
    expect(isEquivalent(gold, predicted, { relativeTolerance: 1e-4 })).toBe(true);
    expect(isEquivalent(gold, predicted)).toBe(false);
  });
  it('six-place rounding by default', () => {
    expect(isEquivalent('\\frac{1}{3}', '0.333333')).toBe(true);
    expect(isEquivalent('\\frac{1}{3}', '0.3333333')).toBe(true);
    expect(isEquivalent('\\frac{1}{3}', '0.33333')).toBe(false);
    expect(isEquivalent('\\sqrt{2}', '1.414214')).toBe(true);
    expect(isEquivalent('\\frac{1}{3}', '0.333333', { floatRounding: 8 })).toBe(false);
  });
});

describe('strictness knobs (issue 15)', () => {
  it('assignmentsAsValues: equation vs value', () => {
    expect(isEquivalent('5', 'x = 5')).toBe(true);
    expect(isEquivalent('5', 'x = 5', { assignmentsAsValues: false })).toBe(false);
    expect(isEquivalent('x = 5', 'x = 5', { assignmentsAsValues: false })).toBe(true);
    expect(isEquivalent('(3,2)', '(p,q)=(3,2)', { assignmentsAsValues: false })).toBe(false);
  });
  it('percentage: sign (default) vs never', () => {
    expect(isEquivalent('28\\%', '0.28')).toBe(true);
    expect(isEquivalent('28\\%', '0.28', { percentage: 'never' })).toBe(false);
    expect(isEquivalent('28\\%', '28', { percentage: 'never' })).toBe(true);
  });
  it('cas: off leaves sums unread', () => {
    expect(isEquivalent('6', '\\sum_{k=1}^{3} k', { cas: false })).toBe(false);
  });
});
