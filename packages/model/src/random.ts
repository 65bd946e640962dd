import type { DecoderConfig } from './config.js';
import { decoderParameterSpecs, type WeightMap } from './decoder.js';
import { SeededRandom } from './prng.js';

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
