import type * as Ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DecoderConfig, parseDecoderConfig } from './config.js';
import { decoderParameterSpecs, type ParameterSpec, type WeightMap } from './decoder.js';
import { serializeModel } from './ir/serialize.js';
import type { Graph } from './ir/types.js';
import { SeededRandom } from './prng.js';
import { randomWeights } from './random.js';
import { referenceForward } from './reference.js';
import { loadOrt, type OrtModule } from './testing/ort.js';
import {
  buildAdamWGraph,
  buildGradientGraph,
  buildLogprobsGraph,
  buildTrainStepGraph,
  decaysByDefault,
  trainingNames,
} from './training.js';

let ort: OrtModule;
beforeAll(async () => {
  ort = await loadOrt();
});

const variants: { label: string; json: Record<string, unknown> }[] = [
  {
    label: 'qwen3 (q/k norm, GQA 4/2, tied)',
    json: { model_type: 'qwen3', num_key_value_heads: 2, tie_word_embeddings: true },
  },
  {
    label: 'llama (MHA, untied)',
    json: { model_type: 'llama', num_key_value_heads: 4, tie_word_embeddings: false },
  },
  {
    label: 'qwen2 (q/k/v biases, MQA 4/1)',
    json: { model_type: 'qwen2', num_key_value_heads: 1, tie_word_embeddings: false },
  },
];

function tinyConfig(json: Record<string, unknown>): DecoderConfig {
  return parseDecoderConfig({
    vocab_size: 23,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    head_dim: 4,
    rms_norm_eps: 1e-6,
    ...json,
  });
}

/** Random weights with non-trivial norms and biases (1 and 0 would hide a missing rule). */
function tinyWeights(config: DecoderConfig, seed: number): WeightMap {
  const weights = randomWeights(config, { seed, std: 0.3 });
  const random = new SeededRandom(seed + 1);
  for (const [name, tensor] of weights) {
    const data = tensor.data as Float32Array;
    if (name.endsWith('norm.weight'))
      for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * random.nextNormal();
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.3 * random.nextNormal();
  }
  return weights;
}

/** Sequences of different lengths: token ids, and one coefficient per predicted token (some zero). */
interface Example {
  tokens: number[];
  coefficients: number[];
}

function examples(config: DecoderConfig, seed: number): Example[] {
  const random = new SeededRandom(seed);
  return [7, 4, 9].map((length) => {
    const tokens = Array.from({ length }, () => Math.floor(random.nextFloat() * config.vocabSize));
    const coefficients = Array.from({ length: length - 1 }, (_, t) =>
      t === 1 ? 0 : Math.round((random.nextFloat() * 2 - 0.5) * 100) / 100,
    );
    return { tokens, coefficients };
  });
}

/** Right-padded training feeds: position t predicts token t + 1. */
function batchFeeds(batch: Example[], padTo?: number): Record<string, Ort.Tensor> {
  const sequence = padTo ?? Math.max(...batch.map((example) => example.tokens.length - 1));
  const size = batch.length * sequence;
  const ids = new BigInt64Array(size);
  const targets = new BigInt64Array(size);
  const positions = new BigInt64Array(size);
  const mask = new BigInt64Array(size);
  const coefficients = new Float32Array(size);
  batch.forEach((example, row) => {
    for (let t = 0; t < sequence; t++) {
      const index = row * sequence + t;
      positions[index] = BigInt(t);
      if (t >= example.tokens.length - 1) continue;
      ids[index] = BigInt(example.tokens[t] as number);
      targets[index] = BigInt(example.tokens[t + 1] as number);
      mask[index] = 1n;
      coefficients[index] = example.coefficients[t] as number;
    }
  });
  const dims = [batch.length, sequence];
  return {
    [trainingNames.inputIds]: new ort.Tensor('int64', ids, dims),
    [trainingNames.targetIds]: new ort.Tensor('int64', targets, dims),
    [trainingNames.positionIds]: new ort.Tensor('int64', positions, dims),
    [trainingNames.attentionMask]: new ort.Tensor('int64', mask, dims),
    [trainingNames.coefficients]: new ort.Tensor('float32', coefficients, dims),
  };
}

function parameterFeeds(weights: WeightMap, specs: ParameterSpec[]): Record<string, Ort.Tensor> {
  return Object.fromEntries(
    specs.map((spec) => [
      spec.name,
      new ort.Tensor('float32', weights.get(spec.name)?.data as Float32Array, spec.shape),
    ]),
  );
}

async function run(graph: Graph, feeds: Record<string, Ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(serializeModel(graph), {
    logSeverityLevel: 3,
    intraOpNumThreads: 1,
  });
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([name, tensor]) => [name, tensor.data as Float32Array]));
}

/** The objective Σ c_t·log softmax(logits_t)[token_{t+1}] from the float64 plain-JS reference forward. */
function referenceObjective(config: DecoderConfig, weights: WeightMap, batch: Example[]): number {
  let total = 0;
  for (const example of batch) {
    const inputs = example.tokens.slice(0, -1);
    const logits = referenceForward(config, weights, inputs);
    const vocab = config.vocabSize;
    for (let t = 0; t < inputs.length; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      let max = Number.NEGATIVE_INFINITY;
      for (const value of row) max = Math.max(max, value);
      let sum = 0;
      for (const value of row) sum += Math.exp(value - max);
      const logprob = (row[example.tokens[t + 1] as number] as number) - max - Math.log(sum);
      total += (example.coefficients[t] as number) * logprob;
    }
  }
  return total;
}

function toFloat64(weights: WeightMap): WeightMap {
  return new Map(
    [...weights].map(([name, tensor]) => [
      name,
      { dtype: 'float64', dims: tensor.dims, data: Float64Array.from(tensor.data as Float32Array) },
    ]),
  );
}

function norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] as number) ** 2;
  return Math.sqrt(sum);
}

describe.each(variants)('training graphs: $label', ({ json }) => {
  const config = tinyConfig(json);
  const specs = decoderParameterSpecs(config);
  const weights = tinyWeights(config, 11);
  const batch = examples(config, 5);

  it('gradients of −Σ c·logπ match float64 finite differences of the independent JS reference forward', async () => {
    const { graph } = buildGradientGraph(config);
    const out = await run(graph, { ...batchFeeds(batch), ...parameterFeeds(weights, specs) });
    const reference64 = toFloat64(weights);
    const objective = referenceObjective(config, reference64, batch);
    expect(Math.abs((out.objective?.[0] as number) - objective)).toBeLessThan(
      1e-5 * Math.max(1, Math.abs(objective)),
    );

    // Directional derivative per tensor along a random direction u: ⟨∇O, u⟩ by central differences in
    // float64 (h = 1e-4: truncation ~h²·‖∇³O‖ ≈ 1e-8, rounding ~1e-16/h ≈ 1e-12) vs −⟨grad(−O), u⟩ from ORT
    // float32, whose rounding (weights with std 0.3, tied embeddings) leaves ~1e-4 relative error.
    const random = new SeededRandom(99);
    const h = 1e-4;
    for (const spec of specs) {
      const grad = out[trainingNames.grad(spec.name)] as Float32Array;
      const base = reference64.get(spec.name)?.data as Float64Array;
      const original = Float64Array.from(base);
      const direction = Float64Array.from(base, () => random.nextNormal());
      const at = (scale: number) => {
        for (let i = 0; i < base.length; i++)
          base[i] = (original[i] as number) + scale * (direction[i] as number);
        return referenceObjective(config, reference64, batch);
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      base.set(original);
      let analytic = 0;
      for (let i = 0; i < grad.length; i++) analytic -= (grad[i] as number) * (direction[i] as number);
      // |⟨g, u⟩| ~ ‖g‖ for u ~ N(0, I): measured errors are ≤ 1.5e-4·‖g‖, a 1% error in one rule gives > 1e-2.
      const scale = norm(grad) + 1e-9;
      expect(Math.abs(numeric - analytic) / scale, `⟨∇O, u⟩ for ${spec.name}`).toBeLessThan(1e-3);
      expect(norm(grad), `gradient of ${spec.name} is not all zero`).toBeGreaterThan(0);
    }
  });

  it('logprobs equal the reference log-softmax at every unpadded position', async () => {
    const { graph } = buildLogprobsGraph(config);
    const out = await run(graph, { ...batchFeeds(batch), ...parameterFeeds(weights, specs) });
    const logprobs = out.logprobs as Float32Array;
    const sequence = Math.max(...batch.map((example) => example.tokens.length - 1));
    for (const [row, example] of batch.entries()) {
      const inputs = example.tokens.slice(0, -1);
      const logits = referenceForward(config, toFloat64(weights), inputs);
      for (let t = 0; t < inputs.length; t++) {
        const row64 = logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize);
        const max = Math.max(...row64);
        const logSum = Math.log(row64.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
        const expected = (row64[example.tokens[t + 1] as number] as number) - logSum;
        expect(Math.abs((logprobs[row * sequence + t] as number) - expected)).toBeLessThan(1e-5);
      }
    }
  });
});

describe('training graph properties', () => {
  const config = tinyConfig(variants[0]?.json ?? {});
  const specs = decoderParameterSpecs(config);
  const weights = tinyWeights(config, 3);
  const batch = examples(config, 8);

  it('zero coefficients give exactly zero gradients; padding and zero-weight tokens change nothing', async () => {
    const { graph } = buildGradientGraph(config);
    const zero = batch.map((example) => ({ ...example, coefficients: example.coefficients.map(() => 0) }));
    const out = await run(graph, { ...batchFeeds(zero), ...parameterFeeds(weights, specs) });
    for (const spec of specs) expect(norm(out[trainingNames.grad(spec.name)] as Float32Array)).toBe(0);

    // The same batch padded to 12 positions gives the same gradients (up to float32 summation order).
    const tight = await run(graph, { ...batchFeeds(batch), ...parameterFeeds(weights, specs) });
    const padded = await run(graph, { ...batchFeeds(batch, 12), ...parameterFeeds(weights, specs) });
    for (const spec of specs) {
      const a = tight[trainingNames.grad(spec.name)] as Float32Array;
      const b = padded[trainingNames.grad(spec.name)] as Float32Array;
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
      expect(diff, spec.name).toBeLessThan(1e-5 * (norm(a) + 1e-6));
    }
  });

  it('static shape buckets build and agree with dynamic dims', async () => {
    const feeds = { ...batchFeeds(batch), ...parameterFeeds(weights, specs) };
    const sequence = Math.max(...batch.map((example) => example.tokens.length - 1));
    const dynamic = await run(buildGradientGraph(config).graph, feeds);
    const fixed = await run(buildGradientGraph(config, { batch: batch.length, sequence }).graph, feeds);
    expect(Math.abs((dynamic.objective?.[0] as number) - (fixed.objective?.[0] as number))).toBeLessThan(
      1e-5,
    );
    for (const spec of specs) {
      const a = dynamic[trainingNames.grad(spec.name)] as Float32Array;
      const b = fixed[trainingNames.grad(spec.name)] as Float32Array;
      for (let i = 0; i < a.length; i += 7)
        expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThan(1e-5);
    }
  });

  it('the fused train step equals the gradient graph followed by the AdamW graph', async () => {
    const feeds = { ...batchFeeds(batch), ...parameterFeeds(weights, specs) };
    const moments: Record<string, Ort.Tensor> = {};
    const random = new SeededRandom(4);
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      moments[trainingNames.adamM(spec.name)] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: size }, () => random.nextNormal() * 1e-2),
        spec.shape,
      );
      moments[trainingNames.adamV(spec.name)] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: size }, () => random.nextFloat() * 1e-3),
        spec.shape,
      );
    }
    const scalars = adamScalars({ learningRate: 1e-2, step: 3, maxGradNorm: 0.5 });
    const fused = await run(buildTrainStepGraph(config).graph, { ...feeds, ...moments, ...scalars });
    const grads = await run(buildGradientGraph(config).graph, feeds);
    const gradFeeds = Object.fromEntries(
      specs.map((spec) => [
        trainingNames.grad(spec.name),
        new ort.Tensor('float32', grads[trainingNames.grad(spec.name)] as Float32Array, spec.shape),
      ]),
    );
    const split = await run(buildAdamWGraph(specs).graph, {
      ...parameterFeeds(weights, specs),
      ...gradFeeds,
      ...moments,
      ...scalars,
    });
    expect(fused.grad_norm?.[0]).toBeCloseTo(split.grad_norm?.[0] as number, 5);
    expect(fused.grad_norm?.[0] as number).toBeGreaterThan(0.5); // so clipping was engaged
    for (const name of Object.keys(split)) {
      const a = fused[name] as Float32Array;
      const b = split[name] as Float32Array;
      for (let i = 0; i < a.length; i++)
        expect(Math.abs((a[i] as number) - (b[i] as number)), name).toBeLessThan(1e-5);
    }
  });
});

function adamScalars(options: {
  learningRate: number;
  step: number;
  maxGradNorm: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}): Record<string, Ort.Tensor> {
  const scalar = (value: number) => new ort.Tensor('float32', Float32Array.of(value), []);
  return {
    [trainingNames.learningRate]: scalar(options.learningRate),
    [trainingNames.beta1]: scalar(options.beta1 ?? 0.9),
    [trainingNames.beta2]: scalar(options.beta2 ?? 0.95),
    [trainingNames.epsilon]: scalar(options.epsilon ?? 1e-8),
    [trainingNames.weightDecay]: scalar(options.weightDecay ?? 0.1),
    [trainingNames.maxGradNorm]: scalar(options.maxGradNorm),
    [trainingNames.step]: scalar(options.step),
  };
}

/** PyTorch's AdamW (torch/optim/adamw.py, single-tensor path) plus clip_grad_norm_, in float64. */
function referenceAdamW(
  state: { parameters: Float64Array[]; m: Float64Array[]; v: Float64Array[]; decay: boolean[] },
  grads: Float64Array[],
  options: {
    learningRate: number;
    step: number;
    maxGradNorm: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    weightDecay: number;
  },
): number {
  const total = Math.sqrt(grads.reduce((sum, grad) => sum + grad.reduce((s, g) => s + g * g, 0), 0));
  const clip = Math.min(1, options.maxGradNorm / (total + 1e-6));
  for (const [k, parameter] of state.parameters.entries()) {
    const m = state.m[k] as Float64Array;
    const v = state.v[k] as Float64Array;
    const grad = grads[k] as Float64Array;
    const correction1 = 1 - options.beta1 ** options.step;
    const correction2 = 1 - options.beta2 ** options.step;
    for (let i = 0; i < parameter.length; i++) {
      const g = (grad[i] as number) * clip;
      if (state.decay[k])
        parameter[i] = (parameter[i] as number) * (1 - options.learningRate * options.weightDecay);
      m[i] = options.beta1 * (m[i] as number) + (1 - options.beta1) * g;
      v[i] = options.beta2 * (v[i] as number) + (1 - options.beta2) * g * g;
      const denominator = Math.sqrt(v[i] as number) / Math.sqrt(correction2) + options.epsilon;
      parameter[i] =
        (parameter[i] as number) - (options.learningRate / correction1) * ((m[i] as number) / denominator);
    }
  }
  return total;
}

describe('AdamW graph', () => {
  const specs: ParameterSpec[] = [
    { name: 'matrix.weight', shape: [3, 4], init: 'normal' },
    { name: 'norm.weight', shape: [4], init: 'ones' },
  ];

  it('matches a JS float64 PyTorch-AdamW reference for several steps, with and without clipping', async () => {
    const { graph } = buildAdamWGraph(specs);
    const session = await ort.InferenceSession.create(serializeModel(graph), { logSeverityLevel: 3 });
    const random = new SeededRandom(21);
    const state = {
      parameters: specs.map((spec) =>
        Float64Array.from({ length: spec.shape.reduce((a, b) => a * b, 1) }, () => random.nextNormal()),
      ),
      m: specs.map((spec) => new Float64Array(spec.shape.reduce((a, b) => a * b, 1))),
      v: specs.map((spec) => new Float64Array(spec.shape.reduce((a, b) => a * b, 1))),
      decay: specs.map((spec) => decaysByDefault(spec.name, spec.shape)),
    };
    expect(state.decay).toEqual([true, false]);
    let current: Float32Array[] = state.parameters.map((p) => Float32Array.from(p));
    let m: Float32Array[] = state.m.map((p) => Float32Array.from(p));
    let v: Float32Array[] = state.v.map((p) => Float32Array.from(p));
    const options = { learningRate: 0.05, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };
    // Steps 1–2 are clipped (max norm 0.5 below the gradient norm), steps 3–4 are not (max norm 100).
    for (const [index, maxGradNorm] of [0.5, 0.5, 100, 100].entries()) {
      const step = index + 1;
      const grads = state.parameters.map((p) => Float64Array.from(p, () => random.nextNormal()));
      // Round the gradients to float32 first so both sides see the same inputs.
      const grads32 = grads.map((g) => Float32Array.from(g));
      const expectedNorm = referenceAdamW(
        state,
        grads32.map((g) => Float64Array.from(g)),
        { ...options, step, maxGradNorm },
      );
      const feeds: Record<string, Ort.Tensor> = { ...adamScalars({ ...options, step, maxGradNorm }) };
      specs.forEach((spec, k) => {
        feeds[spec.name] = new ort.Tensor('float32', current[k] as Float32Array, spec.shape);
        feeds[trainingNames.grad(spec.name)] = new ort.Tensor(
          'float32',
          grads32[k] as Float32Array,
          spec.shape,
        );
        feeds[trainingNames.adamM(spec.name)] = new ort.Tensor('float32', m[k] as Float32Array, spec.shape);
        feeds[trainingNames.adamV(spec.name)] = new ort.Tensor('float32', v[k] as Float32Array, spec.shape);
      });
      const out = await session.run(feeds);
      const gradNorm = (out.grad_norm as Ort.Tensor).data[0] as number;
      expect(Math.abs(gradNorm - expectedNorm) / expectedNorm).toBeLessThan(1e-6);
      if (maxGradNorm < 1) expect(expectedNorm).toBeGreaterThan(maxGradNorm);
      current = specs.map((spec) => (out[trainingNames.next(spec.name)] as Ort.Tensor).data as Float32Array);
      m = specs.map(
        (spec) =>
          (out[trainingNames.next(trainingNames.adamM(spec.name))] as Ort.Tensor).data as Float32Array,
      );
      v = specs.map(
        (spec) =>
          (out[trainingNames.next(trainingNames.adamV(spec.name))] as Ort.Tensor).data as Float32Array,
      );
      specs.forEach((_, k) => {
        const expected = state.parameters[k] as Float64Array;
        const actual = current[k] as Float32Array;
        for (let i = 0; i < expected.length; i++) {
          expect(Math.abs((actual[i] as number) - (expected[i] as number)), `step ${step}`).toBeLessThan(
            1e-5,
          );
        }
      });
    }
    await session.release();
  });

  it('clips to exactly max_grad_norm: after one step ‖m‖ = (1 − β1)·max_grad_norm', async () => {
    const { graph } = buildAdamWGraph(specs);
    const random = new SeededRandom(5);
    const feeds: Record<string, Ort.Tensor> = {
      ...adamScalars({ learningRate: 0.01, step: 1, maxGradNorm: 0.25 }),
    };
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      feeds[spec.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: size }, () => random.nextNormal()),
        spec.shape,
      );
      feeds[trainingNames.grad(spec.name)] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: size }, () => random.nextNormal()),
        spec.shape,
      );
      feeds[trainingNames.adamM(spec.name)] = new ort.Tensor('float32', new Float32Array(size), spec.shape);
      feeds[trainingNames.adamV(spec.name)] = new ort.Tensor('float32', new Float32Array(size), spec.shape);
    }
    const out = await run(graph, feeds);
    const moment = specs.flatMap((spec) =>
      Array.from(out[trainingNames.next(trainingNames.adamM(spec.name))] as Float32Array),
    );
    expect(out.grad_norm?.[0] as number).toBeGreaterThan(1);
    expect(norm(moment)).toBeCloseTo(0.1 * 0.25, 6);
  });
});
