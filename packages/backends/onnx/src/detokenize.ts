import type { Tokenizer } from '@huggingface/tokenizers';

/**
 * Incremental detokenisation (the prefix-window method of Hugging Face TGI and vLLM): decodes a short
 * window of recent tokens and emits only the new characters, waiting while the tail is an incomplete
 * UTF-8 sequence. Decoding a window rather than single tokens keeps leading-space and byte-fallback
 * decoders right.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  text = '';

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly isDecodable: (id: number) => boolean,
  ) {}

  /** Adds one token; returns the characters it completed (may be empty). */
  push(id: number): string {
    if (!this.isDecodable(id)) return '';
    this.ids.push(id);
    const prefix = this.decode(this.prefixOffset, this.readOffset);
    const full = this.decode(this.prefixOffset, this.ids.length);
    if (full.length > prefix.length && !full.endsWith('\uFFFD')) {
      const delta = full.slice(prefix.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      this.text += delta;
      return delta;
    }
    return '';
  }

  private decode(start: number, end: number): string {
    if (end <= start) return '';
    return this.tokenizer.decode(this.ids.slice(start, end), { skip_special_tokens: true });
  }
}

/** Finds the earliest stop string that ends inside the newly added text. */
export function findStop(text: string, addedLength: number, stops: readonly string[]): number {
  let earliest = -1;
  for (const stop of stops) {
    const from = Math.max(0, text.length - addedLength - stop.length + 1);
    const index = text.indexOf(stop, from);
    if (index >= 0 && (earliest < 0 || index < earliest)) earliest = index;
  }
  return earliest;
}
