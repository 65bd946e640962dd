import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpoObjective, groupAdvantages, presets } from '@rlpt/grpo';
import {
  createTinyModel,
  type DecoderConfig,
  referenceForward,
  SeededRandom,
  type TinyModel,
  type WeightMap,
} from '@rlpt/model';
import {
  InvalidArgumentError,
  InvalidInputError,
  ModelLoadError,
  NumericError,
  type TokenBatch,
} from '@rlpt/spec';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxLearner, type OnnxLearner } from './index.js';

let root: string;
let model: TinyModel;
const learners: OnnxLearner[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-learner-onnx-'));
  model = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    architecture: 'qwen3',
    hiddenSize: 32,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 48,
    seed: 3,
    std: 0.2,
  });
});

afterAll(async () => {
  await Promise.all(learners.map((learner) => learner.close().catch(() => {})));
  await rm(root, { recursive: true, force: true });
});

async function learnerFor(options: Parameters<typeof createOnnxLearner>[0] = {}): Promise<OnnxLearner> {
  const learner = await createOnnxLearner({ modelDir: model.dir, threads: 2, ...options });
  learners.push(learner);
  return learner;
}

/** A batch of prompts + completions of different lengths, and coefficients (some zero). */
function makeBatch(
  seed: number,
  count = 4,
  vocab = model.config.vocabSize,
): { batch: TokenBatch; coefficients: Float32Array[] } {
  const random = new SeededRandom(seed);
  const id = () => 4 + Math.floor(random.nextFloat() * (vocab - 4));
  const sequences = Array.from({ length: count }, (_, index) => ({
    promptTokenIds: Array.from({ length: 2 + ((index * 3) % 5) }, id),
    completionTokenIds: Array.from({ length: 3 + ((index * 5) % 7) }, id),
  }));
  const coefficients = sequences.map((sequence, index) =>
    Float32Array.from(sequence.completionTokenIds, (_, t) =>
      index === 2 && t === 1 ? 0 : random.nextNormal() * 0.1,
    ),
  );
  return { batch: { sequences }, coefficients };
}

/** log-softmax of the exported inference graph's logits (KV-cache graph, fused RMSNorm), per completion token. */
async function inferenceLogprobs(
  dir: string,
  batch: TokenBatch,
  config: DecoderConfig,
): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), { logSeverityLevel: 3 });
  const result: Float32Array[] = [];
  for (const sequence of batch.sequences) {
    const tokens = [...Array.from(sequence.promptTokenIds), ...Array.from(sequence.completionTokenIds)];
    const length = tokens.length;
    const int64 = (values: number[]) =>
      new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, length]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(tokens),
      attention_mask: int64(tokens.map(() => 1)),
      position_ids: int64(tokens.map((_, i) => i)),
    };
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          config.numKeyValueHeads,
          0,
          config.headDim,
        ]);
      }
    }
    if (session.inputNames.includes('num_logits_to_keep'))
      feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(0n), []);
    const logits = (await session.run(feeds)).logits?.data as Float32Array;
    const vocab = config.vocabSize;
    const start = sequence.promptTokenIds.length - 1;
    result.push(
      Float32Array.from(sequence.completionTokenIds, (token, j) => {
        const row = logits.subarray((start + j) * vocab, (start + j + 1) * vocab);
        const max = Math.max(...row);
        let sum = 0;
        for (const value of row) sum += Math.exp(value - max);
        return (row[token] as number) - max - Math.log(sum);
      }),
    );
  }
  await session.release();
  return result;
}

function maxDifference(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let max = 0;
  a.forEach((row, i) => {
    const other = b[i] as Float32Array;
    expect(other.length).toBe(row.length);
    for (let j = 0; j < row.length; j++)
      max = Math.max(max, Math.abs((row[j] as number) - (other[j] as number)));
  });
  return max;
}

function sameWeights(a: WeightMap, b: WeightMap): boolean {
  for (const [name, tensor] of a) {
    const other = b.get(name)?.data as Float32Array;
    const data = tensor.data as Float32Array;
    if (!other || other.length !== data.length) return false;
    for (let i = 0; i < data.length; i++) if (!Object.is(data[i], other[i])) return false;
  }
  return true;
}

describe('OnnxLearner: logprobs and objective', () => {
  it('logprobs() equals the log-softmax of the inference graph on the same weights (1e-4), before and after training', async () => {
    const learner = await learnerFor();
    const { batch, coefficients } = makeBatch(1);
    expect(
      maxDifference(await learner.logprobs(batch), await inferenceLogprobs(model.dir, batch, model.config)),
    ).toBeLessThan(1e-4);
    await learner.forwardBackward(batch, coefficients);
    await learner.optimStep({ learningRate: 0.05 });
    const exported = await learner.exportForInference(join(root, 'exported-logprobs'));
    const after = await learner.logprobs(batch);
    expect(maxDifference(after, await inferenceLogprobs(exported, batch, model.config))).toBeLessThan(1e-4);
    // The weights really changed (the comparison above is not trivially about the initial model).
    expect(maxDifference(after, await inferenceLogprobs(model.dir, batch, model.config))).toBeGreaterThan(
      1e-3,
    );
  });

  it('forwardBackward returns Σ c·logπ, matching the float64 reference forward', async () => {
    const learner = await learnerFor();
    const { batch, coefficients } = makeBatch(2);
    const { objective } = await learner.forwardBackward(batch, coefficients);
    let expected = 0;
    for (const [index, sequence] of batch.sequences.entries()) {
      const tokens = [...Array.from(sequence.promptTokenIds), ...Array.from(sequence.completionTokenIds)];
      const logits = referenceForward(model.config, model.weights, tokens.slice(0, -1));
      const vocab = model.config.vocabSize;
      (coefficients[index] as Float32Array).forEach((c, j) => {
        const position = sequence.promptTokenIds.length - 1 + j;
        const row = logits.subarray(position * vocab, (position + 1) * vocab);
        const max = Math.max(...row);
        const logSum = Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
        expected += c * ((row[tokens[position + 1] as number] as number) - logSum);
      });
    }
    expect(Math.abs(objective - expected)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected)));
  });

  it('gradients match float64 finite differences of the reference forward along random directions', async () => {
    const learner = await learnerFor();
    const { batch, coefficients } = makeBatch(3, 3);
    await learner.forwardBackward(batch, coefficients);
    const grads = (await learner.gradients()) as Map<string, Float32Array>;
    const weights64: WeightMap = new Map(
      [...model.weights].map(([name, t]) => [
        name,
        { dtype: 'float64', dims: t.dims, data: Float64Array.from(t.data as Float32Array) },
      ]),
    );
    const objectiveAt = () => {
      let total = 0;
      for (const [index, sequence] of batch.sequences.entries()) {
        const tokens = [...Array.from(sequence.promptTokenIds), ...Array.from(sequence.completionTokenIds)];
        const logits = referenceForward(model.config, weights64, tokens.slice(0, -1));
        const vocab = model.config.vocabSize;
        (coefficients[index] as Float32Array).forEach((c, j) => {
          const position = sequence.promptTokenIds.length - 1 + j;
          const row = logits.subarray(position * vocab, (position + 1) * vocab);
          let max = Number.NEGATIVE_INFINITY;
          for (const value of row) max = Math.max(max, value);
          let sum = 0;
          for (const value of row) sum += Math.exp(value - max);
          total += c * ((row[tokens[position + 1] as number] as number) - max - Math.log(sum));
        });
      }
      return total;
    };
    const random = new SeededRandom(17);
    for (const name of [
      'model.embed_tokens.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.1.mlp.down_proj.weight',
      'model.norm.weight',
    ]) {
      const grad = grads.get(name) as Float32Array;
      const base = weights64.get(name)?.data as Float64Array;
      const original = Float64Array.from(base);
      const direction = Float64Array.from(base, () => random.nextNormal());
      const h = 1e-4;
      base.set(original.map((value, i) => value + h * (direction[i] as number)));
      const plus = objectiveAt();
      base.set(original.map((value, i) => value - h * (direction[i] as number)));
      const minus = objectiveAt();
      base.set(original);
      const numeric = (plus - minus) / (2 * h);
      // The learner's gradients are of the loss −O.
      const analytic = -grad.reduce((sum, g, i) => sum + g * (direction[i] as number), 0);
      const gradNorm = Math.sqrt(grad.reduce((sum, g) => sum + g * g, 0));
      expect(Math.abs(numeric - analytic) / gradNorm, name).toBeLessThan(1e-3);
    }
  });
});

describe('OnnxLearner: accumulation, micro-batches, zero coefficients', () => {
  it('micro-batching and two forwardBackward calls accumulate the same gradient as one call', async () => {
    const { batch, coefficients } = makeBatch(4, 6);
    const whole = await learnerFor();
    const wholeResult = await whole.forwardBackward(batch, coefficients);
    const expected = (await whole.gradients()) as Map<string, Float32Array>;

    const tiny = await learnerFor({ microBatchTokens: 16, threadSpinning: false });
    const tinyResult = await tiny.forwardBackward(batch, coefficients);
    const split = await learnerFor();
    const first = { sequences: batch.sequences.slice(0, 2) };
    const second = { sequences: batch.sequences.slice(2) };
    const a = await split.forwardBackward(first, coefficients.slice(0, 2));
    const b = await split.forwardBackward(second, coefficients.slice(2));
    expect(tinyResult.objective).toBeCloseTo(wholeResult.objective, 5);
    expect(a.objective + b.objective).toBeCloseTo(wholeResult.objective, 5);
    for (const other of [
      (await tiny.gradients()) as Map<string, Float32Array>,
      (await split.gradients()) as Map<string, Float32Array>,
    ]) {
      for (const [name, grad] of expected) {
        const candidate = other.get(name) as Float32Array;
        let diff = 0;
        let scale = 1e-6;
        for (let i = 0; i < grad.length; i++) {
          diff = Math.max(diff, Math.abs((grad[i] as number) - (candidate[i] as number)));
          scale = Math.max(scale, Math.abs(grad[i] as number));
        }
        expect(diff / scale, name).toBeLessThan(1e-4);
      }
    }
  });

  it('all-zero coefficients give a zero gradient and a zero objective; optimStep still decays moments', async () => {
    const learner = await learnerFor();
    const { batch } = makeBatch(5);
    const zeros = batch.sequences.map((sequence) => new Float32Array(sequence.completionTokenIds.length));
    expect((await learner.forwardBackward(batch, zeros)).objective).toBe(0);
    const grads = (await learner.gradients()) as Map<string, Float32Array>;
    for (const grad of grads.values()) expect(grad.every((value) => value === 0)).toBe(true);
    expect((await learner.optimStep({ learningRate: 0.1 })).gradNorm).toBe(0);
  });
});

/** torch.optim.AdamW + clip_grad_norm_, float64, written out independently of the learner's code. */
function torchAdamW(
  weights: Map<string, Float64Array>,
  state: Map<string, { m: Float64Array; v: Float64Array }>,
  grads: Map<string, Float32Array>,
  options: {
    lr: number;
    step: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    maxNorm: number;
  },
): number {
  let squares = 0;
  for (const grad of grads.values()) for (const g of grad) squares += g * g;
  const norm = Math.sqrt(squares);
  const clip = Math.min(1, options.maxNorm / (norm + 1e-6));
  for (const [name, p] of weights) {
    const grad = grads.get(name) as Float32Array;
    let s = state.get(name);
    if (!s) {
      s = { m: new Float64Array(p.length), v: new Float64Array(p.length) };
      state.set(name, s);
    }
    const decays = name.endsWith('.weight') && !name.includes('norm');
    for (let i = 0; i < p.length; i++) {
      const g = (grad[i] as number) * clip;
      if (decays) p[i] = (p[i] as number) * (1 - options.lr * options.weightDecay);
      s.m[i] = options.beta1 * (s.m[i] as number) + (1 - options.beta1) * g;
      s.v[i] = options.beta2 * (s.v[i] as number) + (1 - options.beta2) * g * g;
      const mHat = (s.m[i] as number) / (1 - options.beta1 ** options.step);
      const vHat = (s.v[i] as number) / (1 - options.beta2 ** options.step);
      p[i] = (p[i] as number) - (options.lr * mHat) / (Math.sqrt(vHat) + options.eps);
    }
  }
  return norm;
}

describe('OnnxLearner: AdamW', () => {
  it('optimStep equals a JS reference of PyTorch AdamW for several steps; clipping engages when it should', async () => {
    const adam = { beta1: 0.8, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const maxNorm = 0.05;
    const learner = await learnerFor({ adam, maxGradNorm: maxNorm });
    const reference = new Map(
      [...(await learner.weights())].map(([name, t]) => [name, Float64Array.from(t.data as Float32Array)]),
    );
    const state = new Map<string, { m: Float64Array; v: Float64Array }>();
    let clipped = 0;
    for (let step = 1; step <= 4; step++) {
      const { batch, coefficients } = makeBatch(10 + step);
      // Step 3 uses tiny coefficients so the norm stays under the limit (clipping off).
      const scaled = step === 3 ? coefficients.map((c) => c.map((value) => value * 1e-3)) : coefficients;
      await learner.forwardBackward(batch, scaled);
      const grads = (await learner.gradients()) as Map<string, Float32Array>;
      const expectedNorm = torchAdamW(reference, state, grads, { ...adam, lr: 0.02, step, maxNorm });
      const { gradNorm } = await learner.optimStep({ learningRate: 0.02 });
      // The norm comes from the graph (float32 sum of squares): 1e-6 relative.
      expect(Math.abs((gradNorm as number) - expectedNorm) / expectedNorm).toBeLessThan(1e-6);
      if (expectedNorm > maxNorm) clipped++;
      expect(learner.step).toBe(step);
      for (const [name, tensor] of await learner.weights()) {
        const expected = reference.get(name) as Float64Array;
        const actual = tensor.data as Float32Array;
        for (let i = 0; i < actual.length; i++) {
          expect(
            Math.abs((actual[i] as number) - (expected[i] as number)),
            `${name} step ${step}`,
          ).toBeLessThan(1e-6);
        }
      }
    }
    expect(clipped).toBe(3);
  });

  it('learns: the objective on a fixed batch rises over steps', async () => {
    const learner = await learnerFor();
    const { batch } = makeBatch(6);
    const ones = batch.sequences.map((sequence) =>
      new Float32Array(sequence.completionTokenIds.length).fill(0.1),
    );
    const objectives: number[] = [];
    for (let step = 0; step < 8; step++) {
      objectives.push((await learner.forwardBackward(batch, ones)).objective);
      await learner.optimStep({ learningRate: 0.02 });
    }
    expect(objectives[7] as number).toBeGreaterThan((objectives[0] as number) + 0.5);
  });

  it('a GRPO step from @rlpt/grpo raises rewarded completions and lowers the others', async () => {
    const learner = await learnerFor();
    const random = new SeededRandom(8);
    const prompt = [5, 9, 14, 20];
    const sequences = Array.from({ length: 8 }, () => ({
      promptTokenIds: prompt,
      completionTokenIds: Array.from({ length: 5 }, () => 4 + Math.floor(random.nextFloat() * 60)),
    }));
    const batch = { sequences };
    const rewards = [1, 0, 0, 1, 0, 1, 0, 0];
    const advantages = groupAdvantages(rewards, 8, presets.paper.advantage);
    const before = await learner.logprobs(batch);
    const { coefficients } = grpoObjective({ logprobs: before, advantages }, presets.paper.objective);
    await learner.forwardBackward(batch, coefficients);
    await learner.optimStep({ learningRate: 0.01 });
    const after = await learner.logprobs(batch);
    const change = (i: number) =>
      (after[i] as Float32Array).reduce((s, v) => s + v, 0) -
      (before[i] as Float32Array).reduce((s, v) => s + v, 0);
    for (const [i, reward] of rewards.entries()) {
      if (reward === 1) expect(change(i), `sequence ${i}`).toBeGreaterThan(0);
      else expect(change(i), `sequence ${i}`).toBeLessThan(0);
    }
  });
});

describe('OnnxLearner: determinism, checkpoints, export', () => {
  it('same inputs → bitwise identical weights after N steps (1 thread: more are not reproducible under load)', async () => {
    const run = async () => {
      const learner = await learnerFor({ threads: 1 });
      for (let step = 0; step < 3; step++) {
        const { batch, coefficients } = makeBatch(20 + step, 5);
        await learner.forwardBackward(batch, coefficients);
        await learner.optimStep({ learningRate: 0.01 });
      }
      return learner.weights();
    };
    const [a, b] = [await run(), await run()];
    expect(sameWeights(a, b)).toBe(true);
  });

  it('save → load resumes exactly: the next step matches an uninterrupted learner bit for bit', async () => {
    const uninterrupted = await learnerFor();
    const interrupted = await learnerFor();
    for (const learner of [uninterrupted, interrupted]) {
      for (let step = 0; step < 2; step++) {
        const { batch, coefficients } = makeBatch(30 + step);
        await learner.forwardBackward(batch, coefficients);
        await learner.optimStep({ learningRate: 0.01 });
      }
    }
    const checkpoint = join(root, 'checkpoints', 'step-2');
    await interrupted.save(checkpoint);
    await interrupted.save(checkpoint); // overwriting an existing checkpoint works
    expect((await readdir(join(root, 'checkpoints'))).sort()).toEqual(['step-2']);
    expect((await readdir(checkpoint)).sort()).toEqual(
      expect.arrayContaining([
        'config.json',
        'learner_state.json',
        'model.safetensors',
        'optimizer.safetensors',
        'tokenizer.json',
      ]),
    );
    const resumed = await learnerFor();
    await resumed.load(checkpoint);
    expect(resumed.step).toBe(2);
    for (const learner of [uninterrupted, resumed]) {
      const { batch, coefficients } = makeBatch(40);
      await learner.forwardBackward(batch, coefficients);
      await learner.optimStep({ learningRate: 0.01 });
    }
    expect(sameWeights(await uninterrupted.weights(), await resumed.weights())).toBe(true);
    // A checkpoint is also a model folder to start from.
    const fromCheckpoint = await learnerFor({ modelDir: checkpoint });
    expect(sameWeights(await fromCheckpoint.weights(), await interrupted.weights())).toBe(true);
  });

  it('exportForInference replaces the folder atomically and leaves no temp folders', async () => {
    const learner = await learnerFor();
    const target = join(root, 'exports', 'policy');
    const first = await learner.exportForInference(target);
    const { batch, coefficients } = makeBatch(50);
    await learner.forwardBackward(batch, coefficients);
    await learner.optimStep({ learningRate: 0.05 });
    expect(await learner.exportForInference(target)).toBe(first);
    expect(await readdir(join(root, 'exports'))).toEqual(['policy']);
    expect((await readdir(target)).sort()).toEqual(
      expect.arrayContaining(['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']),
    );
    expect(
      maxDifference(await learner.logprobs(batch), await inferenceLogprobs(target, batch, model.config)),
    ).toBeLessThan(1e-4);
  });

  it('static shape buckets give the same results as dynamic dims', async () => {
    const dynamic = await learnerFor();
    const fixed = await learnerFor({ shapes: 'static' });
    const { batch, coefficients } = makeBatch(60);
    expect(maxDifference(await dynamic.logprobs(batch), await fixed.logprobs(batch))).toBeLessThan(1e-5);
    const a = await dynamic.forwardBackward(batch, coefficients);
    const b = await fixed.forwardBackward(batch, coefficients);
    expect(a.objective).toBeCloseTo(b.objective, 5);
  });
});

describe('OnnxLearner: EMA teacher (RLP)', () => {
  const decay = 0.8;
  const step = async (learner: OnnxLearner, seed: number) => {
    const { batch, coefficients } = makeBatch(seed, 5);
    await learner.forwardBackward(batch, coefficients);
    await learner.optimStep({ learningRate: 0.02 });
  };

  it('after three steps the teacher is d³φ₀ + (1−d)(d²θ₁ + dθ₂ + θ₃), computed here in float64', async () => {
    const learner = await learnerFor({ threads: 1, ema: { decay } });
    const thetas: WeightMap[] = [await learner.weights()];
    expect(sameWeights(await learner.teacherWeights(), thetas[0]!)).toBe(true); // φ₀ = θ₀
    for (let k = 1; k <= 3; k++) {
      await step(learner, 60 + k);
      thetas.push(await learner.weights());
    }
    expect(learner.teacherUpdates).toBe(3);
    const teacher = await learner.teacherWeights();
    let worst = 0;
    let moved = 0;
    for (const [name, tensor] of teacher) {
      const at = (k: number) => thetas[k]!.get(name)!.data as Float32Array;
      const data = tensor.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        const expected =
          decay ** 3 * at(0)[i]! + (1 - decay) * (decay ** 2 * at(1)[i]! + decay * at(2)[i]! + at(3)[i]!);
        worst = Math.max(worst, Math.abs(data[i]! - expected) / Math.max(1, Math.abs(expected)));
        moved = Math.max(moved, Math.abs(data[i]! - at(3)[i]!));
      }
    }
    expect(worst).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(1e-4); // the teacher lags the weights
  });

  it('is saved and resumed bit for bit: save after step 2, load into a new learner, step 3', async () => {
    const uninterrupted = await learnerFor({ threads: 1, ema: { decay } });
    const interrupted = await learnerFor({ threads: 1, ema: { decay } });
    for (const learner of [uninterrupted, interrupted])
      for (const seed of [71, 72]) await step(learner, seed);
    const checkpoint = join(root, 'checkpoints', 'ema-step-2');
    await interrupted.save(checkpoint);
    expect(await readdir(checkpoint)).toContain('teacher.safetensors');
    const resumed = await learnerFor({ threads: 1, ema: { decay } });
    await resumed.load(checkpoint);
    expect(resumed.teacherUpdates).toBe(2);
    for (const learner of [uninterrupted, resumed]) await step(learner, 73);
    const bytes = (weights: WeightMap) =>
      Buffer.concat([...weights.values()].map((tensor) => Buffer.from((tensor.data as Float32Array).buffer)));
    expect(bytes(await resumed.teacherWeights()).equals(bytes(await uninterrupted.teacherWeights()))).toBe(
      true,
    );
    expect(bytes(await resumed.weights()).equals(bytes(await uninterrupted.weights()))).toBe(true);
  });

  it('teacherLogprobs scores with the teacher: equal to a learner on its weights and to its exported folder', async () => {
    const learner = await learnerFor({ threads: 1, ema: { decay } });
    const { batch } = makeBatch(80, 4);
    const same = (a: Float32Array[], b: Float32Array[], tolerance: number) =>
      a.every((row, r) => row.every((value, t) => Math.abs(value - b[r]![t]!) <= tolerance));
    expect(same(await learner.teacherLogprobs(batch), await learner.logprobs(batch), 0)).toBe(true);
    for (const seed of [81, 82]) await step(learner, seed);
    const teacher = await learner.teacherLogprobs(batch);
    expect(same(teacher, await learner.logprobs(batch), 1e-4)).toBe(false); // θ moved away from φ
    const onTeacher = await createOnnxLearner({
      config: model.config,
      weights: await learner.teacherWeights(),
      threads: 1,
    });
    learners.push(onTeacher);
    expect(same(teacher, await onTeacher.logprobs(batch), 0)).toBe(true);
    const folder = await learner.exportTeacherForInference(join(root, 'teacher-export'));
    expect(same(teacher, await inferenceLogprobs(folder, batch, model.config), 1e-4)).toBe(true);
  });

  it('without ema the teacher methods say how to enable it; a checkpoint without a teacher starts it at its weights', async () => {
    const plain = await learnerFor({ threads: 1 });
    await expect(plain.teacherLogprobs(makeBatch(90).batch)).rejects.toThrow(/ema: \{ decay \}/);
    await expect(createOnnxLearner({ modelDir: model.dir, ema: { decay: 1 } })).rejects.toThrow(
      /ema.decay must be in \(0, 1\)/,
    );
    await step(plain, 91);
    const checkpoint = join(root, 'checkpoints', 'no-teacher');
    await plain.save(checkpoint);
    const warnings: string[] = [];
    const withEma = await learnerFor({
      threads: 1,
      ema: { decay },
      onEvent: (event) => {
        if (event.type === 'warning') warnings.push(event.message);
      },
    });
    await withEma.load(checkpoint);
    expect(warnings.join('\n')).toContain('has no EMA teacher');
    expect(sameWeights(await withEma.teacherWeights(), await plain.weights())).toBe(true);
    expect(withEma.teacherUpdates).toBe(0);
  });
});

describe('OnnxLearner: errors', () => {
  it('names the sequence and what to do for bad batches', async () => {
    const learner = await learnerFor();
    const { batch, coefficients } = makeBatch(70);
    await expect(learner.forwardBackward(batch, coefficients.slice(1))).rejects.toThrow(InvalidArgumentError);
    const short = coefficients.map((c, i) => (i === 1 ? c.subarray(1) : c));
    await expect(learner.forwardBackward(batch, short)).rejects.toThrow(
      /sequence 1 has \d+ completion tokens but \d+ coefficients/,
    );
    const nan = coefficients.map((c, i) => (i === 2 ? c.map((v, j) => (j === 0 ? Number.NaN : v)) : c));
    await expect(learner.forwardBackward(batch, nan)).rejects.toThrow(NumericError);
    const outOfRange = {
      sequences: [{ promptTokenIds: [1, 2], completionTokenIds: [model.config.vocabSize] }],
    };
    const error = await learner.logprobs(outOfRange).catch((e: unknown) => e);
    expect(InvalidInputError.isInstance(error)).toBe(true);
    expect((error as InvalidInputError).message).toMatch(
      /sequence 0: completionTokenIds\[0\] = \d+ is not a token id/,
    );
    await expect(
      learner.logprobs({ sequences: [{ promptTokenIds: [], completionTokenIds: [3] }] }),
    ).rejects.toThrow(/empty prompt/);
    await expect(learner.optimStep({ learningRate: 0.1 })).rejects.toThrow(/call forwardBackward first/);
    await learner.forwardBackward(batch, coefficients);
    await expect(learner.optimStep({ learningRate: Number.NaN })).rejects.toThrow(
      /learningRate must be a finite number/,
    );
  });

  it('rejects bad options and folders with clear errors', async () => {
    await expect(createOnnxLearner({ modelDir: model.dir, config: model.config })).rejects.toThrow(
      /either modelDir or config/,
    );
    await expect(createOnnxLearner({})).rejects.toThrow(/pass modelDir/);
    await expect(createOnnxLearner({ modelDir: model.dir, adam: { beta1: 1 } })).rejects.toThrow(
      /adam.beta1 must be in \[0, 1\)/,
    );
    await expect(createOnnxLearner({ modelDir: model.dir, maxGradNorm: 0 })).rejects.toThrow(/maxGradNorm/);
    await expect(createOnnxLearner({ modelDir: join(root, 'missing') })).rejects.toThrow(ModelLoadError);
    const learner = await learnerFor();
    await expect(learner.load(model.dir)).rejects.toThrow(/learner_state.json.*save\(\)/);
    const bare = await createOnnxLearner({ config: model.config, seed: 1, threads: 1 });
    learners.push(bare);
    await expect(bare.exportForInference(join(root, 'nowhere'))).rejects.toThrow(/needs tokenizer files/);
  });
});
