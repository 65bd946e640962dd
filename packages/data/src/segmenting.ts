import {
  buildSamples,
  type CountTokens,
  type LineBreakMode,
  type SegmentEngine,
  type ShortSentencePolicy,
  sentenceFilterReason,
  splitSentences,
} from '@rlpt/segment';
import type { SegmentSample } from '@rlpt/spec';

/** Options of {@link segmentDocument} (the `prepare` options of the same names). */
export interface SegmentDocumentOptions {
  minChars: number;
  minWords: number;
  minTokens: number;
  contextTokens: number;
  referenceSegments: number;
  referenceTokens: number;
  segmentEngine: SegmentEngine;
  lineBreaks: LineBreakMode;
  shortSentences: ShortSentencePolicy;
  countTokens: CountTokens;
}

/** Sentences and samples of one document. */
export interface SegmentedDocument {
  samples: SegmentSample[];
  /** Sentences found, kept as possible targets, and filtered out by reason (`min-chars`, `min-words`, …). */
  sentences: { total: number; kept: number; filtered: Record<string, number> };
  /** Context tokens per sample index (sums of sentence counts, so contexts are never re-tokenised). */
  contextTokens: Map<number, number>;
  /** Reference-window tokens per sample index. */
  referenceTokens: Map<number, number>;
  /**
   * The sentences a sample's context is made of, oldest first, with their token counts (joined by a space
   * they are the context). A context cut inside its only sentence comes back as that one piece.
   */
  contextParts(sample: SegmentSample): { texts: string[]; tokens: number[] };
}

/**
 * Splits a normalised document into sentences with `@rlpt/segment`, counts the filter's verdicts, and
 * builds its D_s samples (`buildSamples`) with the real token counter for the context budget and the
 * reference window. Each sentence is tokenised once.
 */
export function segmentDocument(
  document: { id: string; text: string; source: string },
  options: SegmentDocumentOptions,
): SegmentedDocument {
  const sentences = splitSentences(document.text, {
    engine: options.segmentEngine,
    lineBreaks: options.lineBreaks,
  }).map((sentence) => sentence.text);
  const filter = { minChars: options.minChars, minWords: options.minWords, minTokens: options.minTokens };
  const filtered: Record<string, number> = {};
  let kept = 0;
  const tokens = sentences.map((sentence) => options.countTokens(sentence));
  const eligible = sentences.map((sentence) => {
    const reason = sentenceFilterReason(sentence, { ...filter, countTokens: options.countTokens });
    if (reason === undefined) kept++;
    else filtered[reason] = (filtered[reason] ?? 0) + 1;
    return reason === undefined;
  });
  const samples = buildSamples(
    { id: document.id, sentences, source: document.source },
    {
      countTokens: options.countTokens,
      filter,
      shortSentences: options.shortSentences,
      contextMaxTokens: options.contextTokens,
      referenceSegments: options.referenceSegments,
      referenceMaxTokens: options.referenceTokens,
    },
  );
  // Token counts of contexts and reference windows from the per-sentence counts (prefix sums over the
  // sequence D_s was built on), so no context is ever tokenised again.
  const sequence: number[] = [];
  for (let position = 0; position < sentences.length; position++) {
    if (options.shortSentences === 'context' || eligible[position]) sequence.push(position);
  }
  const sequencePosition = new Map(sequence.map((position, at) => [position, at]));
  const prefix = new Float64Array(sequence.length + 1);
  for (let at = 0; at < sequence.length; at++) prefix[at + 1] = prefix[at]! + tokens[sequence[at]!]!;
  const contextTokens = new Map<number, number>();
  const referenceTokens = new Map<number, number>();
  for (const sample of samples) {
    const at = sequencePosition.get(sample.index)!;
    const tail = sample.contextSegments === 1 && sample.context !== sentences[sequence[at - 1]!];
    contextTokens.set(
      sample.index,
      tail ? options.countTokens(sample.context) : prefix[at]! - prefix[at - sample.contextSegments]!,
    );
    referenceTokens.set(sample.index, prefix[at + sample.referenceSegments]! - prefix[at]!);
  }
  const contextParts = (sample: SegmentSample): { texts: string[]; tokens: number[] } => {
    const at = sequencePosition.get(sample.index)!;
    const tail = sample.contextSegments === 1 && sample.context !== sentences[sequence[at - 1]!];
    if (tail) return { texts: [sample.context], tokens: [contextTokens.get(sample.index)!] };
    const positions = sequence.slice(at - sample.contextSegments, at);
    return {
      texts: positions.map((position) => sentences[position]!),
      tokens: positions.map((position) => tokens[position]!),
    };
  };
  return {
    samples,
    sentences: { total: sentences.length, kept, filtered },
    contextTokens,
    referenceTokens,
    contextParts,
  };
}
