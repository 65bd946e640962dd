import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from './limiter.js';
import { backoffDelayMs, parseRetryAfterMs } from './retry.js';

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  const read = (headers: Record<string, string>) => parseRetryAfterMs(new Headers(headers), now);

  it('reads delta-seconds, fractional seconds, HTTP dates and retry-after-ms', () => {
    expect(read({ 'retry-after': '2' })).toBe(2000);
    expect(read({ 'retry-after': ' 0.25 ' })).toBe(250);
    expect(read({ 'retry-after': 'Fri, 01 May 2026 12:00:07 GMT' })).toBe(7000);
    expect(read({ 'retry-after-ms': '1500', 'retry-after': '9' })).toBe(1500);
  });

  it('treats past dates as 0 and garbage or absence as undefined', () => {
    expect(read({ 'retry-after': 'Fri, 01 May 2026 11:00:00 GMT' })).toBe(0);
    expect(read({ 'retry-after': 'soon' })).toBeUndefined();
    expect(read({ 'retry-after': '-3' })).toBeUndefined();
    expect(read({})).toBeUndefined();
  });
});

describe('backoffDelayMs (full jitter)', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000 };

  it('draws uniformly below min(max, initial · 2^retry)', () => {
    expect(backoffDelayMs(0, options, () => 0.999999)).toBe(99);
    expect(backoffDelayMs(2, options, () => 0.5)).toBe(200);
    expect(backoffDelayMs(10, options, () => 0.5)).toBe(500);
    expect(backoffDelayMs(3, options, () => 0)).toBe(0);
  });

  it('stays within its cap for any draw (property)', () => {
    for (let retry = 0; retry < 40; retry++) {
      const cap = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** retry);
      for (let draw = 0; draw < 50; draw++) {
        const delay = backoffDelayMs(retry, options);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(cap);
      }
    }
  });
});

describe('ConcurrencyLimiter', () => {
  it('runs at most `limit` tasks at once, in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        limiter.run(async () => {
          started.push(index);
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(limiter.active).toBe(0);
  });

  it('drops a waiting task whose signal aborts, and frees its slot for the next', async () => {
    const limiter = new ConcurrencyLimiter(1);
    let release: () => void = () => {};
    const first = limiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const second = limiter.run(async () => 'second', controller.signal);
    const third = limiter.run(async () => 'third');
    controller.abort(new Error('gave up'));
    await expect(second).rejects.toThrow('gave up');
    release();
    await first;
    await expect(third).resolves.toBe('third');
  });
});
