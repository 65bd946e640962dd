import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DecoderConfig, parseDecoderConfig } from './config.js';
import {
  buildDecoderForward,
  buildInferenceGraph,
  decoderParameterSpecs,
  type WeightMap,
} from './decoder.js';
import { GraphBuilder } from './ir/builder.js';
import { serializeModel } from './ir/serialize.js';
import { SeededRandom } from './prng.js';
import { randomWeights } from './random.js';
import { referenceForward } from './reference.js';
import { forward, loadOrt, maxAbs, maxAbsDiff, type OrtModule, openSession } from './testing/ort.js';
import { createTinyModel, type TinyModelOptions } from './tiny.js';

let ort: OrtModule;
let root: string;
beforeAll(async () => {
  ort = await loadOrt();
  root = await mkdtemp(join(tmpdir(), 'rlpt-model-decoder-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Random biases (random init sets them to 0, which would hide a missing bias). */
function withRandomBiases(weights: WeightMap, seed: number): WeightMap {
  const random = new SeededRandom(seed);
  for (const [name, tensor] of weights) {
    if (!name.endsWith('.bias')) continue;
    const data = tensor.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] = random.nextNormal() * 0.3;
  }
  return weights;
}

const variants: { label: string; options: Omit<TinyModelOptions, 'dir'> }[] = [
  { label: 'qwen3, GQA 4/2, tied', options: { architecture: 'qwen3', heads: 4, kvHeads: 2 } },
  {
    label: 'llama, MHA 4/4, untied',
    options: { architecture: 'llama', heads: 4, kvHeads: 4, tieWordEmbeddings: false },
  },
  { label: 'qwen2, GQA 4/2, q/k/v biases', options: { architecture: 'qwen2', heads: 4, kvHeads: 2 } },
  {
    label: 'qwen3, MQA 4/1, head_dim ≠ hidden/heads',
    options: {
      architecture: 'qwen3',
      hiddenSize: 48,
      heads: 4,
      kvHeads: 1,
      headDim: 16,
      intermediateSize: 80,
    },
  },
];

describe.each(variants)('decoder graph: $label', ({ label, options }) => {
  let dir: string;
  let config: DecoderConfig;
  let weights: WeightMap;
  const ids = [17, 45, 80, 3, 99, 12, 60, 71];

  beforeAll(async () => {
    dir = join(root, label.replace(/[^a-z0-9]+/gi, '-'));
    const tiny = await createTinyModel({ dir, ...options, std: 0.3, seed: 11, safetensors: false });
    config = tiny.config;
    weights = tiny.weights;
    if (config.attentionBias) {
      weights = withRandomBiases(weights, 5);
      await createTinyModel({ dir, ...options, weights, overwrite: true, safetensors: false });
    }
  });

  it('uncached ORT forward matches the float64 reference forward', async () => {
    const session = await openSession(ort, dir);
    const { logits, dims } = await forward(ort, session, config, { inputIds: [ids] });
    expect(dims).toEqual([1, ids.length, config.vocabSize]);
    const reference = referenceForward(config, weights, ids);
    const scale = Math.max(1, maxAbs(reference));
    expect(scale).toBeGreaterThan(0.5); // the check is meaningful: logits are not all ~0
    expect(maxAbsDiff(logits, reference) / scale).toBeLessThan(1e-4);
  });

  it('cached decode (prefill 3, then one token at a time) equals the uncached forward', async () => {
    const session = await openSession(ort, dir);
    const full = await forward(ort, session, config, { inputIds: [ids] });
    const V = config.vocabSize;
    let step = await forward(ort, session, config, { inputIds: [ids.slice(0, 3)] });
    let worst = maxAbsDiff(step.logits, full.logits.subarray(0, 3 * V));
    for (let t = 3; t < ids.length; t++) {
      step = await forward(ort, session, config, { inputIds: [[ids[t] as number]], past: step.past });
      worst = Math.max(worst, maxAbsDiff(step.logits, full.logits.subarray(t * V, (t + 1) * V)));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('decoder graph: batching, masks and positions', () => {
  let dir: string;
  let config: DecoderConfig;
  beforeAll(async () => {
    dir = join(root, 'batching');
    config = (await createTinyModel({ dir, std: 0.3, seed: 3, safetensors: false })).config;
  });

  it('a left-padded row gives the same logits as the same prompt alone (prefill and decode)', async () => {
    const session = await openSession(ort, dir);
    const short = [20, 21, 22];
    const long = [30, 31, 32, 33, 34, 35];
    const V = config.vocabSize;
    const alone = await forward(ort, session, config, { inputIds: [short] });
    const padded = await forward(ort, session, config, {
      inputIds: [[0, 0, 0, ...short], long],
      attentionMask: [
        [0, 0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
      ],
      positionIds: [
        [1, 1, 1, 0, 1, 2],
        [0, 1, 2, 3, 4, 5],
      ],
    });
    expect(maxAbsDiff(padded.logits.subarray(3 * V, 6 * V), alone.logits)).toBeLessThan(1e-4);
    const aloneNext = await forward(ort, session, config, { inputIds: [[50]], past: alone.past });
    const paddedNext = await forward(ort, session, config, {
      inputIds: [[50], [51]],
      past: padded.past,
      attentionMask: [
        [0, 0, 0, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1, 1],
      ],
      positionIds: [[3], [6]],
    });
    expect(maxAbsDiff(paddedNext.logits.subarray(0, V), aloneNext.logits)).toBeLessThan(1e-4);
    // The long row is unaffected by the padding of the other row.
    const longAlone = await forward(ort, session, config, { inputIds: [long] });
    expect(maxAbsDiff(padded.logits.subarray(6 * V), longAlone.logits)).toBeLessThan(1e-4);
  });

  it('RoPE is relative: shifting every position leaves logits unchanged, other positions change them', async () => {
    const session = await openSession(ort, dir);
    const ids = [40, 41, 42, 43, 44];
    const base = await forward(ort, session, config, { inputIds: [ids] });
    const shifted = await forward(ort, session, config, {
      inputIds: [ids],
      positionIds: [ids.map((_, i) => i + 37)],
      attentionMask: [ids.map(() => 1)],
    });
    expect(maxAbsDiff(base.logits, shifted.logits)).toBeLessThan(1e-4);
    const spread = await forward(ort, session, config, {
      inputIds: [ids],
      positionIds: [ids.map((_, i) => 3 * i)],
      attentionMask: [ids.map(() => 1)],
    });
    expect(maxAbsDiff(base.logits, spread.logits)).toBeGreaterThan(1e-3);
  });

  it('num_logits_to_keep = k returns the last k positions', async () => {
    const session = await openSession(ort, dir);
    const ids = [5, 6, 7, 8, 9];
    const V = config.vocabSize;
    const all = await forward(ort, session, config, { inputIds: [ids], numLogitsToKeep: 0 });
    const last2 = await forward(ort, session, config, { inputIds: [ids], numLogitsToKeep: 2 });
    expect(last2.dims).toEqual([1, 2, V]);
    expect(maxAbsDiff(last2.logits, all.logits.subarray(3 * V))).toBe(0);
  });
});

describe('decoder graph: hand-checkable and alternative builds', () => {
  it('a zero-layer model computes norm(embedding) · embeddingᵀ (hand-checked values)', async () => {
    const ort = await loadOrt();
    const config = parseDecoderConfig({
      model_type: 'llama',
      vocab_size: 3,
      hidden_size: 2,
      intermediate_size: 2,
      num_hidden_layers: 0,
      num_attention_heads: 1,
      rms_norm_eps: 1e-12,
      tie_word_embeddings: true,
    });
    const weights: WeightMap = new Map([
      [
        'model.embed_tokens.weight',
        { dtype: 'float32', dims: [3, 2], data: Float32Array.of(3, 4, 1, 0, 0, -2) },
      ],
      ['model.norm.weight', { dtype: 'float32', dims: [2], data: Float32Array.of(1, 1) }],
    ]);
    const session = await ort.InferenceSession.create(serializeModel(buildInferenceGraph(config, weights)), {
      logSeverityLevel: 3,
    });
    const { logits } = await forward(ort, session, config, { inputIds: [[0]] });
    // x = [3, 4] / rms([3, 4]) = [3, 4] / √12.5; logits = x · [3, 4], x · [1, 0], x · [0, −2]
    expect(logits[0]).toBeCloseTo(7.0710678, 5);
    expect(logits[1]).toBeCloseTo(0.8485281, 5);
    expect(logits[2]).toBeCloseTo(-2.2627417, 5);
  });

  it('standard-ONNX (primitive RMSNorm, MatMul) and ORT-fused graphs agree', async () => {
    const ort = await loadOrt();
    const config = parseDecoderConfig({
      model_type: 'qwen3',
      vocab_size: 50,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 8,
    });
    const weights = randomWeights(config, { seed: 4, std: 0.3 });
    const ids = [[1, 7, 9, 30, 2]];
    const run = async (norm: 'primitive' | 'fused', linear: 'matmul' | 'fused' = 'fused') => {
      const session = await ort.InferenceSession.create(
        serializeModel(buildInferenceGraph(config, weights, { norm, linear })),
        {
          logSeverityLevel: 3,
        },
      );
      return (await forward(ort, session, config, { inputIds: ids })).logits;
    };
    const fused = await run('fused');
    expect(maxAbsDiff(await run('primitive'), fused)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await run('primitive', 'matmul'), fused)).toBeLessThan(1e-5);
    expect(maxAbsDiff(fused, referenceForward(config, weights, ids[0] as number[]))).toBeLessThan(1e-4);
  });

  it('the training-style build (parameters as graph inputs, no cache, no mask) runs and matches', async () => {
    const ort = await loadOrt();
    const config = parseDecoderConfig({
      model_type: 'qwen2',
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
    });
    const weights = withRandomBiases(randomWeights(config, { seed: 9, std: 0.4 }), 2);
    const builder = new GraphBuilder({ name: 'train-forward' });
    const fwd = buildDecoderForward(builder, config, {
      weights: 'inputs',
      kvCache: false,
      attentionMask: false,
      dims: { batch: 2, sequence: 4 },
    });
    expect(fwd.logits.shape).toEqual([2, 4, 40]);
    builder.output(fwd.logits, 'logits');
    const graph = builder.build();
    expect(graph.parameters).toEqual(decoderParameterSpecs(config).map((spec) => spec.name));
    expect(graph.inputs.map((input) => input.name)).toEqual([
      'input_ids',
      'position_ids',
      ...graph.parameters,
    ]);
    const session = await ort.InferenceSession.create(serializeModel(graph), { logSeverityLevel: 3 });
    const rows = [
      [3, 9, 27, 1],
      [5, 5, 6, 39],
    ];
    const feeds: Record<string, InstanceType<OrtModule['Tensor']>> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [2, 4]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2, 3, 0, 1, 2, 3], BigInt), [2, 4]),
    };
    for (const [name, tensor] of weights) {
      feeds[name] = new ort.Tensor('float32', tensor.data as Float32Array, [...tensor.dims]);
    }
    const logits = (await session.run(feeds)).logits?.data as Float32Array;
    for (const [row, ids] of rows.entries()) {
      const reference = referenceForward(config, weights, ids);
      expect(maxAbsDiff(logits.subarray(row * 4 * 40, (row + 1) * 4 * 40), reference)).toBeLessThan(1e-4);
    }
  });
});
