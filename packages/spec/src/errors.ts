/**
 * The `RlptError` family. Every error thrown by an rlpt package is an `RlptError` (or a subclass), so
 * callers can branch on `RlptError.isInstance(e)`, `e.code` and `e.isRetryable` without `instanceof`,
 * which breaks when two copies of a package are installed. (Pattern: vercel/ai `AISDKError`.)
 */

const rootMarker = Symbol.for('rlpt.error');

function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

export interface RlptErrorOptions {
  message: string;
  /** Stable machine-readable code, e.g. `invalid-argument`, `api-call`. */
  code?: string;
  cause?: unknown;
  /** Whether retrying the same operation may succeed (rate limits, 5xx, connection resets, timeouts). */
  isRetryable?: boolean;
}

export class RlptError extends Error {
  protected readonly [rootMarker] = true;
  readonly code: string;
  readonly isRetryable: boolean;
  override readonly cause?: unknown;

  constructor({ message, code = 'rlpt', cause, isRetryable = false }: RlptErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RlptError';
    this.code = code;
    this.cause = cause;
    this.isRetryable = isRetryable;
  }

  /** True for any `RlptError` from any copy of `@rlpt/spec`. */
  static isInstance(error: unknown): error is RlptError {
    return hasMarker(error, rootMarker);
  }
}

/** Declares a subclass with its own cross-copy marker. */
function marker(name: string): symbol {
  return Symbol.for(`rlpt.error.${name}`);
}

const invalidArgumentMarker = marker('invalid-argument');
/** A caller passed an option or argument that cannot work. Not retryable. */
export class InvalidArgumentError extends RlptError {
  protected readonly [invalidArgumentMarker] = true;
  readonly argument: string;
  constructor(options: { argument: string; message: string; cause?: unknown }) {
    super({ message: options.message, code: 'invalid-argument', cause: options.cause });
    this.name = 'InvalidArgumentError';
    this.argument = options.argument;
  }
  static override isInstance(error: unknown): error is InvalidArgumentError {
    return hasMarker(error, invalidArgumentMarker);
  }
}

/** Where a piece of bad input was found. */
export interface InputLocation {
  file?: string;
  /** 1-based line number. */
  line?: number;
  /** Sample, document or item id. */
  id?: string;
}

const invalidInputMarker = marker('invalid-input');
/**
 * A record of user data is malformed (bad JSON line, missing field, invalid UTF-8). Long runs count and
 * skip these; the location says where to look.
 */
export class InvalidInputError extends RlptError {
  protected readonly [invalidInputMarker] = true;
  readonly location: InputLocation;
  readonly reason: string;
  constructor(options: { reason: string; message: string; location?: InputLocation; cause?: unknown }) {
    super({ message: options.message, code: 'invalid-input', cause: options.cause });
    this.name = 'InvalidInputError';
    this.reason = options.reason;
    this.location = options.location ?? {};
  }
  static override isInstance(error: unknown): error is InvalidInputError {
    return hasMarker(error, invalidInputMarker);
  }
}

/** One problem found while validating a configuration. */
export interface ConfigIssue {
  /** Dotted path of the offending key, e.g. `rlpt.rolloutsPerPrompt`. */
  path: string;
  message: string;
}

const configMarker = marker('config');
/** A configuration failed validation; `issues` lists every problem, not just the first. */
export class ConfigError extends RlptError {
  protected readonly [configMarker] = true;
  readonly issues: ConfigIssue[];
  readonly source?: string;
  constructor(options: { issues: ConfigIssue[]; source?: string; message?: string }) {
    const where = options.source ? ` in ${options.source}` : '';
    const list = options.issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`).join('\n');
    super({ message: options.message ?? `Invalid configuration${where}:\n${list}`, code: 'config' });
    this.name = 'ConfigError';
    this.issues = options.issues;
    if (options.source !== undefined) this.source = options.source;
  }
  static override isInstance(error: unknown): error is ConfigError {
    return hasMarker(error, configMarker);
  }
}

const apiCallMarker = marker('api-call');
/** An HTTP call to a model server, judge or reward server failed. */
export class ApiCallError extends RlptError {
  protected readonly [apiCallMarker] = true;
  readonly url: string;
  readonly statusCode?: number;
  readonly responseBody?: string;
  /** Seconds the server asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterSeconds?: number;
  constructor(options: {
    url: string;
    message: string;
    statusCode?: number;
    responseBody?: string;
    retryAfterSeconds?: number;
    cause?: unknown;
    isRetryable?: boolean;
  }) {
    const status = options.statusCode;
    const retryable =
      options.isRetryable ??
      (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500);
    super({ message: options.message, code: 'api-call', cause: options.cause, isRetryable: retryable });
    this.name = 'ApiCallError';
    this.url = options.url;
    if (status !== undefined) this.statusCode = status;
    if (options.responseBody !== undefined) this.responseBody = options.responseBody;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
  static override isInstance(error: unknown): error is ApiCallError {
    return hasMarker(error, apiCallMarker);
  }
}

const timeoutMarker = marker('timeout');
/** An operation exceeded its time limit. Retryable. */
export class TimeoutError extends RlptError {
  protected readonly [timeoutMarker] = true;
  readonly timeoutMs: number;
  constructor(options: { message: string; timeoutMs: number; cause?: unknown }) {
    super({ message: options.message, code: 'timeout', cause: options.cause, isRetryable: true });
    this.name = 'TimeoutError';
    this.timeoutMs = options.timeoutMs;
  }
  static override isInstance(error: unknown): error is TimeoutError {
    return hasMarker(error, timeoutMarker);
  }
}

const abortMarker = marker('abort');
/** The caller aborted the operation through an `AbortSignal`. Not retryable. */
export class AbortError extends RlptError {
  protected readonly [abortMarker] = true;
  constructor(options: { message?: string; cause?: unknown } = {}) {
    super({ message: options.message ?? 'The operation was aborted.', code: 'abort', cause: options.cause });
    this.name = 'AbortError';
  }
  static override isInstance(error: unknown): error is AbortError {
    return hasMarker(error, abortMarker);
  }
}

const unsupportedMarker = marker('unsupported');
/** A backend or judge cannot do what was asked (and it cannot be downgraded to a warning). */
export class UnsupportedFunctionalityError extends RlptError {
  protected readonly [unsupportedMarker] = true;
  readonly functionality: string;
  constructor(options: { functionality: string; message?: string }) {
    super({
      message: options.message ?? `'${options.functionality}' is not supported.`,
      code: 'unsupported',
    });
    this.name = 'UnsupportedFunctionalityError';
    this.functionality = options.functionality;
  }
  static override isInstance(error: unknown): error is UnsupportedFunctionalityError {
    return hasMarker(error, unsupportedMarker);
  }
}

const modelLoadMarker = marker('model-load');
/** A model folder, tokenizer or checkpoint could not be loaded. */
export class ModelLoadError extends RlptError {
  protected readonly [modelLoadMarker] = true;
  readonly path: string;
  constructor(options: { path: string; message: string; cause?: unknown }) {
    super({ message: options.message, code: 'model-load', cause: options.cause });
    this.name = 'ModelLoadError';
    this.path = options.path;
  }
  static override isInstance(error: unknown): error is ModelLoadError {
    return hasMarker(error, modelLoadMarker);
  }
}

const numericMarker = marker('numeric');
/** NaN or Infinity where finite numbers are required (rewards, logprobs, losses). */
export class NumericError extends RlptError {
  protected readonly [numericMarker] = true;
  readonly argument: string;
  readonly index?: number;
  constructor(options: { argument: string; message: string; index?: number }) {
    super({ message: options.message, code: 'numeric' });
    this.name = 'NumericError';
    this.argument = options.argument;
    if (options.index !== undefined) this.index = options.index;
  }
  static override isInstance(error: unknown): error is NumericError {
    return hasMarker(error, numericMarker);
  }
}
