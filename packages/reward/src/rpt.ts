/**
 * RPT's reward (Dong et al., arXiv 2506.08007; METHOD.md §8): 1 when the prediction's UTF-8 bytes are an
 * exact prefix of the reference continuation's bytes and end on one of the reference's token boundaries
 * under the policy's tokenizer (so a prediction may cover several whole tokens), else 0. No judge model.
 */
import type { JudgeItem, JudgeMode, JudgeVerdict } from '@rlpt/spec';
import { InvalidArgumentError, silentLogger } from '@rlpt/spec';
import { assertInteger, assertMode, type JudgeObservability } from './common.js';
import { defineJudge } from './define.js';
import { countReason, emptyStats, type JudgeWithStats, recordFailure, snapshotStats } from './stats.js';

/**
 * What the RPT judge needs of a tokenizer: `@huggingface/tokenizers`' `Tokenizer` (what `@rlpt/model`'s
 * `loadTokenizer` returns) has this shape. `decoder.config` tells how token strings map to bytes.
 */
export interface RptTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decoder?: { config?: unknown } | null;
}

/** The token boundaries of a text, as UTF-8 byte offsets (see {@link tokenByteBoundaries}). */
export interface TokenBoundaries {
  /** Byte offsets where a token ends and a character ends too, ascending; the last is the text's length. */
  boundaries: number[];
  /** Tokens, in all. */
  tokens: number;
  /** Token ends that fall inside a multi-byte character (byte-level BPE splits rare characters). */
  insideCharacter: number;
}

/** How whitespace at the edges is treated (see the README's "RPT judge"). */
export type RptWhitespace = 'trim' | 'exact';

// GPT-2's byte ↔ unicode table (byte-level BPE: Qwen, Llama 3, GPT-2): printable bytes stand for
// themselves, the rest are shifted to U+0100 and up, in byte order.
const byteOfCharacter: Map<number, number> = (() => {
  const map = new Map<number, number>();
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    map.set(printable ? byte : 256 + shifted++, byte);
  }
  return map;
})();

type TokenReading = 'byte-level' | 'text';

/** Decoder types found in a `tokenizer.json` decoder (a `Sequence` lists its parts). */
function decoderTypes(config: unknown, into: Set<string> = new Set()): Set<string> {
  if (config === null || typeof config !== 'object') return into;
  const record = config as { type?: unknown; decoders?: unknown };
  if (typeof record.type === 'string') into.add(record.type);
  if (Array.isArray(record.decoders)) for (const part of record.decoders) decoderTypes(part, into);
  return into;
}

const utf8 = new TextEncoder();
const byteTokenPattern = /^<0x([0-9A-Fa-f]{2})>$/;

/** The bytes one token stands for, read the way its decoder reads it. */
function tokenBytes(token: string, reading: TokenReading): Uint8Array {
  if (reading === 'byte-level') {
    const bytes = new Uint8Array(token.length);
    let length = 0;
    for (const character of token) {
      const byte = byteOfCharacter.get(character.codePointAt(0) as number);
      // Added tokens (`<|im_start|>`, `<think>`) are kept literally, not byte-mapped.
      if (byte === undefined) return utf8.encode(token);
      bytes[length++] = byte;
    }
    return bytes.subarray(0, length);
  }
  const byte = byteTokenPattern.exec(token);
  if (byte) return Uint8Array.of(Number.parseInt(byte[1] as string, 16));
  return utf8.encode(token.replaceAll('\u2581', ' '));
}

const isSpaceByte = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
const isContinuationByte = (byte: number | undefined) => byte !== undefined && (byte & 0xc0) === 0x80;

function startsWithAt(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > haystack.length) return false;
  for (let index = 0; index < needle.length; index++)
    if (haystack[at + index] !== needle[index]) return false;
  return true;
}

/**
 * Tokenises `text` with `tokenizer` (no special tokens) and returns where its tokens end, as UTF-8 byte
 * offsets into `text`. Token bytes come from the decoder: byte-level BPE maps each token character back
 * to one byte (a token may then end inside a multi-byte character); SentencePiece-style tokens read `▁`
 * as a space and `<0xNN>` as a byte. The tokens are aligned with the text's bytes, allowing for white
 * space a pre-tokenizer dropped and a leading space a `Metaspace` pre-tokenizer added; a token end inside
 * a character is counted in `insideCharacter`, not listed (no text can end there). Returns a message when
 * the tokens do not spell the text (a normalizer lower-cased it, `<unk>` replaced a character).
 */
export function tokenByteBoundaries(tokenizer: RptTokenizer, text: string): TokenBoundaries | string {
  const bytes = utf8.encode(text);
  const { tokens } = tokenizer.encode(text, { add_special_tokens: false });
  const reading: TokenReading = decoderTypes(tokenizer.decoder?.config).has('ByteLevel')
    ? 'byte-level'
    : 'text';
  const boundaries: number[] = [];
  let insideCharacter = 0;
  let cursor = 0;
  for (const [index, token] of tokens.entries()) {
    let piece = tokenBytes(token, reading);
    if (!startsWithAt(bytes, piece, cursor)) {
      // A Metaspace pre-tokenizer's added leading space, or white space the pre-tokenizer dropped.
      if (piece[0] === 0x20 && startsWithAt(bytes, piece.subarray(1), cursor)) piece = piece.subarray(1);
      else {
        let skipped = cursor;
        while (isSpaceByte(bytes[skipped])) skipped++;
        if (skipped === cursor || !startsWithAt(bytes, piece, skipped))
          return `token ${index} (${JSON.stringify(token)}) does not match the text at byte ${cursor}: the tokenizer does not reproduce the text (a normalizer, or an unknown character)`;
        cursor = skipped;
      }
    }
    cursor += piece.length;
    if (piece.length === 0) continue;
    if (isContinuationByte(bytes[cursor])) insideCharacter++;
    else boundaries.push(cursor);
  }
  while (isSpaceByte(bytes[cursor])) cursor++;
  if (cursor !== bytes.length)
    return `the tokens cover ${cursor} of the text's ${bytes.length} bytes: the tokenizer does not reproduce the text`;
  if (boundaries[boundaries.length - 1] !== bytes.length) boundaries.push(bytes.length);
  return { boundaries, tokens: tokens.length, insideCharacter };
}

/** The outcome of {@link rptMatch}. */
export interface RptMatch {
  score: 0 | 1;
  /** Why the score is 0: `empty`, `not-prefix` (includes a prediction longer than the reference), `mid-token`. */
  reason?: 'empty' | 'not-prefix' | 'mid-token';
  /** UTF-8 bytes of the prediction as compared. */
  predictionBytes: number;
  /** Whole reference tokens the prediction covers (when it is a prefix). */
  tokensCovered: number;
}

/**
 * The RPT rule on one prediction: `boundaries` are the reference's token ends in bytes (from
 * {@link tokenByteBoundaries} of `reference`). With `whitespace: 'trim'` (default) the prediction's outer
 * white space and the reference's leading white space are ignored — extraction trims predictions, and the
 * first reference token usually carries the space (` cat`) — and the boundaries move with the reference.
 * An empty or white-space-only prediction scores 0 either way.
 */
export function rptMatch(
  prediction: string,
  reference: string,
  boundaries: readonly number[],
  whitespace: RptWhitespace = 'trim',
): RptMatch {
  let predicted = prediction;
  let offset = 0;
  if (whitespace === 'trim') {
    predicted = prediction.trim();
    const leading = reference.length - reference.trimStart().length;
    offset = utf8.encode(reference.slice(0, leading)).length;
  }
  if (predicted.trim().length === 0)
    return { score: 0, reason: 'empty', predictionBytes: 0, tokensCovered: 0 };
  const predictionBytes = utf8.encode(predicted);
  const referenceBytes = utf8.encode(reference);
  if (!startsWithAt(referenceBytes, predictionBytes, offset))
    return { score: 0, reason: 'not-prefix', predictionBytes: predictionBytes.length, tokensCovered: 0 };
  const end = offset + predictionBytes.length;
  let covered = 0;
  for (const boundary of boundaries) {
    if (boundary > offset && boundary <= end) covered++;
    if (boundary === end)
      return { score: 1, predictionBytes: predictionBytes.length, tokensCovered: covered };
  }
  return { score: 0, reason: 'mid-token', predictionBytes: predictionBytes.length, tokensCovered: covered };
}

export interface RptJudgeOptions extends JudgeObservability {
  /** The policy's tokenizer (`loadTokenizer(dir).tokenizer` from `@rlpt/model`, or anything of that shape). */
  tokenizer: RptTokenizer;
  /** `trim` (default) or `exact`: see {@link rptMatch}. */
  whitespace?: RptWhitespace;
  /** Name in logs and caches. Default `rpt`. */
  name?: string;
  /** Mode of items without their own: `prefix` judges against the window, `strict` against s_i. Default `prefix`. */
  mode?: JudgeMode;
  /** References whose boundaries are kept (a GRPO group shares one reference). Default 4096; 0 keeps none. */
  boundaryCacheSize?: number;
}

/**
 * The RPT judge: {@link rptMatch} against the item's `reference` (a label's window in `prefix` mode, its
 * `target` in `strict` mode, so `strict` asks for exactly the target's whole tokens), with token
 * boundaries from the policy's tokenizer. No hardening: a byte prefix of the reference cannot carry
 * anything the reference does not, and the minimum-words rule would reject one-token predictions.
 * Verdicts are `ok` with score 0 or 1 (`reason` says why 0); a reference the tokenizer does not
 * reproduce fails the item with reason `untokenizable-reference`.
 */
export function createRptJudge(options: RptJudgeOptions): JudgeWithStats {
  const tokenizer = options?.tokenizer;
  if (!tokenizer || typeof tokenizer.encode !== 'function')
    throw new InvalidArgumentError({
      argument: 'tokenizer',
      message:
        "createRptJudge needs the policy's tokenizer (an object with encode(text) → { tokens }), e.g. (await loadTokenizer(modelDir)).tokenizer from @rlpt/model.",
    });
  const whitespace = options.whitespace ?? 'trim';
  if (whitespace !== 'trim' && whitespace !== 'exact')
    throw new InvalidArgumentError({
      argument: 'whitespace',
      message: `whitespace must be 'trim' or 'exact'; got ${JSON.stringify(whitespace)}.`,
    });
  const mode = assertMode(options.mode ?? 'prefix', 'mode');
  const cacheSize = assertInteger(options.boundaryCacheSize ?? 4096, 'boundaryCacheSize', 0);
  const name = options.name ?? 'rpt';
  const logger = options.logger ?? silentLogger;
  let stats = emptyStats();
  const boundaryCache = new Map<string, TokenBoundaries | string>();

  const boundariesOf = (reference: string): TokenBoundaries | string => {
    const hit = boundaryCache.get(reference);
    if (hit !== undefined) return hit;
    const result = tokenByteBoundaries(tokenizer, reference);
    if (cacheSize > 0) {
      if (boundaryCache.size >= cacheSize) boundaryCache.delete(boundaryCache.keys().next().value as string);
      boundaryCache.set(reference, result);
    }
    return result;
  };

  const inner = defineJudge({
    name,
    mode,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    logger,
    judgeItem(item): JudgeVerdict {
      const boundaries = boundariesOf(item.reference);
      if (typeof boundaries === 'string')
        return { score: 0, status: 'failed', reason: 'untokenizable-reference', raw: boundaries };
      const match = rptMatch(item.prediction, item.reference, boundaries.boundaries, whitespace);
      const raw = `bytes=${match.predictionBytes} tokens=${match.tokensCovered} referenceTokens=${boundaries.tokens}`;
      return match.score === 1
        ? { score: 1, status: 'ok', raw }
        : { score: 0, status: 'ok', reason: match.reason as string, raw };
    },
  });

  return {
    specificationVersion: 'v1',
    name,
    async judge(items: JudgeItem[], callOptions) {
      const verdicts = await inner.judge(items, callOptions);
      stats.items += items.length;
      for (const [index, verdict] of verdicts.entries()) {
        if (verdict.status === 'ok') {
          stats.ok++;
          if (verdict.score > 0) stats.positives++;
        } else stats[verdict.status]++;
        if (verdict.reason) countReason(stats, verdict.reason);
        if (verdict.status === 'failed') {
          const id = items[index]?.id;
          const message = `${name}: item ${index}: ${verdict.reason}${verdict.raw ? ` (${verdict.raw})` : ''}`;
          recordFailure(stats, { reason: verdict.reason ?? 'error', message, raw: verdict.raw, id });
          if (verdict.reason === 'untokenizable-reference') {
            logger.warn(message, { judge: name, id });
            options.onEvent?.({ type: 'judge-error', id, reason: verdict.reason, message });
          }
        }
      }
      return verdicts;
    },
    stats: () => snapshotStats(stats),
    resetStats() {
      stats = emptyStats();
    },
    async close() {
      boundaryCache.clear();
    },
  };
}
