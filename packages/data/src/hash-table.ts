/**
 * A compact open-addressing hash table of 64-bit keys (two 32-bit halves) with a 32-bit value per key.
 * 12 bytes per slot, no per-entry objects: millions of dedup keys or benchmark n-grams fit in tens of MB,
 * and the whole table serialises to one typed array (for resume checkpoints and for sharing with workers).
 */
export class HashTable64 {
  private keys: Uint32Array;
  private values: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.keys = new Uint32Array(capacity * 2);
    this.values = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Number of keys stored. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get byteLength(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  private slotOf(hi: number, lo: number): number {
    // (0, 0) marks an empty slot, so that key is stored as (0, 1); a 2^-64 collision is harmless here.
    if (hi === 0 && lo === 0) lo = 1;
    let slot = (Math.imul(lo ^ (hi >>> 7), 0x9e3779b1) ^ hi) & this.mask;
    for (;;) {
      const keyHi = this.keys[slot * 2]!;
      const keyLo = this.keys[slot * 2 + 1]!;
      if ((keyHi === 0 && keyLo === 0) || (keyHi === hi >>> 0 && keyLo === lo >>> 0)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** The value stored for a key, or undefined. */
  get(hi: number, lo: number): number | undefined {
    const slot = this.slotOf(hi, lo);
    if (this.keys[slot * 2] === 0 && this.keys[slot * 2 + 1] === 0) return undefined;
    return this.values[slot];
  }

  has(hi: number, lo: number): boolean {
    return this.get(hi, lo) !== undefined;
  }

  /** Sets `value` (bitwise OR-ed into an existing value when `merge` is true). Returns true if the key was new. */
  set(hi: number, lo: number, value = 1, merge = false): boolean {
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    const slot = this.slotOf(hi, lo);
    const isNew = this.keys[slot * 2] === 0 && this.keys[slot * 2 + 1] === 0;
    if (isNew) {
      this.keys[slot * 2] = hi >>> 0;
      this.keys[slot * 2 + 1] = hi === 0 && lo === 0 ? 1 : lo >>> 0;
      this.count++;
      this.values[slot] = value >>> 0;
    } else {
      this.values[slot] = merge ? (this.values[slot]! | value) >>> 0 : value >>> 0;
    }
    return isNew;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldValues.length * 2;
    this.keys = new Uint32Array(capacity * 2);
    this.values = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    for (let slot = 0; slot < oldValues.length; slot++) {
      const hi = oldKeys[slot * 2]!;
      const lo = oldKeys[slot * 2 + 1]!;
      if (hi !== 0 || lo !== 0) this.set(hi, lo, oldValues[slot]!);
    }
  }

  /** Calls `visit` for every stored value (in slot order). */
  forEachValue(visit: (value: number) => void): void {
    for (let slot = 0; slot < this.values.length; slot++) {
      if (this.keys[slot * 2] !== 0 || this.keys[slot * 2 + 1] !== 0) visit(this.values[slot]!);
    }
  }

  /** The table as {@link serialize} lays it out, as views of its own arrays (no copy; write them out in order). */
  serializedParts(): Uint32Array[] {
    return [Uint32Array.of(this.count, this.values.length), this.keys, this.values];
  }

  /** The table as one array: `[count, capacity, keys…, values…]` (a copy). */
  serialize(): Uint32Array {
    const capacity = this.values.length;
    const out = new Uint32Array(2 + capacity * 3);
    out[0] = this.count;
    out[1] = capacity;
    out.set(this.keys, 2);
    out.set(this.values, 2 + capacity * 2);
    return out;
  }

  /** Rebuilds a table from {@link serialize}'s output (the arrays are views, not copies). */
  static deserialize(data: Uint32Array): HashTable64 {
    const count = data[0]!;
    const capacity = data[1]!;
    if (data.length !== 2 + capacity * 3 || (capacity & (capacity - 1)) !== 0) {
      throw new Error(`corrupt hash table: ${data.length} words for capacity ${capacity}`);
    }
    const table = new HashTable64(1);
    table.keys = data.subarray(2, 2 + capacity * 2);
    table.values = data.subarray(2 + capacity * 2);
    table.mask = capacity - 1;
    table.count = count;
    return table;
  }
}
