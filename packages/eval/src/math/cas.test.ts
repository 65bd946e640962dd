import { describe, expect, it } from 'vitest';
import { casEqual } from './cas.js';
import { isEquivalent } from './equivalence.js';

describe('the CAS stage (compute-engine in a worker thread)', () => {
  it('decides what the own parser cannot read: sums, products, lcm, max, mod', () => {
    expect(casEqual('\\sum_{k=1}^{10} k', '55')).toBe(true);
    expect(casEqual('\\sum_{k=1}^{10} k', '56')).toBe(false);
    expect(isEquivalent('55', '\\sum_{k=1}^{10} k')).toBe(true);
    expect(isEquivalent('56', '\\sum_{k=1}^{10} k')).toBe(false);
    expect(isEquivalent('24', '\\prod_{k=1}^{4} k')).toBe(true);
    expect(isEquivalent('5', '\\max(3,5)')).toBe(true);
    expect(isEquivalent('3', '\\max(3,5)')).toBe(false);
    expect(isEquivalent('2', '17 \\bmod 5')).toBe(true);
  });
  it('is skipped with cas: false', () => {
    expect(isEquivalent('55', '\\sum_{k=1}^{10} k', { cas: false })).toBe(false);
  });
  it('a pathological comparison is cut at its budget and the next one still works', () => {
    casEqual('1', '1'); // start the worker outside the timed part
    const started = performance.now();
    expect(casEqual('\\sum_{n=1}^{\\infty} \\frac{1}{2^n}', '1', 100)).toBeUndefined();
    // compute-engine alone takes tens of seconds here; the budget plus thread hand-off is what it costs.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(isEquivalent('1', '\\sum_{n=1}^{\\infty} \\frac{1}{2^n}', { casBudgetMs: 50 })).toBe(false);
    expect(casEqual('\\sum_{k=1}^{3} k', '6')).toBe(true);
  });
  it('refuses long inputs and unparsable LaTeX without throwing', () => {
    expect(casEqual(`${'1+'.repeat(400)}1`, '401')).toBeUndefined();
    expect(casEqual('\\frac{', '1')).toBeUndefined();
  });
});
