/**
 * Deterministic, platform-independent hashing over JavaScript strings (UTF-16 code units). Used for
 * sample ordering, train/validation splits, task assignment, dedup keys and n-gram sets, so every
 * decision depends only on the text, the ids and the seed — never on worker count or timing.
 */

/** The MurmurHash3 32-bit finaliser: a fast, well-mixed bijection on 32-bit integers. */
export function fmix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** MurmurHash3 (x86, 32-bit) over the UTF-16 code units of `text`, two code units per block. */
export function murmur32(text: string, seed = 0): number {
  let hash = seed >>> 0;
  const length = text.length;
  const blocks = length - (length % 2);
  for (let index = 0; index < blocks; index += 2) {
    let block = text.charCodeAt(index) | (text.charCodeAt(index + 1) << 16);
    block = Math.imul(block, 0xcc9e2d51);
    block = (block << 15) | (block >>> 17);
    block = Math.imul(block, 0x1b873593);
    hash ^= block;
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  if (length % 2 === 1) {
    let block = text.charCodeAt(length - 1);
    block = Math.imul(block, 0xcc9e2d51);
    block = (block << 15) | (block >>> 17);
    block = Math.imul(block, 0x1b873593);
    hash ^= block;
  }
  hash ^= length;
  return fmix32(hash);
}

/** A 64-bit hash as two 32-bit halves. */
export interface Hash64 {
  hi: number;
  lo: number;
}

/** A 64-bit hash of `text` (two independent MurmurHash3 lanes). Collisions are negligible below ~10^8 keys. */
export function hash64(text: string, seed = 0): Hash64 {
  return { hi: murmur32(text, seed ^ 0x9e3779b9), lo: murmur32(text, seed ^ 0x7f4a7c15) };
}

/** 16 lowercase hex digits of a 64-bit hash; string order equals numeric order. */
export function hash64Hex(text: string, seed = 0): string {
  const { hi, lo } = hash64(text, seed);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** A uniform number in [0, 1) from `text` and `seed` (53 bits of hash). */
export function hashToUnit(text: string, seed = 0): number {
  const { hi, lo } = hash64(text, seed);
  return (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53;
}

/** Combines a running 32-bit hash with another 32-bit value (order-sensitive). */
export function combine32(hash: number, value: number): number {
  return fmix32((Math.imul(hash ^ value, 0x9e3779b1) + 0x7f4a7c15) | 0);
}

/** A small seeded PRNG (mulberry32): same seed, same sequence on every platform. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
