import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ApiCallError,
  ConfigError,
  InvalidArgumentError,
  InvalidInputError,
  NumericError,
  RlptError,
  TimeoutError,
} from './index.js';

describe('RlptError family', () => {
  it('marks every subclass as an RlptError and only its own kind', () => {
    const error = new InvalidArgumentError({ argument: 'groupSize', message: 'groupSize must be ≥ 1' });
    expect(RlptError.isInstance(error)).toBe(true);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(ApiCallError.isInstance(error)).toBe(false);
    expect(RlptError.isInstance(new Error('plain'))).toBe(false);
    expect(RlptError.isInstance(null)).toBe(false);
    expect(error.code).toBe('invalid-argument');
    expect(error.isRetryable).toBe(false);
  });

  it('recognises errors from another copy of the package by their Symbol.for marker', () => {
    const foreign = Object.assign(new Error('from a duplicate install'), {
      [Symbol.for('rlpt.error')]: true,
      [Symbol.for('rlpt.error.api-call')]: true,
    });
    expect(RlptError.isInstance(foreign)).toBe(true);
    expect(ApiCallError.isInstance(foreign)).toBe(true);
    expect(TimeoutError.isInstance(foreign)).toBe(false);
  });

  it('derives retryability of API errors from the status code', () => {
    const url = 'http://127.0.0.1:8000/v1/completions';
    expect(new ApiCallError({ url, message: 'x', statusCode: 429 }).isRetryable).toBe(true);
    expect(new ApiCallError({ url, message: 'x', statusCode: 503 }).isRetryable).toBe(true);
    expect(new ApiCallError({ url, message: 'x', statusCode: 400 }).isRetryable).toBe(false);
    expect(new ApiCallError({ url, message: 'x' }).isRetryable).toBe(true);
    expect(new ApiCallError({ url, message: 'x', statusCode: 500, isRetryable: false }).isRetryable).toBe(
      false,
    );
    expect(new TimeoutError({ message: 't', timeoutMs: 5 }).isRetryable).toBe(true);
    expect(new AbortError().isRetryable).toBe(false);
  });

  it('keeps the cause and the location of bad input', () => {
    const cause = new SyntaxError('Unexpected token');
    const error = new InvalidInputError({
      reason: 'malformed-json',
      message: 'corpus.jsonl:7: not valid JSON',
      location: { file: 'corpus.jsonl', line: 7 },
      cause,
    });
    expect(error.cause).toBe(cause);
    expect(error.location).toEqual({ file: 'corpus.jsonl', line: 7 });
    expect(error instanceof Error).toBe(true);
  });

  it('lists every configuration issue in the message', () => {
    const error = new ConfigError({
      source: 'run.yaml',
      issues: [
        { path: 'rlpt.n', message: 'must be ≥ 2' },
        { path: 'judge.url', message: 'required' },
      ],
    });
    expect(error.message).toContain('run.yaml');
    expect(error.message).toContain('rlpt.n: must be ≥ 2');
    expect(error.message).toContain('judge.url: required');
    expect(new NumericError({ argument: 'rewards', index: 3, message: 'NaN' }).index).toBe(3);
  });
});
