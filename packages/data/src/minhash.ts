import { combine32, fmix32, murmur32 } from './hash.js';
import { HashTable64 } from './hash-table.js';

/** Options of {@link MinHasher} and near-duplicate removal. */
export interface MinHashOptions {
  /** Words per shingle. Default 5. */
  shingleSize?: number;
  /** Number of hash functions (signature length). Default 128. */
  permutations?: number;
  /** Estimated Jaccard similarity at which two documents count as near-duplicates. Default 0.8. */
  threshold?: number;
  /** LSH bands; with `rows`, overrides the choice derived from `threshold`. */
  bands?: number;
  /** Rows per band (bands × rows ≤ permutations). */
  rows?: number;
  /** Seed of the hash family. Default 1. */
  seed?: number;
}

const wordPattern = /[\p{L}\p{N}]+/gu;

/** Lower-cased words (letters and digits), the units shingles are made of. */
export function words(text: string): string[] {
  return text.toLowerCase().match(wordPattern) ?? [];
}

/** Probability that two documents with Jaccard similarity `s` share at least one band. */
export function candidateProbability(similarity: number, bands: number, rows: number): number {
  return 1 - (1 - similarity ** rows) ** bands;
}

/**
 * The (bands, rows) with bands × rows ≤ `permutations` that minimise the false-positive area below
 * `threshold` plus the false-negative area above it of the LSH S-curve (as datasketch does).
 */
export function lshParameters(threshold: number, permutations: number): { bands: number; rows: number } {
  const integrate = (f: (s: number) => number, from: number, to: number): number => {
    const steps = 200;
    const width = (to - from) / steps;
    let area = 0;
    for (let step = 0; step < steps; step++) {
      const a = from + step * width;
      area += ((f(a) + f(a + width)) / 2) * width;
    }
    return area;
  };
  let best = { bands: 1, rows: permutations, error: Number.POSITIVE_INFINITY };
  for (let bands = 1; bands <= permutations; bands++) {
    const maxRows = Math.floor(permutations / bands);
    for (let rows = 1; rows <= maxRows; rows++) {
      const falsePositive = integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
      const falseNegative = integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
      const error = 0.5 * falsePositive + 0.5 * falseNegative;
      if (error < best.error - 1e-12) best = { bands, rows, error };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

/**
 * MinHash signatures over word shingles, and LSH band keys. Deterministic: the same text and options give
 * the same signature on every machine and in every worker.
 */
export class MinHasher {
  readonly shingleSize: number;
  readonly permutations: number;
  readonly bands: number;
  readonly rows: number;
  private readonly seeds: Uint32Array;

  constructor(options: MinHashOptions = {}) {
    this.shingleSize = options.shingleSize ?? 5;
    this.permutations = options.permutations ?? 128;
    if (options.bands !== undefined && options.rows !== undefined) {
      this.bands = options.bands;
      this.rows = options.rows;
    } else {
      const chosen = lshParameters(options.threshold ?? 0.8, this.permutations);
      this.bands = chosen.bands;
      this.rows = chosen.rows;
    }
    if (this.bands * this.rows > this.permutations) {
      throw new RangeError(
        `MinHash bands × rows (${this.bands} × ${this.rows}) exceeds permutations (${this.permutations}).`,
      );
    }
    const seed = options.seed ?? 1;
    this.seeds = new Uint32Array(this.permutations);
    for (let index = 0; index < this.permutations; index++)
      this.seeds[index] = fmix32(seed * 0x9e3779b1 + index);
  }

  /** Hashes of the word shingles of `text` (empty for a text without words). */
  shingles(text: string): Uint32Array {
    const tokens = words(text);
    if (tokens.length === 0) return new Uint32Array(0);
    const wordHashes = tokens.map((token) => murmur32(token, 0x5eed));
    const size = Math.min(this.shingleSize, wordHashes.length);
    const count = wordHashes.length - size + 1;
    const out = new Uint32Array(count);
    for (let start = 0; start < count; start++) {
      let hash = size;
      for (let offset = 0; offset < size; offset++) hash = combine32(hash, wordHashes[start + offset]!);
      out[start] = hash;
    }
    return out;
  }

  /** The MinHash signature (one minimum per hash function), or undefined for a text without words. */
  signature(text: string): Uint32Array | undefined {
    const shingles = this.shingles(text);
    if (shingles.length === 0) return undefined;
    const signature = new Uint32Array(this.permutations).fill(0xffffffff);
    for (let index = 0; index < shingles.length; index++) {
      const shingle = shingles[index]!;
      for (let permutation = 0; permutation < this.permutations; permutation++) {
        const value = fmix32(shingle ^ this.seeds[permutation]!);
        if (value < signature[permutation]!) signature[permutation] = value;
      }
    }
    return signature;
  }

  /** One 64-bit key per band (`[hi0, lo0, hi1, lo1, …]`); equal keys mean equal band rows. */
  bandKeys(signature: Uint32Array): Uint32Array {
    const keys = new Uint32Array(this.bands * 2);
    for (let band = 0; band < this.bands; band++) {
      let hi = fmix32(band + 0x51);
      let lo = fmix32(band + 0xa3);
      for (let row = 0; row < this.rows; row++) {
        const value = signature[band * this.rows + row]!;
        hi = combine32(hi, value);
        lo = combine32(lo ^ 0x68e31da4, value);
      }
      keys[band * 2] = hi;
      keys[band * 2 + 1] = lo;
    }
    return keys;
  }
}

/** Share of equal positions of two signatures: an unbiased estimate of the shingle-set Jaccard similarity. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let index = 0; index < a.length; index++) if (a[index] === b[index]) equal++;
  return equal / a.length;
}

/**
 * The global duplicate index: exact content hashes and LSH band keys of every document seen so far, fed
 * in corpus order. A document is an exact duplicate when its content hash was seen, a near duplicate when
 * any of its band keys was seen (its band keys are recorded either way, so clusters keep their first
 * document). Because decisions depend only on the order of documents, the result is the same whatever the
 * number of workers that computed the keys.
 */
export class DuplicateIndex {
  readonly exact: HashTable64;
  readonly bands: HashTable64;

  constructor(exact = new HashTable64(1 << 10), bands = new HashTable64(1 << 12)) {
    this.exact = exact;
    this.bands = bands;
  }

  /** Checks and records one document. */
  check(
    contentHash: { hi: number; lo: number } | undefined,
    bandKeys: Uint32Array | undefined,
  ): 'exact' | 'near' | 'unique' {
    if (contentHash && !this.exact.set(contentHash.hi, contentHash.lo)) return 'exact';
    if (!bandKeys) return 'unique';
    let near = false;
    for (let index = 0; index < bandKeys.length; index += 2) {
      if (!this.bands.set(bandKeys[index]!, bandKeys[index + 1]!)) near = true;
    }
    return near ? 'near' : 'unique';
  }

  get byteLength(): number {
    return this.exact.byteLength + this.bands.byteLength;
  }

  /** Both tables in one array (for checkpoints): `[exactWords, exact…, bands…]`. */
  serialize(): Uint32Array {
    const exact = this.exact.serialize();
    const bands = this.bands.serialize();
    const out = new Uint32Array(1 + exact.length + bands.length);
    out[0] = exact.length;
    out.set(exact, 1);
    out.set(bands, 1 + exact.length);
    return out;
  }

  /** {@link serialize}'s layout as views of the tables' arrays, for writing a checkpoint without a copy. */
  serializedParts(): Uint32Array[] {
    const exact = this.exact.serializedParts();
    const words = exact.reduce((sum, part) => sum + part.length, 0);
    return [Uint32Array.of(words), ...exact, ...this.bands.serializedParts()];
  }

  /** Rebuilds an index from {@link serialize}'s output (views into `data`, not copies). */
  static deserialize(data: Uint32Array): DuplicateIndex {
    const exactWords = data[0]!;
    return new DuplicateIndex(
      HashTable64.deserialize(data.subarray(1, 1 + exactWords)),
      HashTable64.deserialize(data.subarray(1 + exactWords)),
    );
  }
}
