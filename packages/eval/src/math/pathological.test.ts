import { describe, expect, it } from 'vitest';
import { isEquivalent } from './equivalence.js';
import { extractMathAnswer } from './extract.js';
import { gradeMathResponse } from './grade.js';

// These must finish quickly (the test timeout would catch a hang) and answer deterministically.
describe('pathological inputs are capped, never hang and never throw', () => {
  it('huge exponents and towers overflow to non-comparable, not to a hang', () => {
    expect(isEquivalent('10^{10^{10}}', '10^{10^{11}}')).toBe(false);
    expect(isEquivalent('2^{2^{2^{2^{2}}}}', '2^{2^{2^{2^{2}}}}')).toBe(true);
    expect(isEquivalent('9^{9^{9}}', '1')).toBe(false);
  });
  it('huge factorials are capped', () => {
    expect(isEquivalent('1000000000!', '5')).toBe(false);
    expect(isEquivalent('(10^{9})!', '(10^{9})!')).toBe(true);
    expect(isEquivalent('171!', '172!')).toBe(false);
  });
  it('10k-character answers compare as strings', () => {
    const long = `${'1+'.repeat(5000)}1`;
    expect(isEquivalent(long, long)).toBe(true);
    expect(isEquivalent(long, '5001')).toBe(false);
  });
  it('deep nesting is refused by the parser, not the stack', () => {
    const deep = `${'{'.repeat(5000)}1${'}'.repeat(5000)}`;
    expect(() => isEquivalent(deep, '1')).not.toThrow();
    const parens = `${'('.repeat(3000)}x${')'.repeat(3000)}`;
    expect(() => isEquivalent(parens, 'x')).not.toThrow();
  });
  it('a 5 MB response is scanned from its tail', () => {
    const response = `${'blah '.repeat(1_000_000)} so \\boxed{7}`;
    expect(gradeMathResponse(response, '7')).toEqual({ extracted: '7', correct: true });
  });
  it('many boxes and unbalanced braces', () => {
    expect(extractMathAnswer('\\boxed{'.repeat(2000))).not.toBeUndefined();
    expect(isEquivalent('1', '\\boxed{1}'.repeat(3000))).toBe(true);
  });
  it('non-string and odd inputs', () => {
    expect(isEquivalent(undefined as unknown as string, '1')).toBe(false);
    expect(isEquivalent('1', '\u0000\uffff')).toBe(false);
    expect(isEquivalent('NaN', 'NaN')).toBe(true);
    expect(isEquivalent('0/0', '1')).toBe(false);
  });
  it('long lists are capped', () => {
    const list = Array.from({ length: 500 }, (_, index) => index).join(', ');
    expect(isEquivalent(list, list)).toBe(true);
    expect(() => isEquivalent(list, `${list}, 1`)).not.toThrow();
  });
});
