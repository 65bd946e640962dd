import type { DecoderConfig } from './config.js';
import type { WeightMap } from './decoder.js';

/**
 * A plain-loop float64 forward of the decoder for one unpadded sequence, written straight from the
 * Hugging Face modeling code (LlamaModel / Qwen2Model / Qwen3Model). For tests and gradient checks; slow.
 *
 * @returns logits, `[sequence, vocab]` row-major
 */
export function referenceForward(
  config: DecoderConfig,
  weights: WeightMap,
  inputIds: readonly number[],
  positionIds: readonly number[] = inputIds.map((_, index) => index),
): Float64Array {
  const get = (name: string): Float32Array => {
    const tensor = weights.get(name);
    if (!tensor) throw new Error(`referenceForward: missing weight ${name}`);
    return tensor.data as Float32Array;
  };
  const {
    hiddenSize: H,
    headDim: D,
    numAttentionHeads: heads,
    numKeyValueHeads: kvHeads,
    vocabSize: V,
  } = config;
  const S = inputIds.length;
  const groups = heads / kvHeads;

  // y[s, o] = Σ_i x[s, i] · W[o, i] (+ b[o])
  const linear = (
    x: Float64Array,
    name: string,
    out: number,
    inFeatures: number,
    bias: boolean,
  ): Float64Array => {
    const w = get(`${name}.weight`);
    const b = bias ? get(`${name}.bias`) : undefined;
    const y = new Float64Array(S * out);
    for (let s = 0; s < S; s++) {
      for (let o = 0; o < out; o++) {
        let sum = b ? (b[o] as number) : 0;
        for (let i = 0; i < inFeatures; i++)
          sum += (x[s * inFeatures + i] as number) * (w[o * inFeatures + i] as number);
        y[s * out + o] = sum;
      }
    }
    return y;
  };
  // RMSNorm over groups of `width` values.
  const rmsNorm = (x: Float64Array, weight: Float32Array, width: number): Float64Array => {
    const y = new Float64Array(x.length);
    for (let start = 0; start < x.length; start += width) {
      let sumSquares = 0;
      for (let i = 0; i < width; i++) sumSquares += (x[start + i] as number) ** 2;
      const inverse = 1 / Math.sqrt(sumSquares / width + config.rmsNormEps);
      for (let i = 0; i < width; i++)
        y[start + i] = (x[start + i] as number) * inverse * (weight[i] as number);
    }
    return y;
  };
  // Rotary embedding on [S, count, D] in place (non-interleaved halves).
  const rope = (x: Float64Array, count: number) => {
    const half = D / 2;
    for (let s = 0; s < S; s++) {
      const position = positionIds[s] as number;
      for (let h = 0; h < count; h++) {
        const base = (s * count + h) * D;
        for (let i = 0; i < half; i++) {
          const angle = position / config.ropeTheta ** ((2 * i) / D);
          const cos = Math.cos(angle);
          const sin = Math.sin(angle);
          const x1 = x[base + i] as number;
          const x2 = x[base + half + i] as number;
          x[base + i] = x1 * cos - x2 * sin;
          x[base + half + i] = x2 * cos + x1 * sin;
        }
      }
    }
  };

  const embed = get('model.embed_tokens.weight');
  let x = new Float64Array(S * H);
  for (let s = 0; s < S; s++)
    for (let i = 0; i < H; i++) x[s * H + i] = embed[(inputIds[s] as number) * H + i] as number;

  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    const h = rmsNorm(x, get(`${prefix}.input_layernorm.weight`), H);
    let q = linear(h, `${prefix}.self_attn.q_proj`, heads * D, H, config.attentionBias);
    let k = linear(h, `${prefix}.self_attn.k_proj`, kvHeads * D, H, config.attentionBias);
    const v = linear(h, `${prefix}.self_attn.v_proj`, kvHeads * D, H, config.attentionBias);
    if (config.qkNorm) {
      q = rmsNorm(q, get(`${prefix}.self_attn.q_norm.weight`), D);
      k = rmsNorm(k, get(`${prefix}.self_attn.k_norm.weight`), D);
    }
    rope(q, heads);
    rope(k, kvHeads);
    const context = new Float64Array(S * heads * D);
    const scores = new Float64Array(S);
    for (let head = 0; head < heads; head++) {
      const kvHead = Math.floor(head / groups);
      for (let i = 0; i < S; i++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++)
            dot += (q[(i * heads + head) * D + d] as number) * (k[(j * kvHeads + kvHead) * D + d] as number);
          scores[j] = dot / Math.sqrt(D);
          max = Math.max(max, scores[j] as number);
        }
        let total = 0;
        for (let j = 0; j <= i; j++) {
          scores[j] = Math.exp((scores[j] as number) - max);
          total += scores[j] as number;
        }
        for (let d = 0; d < D; d++) {
          let sum = 0;
          for (let j = 0; j <= i; j++)
            sum += ((scores[j] as number) / total) * (v[(j * kvHeads + kvHead) * D + d] as number);
          context[(i * heads + head) * D + d] = sum;
        }
      }
    }
    const attention = linear(context, `${prefix}.self_attn.o_proj`, H, heads * D, config.outputBias);
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + (attention[i] as number);
    const m = rmsNorm(x, get(`${prefix}.post_attention_layernorm.weight`), H);
    const I = config.intermediateSize;
    const gate = linear(m, `${prefix}.mlp.gate_proj`, I, H, config.mlpBias);
    const up = linear(m, `${prefix}.mlp.up_proj`, I, H, config.mlpBias);
    const activated = new Float64Array(S * I);
    for (let i = 0; i < activated.length; i++) {
      const g = gate[i] as number;
      activated[i] = (g / (1 + Math.exp(-g))) * (up[i] as number);
    }
    const down = linear(activated, `${prefix}.mlp.down_proj`, H, I, config.mlpBias);
    const next = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = (x[i] as number) + (down[i] as number);
    x = next;
  }
  const final = rmsNorm(x, get('model.norm.weight'), H);
  return linear(final, config.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head', V, H, false);
}
