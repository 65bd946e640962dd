/**
 * The batched decode loop: each prompt is prefilled once, its KV cache repeated for its samples; finished
 * rows leave the batch (with the left padding no remaining row needs) until every row has finished.
 */
import type { FinishReason } from '@rlpt/spec';
import { findStop, type IncrementalDetokenizer } from './detokenize.js';
import type { Xoshiro128 } from './prng.js';
import type { Sampler } from './sampler.js';
import type { KvCache } from './session.js';
import type { BlockProbabilities } from './softmax-head.js';
import { type ResolvedRequest, throwIfAborted } from './request.js';
import type { LoadedModel } from './loaded-model.js';

/** One sequence being decoded: its prompt, sampled tokens, logprobs and why it finished. */
export interface Row {
  promptIndex: number;
  sampleIndex: number;
  promptIds: number[];
  padding: number;
  random: Xoshiro128 | undefined;
  tokens: number[];
  logprobs: number[];
  maxNew: number;
  finish?: FinishReason;
  detokenizer?: IncrementalDetokenizer;
  stoppedText?: string;
}

/** The text of a finished row: up to a stop string, without a final stop/eos token, undecodable ids left out. */
export function completionText(state: LoadedModel, row: Row, stopIds: Set<number>): string {
  if (row.stoppedText !== undefined) return row.stoppedText;
  let ids = row.tokens;
  const last = ids[ids.length - 1];
  if (row.finish === 'stop' && last !== undefined && (stopIds.has(last) || state.eosIds.has(last)))
    ids = ids.slice(0, -1);
  const decodable = ids.filter((id) => id < state.tokenizerVocabSize);
  return decodable.length === 0 ? '' : state.tokenizer.decode(decodable, { skip_special_tokens: true });
}

/** Decodes one group of rows (each prompt prefilled once, its cache repeated for its samples). */
export async function decodeRows(
  state: LoadedModel,
  rows: Row[],
  request: ResolvedRequest,
  signal: AbortSignal | undefined,
  samplerFor: (vocabSize: number) => Sampler,
) {
  const { session } = state;
  const prompts: Row[] = [];
  const prefillIndex = rows.map((row) => {
    let index = prompts.findIndex((entry) => entry.promptIndex === row.promptIndex);
    if (index < 0) index = prompts.push(row) - 1;
    return index;
  });
  const length = Math.max(...prompts.map((row) => row.promptIds.length));
  const ids: number[] = [];
  const mask: number[] = [];
  const positions: number[] = [];
  for (const row of prompts) {
    const padding = length - row.promptIds.length;
    for (let column = 0; column < length; column++) {
      const isPad = column < padding;
      ids.push(isPad ? state.padId : (row.promptIds[column - padding] as number));
      mask.push(isPad ? 0 : 1);
      positions.push(isPad ? 1 : column - padding);
    }
  }
  throwIfAborted(signal);
  const prefill = await session.run({
    batch: prompts.length,
    inputIds: ids,
    sequence: length,
    attentionMask: mask,
    positionIds: positions,
    cache: session.emptyCache(prompts.length),
    keepLast: 1,
  });
  const sampler = samplerFor(prefill.vocabSize);
  const V = prefill.vocabSize;
  const prefillStats = await statsFor(state, prefill.logits, prompts.length, prefill.positions, request);
  for (const [index, row] of rows.entries()) {
    row.padding = length - row.promptIds.length;
    const prompt = prefillIndex[index] as number;
    const offset = (prompt * prefill.positions + prefill.positions - 1) * V;
    const logits = prefill.logits.subarray(offset, offset + V);
    accept(state, row, pick(sampler, logits, prompt, prefillStats, row, request), request);
  }
  const identity = prefillIndex.every((value, index) => value === index);
  let cache: KvCache = identity ? prefill.cache : session.selectRows(prefill.cache, prefillIndex);
  let active = rows;
  for (;;) {
    const stillActive = active.filter((row) => row.finish === undefined);
    if (stillActive.length === 0) break;
    if (stillActive.length < active.length) {
      // Drop finished rows, and the left padding that every remaining row masks out.
      const keep = active.flatMap((row, index) => (row.finish === undefined ? [index] : []));
      const dropColumns = Math.min(...stillActive.map((row) => row.padding));
      cache = session.selectRows(cache, keep, dropColumns);
      for (const row of stillActive) row.padding -= dropColumns;
      active = stillActive;
    }
    const batch = active.length;
    const total = cache.length + 1;
    const stepMask = new Uint8Array(batch * total);
    for (const [index, row] of active.entries())
      stepMask.fill(1, index * total + row.padding, (index + 1) * total);
    throwIfAborted(signal);
    const out = await session.run({
      batch,
      inputIds: active.map((row) => row.tokens[row.tokens.length - 1] as number),
      sequence: 1,
      attentionMask: stepMask,
      // The fed token is the last sampled one: position = prompt length + tokens before it.
      positionIds: active.map((row) => row.promptIds.length + row.tokens.length - 1),
      cache,
      keepLast: 1,
    });
    cache = out.cache;
    const stats = await statsFor(state, out.logits, batch, out.positions, request);
    for (const [index, row] of active.entries()) {
      const offset = (index * out.positions + out.positions - 1) * V;
      const logits = out.logits.subarray(offset, offset + V);
      accept(state, row, pick(sampler, logits, index, stats, row, request), request);
    }
  }
}

/** Softmax statistics for `rows` contiguous logit rows, when the head applies to this request. */
async function statsFor(
  state: LoadedModel,
  logits: Float32Array,
  rows: number,
  positions: number,
  request: ResolvedRequest,
): Promise<BlockProbabilities | undefined> {
  const { sampling } = request;
  const unfiltered = sampling.topK === 0 && sampling.topP === 1 && sampling.minP === 0;
  const wanted = sampling.temperature === 0 ? request.logprobs : unfiltered;
  if (!state.head || positions !== 1 || !wanted || logits.length !== rows * state.head.vocabSize)
    return undefined;
  return state.head.run(logits, rows, sampling.temperature === 0 ? 1 : sampling.temperature);
}

function pick(
  sampler: Sampler,
  logits: Float32Array,
  statsRow: number,
  stats: BlockProbabilities | undefined,
  row: Row,
  request: ResolvedRequest,
): { token: number; logprob: number } {
  if (!stats) return sampler.sample(logits, request.sampling, row.random, request.logprobs);
  const blockProbs = stats.blockProbs.subarray(statsRow * stats.blocks, (statsRow + 1) * stats.blocks);
  return sampler.sampleFromBlocks(
    logits,
    request.sampling.temperature,
    blockProbs,
    stats.blockSize,
    row.random,
  );
}

function accept(
  state: LoadedModel,
  row: Row,
  sampled: { token: number; logprob: number },
  request: ResolvedRequest,
): void {
  const { token } = sampled;
  row.tokens.push(token);
  if (request.logprobs) row.logprobs.push(sampled.logprob);
  if (state.eosIds.has(token) || request.stopTokenIds.has(token)) {
    row.finish = 'stop';
    return;
  }
  if (row.detokenizer) {
    const added = row.detokenizer.push(token);
    if (added.length > 0) {
      const at = findStop(row.detokenizer.text, added.length, request.stop);
      if (at >= 0) {
        row.stoppedText = row.detokenizer.text.slice(0, at);
        row.finish = 'stop';
        return;
      }
    }
  }
  if (row.tokens.length >= row.maxNew) row.finish = 'length';
}
