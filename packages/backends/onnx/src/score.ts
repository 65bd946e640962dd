/** Teacher-forced scoring: logprobs of given completions, in forwards whose logits fit a byte budget. */
import type { ScoreResult } from '@rlpt/spec';
import type { Sampler } from './sampler.js';
import { throwIfAborted } from './request.js';
import type { LoadedModel } from './loaded-model.js';

/** Scores one batch of items into `results` (chunked along the sequence to bound the logits). */
export async function scoreBatch(
  state: LoadedModel,
  indices: number[],
  items: { prompt: number[]; completion: number[] }[],
  results: ScoreResult['results'],
  temperature: number,
  signal: AbortSignal | undefined,
  samplerFor: (vocabSize: number) => Sampler,
  scoreLogitsBytes: number,
): Promise<void> {
  const { session } = state;
  const batch = indices.length;
  const sequences = indices.map((index) => [
    ...(items[index]?.prompt ?? []),
    ...(items[index]?.completion ?? []),
  ]);
  const length = Math.max(...sequences.map((sequence) => sequence.length));
  const paddings = sequences.map((sequence) => length - sequence.length);
  // Column c's logits predict column c + 1; row r needs columns [length − C_r − 1, length − 2].
  const firstNeeded = Math.min(
    ...indices.map((index) => length - (items[index]?.completion.length ?? 0) - 1),
  );
  const vocabGuess = session.vocabSize ?? state.tokenizerVocabSize;
  const chunk = Math.max(1, Math.floor(scoreLogitsBytes / (batch * vocabGuess * 4)));
  const ranges: [number, number][] = [];
  let column = 0;
  if (session.logitsToKeepInput && firstNeeded > 0) {
    ranges.push([0, firstNeeded]);
    column = firstNeeded;
  }
  while (column < length - 1) {
    const end = Math.min(length - 1, column + chunk);
    ranges.push([column, end]);
    column = end;
  }
  let cache = session.emptyCache(batch);
  for (const [start, end] of ranges) {
    const width = end - start;
    const ids: number[] = [];
    const mask: number[] = [];
    const positions: number[] = [];
    for (const [row, sequence] of sequences.entries()) {
      const padding = paddings[row] as number;
      for (let c = start; c < end; c++)
        ids.push(c < padding ? state.padId : (sequence[c - padding] as number));
      for (let c = 0; c < end; c++) mask.push(c < padding ? 0 : 1);
      for (let c = start; c < end; c++) positions.push(c < padding ? 1 : c - padding);
    }
    const keep = end <= firstNeeded ? 1 : end - Math.max(start, firstNeeded);
    throwIfAborted(signal);
    const out = await session.run({
      batch,
      inputIds: ids,
      sequence: width,
      attentionMask: mask,
      positionIds: positions,
      cache,
      keepLast: keep,
    });
    cache = out.cache;
    if (end <= firstNeeded) continue;
    const sampler = samplerFor(out.vocabSize);
    const V = out.vocabSize;
    for (const [row, index] of indices.entries()) {
      const completion = items[index]?.completion ?? [];
      const firstColumn = length - completion.length - 1;
      const result = results[index];
      if (!result) continue;
      for (let position = 0; position < out.positions; position++) {
        const c = end - out.positions + position;
        if (c < firstColumn || c > length - 2) continue;
        const offset = (row * out.positions + position) * V;
        const logits = out.logits.subarray(offset, offset + V);
        const target = completion[c - firstColumn] as number;
        result.logprobs[c - firstColumn] =
          (logits[target] as number) / temperature - sampler.logSumExp(logits, temperature);
      }
    }
  }
}
