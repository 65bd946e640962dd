import { describe, expect, it } from 'vitest';
import { evaluate } from './evaluate.js';
import { expandPlusMinus, freeSymbols, parseExpression } from './parse.js';

const value = (text: string, values: Record<string, number> = {}) => {
  const node = parseExpression(text);
  if (!node) throw new Error(`no parse: ${text}`);
  return evaluate(node, new Map(Object.entries(values)));
};

describe('parseExpression + evaluate: golden values (|error| ≤ 1e-12 relative)', () => {
  it.each([
    ['\\frac{1}{2}', 0.5],
    ['\\frac12', 0.5],
    ['\\frac{1}{2}3', 1.5],
    ['2^{10}', 1024],
    ['2^10', 1024],
    ['-3^2', -9],
    ['(-3)^2', 9],
    ['2\\cdot 3 + 4', 10],
    ['2 \\times (3 + 4)', 14],
    ['8 \\div 2 \\div 2', 2],
    ['\\sqrt{16}', 4],
    ['\\sqrt[3]{27}', 3],
    ['\\sqrt2\\sqrt2', 2],
    ['\\pi', Math.PI],
    ['2\\pi', 2 * Math.PI],
    ['e', Math.E],
    ['\\sin\\frac{\\pi}{6}', 0.5],
    ['\\cos^2 0', 1],
    ['\\sin^{-1} 1', Math.PI / 2],
    ['\\arctan 1', Math.PI / 4],
    ['\\log_2 8', 3],
    ['\\log_{10} 1000', 3],
    ['\\ln e^2', 2],
    ['|-5|', 5],
    ['\\lfloor 2.7 \\rfloor', 2],
    ['\\lceil 2.1 \\rceil', 3],
    ['5!', 120],
    ['0!', 1],
    ['\\binom{10}{3}', 120],
    ['1.5e3', 1500],
    ['3 \\times 10^{-2}', 0.03],
    ['2(3)(4)', 24],
    ['\\frac{\\frac{1}{2}}{\\frac{1}{4}}', 2],
  ])('%s = %d', (text, expected) => {
    const result = value(text);
    expect(result.im).toBeCloseTo(0, 12);
    expect(Math.abs(result.re - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
  });

  it('evaluates symbols and complex values', () => {
    expect(value('x^2 + 2x', { x: 3 }).re).toBe(15);
    expect(value('\\alpha + \\beta', { alpha: 1, beta: 2 }).re).toBe(3);
    expect(value('a_1 + a_{2}', { a_1: 1, a_2: 5 }).re).toBe(6);
    const i2 = value('i^2');
    expect(i2.re).toBe(-1);
    expect(i2.im).toBe(0);
    const root = value('\\sqrt{-4}');
    expect(root.re).toBe(0);
    expect(root.im).toBe(2);
  });

  it('lists free symbols (π, e, i are constants)', () => {
    const node = parseExpression('x e^{i\\pi} + y_1 \\pi')!;
    expect([...freeSymbols(node)].sort()).toEqual(['x', 'y_1']);
  });

  it('expands ±', () => {
    const variants = expandPlusMinus(parseExpression('1 \\pm 2')!);
    expect(variants.map((node) => evaluate(node, new Map()).re).sort()).toEqual([-1, 3]);
    expect(expandPlusMinus(parseExpression('\\pm 2 \\pm 1')!)).toHaveLength(4);
  });

  it.each(['', '1 +', '\\frac{1}', '(1, 2)', 'x = 1', '\\unknowncommand{2}', '\\text{hello}', '{{1}', '|x'])(
    'rejects %j',
    (text) => {
      expect(parseExpression(text)).toBeNull();
    },
  );
});
