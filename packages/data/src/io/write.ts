import { writevSync } from 'node:fs';

/** Writes every part, in order, with gathered writes (no concatenated copy); retries short writes. */
export function writeAll(fd: number, parts: Uint8Array[]): void {
  for (let first = 0; first < parts.length; first += 512) {
    const pending = parts.slice(first, first + 512);
    while (pending.length > 0) {
      let written = writevSync(fd, pending);
      while (pending.length > 0 && written >= pending[0]!.byteLength) {
        written -= pending[0]!.byteLength;
        pending.shift();
      }
      if (pending.length > 0 && written > 0) pending[0] = pending[0]!.subarray(written);
    }
  }
}
