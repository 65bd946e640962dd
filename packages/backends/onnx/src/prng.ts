// Per-completion random streams. The generator is @rlpt/model's xoshiro128** (its dependency-free `prng`
// entry, so loading the backend does not load the graph and tokenizer code).
import { Xoshiro128 } from '@rlpt/model/prng';

export { Xoshiro128 };

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
 * The random stream of one completion: xoshiro128** seeded by mixing the request seed, the prompt's token
 * ids and the sample index only, so a completion's randomness never depends on which other prompts share
 * its batch.
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
