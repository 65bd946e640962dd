import { describe, expect, it } from 'vitest';
import { compare } from './report.js';
import type { DemoSeedResult } from './seed.js';

const seed = (pass1: number, pass8?: number) =>
  ({
    pass1,
    passAtK: pass8 === undefined ? {} : { '8': pass8 },
  }) as unknown as DemoSeedResult['cold'];

describe('demo report comparisons', () => {
  it('a metric that was not measured is NaN (n/a), not a gain of 0 seed sd', () => {
    const results = [
      { cold: seed(0.5), rl: seed(0.7) },
      { cold: seed(0.55), rl: seed(0.75) },
    ] as unknown as DemoSeedResult[];
    const missing = compare(results, 'pass@8', (result, which) => result[which].passAtK['8'] ?? Number.NaN);
    expect(missing.gainOverSeedSd).toBeNaN();
    const measured = compare(results, 'pass@1', (result, which) => result[which].pass1);
    expect(measured.gain.mean).toBeCloseTo(0.2, 12);
    expect(measured.gainOverSeedSd).toBeCloseTo(0.2 / Math.sqrt(0.00125), 9);
  });
});
