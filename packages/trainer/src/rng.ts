/**
 * A small seeded PRNG (xoshiro128**) whose whole state is four uint32s, so a run can checkpoint it and
 * resume with the identical random stream.
 */
export class Rng {
  private state: Uint32Array;

  constructor(seed: number | readonly number[]) {
    this.state = new Uint32Array(4);
    if (typeof seed === 'number') {
      // splitmix32 expands one seed into four well-mixed words.
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.state[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.state.every((word) => word === 0)) this.state[0] = 1;
    } else {
      this.state.set(seed.slice(0, 4));
    }
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** The state, for checkpoints. */
  getState(): number[] {
    return Array.from(this.state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Derives an independent seed for a named purpose at a step, so resumed runs draw identical seeds. */
export function deriveSeed(seed: number, purpose: string, step: number): number {
  let hash = 2166136261 ^ seed;
  const text = `${purpose}:${step}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % 2147483647;
}
