/**
 * Per-sequence logits processing and sampling for the serve engine, in vLLM's order: `min_tokens`
 * (end-of-sequence and stop ids masked), repetition / frequency / presence penalties, temperature, then
 * top-k, top-p and min-p. Logprobs — of the sampled token and of the top-N alternatives — are the
 * log-softmax of these processed logits (vLLM's `processed_logprobs`): the distribution the token was
 * actually drawn from, so filtered-out tokens have −∞ (sent as −9999.0). Greedy requests report the
 * distribution at temperature 1 after penalties.
 */

export interface SequenceSampling {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = off. */
  topK: number;
  minP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** 1 = off. */
  repetitionPenalty: number;
  /** End-of-sequence and stop ids are masked until this many tokens were generated. */
  minTokens: number;
}

export interface TokenChoice {
  tokenId: number;
  logprob: number;
}

export interface Picked extends TokenChoice {
  /** The `topN` most likely tokens under the processed distribution, most likely first. */
  top: TokenChoice[];
}

/** What a sequence has seen so far, for penalties. */
export interface SequenceHistory {
  promptTokens: Set<number>;
  outputCounts: Map<number, number>;
  generated: number;
}

export class LogitsProcessor {
  readonly #scratch: Float32Array;
  readonly #order: Uint32Array;

  constructor(readonly vocabSize: number) {
    this.#scratch = new Float32Array(vocabSize);
    this.#order = new Uint32Array(vocabSize);
  }

  /**
   * Processes one row of logits and draws a token. `masked` ids (end-of-sequence and stop ids under
   * `min_tokens`) get −∞. `random` is a uniform [0, 1) source (unused when greedy).
   */
  pick(
    logits: Float32Array,
    sampling: SequenceSampling,
    history: SequenceHistory,
    masked: readonly number[],
    random: () => number,
    topN: number,
  ): Picked {
    const V = this.vocabSize;
    const values = this.#scratch;
    values.set(logits.subarray(0, V));
    if (history.generated < sampling.minTokens)
      for (const id of masked) if (id < V) values[id] = Number.NEGATIVE_INFINITY;
    if (sampling.repetitionPenalty !== 1) {
      const penalty = sampling.repetitionPenalty;
      const seen = new Set(history.promptTokens);
      for (const id of history.outputCounts.keys()) seen.add(id);
      for (const id of seen) {
        if (id >= V) continue;
        const value = values[id] as number;
        values[id] = value > 0 ? value / penalty : value * penalty;
      }
    }
    if (sampling.frequencyPenalty !== 0 || sampling.presencePenalty !== 0) {
      for (const [id, count] of history.outputCounts) {
        if (id >= V) continue;
        values[id] = (values[id] as number) - sampling.frequencyPenalty * count - sampling.presencePenalty;
      }
    }
    const temperature = sampling.temperature > 0 ? sampling.temperature : 1;
    if (temperature !== 1) for (let i = 0; i < V; i++) values[i] = (values[i] as number) / temperature;
    if (sampling.temperature > 0) this.#filter(sampling);
    let max = Number.NEGATIVE_INFINITY;
    let argmax = 0;
    for (let i = 0; i < V; i++) {
      const value = values[i] as number;
      if (value > max) {
        max = value;
        argmax = i;
      }
    }
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp((values[i] as number) - max);
    const logSum = max + Math.log(sum);
    let tokenId = argmax;
    if (sampling.temperature > 0) {
      let target = random() * sum;
      tokenId = -1;
      let last = argmax;
      for (let i = 0; i < V; i++) {
        const value = values[i] as number;
        if (value === Number.NEGATIVE_INFINITY) continue;
        last = i;
        target -= Math.exp(value - max);
        if (target < 0) {
          tokenId = i;
          break;
        }
      }
      if (tokenId < 0) tokenId = last;
    }
    return { tokenId, logprob: (values[tokenId] as number) - logSum, top: this.#top(topN, logSum) };
  }

  /** The N largest entries of the processed row, as logprobs. */
  #top(count: number, logSum: number): TokenChoice[] {
    if (count <= 0) return [];
    const values = this.#scratch;
    const best: TokenChoice[] = [];
    for (let i = 0; i < this.vocabSize; i++) {
      const value = values[i] as number;
      if (best.length === count && value <= (best[count - 1] as TokenChoice).logprob) continue;
      let at = best.length;
      while (at > 0 && (best[at - 1] as TokenChoice).logprob < value) at--;
      best.splice(at, 0, { tokenId: i, logprob: value });
      if (best.length > count) best.pop();
    }
    for (const entry of best) entry.logprob -= logSum;
    return best;
  }

  /** top-k, top-p, min-p on the temperature-scaled scratch row: dropped tokens become −∞. */
  #filter(sampling: SequenceSampling): void {
    const V = this.vocabSize;
    const values = this.#scratch;
    if (sampling.topK > 0 && sampling.topK < V) {
      // The k-th largest value is the threshold (ties at it are kept, as in vLLM).
      const sorted = Float32Array.from(values).sort();
      const threshold = sorted[V - sampling.topK] as number;
      for (let i = 0; i < V; i++) if ((values[i] as number) < threshold) values[i] = Number.NEGATIVE_INFINITY;
    }
    if (sampling.topP < 1 || sampling.minP > 0) {
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < V; i++) max = Math.max(max, values[i] as number);
      if (sampling.minP > 0) {
        const floor = max + Math.log(sampling.minP);
        for (let i = 0; i < V; i++) if ((values[i] as number) < floor) values[i] = Number.NEGATIVE_INFINITY;
      }
      if (sampling.topP < 1) {
        const order = this.#order;
        let live = 0;
        for (let i = 0; i < V; i++) if ((values[i] as number) > Number.NEGATIVE_INFINITY) order[live++] = i;
        const candidates = order
          .subarray(0, live)
          .sort((a, b) => (values[b] as number) - (values[a] as number));
        let total = 0;
        for (const id of candidates) total += Math.exp((values[id] as number) - max);
        let cumulative = 0;
        let cut = candidates.length;
        for (let rank = 0; rank < candidates.length; rank++) {
          cumulative += Math.exp((values[candidates[rank] as number] as number) - max) / total;
          // Keep the smallest prefix whose mass reaches top_p (always at least one token).
          if (cumulative >= sampling.topP) {
            cut = rank + 1;
            break;
          }
        }
        for (let rank = cut; rank < candidates.length; rank++)
          values[candidates[rank] as number] = Number.NEGATIVE_INFINITY;
      }
    }
  }
}

/** log-softmax of one logits row (at `temperature`, default 1): the logprob of `target` and the top-N (prompt logprobs). */
export function rawLogprobs(
  logits: Float32Array,
  target: number,
  topN: number,
  temperature = 1,
): { logprob: number; rank: number; top: TokenChoice[] } {
  if (temperature !== 1) logits = logits.map((value) => value / temperature);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  const logSum = max + Math.log(sum);
  const targetValue = logits[target] as number;
  let rank = 1;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > targetValue) rank++;
  const top: TokenChoice[] = [];
  if (topN > 0) {
    for (let i = 0; i < logits.length; i++) {
      const value = logits[i] as number;
      if (top.length === topN && value <= (top[topN - 1] as TokenChoice).logprob) continue;
      let at = top.length;
      while (at > 0 && (top[at - 1] as TokenChoice).logprob < value) at--;
      top.splice(at, 0, { tokenId: i, logprob: value });
      if (top.length > topN) top.pop();
    }
    for (const entry of top) entry.logprob -= logSum;
  }
  return { logprob: targetValue - logSum, rank, top };
}
