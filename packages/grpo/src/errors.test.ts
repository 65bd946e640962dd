import { describe, expect, it } from 'vitest';
// @rlpt/grpo has no runtime dependency on @rlpt/spec; the test reads spec's source directly to check that
// spec's cross-copy `isInstance` markers recognise this package's errors.
import { InvalidArgumentError, NumericError, RlptError } from '../../spec/src/errors.js';
import { GrpoArgumentError, GrpoNumericError, groupAdvantages } from './index.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('errors are RlptErrors by @rlpt/spec’s markers', () => {
  it('a numeric error is an RlptError and a NumericError, not an InvalidArgumentError', () => {
    const error = thrown(() => groupAdvantages([Number.NaN], 1));
    expect(error).toBeInstanceOf(GrpoNumericError);
    expect(error).toBeInstanceOf(Error);
    expect(RlptError.isInstance(error)).toBe(true);
    expect(NumericError.isInstance(error)).toBe(true);
    expect(InvalidArgumentError.isInstance(error)).toBe(false);
    expect((error as NumericError).code).toBe('numeric');
    expect((error as NumericError).isRetryable).toBe(false);
    expect((error as Error).name).toBe('NumericError');
  });

  it('an argument error is an RlptError and an InvalidArgumentError', () => {
    const error = thrown(() => groupAdvantages([1, 2, 3], 2));
    expect(RlptError.isInstance(error)).toBe(true);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(NumericError.isInstance(error)).toBe(false);
    expect((error as InvalidArgumentError).code).toBe('invalid-argument');
    expect((error as InvalidArgumentError).argument).toBe('rewards');
  });

  it('this package’s isInstance recognises spec’s classes too', () => {
    expect(GrpoArgumentError.isInstance(new InvalidArgumentError({ argument: 'x', message: 'm' }))).toBe(
      true,
    );
    expect(GrpoNumericError.isInstance(new NumericError({ argument: 'x', message: 'm' }))).toBe(true);
    expect(GrpoNumericError.isInstance(new Error('plain'))).toBe(false);
  });
});
