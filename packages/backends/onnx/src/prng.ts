/**
 * Per-completion random streams: xoshiro128** seeded by mixing (seed, prompt tokens, sample index), so a
 * completion's randomness never depends on which other prompts share its batch.
 */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(words: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = words.map((word) => word >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hashes a list of 32-bit values into four independent 32-bit state words. */
function hashWords(values: ArrayLike<number>, salt: number): [number, number, number, number] {
  const lanes: [number, number, number, number] = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
  for (let lane = 0; lane < 4; lane++) {
    let h = (lanes[lane] as number) ^ Math.imul(salt, 0x9e3779b1);
    for (let i = 0; i < values.length; i++) {
      h = Math.imul(h ^ fmix((values[i] as number) + lane * 0x632be5ab), 0x01000193) >>> 0;
    }
    lanes[lane] = fmix(h ^ values.length);
  }
  return lanes;
}

/**
 * The random stream of one completion: a function of the request seed, the prompt's token ids and the
 * sample index only.
 */
export function completionStream(
  seed: number,
  promptTokenIds: ArrayLike<number>,
  sampleIndex: number,
): Xoshiro128 {
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / 4294967296) >>> 0;
  const words = hashWords(
    promptTokenIds,
    fmix(seedLow ^ fmix(seedHigh + 0x7f4a7c15) ^ fmix(sampleIndex + 0x165667b1)),
  );
  return new Xoshiro128(words);
}
