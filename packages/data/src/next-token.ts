// RPT's next-token task (METHOD.md §8): positions in a document where the policy predicts what comes next,
// filtered by difficulty — a proxy model's next-token entropy marks the easy positions, which are skipped.
import { type InferenceBackendV1, InvalidArgumentError } from '@rlpt/spec';
import { hashToUnit } from './hash.js';
import type { TokenEnds } from './token-boundaries.js';

/**
 * How the entropy is estimated from the proxy's top-k logprobs (a backend returns at most ~20 of them):
 * - `bound` (default): `−Σ pᵢ log pᵢ − r · log p_k` over the k returned tokens, with `r = 1 − Σ pᵢ` the mass
 *   outside them. A lower bound of the full entropy — each token outside the top k has probability ≤ p_k,
 *   so contributes at least `−q log p_k` — and exact when the tail is empty. A position kept by
 *   `entropy ≥ minEntropy` is therefore hard for certain; the price is skipping a few hard positions whose
 *   mass is spread thin beyond the top k.
 * - `top-k`: the entropy of the top k renormalised to sum to 1, as RPT describes its filter ("the entropy
 *   on the top-16 next tokens"). Neither a lower nor an upper bound: it ignores the tail mass.
 */
export type EntropyEstimate = 'bound' | 'top-k';

/** Entropy in nats of a next-token distribution known by its top-k logprobs (see {@link EntropyEstimate}). */
export function entropyFromTopLogprobs(
  logprobs: readonly number[],
  estimate: EntropyEstimate = 'bound',
): number {
  const finite = logprobs.filter((value) => Number.isFinite(value)).sort((a, b) => b - a);
  if (finite.length === 0) return Number.NaN;
  const probabilities = finite.map((value) => Math.exp(value));
  const mass = probabilities.reduce((sum, value) => sum + value, 0);
  if (estimate === 'top-k') {
    let entropy = 0;
    for (const probability of probabilities) {
      const share = probability / mass;
      if (share > 0) entropy -= share * Math.log(share);
    }
    return entropy;
  }
  let entropy = 0;
  for (const [index, probability] of probabilities.entries())
    entropy -= probability * (finite[index] as number);
  const tail = Math.max(0, 1 - mass);
  return entropy + tail * -(finite[finite.length - 1] as number);
}

/** The settings of the next-token task (`prepare`'s `nextToken` option, resolved). */
export interface NextTokenSettings {
  positionsPerDocument: number;
  minContextTokens: number;
  referenceTokens: number;
  proxyContextTokens: number;
  minEntropy: number;
  entropy: EntropyEstimate;
  topLogprobs: number;
  batchSize: number;
}

/** One candidate position, cut out of a document. */
export interface NextTokenPosition {
  /** Tokens before the position (the sample's `index`). */
  tokenIndex: number;
  /** The text before the position, at most `contextTokens` tokens (cut at a token end). */
  context: string;
  contextTokens: number;
  contextTruncated: boolean;
  /** The first whole token(s) after the position, up to the next token end that is a character end. */
  target: string;
  /** The continuation: `referenceTokens` tokens (or to the end of the document). */
  reference: string;
  referenceTokens: number;
  /** What the proxy reads: the last `proxyContextTokens` tokens of the context. */
  proxyPrompt: string;
}

/** Why a token end is not a candidate (counted in `stats.nextToken.positions`). */
export interface PositionCounts {
  /** Token ends in the document (all tokens). */
  tokens: number;
  /** Token ends inside a multi-byte character: no text can end there. */
  insideCharacter: number;
  /** With fewer than `minContextTokens` tokens before them, or at the end of the document. */
  tooEarly: number;
  /** The next token is white space only (no prediction could be rewarded on it alone). */
  whitespace: number;
  /** Eligible but not among the `positionsPerDocument` picked. */
  notPicked: number;
  /** Picked: sent to the proxy (or kept, without a proxy). */
  candidates: number;
}

/**
 * Picks up to `positionsPerDocument` positions of a document, deterministically (the smallest hashes of
 * seed, document id and token index among the eligible token ends), and cuts each sample's texts.
 */
export function pickPositions(
  text: string,
  ends: TokenEnds,
  documentId: string,
  settings: NextTokenSettings & { contextTokens: number; seed: number },
): { positions: NextTokenPosition[]; counts: PositionCounts } {
  const { offsets, tokensBefore } = ends;
  const counts: PositionCounts = {
    tokens: ends.tokens,
    insideCharacter: ends.insideCharacter,
    tooEarly: 0,
    whitespace: 0,
    notPicked: 0,
    candidates: 0,
  };
  const eligible: { at: number; rank: number }[] = [];
  for (let at = 0; at < offsets.length; at++) {
    // The last end is the document's end: nothing follows it.
    if ((tokensBefore[at] as number) < settings.minContextTokens || at === offsets.length - 1) {
      counts.tooEarly++;
      continue;
    }
    const target = text.slice(offsets[at], offsets[at + 1]);
    if (target.trim() === '') {
      counts.whitespace++;
      continue;
    }
    eligible.push({ at, rank: hashToUnit(`next-token:${documentId}:${tokensBefore[at]}`, settings.seed) });
  }
  eligible.sort((a, b) => a.rank - b.rank || a.at - b.at);
  const picked = eligible.slice(0, settings.positionsPerDocument).sort((a, b) => a.at - b.at);
  counts.notPicked = eligible.length - picked.length;
  counts.candidates = picked.length;
  // The first listed end at or after `tokens` tokens before `at` (ends are ascending in both).
  const endFrom = (tokens: number): number => {
    let low = 0;
    let high = offsets.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((tokensBefore[middle] as number) >= tokens) high = middle;
      else low = middle + 1;
    }
    return low;
  };
  const positions = picked.map(({ at }): NextTokenPosition => {
    const tokenIndex = tokensBefore[at] as number;
    const offset = offsets[at] as number;
    const contextStart =
      tokenIndex > settings.contextTokens ? endFrom(tokenIndex - settings.contextTokens) : -1;
    const contextFrom = contextStart < 0 ? 0 : (offsets[contextStart] as number);
    const proxyStart =
      tokenIndex > settings.proxyContextTokens ? endFrom(tokenIndex - settings.proxyContextTokens) : -1;
    const referenceEnd = endFrom(tokenIndex + settings.referenceTokens);
    return {
      tokenIndex,
      context: text.slice(contextFrom, offset),
      contextTokens: tokenIndex - (contextStart < 0 ? 0 : (tokensBefore[contextStart] as number)),
      contextTruncated: contextStart >= 0,
      target: text.slice(offset, offsets[at + 1]),
      reference: text.slice(offset, offsets[referenceEnd]),
      referenceTokens: (tokensBefore[referenceEnd] as number) - tokenIndex,
      proxyPrompt: text.slice(proxyStart < 0 ? 0 : (offsets[proxyStart] as number), offset),
    };
  });
  return { positions, counts };
}

/**
 * The proxy's next-token entropy after each prompt: `generate` with one new token at temperature 1 (the
 * unscaled distribution), `topLogprobs` alternatives, in batches of `batchSize`. The sampled token is
 * irrelevant; the seed keeps requests reproducible. `onShort` hears of prompts with fewer alternatives
 * than asked (their entropy is computed from what came back, which is then not the top k).
 *
 * @throws InvalidArgumentError when the backend returns no top logprobs (it cannot give the distribution).
 */
export async function proxyEntropies(
  backend: InferenceBackendV1,
  prompts: readonly string[],
  settings: Pick<NextTokenSettings, 'entropy' | 'topLogprobs' | 'batchSize'> & { seed: number },
  signal?: AbortSignal,
  /** Called with the prompt's index when the proxy returned fewer than `topLogprobs` alternatives. */
  onShort?: (index: number, returned: number) => void,
): Promise<number[]> {
  const entropies: number[] = [];
  for (let start = 0; start < prompts.length; start += settings.batchSize) {
    const batch = prompts.slice(start, start + settings.batchSize);
    const result = await backend.generate(
      {
        prompts: [...batch],
        maxTokens: 1,
        temperature: 1,
        seed: settings.seed,
        logprobs: true,
        topLogprobs: settings.topLogprobs,
      },
      signal ? { signal } : {},
    );
    for (const [index] of batch.entries()) {
      const alternatives: { logprob: number }[] | undefined =
        result.results[index]?.completions[0]?.topLogprobs?.[0];
      if (!alternatives || alternatives.length === 0) {
        throw new InvalidArgumentError({
          argument: 'proxy',
          message: `the proxy ${backend.provider}:${backend.modelId} returned no top logprobs for the next token, so its entropy cannot be computed; use a backend that returns them (openai: on vLLM, SGLang or rlpt serve model)${result.warnings.length > 0 ? ` — it warned: ${result.warnings.map((warning) => warning.message).join('; ')}` : ''}.`,
        });
      }
      // Fewer than asked: a server keying them by token text merged tokens that decode alike.
      if (alternatives.length < settings.topLogprobs) onShort?.(start + index, alternatives.length);
      // vLLM-style servers add the sampled token when it is not among the top k: keep the k most likely.
      const top = alternatives
        .map((alternative) => alternative.logprob)
        .sort((a, b) => b - a)
        .slice(0, settings.topLogprobs);
      entropies.push(entropyFromTopLogprobs(top, settings.entropy));
    }
  }
  return entropies;
}
