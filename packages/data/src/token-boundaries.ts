// Where a tokenizer's tokens end in a text, as string offsets: the positions a next-token sample can cut the
// text at. The same reading of token bytes as `@rlpt/reward`'s `tokenByteBoundaries` (the RPT judge), kept
// here because @rlpt/data sits below @rlpt/reward; the tests check both against the tokenizer's decoder.

/** The part of a Hugging Face tokenizer this needs (`@huggingface/tokenizers`' `Tokenizer` has it). */
export interface BoundaryTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { tokens: string[] };
  decoder?: { config?: unknown } | null;
}

/** Token ends of a text that are also character ends. */
export interface TokenEnds {
  /** String (UTF-16) offsets where a token ends on a character boundary, ascending; the last is the text's length. */
  offsets: number[];
  /** For each offset, the number of tokens before it. */
  tokensBefore: number[];
  /** Tokens, in all. */
  tokens: number;
  /** Token ends inside a multi-byte character (byte-level BPE splits rare characters): no text ends there. */
  insideCharacter: number;
}

// GPT-2's byte ↔ unicode table (byte-level BPE).
const byteOfCharacter: Map<number, number> = (() => {
  const map = new Map<number, number>();
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    map.set(printable ? byte : 256 + shifted++, byte);
  }
  return map;
})();

function decoderTypes(config: unknown, into: Set<string> = new Set()): Set<string> {
  if (config === null || typeof config !== 'object') return into;
  const record = config as { type?: unknown; decoders?: unknown };
  if (typeof record.type === 'string') into.add(record.type);
  if (Array.isArray(record.decoders)) for (const part of record.decoders) decoderTypes(part, into);
  return into;
}

const utf8 = new TextEncoder();
const byteToken = /^<0x([0-9A-Fa-f]{2})>$/;

function tokenBytes(token: string, byteLevel: boolean): Uint8Array {
  if (byteLevel) {
    const bytes = new Uint8Array(token.length);
    let length = 0;
    for (const character of token) {
      const byte = byteOfCharacter.get(character.codePointAt(0) as number);
      if (byte === undefined) return utf8.encode(token); // an added token, kept literally
      bytes[length++] = byte;
    }
    return bytes.subarray(0, length);
  }
  const byte = byteToken.exec(token);
  if (byte) return Uint8Array.of(Number.parseInt(byte[1] as string, 16));
  return utf8.encode(token.replaceAll('\u2581', ' '));
}

const isSpace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

function startsWithAt(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > haystack.length) return false;
  for (let index = 0; index < needle.length; index++)
    if (haystack[at + index] !== needle[index]) return false;
  return true;
}

/**
 * Tokenises `text` (no special tokens) and returns where its tokens end, as string offsets, with the
 * number of tokens before each. Token ends inside a character are counted, not listed. Returns a message
 * when the tokens do not spell the text (a normalizer changed it, `<unk>`).
 */
export function tokenEnds(tokenizer: BoundaryTokenizer, text: string): TokenEnds | string {
  const bytes = utf8.encode(text);
  const { tokens } = tokenizer.encode(text, { add_special_tokens: false });
  const byteLevel = decoderTypes(tokenizer.decoder?.config).has('ByteLevel');
  const byteEnds: number[] = [];
  const counts: number[] = [];
  let insideCharacter = 0;
  let cursor = 0;
  for (const [index, token] of tokens.entries()) {
    let piece = tokenBytes(token, byteLevel);
    if (!startsWithAt(bytes, piece, cursor)) {
      if (piece[0] === 0x20 && startsWithAt(bytes, piece.subarray(1), cursor)) piece = piece.subarray(1);
      else {
        let skipped = cursor;
        while (isSpace(bytes[skipped])) skipped++;
        if (skipped === cursor || !startsWithAt(bytes, piece, skipped))
          return `token ${index} (${JSON.stringify(token)}) does not match the text at byte ${cursor}`;
        cursor = skipped;
      }
    }
    cursor += piece.length;
    if (piece.length === 0) continue;
    const next = bytes[cursor];
    if (next !== undefined && (next & 0xc0) === 0x80) insideCharacter++;
    else {
      byteEnds.push(cursor);
      counts.push(index + 1);
    }
  }
  while (isSpace(bytes[cursor])) cursor++;
  if (cursor !== bytes.length) return `the tokens cover ${cursor} of ${bytes.length} bytes`;
  // Byte offsets → string offsets, walking the text once.
  const offsets: number[] = new Array(byteEnds.length);
  let byteAt = 0;
  let charAt = 0;
  let position = 0;
  while (position < byteEnds.length) {
    const target = byteEnds[position] as number;
    while (byteAt < target) {
      const code = text.codePointAt(charAt) as number;
      byteAt += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      charAt += code >= 0x10000 ? 2 : 1;
    }
    offsets[position++] = charAt;
  }
  return { offsets, tokensBefore: counts, tokens: tokens.length, insideCharacter };
}
