/**
 * The answer-equivalence suite of issue 15, written from its failure categories and from Math-Verify's
 * documented behaviour (extraction targets: boxed, "final answer" phrases, last LaTeX, last expression;
 * comparison: numeric with rounding, sets/intervals/relations/equations/matrices). Each case is
 * `[gold, prediction, expected, reason]`; `sym` cases hold in both argument orders.
 */
export interface SuiteCase {
  gold: string;
  prediction: string;
  expected: boolean;
  reason: string;
  category: string;
  /** Also checked with the arguments swapped. */
  symmetric: boolean;
}

type Row = [gold: string, prediction: string, expected: boolean, reason: string];

export const SUITE: SuiteCase[] = [];

function group(category: string, symmetric: boolean, rows: Row[]): void {
  for (const [gold, prediction, expected, reason] of rows)
    SUITE.push({ gold, prediction, expected, reason, category, symmetric });
}

const COT =
  'Let us set up the problem. The first condition gives $a + b = 10$ and the second $a - b = 4$, so adding them, $2a = 14$.';

group('free-form extraction', false, [
  ['7', 'Final Answer: The final answer is $7$. I hope it is correct.', true, 'Minerva few-shot sentence'],
  [
    '7',
    'Final Answer: The final answer is $8$. I hope it is correct.',
    false,
    'Minerva sentence, wrong value',
  ],
  [
    '\\frac{1}{2}',
    'Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.',
    true,
    'Minerva sentence, fraction',
  ],
  ['12', `${COT}\n\nThe answer is 12.`, true, '"the answer is X" after reasoning'],
  ['12', `${COT}\n\nthe answer is 13`, false, '"the answer is" with a wrong value'],
  ['12', `${COT}\n\nTherefore $12$ is the solution.`, true, 'last LaTeX of "Therefore X is the solution"'],
  ['5', `${COT}\n\nTherefore 5 is the solution.`, true, 'last number of "Therefore X is the solution"'],
  ['x=3', `${COT}\n\nTherefore $x = 3$ is the solution.`, true, 'last LaTeX is the equation'],
  [
    '7',
    `${COT}\n\nSo $a = 7$.\n\nLet me know if you need anything else! I am happy to help.`,
    true,
    'trailing chatter without numbers after the answer',
  ],
  [
    '7',
    `${COT}\n\nThe final answer is $\\boxed{7}$<|im_end|>\n<|im_start|>user\nThanks<|im_end|>`,
    true,
    'chat template residue after the box',
  ],
  ['7', `${COT}\n\nThe final answer is 7.<|im_end|>`, true, '<|im_end|> right after the answer'],
  [
    '7',
    `<think>\nMaybe it is 5. No: 2a = 14, a = 7.\n</think>\n\nThe answer is $\\boxed{7}$.`,
    true,
    'answer after a think block',
  ],
  [
    '7',
    `<think>\nIs it \\boxed{5}? ... a = 7\n</think>\n\n**Answer:** 7`,
    true,
    'bold answer after think, box inside think ignored',
  ],
  [
    '5',
    `<think>\nIs it \\boxed{5}? ... a = 7\n</think>\n\n**Answer:** 7`,
    false,
    'the box inside the think block is not the answer',
  ],
  ['7', `${COT}\n\n**Final Answer**\n\\[\n\\boxed{7}\n\\]`, true, 'display boxed under a bold heading'],
  ['7', `${COT}\n\n**Final Answer**\n$$7$$`, true, 'display math under a Final Answer heading'],
  ['7', `${COT}\n\nFinal answer: 7`, true, '"Final answer:" line'],
  [
    '7',
    `${COT}\n\nFinal Answer: $7$\n\nNote: a = 7.\n\nNote: a = 7.\n\nNote: a = 7.`,
    true,
    'repeated notes after the answer',
  ],
  ['7', `${COT}\n\nThe answer is: $\\boxed{7}$`, true, '"The answer is:" with a box'],
  ['7', `${COT}\n\nThus, $a = \\boxed{7}$.`, true, 'box inside a sentence'],
  ['14', `${COT}\n\nThus, $2a = 14$ so $a = \\boxed{7}$.`, false, 'box wins over earlier numbers'],
  ['\\frac{3}{4}', `${COT}\n\nHence the probability is $\\frac{3}{4}$.`, true, 'last LaTeX segment'],
  ['\\frac{3}{4}', `${COT}\n\nHence the probability is 0.75.`, true, 'last number as a decimal'],
  ['\\frac{3}{4}', `${COT}\n\nHence the probability is $\\frac{3}{5}$.`, false, 'last LaTeX wrong'],
  ['2', 'AZYUK2A', false, 'a digit inside a word is not a number'],
  ['2', 'The code is AZYUK2A.', false, 'a digit inside a word in a sentence is not the answer'],
  [
    '3',
    'We have $1\n2\n3$ as indices but no conclusion',
    false,
    'a number split by newlines inside $…$ is not an answer',
  ],
  ['18', 'The answer is $\\boxed{18}$. I hope it is correct.', true, 'box plus Minerva tail'],
  ['18', 'I think the answer is 18 but I am not sure', true, '"the answer is" followed by chatter'],
  ['\\pi', `${COT}\n\nThe area is $\\pi$.`, true, 'last LaTeX constant'],
  [
    '1',
    `${COT}\n\nThe answer is \\boxed{1}\n\nThe answer is \\boxed{1}\n\nThe answer is \\boxed{1}`,
    true,
    'repeated final answers',
  ],
  ['10', `${COT}\n\nFirst \\boxed{8}, then corrected: \\boxed{10}`, true, 'the last box wins'],
  ['8', `${COT}\n\nFirst \\boxed{8}, then corrected: \\boxed{10}`, false, 'an earlier box is not the answer'],
  ['-3', `${COT}\n\nThe answer is −3.`, true, 'unicode minus'],
  ['1000', `${COT}\n\nThe answer is 1,000 dollars.`, true, 'thousands separator and unit in prose'],
]);

group('decimal commas and thousands separators', true, [
  ['1.22', '1,22', true, 'decimal comma: two digits after the comma'],
  ['0.111', '0,111', true, 'a leading 0 makes the comma a decimal comma'],
  ['1.5', '1,5', true, 'decimal comma, one digit'],
  ['14916', '14{,}916', true, 'LaTeX thousands separator'],
  ['14916', '14 {, }916', true, 'spaced LaTeX thousands separator'],
  ['14916', '14,916', true, 'thousands separator, three digits'],
  ['1000000', '1,000,000', true, 'several thousands groups'],
  ['1000000', '1\\,000\\,000', true, 'thin-space thousands groups'],
  ['14.916', '14,916', false, 'a three-digit group after a non-zero whole part is thousands'],
  ['1.22', '1,23', false, 'decimal comma, different value'],
  ['3.14', '3{,}14', true, 'braced decimal comma'],
  ['1,2', '1.2', true, 'decimal comma in the gold'],
  ['12345', '12\\,345', true, 'thin space separator'],
  ['12345', '12 345', true, 'space separator'],
]);

group('percent, units and text wrappers', true, [
  ['28\\%', '28', true, 'percent sign dropped'],
  ['28\\%', '0.28', true, 'percent as a fraction'],
  ['28\\%', '28 pct', true, '"pct" spelled out'],
  ['28\\%', '28 percentage', true, '"percentage" spelled out'],
  ['28\\%', '28 percent', true, '"percent" spelled out'],
  ['28\\%', '28%', true, 'bare percent sign'],
  ['28\\%', '29\\%', false, 'different percentage'],
  ['28\\%', '2.8', false, 'off by a factor of ten'],
  ['50', '50\\%', true, 'percent on the prediction'],
  ['5', '5\\text{ cm}', true, '\\text unit'],
  ['5', '5 \\textnormal{cm}', true, '\\textnormal unit'],
  ['5', '5\\mbox{ meters}', true, '\\mbox unit'],
  ['5', '5\\ \\text{cm}^2', true, 'squared unit'],
  ['5', '5 \\mathrm{~m/s}', true, '\\mathrm unit with a slash'],
  ['5', '6\\text{ cm}', false, 'unit with another value'],
  ['\\text{Monday}', '\\textbf{Monday}', true, 'text answers compare as text'],
  ['\\text{Monday}', 'monday', true, 'text compare ignores case'],
  ['\\text{Monday}', '\\text{Tuesday}', false, 'different text'],
  ['\\text{(B)}', 'B', true, 'choice letter in a text wrapper'],
  ['30^\\circ', '30', true, 'degree sign dropped'],
  ['30^{\\circ}', '30°', true, 'unicode degree'],
  ['\\$18.90', '18.9', true, 'money sign dropped'],
  ['\\$18.90', '18.90 dollars', true, 'dollars word'],
  ['10\\text{ inches}', '10', true, 'unit on the gold'],
  ['2 \\text{ hours}', '2', true, 'time unit'],
]);

group('numbers and expressions', true, [
  ['\\frac{1}{2}', '0.5', true, 'fraction vs decimal'],
  ['\\frac12', '\\dfrac{1}{2}', true, 'shorthand and \\dfrac'],
  ['\\frac{1}{3}', '0.333333', true, 'six-digit rounding'],
  ['\\frac{1}{3}', '0.3', false, 'too coarse'],
  ['\\sqrt{8}', '2\\sqrt{2}', true, 'radical simplification'],
  ['\\frac{\\sqrt{3}}{3}', '\\frac{1}{\\sqrt{3}}', true, 'rationalised denominator'],
  ['\\sqrt{2}+\\sqrt{3}', '\\sqrt{5+2\\sqrt{6}}', true, 'nested radical'],
  ['2\\pi', '\\pi+\\pi', true, 'constant arithmetic'],
  ['e^{i\\pi}', '-1', true, "Euler's identity"],
  ['(x+1)^2', 'x^2+2x+1', true, 'polynomial expansion'],
  ['(x+1)^2', 'x^2+1', false, 'missing middle term'],
  ['\\frac{x^2-1}{x-1}', 'x+1', true, 'cancellable rational function'],
  ['\\sin^2 x+\\cos^2 x', '1', true, 'Pythagorean identity'],
  ['\\sin(2x)', '2\\sin x\\cos x', true, 'double angle'],
  ['\\log_2 8', '3', true, 'logarithm with base'],
  ['\\binom{5}{2}', '10', true, 'binomial coefficient'],
  ['5!', '120', true, 'factorial'],
  ['x^3', 'x^2', false, 'different powers'],
  ['3\\cdot 10^{5}', '300000', true, 'scientific notation'],
  ['3 \\times 10^5', '3e5', true, 'e notation'],
  ['3986729', '3986730', false, 'integers compare exactly'],
  ['10^{100}+1', '10^{100}', false, 'big integers exactly'],
  ['\\frac{1+\\sqrt{5}}{2}', '1.618034', true, 'golden ratio to six places'],
  ['\\arctan 1', '\\frac{\\pi}{4}', true, 'inverse trig value'],
  ['\\cos\\frac{\\pi}{3}', '\\frac12', true, 'trig value'],
  ['2+3i', '3i+2', true, 'complex reordered'],
  ['(1+i)^2', '2i', true, 'complex arithmetic'],
  ['a^2-b^2', '(a-b)(a+b)', true, 'factorisation'],
  ['\\frac{a}{b}+\\frac{c}{d}', '\\frac{ad+bc}{bd}', true, 'common denominator'],
  ['-\\frac{1}{2}', '\\frac{-1}{2}', true, 'sign placement'],
  ['-\\frac{1}{2}', '\\frac{1}{2}', false, 'sign matters'],
  ['0', '-0', true, 'signed zero'],
  ['\\infty', '\\infty', true, 'infinity'],
  ['\\infty', '-\\infty', false, 'signed infinity'],
  ['0.\\overline{3}', '\\frac13', true, 'repeating decimal'],
  ['2\\sqrt{3}', '\\sqrt{12}', true, 'radical normal form'],
  ['2\\sqrt{3}', '3\\sqrt{2}', false, 'different radicals'],
  ['\\frac{5}{12}', '\\frac{10}{24}', true, 'unreduced fraction'],
  ['\\frac{5}{12}', '\\frac{12}{5}', false, 'inverted fraction'],
  ['1/2', '\\frac{1}{2}', true, 'slash fraction'],
  ['2^{10}', '1024', true, 'power'],
  ['\\sqrt[3]{27}', '3', true, 'cube root'],
  ['\\frac{3}{2}', '1\\frac{1}{2}', true, 'mixed number'],
  ['e', '2.718282', true, "Euler's number"],
  ['\\ln 2', '0.693147', true, 'logarithm value'],
  ['x', 'y', false, 'different variables'],
  ['\\frac{x}{2}', '0.5x', true, 'coefficient form'],
  ['\\pi r^2', 'r^2\\pi', true, 'commuted product'],
]);

group('relations and inequalities', true, [
  ['x \\geq 2', 'x \\ge 2', true, '\\geq is \\ge'],
  ['x \\geq 2', 'x >= 2', true, 'ASCII >='],
  ['x \\geq 2', '2 \\le x', true, 'flipped sides'],
  ['x \\geq 2', 'x > 2', false, 'strict vs non-strict'],
  ['x \\lt 3', 'x < 3', true, '\\lt'],
  ['x \\lt 3', 'x > 3', false, 'opposite direction'],
  ['x \\neq 1', 'x != 1', true, 'ASCII !='],
  ['x \\neq 1', 'x \\ne 1', true, '\\ne'],
  ['x \\neq 1', 'x = 1', false, 'equality is not inequality'],
  ['-2 \\le x \\le 7', 'x \\in [-2,7]', true, 'double inequality as an interval'],
  ['-2 \\le x \\le 7', '[-2,7]', true, 'double inequality vs bare interval'],
  ['-2 \\le x \\le 7', '[-2,7)', false, 'open end differs'],
  ['-2 < x \\le 7', '(-2,7]', true, 'half-open interval'],
  ['-x > -1', 'x < 1', true, 'multiplied by -1, flipped'],
  ['x < 1', 'x \\in (-\\infty, 1)', true, 'one-sided inequality as interval'],
  ['x > 1', '(1, \\infty)', true, 'one-sided inequality as bare interval'],
  ['x \\ge 1', '[1, \\infty)', true, 'closed at the finite end'],
  ['x \\ge 1', '(1, \\infty)', false, 'open vs closed'],
  ['x < -1 \\text{ or } x > 2', '(-\\infty,-1)\\cup(2,\\infty)', true, 'or of inequalities as a union'],
  ['(-\\infty,-1)\\cup(2,\\infty)', '(2,\\infty)\\cup(-\\infty,-1)', true, 'union order does not matter'],
  ['(-\\infty,-1)\\cup(2,\\infty)', '(-\\infty,-1]\\cup(2,\\infty)', false, 'one bracket differs'],
  ['[1,2]\\cup[2,3]', '[1,3]', true, 'touching closed intervals merge'],
  ['(0,1)\\cup(1,2)', '(0,2)', false, 'a missing point'],
  ['x \\in (0, 5)', '0 < x < 5', true, 'membership vs chain'],
  ['|z| = 1', '|z| = 1', true, 'identical modulus condition'],
  ['x \\ge 2', '2 \\geq x', false, 'sides flipped without flipping the sign'],
  ['x \\le 5', 'x \\leqslant 5', true, '\\leqslant'],
]);

group('equations', true, [
  ['2x+4y-3=0', 'y=-\\frac{1}{2}x+\\frac{3}{4}', true, 'rearranged line'],
  ['2x+4y-3=0', 'y=-\\frac{1}{2}x+\\frac{1}{4}', false, 'different intercept'],
  ['\\frac{x^2}{16}+\\frac{y^2}{12}=1', 'x^2/16 + y^2/12 = 1', true, 'slash fractions'],
  ['\\frac{x^2}{4}+\\frac{y^2}{3}=1', 'x^2/16 + y^2/12 = 1/4', true, 'scaled equation'],
  ['\\frac{x^2}{4}+\\frac{y^2}{3}=1', 'x^2/16 + y^2/12 = 1', false, 'a different ellipse'],
  ['y = 2x + 1', 'y = 1 + 2x', true, 'commuted right side'],
  ['y = 2x + 1', '2x - y + 1 = 0', true, 'implicit form'],
  ['y = 2x + 1', 'y = 2x - 1', false, 'different line'],
  ['x^2+y^2=25', 'y^2+x^2-25=0', true, 'circle rearranged'],
  ['x^2+y^2=25', 'x^2+y^2=5', false, 'radius vs radius squared'],
  ['f(x) = x^2', 'x^2', true, 'a function definition stands for its value'],
  ['(p,q)=(3,2)', '(3,2)', true, 'labelled tuple'],
  ['(p,q)=(3,2)', '(2,3)', false, 'labelled tuple, order swapped'],
  ['x=5', '5', true, 'assignment vs value'],
  ['x=5', '6', false, 'assignment vs another value'],
  ['k=5', 'x=5', true, 'the variable name is not compared'],
  ['7', 'x = 5+5+1 = 7', true, 'a chain: the last side'],
  ['11', 'x = 5+5+1 = 11', true, 'a chain ending at the value'],
  ['10', 'x = 5+5+1 = 11', false, 'a chain ending elsewhere'],
  ['x \\approx 3.14', '3.14', true, '\\approx: the right side'],
  ['3.14', '\\pi \\approx 3.14', true, '\\approx in the prediction'],
  ['x = 2 \\text{ or } x = 3', '\\{2, 3\\}', true, 'or of assignments as a set'],
  ['x = 2, x = 3', '3, 2', true, 'several assignments as a set'],
  ['x=\\pm 2', '\\{-2, 2\\}', true, '± as two solutions'],
]);

group('matrices and vectors', true, [
  [
    '\\begin{pmatrix}1\\\\2\\end{pmatrix}',
    '\\begin{bmatrix}1\\\\2\\end{bmatrix}',
    true,
    'pmatrix vs bmatrix',
  ],
  [
    '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}',
    '\\left[\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right]',
    true,
    'array in \\left[ \\right]',
  ],
  [
    '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}',
    '\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}',
    false,
    'one entry differs',
  ],
  [
    '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}',
    '\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}',
    false,
    'transposed',
  ],
  [
    '\\begin{pmatrix}0.5\\\\1\\end{pmatrix}',
    '\\begin{pmatrix}\\frac12\\\\1\\end{pmatrix}',
    true,
    'entries compare numerically',
  ],
  [
    '\\begin{pmatrix}1/3\\\\1\\end{pmatrix}',
    '\\begin{pmatrix}0.333333\\\\1\\end{pmatrix}',
    true,
    'tolerance inside entries',
  ],
  [
    '\\begin{pmatrix}2\\\\4\\end{pmatrix}',
    '2\\begin{pmatrix}1\\\\2\\end{pmatrix}',
    true,
    'scalar times a matrix',
  ],
  [
    '\\begin{pmatrix}4\\\\6\\end{pmatrix}',
    '\\begin{pmatrix}1\\\\2\\end{pmatrix}+\\begin{pmatrix}3\\\\4\\end{pmatrix}',
    true,
    'sum of vectors',
  ],
  ['\\begin{pmatrix}1\\\\2\\end{pmatrix}', '\\begin{pmatrix}1&2\\end{pmatrix}', false, 'column vs row'],
  [
    '\\begin{pmatrix}x\\\\2x\\end{pmatrix}',
    '\\begin{pmatrix}x\\\\x+x\\end{pmatrix}',
    true,
    'symbolic entries',
  ],
  [
    '\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}',
    '-\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}',
    true,
    'negated matrix',
  ],
]);

group('sets, tuples and multiple answers', true, [
  ['\\{1,2\\}', '\\{2,1\\}', true, 'sets are unordered'],
  ['\\{1,2\\}', '\\{1,2,3\\}', false, 'extra element'],
  ['\\{1,2\\}', '1, 2', true, 'bare list as a set'],
  ['1, 2', '2, 1', true, 'bare lists are unordered, like Math-Verify'],
  ['(1,2)', '(2,1)', false, 'tuples are ordered'],
  ['(1,2)', '(1,2)', true, 'identical tuple'],
  ['(1,2)', '[1,2]', false, 'open vs closed interval'],
  ['(1,2,3)', '(1,2,3)', true, 'triple'],
  ['(1,2,3)', '(1,3,2)', false, 'triple reordered'],
  ['\\{-2, 2\\}', '\\pm 2', true, '± as a set'],
  ['\\{\\frac12, 3\\}', '\\{0.5, 3\\}', true, 'set entries compare numerically'],
  ['\\emptyset', '\\varnothing', true, 'empty set spellings'],
  ['\\emptyset', '\\{\\}', true, 'braces for the empty set'],
  ['\\emptyset', '\\{0\\}', false, 'the set of zero is not empty'],
  ['\\mathbb{R}', '(-\\infty, \\infty)', true, 'all reals as an interval'],
  ['\\{1, 2\\}', '\\boxed{1}, \\boxed{2}', true, 'multiple boxed answers form a set'],
  ['\\{1, 2\\}', 'The solutions are \\boxed{1} and \\boxed{2}.', true, 'two boxes in one sentence'],
  ['\\{1, 2\\}', '\\boxed{1} \\text{ and } \\boxed{3}', false, 'one boxed answer wrong'],
  ['(3, 4)', '(3, 4.0)', true, 'tuple entries numeric'],
  ['\\{(1,2), (3,4)\\}', '\\{(3,4), (1,2)\\}', true, 'set of tuples'],
  ['\\{(1,2), (3,4)\\}', '\\{(2,1), (3,4)\\}', false, 'tuple inside a set reordered'],
]);
