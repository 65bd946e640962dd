/** Retry timing: exponential backoff with full jitter, and the server's `Retry-After` when it sends one. */

export interface BackoffOptions {
  /** Delay cap of the first retry, in ms (the cap doubles per attempt). */
  initialDelayMs: number;
  /** Upper bound of any backoff delay, in ms. */
  maxDelayMs: number;
}

/**
 * Full-jitter backoff (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform draw in
 * `[0, min(maxDelayMs, initialDelayMs · 2^retryIndex))`, so many clients that failed together spread out.
 * `retryIndex` is 0 for the first retry.
 */
export function backoffDelayMs(
  retryIndex: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(retryIndex, 30));
  return Math.floor(random() * cap);
}

/**
 * Reads how long the server asks us to wait, in ms: OpenAI's `retry-after-ms`, else `Retry-After` as
 * delta-seconds (`"2"`, `"1.5"`) or as an HTTP date. Returns undefined when absent or unparseable; a
 * date in the past reads as 0.
 */
export function parseRetryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && /^\s*\d+(\.\d+)?\s*$/.test(milliseconds)) {
    return Math.ceil(Number(milliseconds));
  }
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  // An HTTP date always has a weekday and month name; bare numbers like "-3" are not dates.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
