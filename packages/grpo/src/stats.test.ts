import { describe, expect, it } from 'vitest';
import { GrpoArgumentError, GrpoNumericError, responseLengthStats } from './index.js';

describe('responseLengthStats', () => {
  it('golden values by hand', () => {
    // lengths [2, 4, 4, 10]: mean 5, deviations [−3, −1, −1, 5], Σd² = 36, biased std = √9 = 3.
    // With maxLength 4, three of four reached the limit.
    expect(responseLengthStats([2, 4, 4, 10], { maxLength: 4 })).toEqual({
      count: 4,
      mean: 5,
      std: 3,
      min: 2,
      max: 10,
      truncatedFraction: 0.75,
    });
    expect(responseLengthStats(new Int32Array([7])).truncatedFraction).toBe(0);
  });

  it('returns zeros for no responses', () => {
    expect(responseLengthStats([])).toEqual({
      count: 0,
      mean: 0,
      std: 0,
      min: 0,
      max: 0,
      truncatedFraction: 0,
    });
  });

  it('rejects bad lengths and limits with a named error', () => {
    expect(() => responseLengthStats([1, Number.NaN])).toThrow(/lengths\[1\] is NaN/);
    expect(GrpoNumericError.isInstance(catchError(() => responseLengthStats([1, Number.NaN])))).toBe(true);
    expect(() => responseLengthStats([1, -2])).toThrow(/lengths\[1\] is -2; lengths must be ≥ 0/);
    expect(GrpoArgumentError.isInstance(catchError(() => responseLengthStats([1], { maxLength: 0 })))).toBe(
      true,
    );
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
