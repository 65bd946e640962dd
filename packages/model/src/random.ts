import type { DecoderConfig } from './config.js';
import { decoderParameterSpecs, type WeightMap } from './decoder.js';

/**
 * A small, fast, seedable PRNG (xoshiro128**, seeded through splitmix32). Same seed → same stream on every
 * platform.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next 32-bit unsigned integer. */
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

  /** Standard normal (Box–Muller). */
  nextNormal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

/** Options for {@link randomWeights}. */
export interface RandomWeightsOptions {
  seed: number;
  /** Standard deviation of the normal init (default: the config's `initializer_range`, 0.02). */
  std?: number;
}

/**
 * Seeded random weights, as Hugging Face initialises these models: linear and embedding weights
 * ~ N(0, std²), norm weights 1, biases 0. Each tensor draws from its own stream (seed and tensor name), so
 * adding a layer doesn't change the other tensors.
 */
export function randomWeights(config: DecoderConfig, options: RandomWeightsOptions): WeightMap {
  const std = options.std ?? config.initializerRange;
  const weights: WeightMap = new Map();
  for (const spec of decoderParameterSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.init === 'ones') data.fill(1);
    else if (spec.init === 'normal') {
      const random = new SeededRandom(
        (Math.imul(options.seed >>> 0, 0x9e3779b1) ^ hashString(spec.name)) >>> 0,
      );
      for (let i = 0; i < size; i++) data[i] = random.nextNormal() * std;
    }
    weights.set(spec.name, { dtype: 'float32', dims: spec.shape, data });
  }
  return weights;
}

/** FNV-1a hash of a string (32-bit). */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
