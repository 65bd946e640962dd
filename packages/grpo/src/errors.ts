/**
 * Errors thrown by `@rlpt/grpo`.
 *
 * The package has no runtime dependencies, not even `@rlpt/spec`, so it defines its two error classes
 * here. They carry the same `Symbol.for` markers as `@rlpt/spec`'s `InvalidArgumentError` and
 * `NumericError`, so `RlptError.isInstance(e)`, `InvalidArgumentError.isInstance(e)` and
 * `NumericError.isInstance(e)` from `@rlpt/spec` recognise them (that is how the RlptError family works
 * across duplicate installs). Their `code`, `isRetryable`, `argument` and `index` fields match too.
 */

const rootMarker = Symbol.for('rlpt.error');
const invalidArgumentMarker = Symbol.for('rlpt.error.invalid-argument');
const numericMarker = Symbol.for('rlpt.error.numeric');

function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

/**
 * A caller passed an option or argument that cannot work (wrong shape, out-of-range option, unknown
 * option key). Recognised by `@rlpt/spec`'s `InvalidArgumentError.isInstance`. Not retryable.
 */
export class GrpoArgumentError extends Error {
  protected readonly [rootMarker] = true;
  protected readonly [invalidArgumentMarker] = true;
  readonly code = 'invalid-argument';
  readonly isRetryable = false;
  /** The offending argument or option, e.g. `groupSize`, `config.clipLow`, `oldLogprobs[3]`. */
  readonly argument: string;

  constructor(options: { argument: string; message: string }) {
    super(options.message);
    this.name = 'InvalidArgumentError';
    this.argument = options.argument;
  }

  /** True for this class and for `@rlpt/spec`'s `InvalidArgumentError` (any copy). */
  static isInstance(error: unknown): error is GrpoArgumentError {
    return hasMarker(error, invalidArgumentMarker);
  }
}

/**
 * NaN or ±Infinity where a finite number is required. `argument` names the array (e.g. `rewards`,
 * `logprobs[3]`) and `index` the element. Recognised by `@rlpt/spec`'s `NumericError.isInstance`.
 */
export class GrpoNumericError extends Error {
  protected readonly [rootMarker] = true;
  protected readonly [numericMarker] = true;
  readonly code = 'numeric';
  readonly isRetryable = false;
  readonly argument: string;
  readonly index?: number;

  constructor(options: { argument: string; message: string; index?: number }) {
    super(options.message);
    this.name = 'NumericError';
    this.argument = options.argument;
    if (options.index !== undefined) this.index = options.index;
  }

  /** True for this class and for `@rlpt/spec`'s `NumericError` (any copy). */
  static isInstance(error: unknown): error is GrpoNumericError {
    return hasMarker(error, numericMarker);
  }
}

/** Describes a non-finite value for an error message. */
export function describeNonFinite(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(value);
}

/** Throws a `GrpoNumericError` for `argument[index]`. */
export function throwNonFinite(
  where: string,
  argument: string,
  index: number,
  value: number,
  hint: string,
): never {
  throw new GrpoNumericError({
    argument,
    index,
    message: `${where}: ${argument}[${index}] is ${describeNonFinite(value)}; ${hint}`,
  });
}

/** Rejects option keys that the function does not know (catches typos such as `clip_ratio`). */
export function rejectUnknownKeys(
  where: string,
  path: string,
  value: object,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new GrpoArgumentError({
        argument: `${path}.${key}`,
        message: `${where}: unknown option ${path}.${key}; allowed keys are ${allowed.join(', ')}.`,
      });
    }
  }
}
