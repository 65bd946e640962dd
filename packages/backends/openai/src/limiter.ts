/**
 * A FIFO concurrency limit shared by every `generate` call of one backend, so two concurrent callers
 * together never hold more than `limit` requests open against the server.
 */
export class ConcurrencyLimiter {
  readonly limit: number;
  #active = 0;
  readonly #waiting: { start: () => void; cancel: (reason: unknown) => void }[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Requests running now. */
  get active(): number {
    return this.#active;
  }

  /** Runs `task` once a slot is free; leaves the queue with the signal's reason if it aborts first. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#active++;
          resolve();
        },
        cancel: reject,
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(entry);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #release(): void {
    this.#active--;
    this.#waiting.shift()?.start();
  }
}
