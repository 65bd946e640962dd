import { describe, expect, it } from 'vitest';
import { createRandom, randomBatch } from '../test/helpers.js';
import {
  GrpoArgumentError,
  GrpoNumericError,
  type ObjectiveBatch,
  type ObjectiveConfig,
  aggregationModes,
  grpoObjective,
  presets,
} from './index.js';

const f32 = (...values: number[]) => new Float32Array(values);
const f64 = (...values: number[]) => new Float64Array(values);
const ln = Math.log;
/** Coefficients as plain arrays, for toEqual/toBeCloseTo on nested values. */
const plain = (arrays: Float32Array[]) => arrays.map((array) => Array.from(array));

function expectClose(actual: number[][], expected: number[][], tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, sequence) => {
    expect(row.length).toBe(expected[sequence]!.length);
    row.forEach((value, token) => {
      expect(Math.abs(value - expected[sequence]![token]!)).toBeLessThanOrEqual(tolerance);
    });
  });
}

describe('grpoObjective: policy term, golden values by hand', () => {
  it('clips the ratio above for A > 0 (zero gradient) and passes it inside the band', () => {
    // Token 0: ρ = 1 → ℓ = −A·1 = −1, c = w·A·ρ = ½. Token 1: ρ = 1.5 > 1.2 with A = 1 → the clipped
    // branch −1.2 wins max(−1.5, −1.2), c = 0. Token-mean over 2 tokens: loss = (−1 − 1.2)/2 = −1.1.
    const { loss, coefficients, stats } = grpoObjective(
      { logprobs: [f64(-1, -1 + ln(1.5))], oldLogprobs: [f64(-1, -1)], advantages: [1] },
      { clipLow: 0.2, clipHigh: 0.2 },
    );
    expect(loss).toBeCloseTo(-1.1, 12);
    expectClose(plain(coefficients), [[0.5, 0]]);
    expect(stats.clipFractionHigh).toBe(0.5);
    expect(stats.clipFractionLow).toBe(0);
    expect(stats.clipFraction).toBe(0.5);
    expect(stats.ratioMax).toBeCloseTo(1.5, 12);
    // approx-KL = mean(logπ_old − logπ) = (0 − ln 1.5)/2.
    expect(stats.approxKl).toBeCloseTo(-ln(1.5) / 2, 12);
  });

  it('clips below for A < 0, does not clip A < 0 above, and clip-higher moves the upper bound', () => {
    // A = −1. Token 0: ρ = 0.5 < 0.8 → max(0.5, 0.8) = 0.8 (clipped, c = 0). Token 1: ρ = 1.25 → max(1.25,
    // 1.2) = 1.25 (unclipped, c = w·A·ρ = ½·(−1.25)). Loss = (0.8 + 1.25)/2 = 1.025.
    const batch = { logprobs: [f64(ln(0.5), ln(1.25))], oldLogprobs: [f64(0, 0)], advantages: [-1] };
    const low = grpoObjective(batch, { clipLow: 0.2 });
    expect(low.loss).toBeCloseTo(1.025, 12);
    expectClose(plain(low.coefficients), [[0, -0.625]]);
    expect(low.stats.clipFractionLow).toBe(0.5);
    // A = +1 with ρ = 1.25: clipped at 1.2 when clipHigh = 0.2, inside the band when clipHigh = 0.28.
    const positive = { ...batch, logprobs: [f64(ln(1.25))], oldLogprobs: [f64(0)], advantages: [1] };
    expectClose(plain(grpoObjective(positive, { clipHigh: 0.2 }).coefficients), [[0]]);
    expectClose(plain(grpoObjective(positive, { clipHigh: 0.28 }).coefficients), [[1.25]]);
  });

  it('caps A < 0 losses at −A·c with a dual clip (verl clip_ratio_c = 3)', () => {
    // A = −2. ρ = 4 > c = 3: ℓ = min(2·4, 2·3) = 6, c = 0. ρ = 1.5: ℓ = 2·1.5 = 3, c = w·A·ρ = ½·(−3).
    // Without the dual clip the ρ = 4 token has ℓ = 8 and c = ½·(−8).
    const batch = { logprobs: [f64(ln(4), ln(1.5))], oldLogprobs: [f64(0, 0)], advantages: [-2] };
    const dual = grpoObjective(batch, { dualClip: 3 });
    expect(dual.loss).toBeCloseTo((6 + 3) / 2, 12);
    expectClose(plain(dual.coefficients), [[0, -1.5]]);
    expect(dual.stats.dualClipFraction).toBe(0.5);
    const single = grpoObjective(batch, { dualClip: null });
    expect(single.loss).toBeCloseTo((8 + 3) / 2, 12);
    expectClose(plain(single.coefficients), [[-4, -1.5]]);
  });

  it('clamps the log-ratio at ±logRatioClamp with zero gradient there', () => {
    // logπ − logπ_old = 25 > 20: ρ = e^20, A = −1e-9 keeps the loss small: ℓ = 1e-9·e^20, c = 0.
    const batch = { logprobs: [f64(0)], oldLogprobs: [f64(-25)], advantages: [-1e-9] };
    const clamped = grpoObjective(batch, { logRatioClamp: 20 });
    expect(clamped.loss).toBeCloseTo(1e-9 * Math.exp(20), 9);
    expect(clamped.coefficients[0]![0]).toBe(0);
    expect(clamped.stats.logRatioClampFraction).toBe(1);
    const unclamped = grpoObjective(batch, { logRatioClamp: null });
    expect(unclamped.loss).toBeCloseTo(1e-9 * Math.exp(25), 6);
    // c = A·ρ = −1e-9·e^25 ≈ −72.0049, stored as float32 (relative rounding ≤ 6e-8).
    expect(Math.abs(unclamped.coefficients[0]![0]! / (-1e-9 * Math.exp(25)) - 1)).toBeLessThan(1e-7);
  });
});

describe('grpoObjective: aggregation modes, golden values by hand', () => {
  // Two on-policy sequences (ρ = 1, so ℓ = −A): lengths 1 and 3, advantages 2 and −1.
  // Token sum Σℓ = −2 + 3 = 1; per sequence sums −2 and 3; token means −2 and −1·(−1) = 1.
  const batch: ObjectiveBatch = { logprobs: [f64(-1), f64(-1, -2, -3)], advantages: [2, -1] };
  const cases: [ObjectiveConfig['aggregation'], number, number, number][] = [
    // mode, loss, c of sequence 0, c of each token of sequence 1 (= w_i·A_i)
    ['token-mean', 1 / 4, 2 / 4, -1 / 4], // Σℓ / N, N = 4
    ['token-sum', 1, 2, -1], // Σℓ
    ['seq-mean-token-mean', (-2 / 1 + 3 / 3) / 2, 2 / (2 * 1), -1 / (2 * 3)], // ½(−2 + 1)
    ['seq-mean-token-sum', (-2 + 3) / 2, 2 / 2, -1 / 2],
    ['seq-mean-token-sum-norm', (-2 + 3) / (2 * 8), 2 / 16, -1 / 16], // T = 8
  ];
  for (const [aggregation, loss, first, second] of cases) {
    it(aggregation!, () => {
      const result = grpoObjective(batch, { aggregation, tokenSumNormalizer: 8 });
      expect(result.loss).toBeCloseTo(loss, 12);
      expectClose(plain(result.coefficients), [[first], [second, second, second]]);
      expect(result.stats.policyLoss).toBeCloseTo(loss, 12);
    });
  }

  it('seq-mean-token-sum-norm defaults T to the longest response in the batch', () => {
    // T = 3 (the longest array): loss = (−2 + 3)/(2·3).
    expect(grpoObjective(batch, { aggregation: 'seq-mean-token-sum-norm' }).loss).toBeCloseTo(1 / 6, 12);
  });

  it('counts empty sequences in S only with emptySequences: count (TRL)', () => {
    // Sequence 0: 2 tokens, A = 1 → Σℓ = −2, token mean −1. Sequence 1: empty.
    const withEmpty: ObjectiveBatch = { logprobs: [f64(-1, -1), f64()], advantages: [1, 1] };
    const exclude = { aggregation: 'seq-mean-token-mean', emptySequences: 'exclude' } as const;
    expect(grpoObjective(withEmpty, exclude).loss).toBeCloseTo(-1, 12); // S = 1
    const count = { aggregation: 'seq-mean-token-mean', emptySequences: 'count' } as const;
    expect(grpoObjective(withEmpty, count).loss).toBeCloseTo(-0.5, 12); // S = 2
    expect(grpoObjective(withEmpty, count).stats.emptySequences).toBe(1);
  });

  it('averages per-chunk losses with microBatchSize (TRL bnpo under gradient accumulation)', () => {
    // Whole batch token-mean: (−2 + 3)/4 = ¼. Chunks of one sequence: token means −2 and 1, averaged:
    // (−2 + 1)/2 = −½; coefficients w = 1/(2·n_i)·A: 2/2 = 1 and −1/6.
    const chunked = grpoObjective(batch, { aggregation: 'token-mean', microBatchSize: 1 });
    expect(chunked.loss).toBeCloseTo(-0.5, 12);
    expectClose(plain(chunked.coefficients), [[1], [-1 / 6, -1 / 6, -1 / 6]]);
    expect(grpoObjective(batch, { microBatchSize: 2 }).loss).toBeCloseTo(0.25, 12);
  });

  it('leaves masked tokens and dropped sequences out of every normaliser', () => {
    // Sequence 1's last two tokens are masked: N = 2, loss = (−2 + 1)/2, c = [1], [−½, 0, 0].
    const masked = grpoObjective({ ...batch, masks: [[1], [1, 0, 0]] }, { aggregation: 'token-mean' });
    expect(masked.loss).toBeCloseTo(-0.5, 12);
    expectClose(plain(masked.coefficients), [[1], [-0.5, 0, 0]]);
    expect(masked.stats.tokens).toBe(2);
    // Dropping sequence 0: N = 3, loss = 3/3 = 1, c = [0], [−⅓, −⅓, −⅓].
    const dropped = grpoObjective({ ...batch, keep: [0, 1] }, { aggregation: 'token-mean' });
    expect(dropped.loss).toBeCloseTo(1, 12);
    expectClose(plain(dropped.coefficients), [[0], [-1 / 3, -1 / 3, -1 / 3]]);
    expect(dropped.stats.droppedSequences).toBe(1);
    expect(dropped.stats.sequences).toBe(1);
  });

  it('reports token-weighted advantage and response-length stats', () => {
    const { stats } = grpoObjective(batch, {});
    // Token-weighted advantages: (2·1 + (−1)·3)/4 = −¼; E[A²] = (4 + 3)/4, std = √(7/4 − 1/16).
    expect(stats.advantageMean).toBeCloseTo(-0.25, 12);
    expect(stats.advantageStd).toBeCloseTo(Math.sqrt(7 / 4 - 1 / 16), 12);
    expect([stats.responseLengthMin, stats.responseLengthMean, stats.responseLengthMax]).toEqual([1, 2, 3]);
    expect([stats.ratioMin, stats.ratioMean, stats.ratioMax, stats.approxKl]).toEqual([1, 1, 1, 0]);
  });
});

describe('grpoObjective: KL term, golden values by hand', () => {
  // One token, A = 0 (no policy term), token-sum (w = 1), β = 0.1, d = logπ − logπ_ref.
  function kl(d: number, config: ObjectiveConfig['kl']) {
    return grpoObjective(
      { logprobs: [f64(-1)], refLogprobs: [f64(-1 - d)], advantages: [0] },
      { aggregation: 'token-sum', kl: config },
    );
  }
  const beta = 0.1;
  it('k1, abs, k2 and k3 values and gradients', () => {
    // d = ln 2. k1 = d, ∂ = 1. k2 = ½d², ∂ = d. k3: x = −d, e^x = ½, k3 = ½ + ln 2 − 1, ∂ = 1 − e^−d = ½.
    const d = ln(2);
    const cases: [string, number, number][] = [
      ['k1', d, 1],
      ['k2', 0.5 * d * d, d],
      ['k3', 0.5 + d - 1, 0.5],
      ['k3+', 0.5 + d - 1, d], // straight-through: k3's value, k2's gradient
    ];
    for (const [estimator, value, derivative] of cases) {
      const result = kl(d, { coefficient: beta, estimator: estimator as 'k1' });
      expect(result.loss).toBeCloseTo(beta * value, 12);
      expect(result.stats.klLoss).toBeCloseTo(value, 12);
      expect(result.coefficients[0]![0]).toBeCloseTo(-beta * derivative, 7);
    }
    // abs at d = −ln 2: value ln 2, ∂ = −1, so c = +β.
    const abs = kl(-d, { coefficient: beta, estimator: 'abs' });
    expect(abs.loss).toBeCloseTo(beta * d, 12);
    expect(abs.coefficients[0]![0]).toBeCloseTo(beta, 7);
  });

  it('clamps: OpenRLHF value clamp ±10, verl k3 value clamp 10 and exponent clamp 20', () => {
    // k1 at d = 12 with valueClamp 10 → value 10, gradient 0.
    const k1 = kl(12, { coefficient: beta, estimator: 'k1', valueClamp: 10 });
    expect(k1.loss).toBeCloseTo(beta * 10, 12);
    expect(k1.coefficients[0]![0]).toBe(0);
    // k3 at d = −3: x = 3, e³ − 3 − 1 ≈ 16.09 > 10 → 10, gradient 0.
    const k3 = kl(-3, { coefficient: beta, estimator: 'k3', valueClamp: 10, logRatioClamp: 20 });
    expect(k3.loss).toBeCloseTo(beta * 10, 12);
    expect(k3.coefficients[0]![0]).toBe(0);
    // k3 at d = −25 without value clamp: x clamped to 20 → value e^20 − 21, gradient 0.
    const exponent = kl(-25, { coefficient: beta, estimator: 'k3', logRatioClamp: 20 });
    expect(exponent.loss).toBeCloseTo(beta * (Math.exp(20) - 21), 3);
    expect(exponent.coefficients[0]![0]).toBe(0);
    // k2 at d = 5 with valueClamp 10: ½·25 = 12.5 > 10 → 10, gradient 0; k2+ keeps gradient d = 5.
    expect(kl(5, { coefficient: beta, estimator: 'k2', valueClamp: 10 }).coefficients[0]![0]).toBe(0);
    const straight = kl(5, { coefficient: beta, estimator: 'k2+', valueClamp: 10 });
    expect(straight.coefficients[0]![0]).toBeCloseTo(-beta * 5, 6);
  });

  it('computes KL stats with coefficient 0 and requires refLogprobs only when the coefficient is > 0', () => {
    const d = ln(2);
    const statsOnly = kl(d, { coefficient: 0, estimator: 'k1' });
    expect(statsOnly.loss).toBe(0);
    expect(statsOnly.stats.klLoss).toBeCloseTo(d, 12);
    expect(statsOnly.coefficients[0]![0]).toBe(0);
    expect(grpoObjective({ logprobs: [f64(-1)], advantages: [1] }, { kl: { coefficient: 0 } }).loss).toBe(-1);
    expect(() =>
      grpoObjective({ logprobs: [f64(-1)], advantages: [1] }, { kl: { coefficient: 0.1 } }),
    ).toThrow(/config\.kl\.coefficient is 0\.1 but batch\.refLogprobs is missing/);
  });
});

describe('grpoObjective: on-policy', () => {
  it('without oldLogprobs ρ = 1, nothing clips, and the result equals an explicit frozen copy', () => {
    const random = createRandom(5);
    const config: ObjectiveConfig = {
      clipLow: 0,
      clipHigh: 0,
      dualClip: 1.0001,
      aggregation: 'seq-mean-token-mean',
    };
    const batch = randomBatch(random, {}, { withRef: false, withEntropies: false });
    const { oldLogprobs: _old, ...onPolicy } = batch;
    const implicit = grpoObjective(onPolicy, config);
    const explicit = grpoObjective(
      { ...onPolicy, oldLogprobs: onPolicy.logprobs.map((a) => a.slice()) },
      config,
    );
    expect(plain(implicit.coefficients)).toEqual(plain(explicit.coefficients));
    expect(implicit.loss).toBe(explicit.loss);
    expect(implicit.stats.clipFraction).toBe(0);
    expect(implicit.stats.dualClipFraction).toBe(0);
    expect([implicit.stats.ratioMin, implicit.stats.ratioMax]).toEqual([1, 1]);
    // Every valid token's coefficient is w_i·A_i: here w_i = 1/(S·n_i).
    const sequences = implicit.stats.sequences - implicit.stats.emptySequences;
    implicit.coefficients.forEach((row, sequence) => {
      const mask = batch.masks![sequence]!;
      const valid = mask.reduce((sum, value) => sum + value, 0);
      row.forEach((value, token) => {
        const expected =
          mask[token] === 1 && batch.keep![sequence] === 1
            ? batch.advantages[sequence]! / (sequences * valid)
            : 0;
        expect(Math.abs(value - expected)).toBeLessThanOrEqual(1e-7);
      });
    });
  });
});

describe('grpoObjective: entropy bonus', () => {
  it("with gradient 'learner' shifts the loss by −β·agg(H) and leaves the coefficients alone", () => {
    // token-mean of H over 2 tokens = (1 + 3)/2 = 2; loss = −1 (policy, A = 1) − 0.01·2.
    const batch = { logprobs: [f64(-1, -2)], advantages: [1], entropies: [f64(1, 3)] };
    const withBonus = grpoObjective(batch, { entropy: { coefficient: 0.01, gradient: 'learner' } });
    const without = grpoObjective(batch, {});
    expect(withBonus.loss).toBeCloseTo(-1 - 0.02, 12);
    expect(withBonus.stats.entropy).toBeCloseTo(2, 12);
    expect(plain(withBonus.coefficients)).toEqual(plain(without.coefficients));
    expect(() =>
      grpoObjective(
        { logprobs: [f64(-1)], advantages: [1] },
        { entropy: { coefficient: 0.01, gradient: 'learner' } },
      ),
    ).toThrow(/batch\.entropies is missing/);
  });

  it("with gradient 'sampled-token' matches ∇(−β·H) in expectation over the sampled token (exact enumeration)", () => {
    // A softmax over 5 logits z. The learner minimises −c(y)·logπ(y) for the sampled y, so its expected
    // gradient is −Σ_y q(y)·w(y)·c(y)·∇_z logπ(y), with ∇_z logπ(y) = e_y − π and sampling distribution q
    // (w = 1 on-policy, w = π/q for the importance correction the coefficient includes through ρ).
    // The exact gradient of the loss −β·H is −β·∂H/∂z_j = β·π_j·(log π_j + H).
    const logits = [0.3, -1.2, 2.0, 0.1, -0.4];
    const softmax = (values: number[]) => {
      const max = Math.max(...values);
      const exps = values.map((value) => Math.exp(value - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      return exps.map((value) => value / sum);
    };
    const pi = softmax(logits);
    const entropy = -pi.reduce((sum, p) => sum + p * Math.log(p), 0);
    const beta = 0.05;
    const exact = pi.map((p) => beta * p * (Math.log(p) + entropy));
    for (const sampler of [pi, softmax([1, 0, 0.5, -1, 0.2])]) {
      const expected = new Array(5).fill(0);
      sampler.forEach((q, y) => {
        const { coefficients } = grpoObjective(
          { logprobs: [f64(Math.log(pi[y]!))], oldLogprobs: [f64(Math.log(q))], advantages: [0] },
          {
            aggregation: 'token-sum',
            clipLow: 1,
            clipHigh: 1e9,
            entropy: { coefficient: beta, gradient: 'sampled-token' },
          },
        );
        const c = coefficients[0]![0]!;
        for (let j = 0; j < 5; j++) expected[j] += -q * c * ((j === y ? 1 : 0) - pi[j]!);
      });
      // Float32 coefficients: relative error ≈ 6e-8, so 1e-7 absolute on gradients of size ~1e-2.
      expected.forEach((value, j) => {
        expect(Math.abs(value - exact[j]!)).toBeLessThanOrEqual(1e-7);
      });
    }
  });
});

describe('grpoObjective: edge cases never produce NaN', () => {
  it('handles an empty batch', () => {
    const { loss, coefficients, stats } = grpoObjective(
      { logprobs: [], advantages: [] },
      presets.verl.objective,
    );
    expect(loss).toBe(0);
    expect(coefficients).toEqual([]);
    for (const value of Object.values(stats)) expect(Number.isFinite(value)).toBe(true);
  });

  for (const aggregation of aggregationModes) {
    it(`handles all-zero masks and empty responses (${aggregation})`, () => {
      const { loss, coefficients, stats } = grpoObjective(
        {
          logprobs: [f64(-1, -2), f64()],
          advantages: [1, -1],
          masks: [[0, 0], []],
          entropies: [f64(1, 1), f64()],
        },
        { aggregation, entropy: { coefficient: 0.1, gradient: 'learner' } },
      );
      expect(loss).toBe(0);
      expect(plain(coefficients)).toEqual([[0, 0], []]);
      expect(stats.tokens).toBe(0);
      for (const value of Object.values(stats)) expect(Number.isFinite(value)).toBe(true);
    });
  }

  it('does not read masked tokens or dropped sequences (NaN there is fine)', () => {
    const { loss, coefficients } = grpoObjective(
      {
        logprobs: [f64(Number.NaN, -1), f64(Number.NaN)],
        advantages: [1, 1],
        masks: [[0, 1], [1]],
        keep: [1, 0],
      },
      {},
    );
    expect(loss).toBe(-1);
    expect(plain(coefficients)).toEqual([[0, 1], [0]]);
  });

  it('accepts Float32Array inputs and returns float32 coefficients sharing one buffer', () => {
    const { coefficients } = grpoObjective({ logprobs: [f32(-1, -2), f32(-3)], advantages: f32(1, 2) }, {});
    expect(coefficients[0]).toBeInstanceOf(Float32Array);
    expect(coefficients[0]!.buffer).toBe(coefficients[1]!.buffer);
    expect(plain(coefficients)).toEqual([[1 / 3, 1 / 3], [2 / 3]].map((row) => row.map(Math.fround)));
  });
});

describe('grpoObjective: errors name the argument, sequence and token', () => {
  const base = () => ({
    logprobs: [f64(-1, -2), f64(-1, -2, -3)],
    oldLogprobs: [f64(-1, -2), f64(-1, -2, -3)],
    refLogprobs: [f64(-1, -2), f64(-1, -2, -3)],
    entropies: [f64(1, 1), f64(1, 1, 1)],
    advantages: [1, -1],
  });
  const config: ObjectiveConfig = {
    kl: { coefficient: 0.1 },
    entropy: { coefficient: 0.1, gradient: 'learner' },
  };

  it.each([
    ['logprobs', Number.NaN, 'NaN'],
    ['oldLogprobs', Number.POSITIVE_INFINITY, 'Infinity'],
    ['refLogprobs', Number.NEGATIVE_INFINITY, '-Infinity'],
    ['entropies', Number.NaN, 'NaN'],
  ] as const)('%s[1][2] = %s', (name, value, text) => {
    const batch = base();
    batch[name][1]![2] = value;
    let error: unknown;
    try {
      grpoObjective(batch, config);
    } catch (caught) {
      error = caught;
    }
    expect(GrpoNumericError.isInstance(error)).toBe(true);
    const numeric = error as GrpoNumericError;
    expect(numeric.argument).toBe(`${name}[1]`);
    expect(numeric.index).toBe(2);
    expect(numeric.message).toContain(`${name}[1][2] is ${text}`);
  });

  it('NaN advantage', () => {
    const batch = { ...base(), advantages: [1, Number.NaN] };
    expect(() => grpoObjective(batch, config)).toThrow(/advantages\[1\] is NaN/);
  });

  it.each([
    [{ advantages: [1] }, /batch\.advantages has 1 entries but batch\.logprobs has 2 sequences/],
    [
      { oldLogprobs: [f64(-1, -2), f64(-1)] },
      /batch\.oldLogprobs\[1\] has 1 tokens but batch\.logprobs\[1\] has 3/,
    ],
    [{ refLogprobs: [f64(-1, -2)] }, /batch\.refLogprobs has 1 sequences but batch\.logprobs has 2/],
    [
      {
        masks: [
          [1, 1],
          [1, 2, 1],
        ],
      },
      /batch\.masks\[1\]\[1\] is 2; masks hold 1 \(counts\) or 0/,
    ],
    [{ keep: [1, 0.5] }, /batch\.keep\[1\] is 0\.5/],
  ])('shape problem %#', (patch, pattern) => {
    let error: unknown;
    try {
      grpoObjective({ ...base(), ...patch } as ObjectiveBatch, config);
    } catch (caught) {
      error = caught;
    }
    expect(GrpoArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(pattern);
  });

  it.each([
    [{ clip_ratio: 0.2 }, 'config.clip_ratio', /unknown option config\.clip_ratio; allowed keys are clipLow/],
    [{ clipLow: 1.5 }, 'config.clipLow', /must be a number in \[0, 1\]/],
    [{ dualClip: 0.5 }, 'config.dualClip', /must be a number > 1 or null/],
    [{ aggregation: 'mean' }, 'config.aggregation', /must be one of token-mean, token-sum/],
    [{ microBatchSize: 0 }, 'config.microBatchSize', /integer ≥ 1/],
    [{ kl: { coefficient: -1 } }, 'config.kl.coefficient', /finite number ≥ 0/],
    [{ kl: { coefficient: 1, estimator: 'k4' } }, 'config.kl.estimator', /must be one of k1, abs, k2, k3/],
    [{ entropy: { coefficient: 0.1 } }, 'config.entropy.gradient', /'learner'.*'sampled-token'/],
  ])('bad config %#', (bad, argument, pattern) => {
    let error: unknown;
    try {
      grpoObjective(base(), bad as ObjectiveConfig);
    } catch (caught) {
      error = caught;
    }
    expect(GrpoArgumentError.isInstance(error)).toBe(true);
    expect((error as GrpoArgumentError).argument).toBe(argument);
    expect((error as Error).message).toMatch(pattern);
  });

  it('reports float64 overflow of an unclamped ratio instead of returning Infinity', () => {
    const batch = { logprobs: [f64(0)], oldLogprobs: [f64(-800)], advantages: [-1] };
    expect(() => grpoObjective(batch, { logRatioClamp: null })).toThrow(
      /overflows float64.*set config\.logRatioClamp/,
    );
    expect(Number.isFinite(grpoObjective(batch, { logRatioClamp: 20 }).loss)).toBe(true);
  });
});
