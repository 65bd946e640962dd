import { computeGroupAdvantages, grpoObjective, type ObjectiveBatch, presets } from '@rlpt/grpo';
import { NumericError, UnsupportedFunctionalityError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { grpoToTinkerPpo, tinkerLoss } from './loss.js';

/** A seeded batch: 4 groups of 4 rollouts, ragged lengths, some masked tokens, off-policy logprobs. */
function makeBatch(seed: number, withMasks: boolean): ObjectiveBatch {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const rewards = Array.from({ length: 16 }, () => (random() < 0.5 ? 1 : 0));
  const { advantages, keep } = computeGroupAdvantages(rewards, 4, presets.paper.advantage);
  const logprobs: Float32Array[] = [];
  const oldLogprobs: Float32Array[] = [];
  const masks: Float32Array[] = [];
  for (let sequence = 0; sequence < 16; sequence++) {
    const length = 1 + Math.floor(random() * 9);
    const current = Float32Array.from({ length }, () => -0.05 - 3 * random());
    // Ratios spread over [0.6, 1.5] so both clip branches are exercised.
    const old = Float32Array.from(current, (value) => value - Math.log(0.6 + 0.9 * random()));
    logprobs.push(current);
    oldLogprobs.push(old);
    masks.push(Float32Array.from({ length }, (_, t) => (withMasks && t === 1 ? 0 : 1)));
  }
  return { logprobs, oldLogprobs, advantages, keep, ...(withMasks ? { masks } : {}) };
}

describe('GRPO → Tinker ppo mapping', () => {
  const expressible = Object.entries(presets).filter(([, preset]) => preset.objective.dualClip == null);
  it('covers every preset but verl (dual clip), which is refused', () => {
    expect(expressible.map(([name]) => name).sort()).toEqual(
      ['openrlhf', 'openrlhf-dr-grpo', 'paper', 'trl-bnpo', 'trl-dapo', 'trl-dr-grpo', 'trl-grpo'].sort(),
    );
  });

  for (const [name, preset] of expressible) {
    for (const withMasks of [false, true]) {
      it(`${name}${withMasks ? ' with masks' : ''}: Tinker's summed ppo loss and its gradient equal grpoObjective's`, () => {
        const config = name === 'trl-bnpo' ? { ...preset.objective, microBatchSize: 4 } : preset.objective;
        for (const seed of [1, 2, 3]) {
          const batch = makeBatch(seed * 7 + (withMasks ? 1 : 0), withMasks);
          const expected = grpoObjective(batch, config);
          const mapped = grpoToTinkerPpo(batch, config);
          expect(mapped.lossFn).toBe('ppo');
          let loss = 0;
          let clipped = 0;
          batch.logprobs.forEach((current, sequence) => {
            const result = tinkerLoss(
              'ppo',
              {
                logprobs: current,
                samplingLogprobs: mapped.samplingLogprobs[sequence] as Float32Array,
                advantages: mapped.advantages[sequence] as Float32Array,
              },
              mapped.lossFnConfig,
            );
            for (const value of result.elementwise) loss += value;
            const coefficients = expected.coefficients[sequence] as Float32Array;
            for (let t = 0; t < current.length; t++) {
              if (result.coefficients[t] === 0 && (mapped.advantages[sequence] as Float32Array)[t] !== 0)
                clipped++;
              // float32 advantages on the wire: relative error ≤ 2^-23 per factor.
              expect(
                Math.abs((result.coefficients[t] as number) - (coefficients[t] as number)),
              ).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(coefficients[t] as number)));
            }
          });
          expect(Math.abs(loss - expected.loss)).toBeLessThanOrEqual(
            1e-6 * Math.max(1, Math.abs(expected.loss)),
          );
          expect(clipped).toBeGreaterThan(0); // the clipped branch was exercised
        }
      });
    }
  }

  it('refuses a dual clip, a KL penalty and an entropy bonus, naming the knob', () => {
    const batch = makeBatch(5, false);
    expect(() => grpoToTinkerPpo(batch, presets.verl.objective)).toThrow(UnsupportedFunctionalityError);
    expect(() => grpoToTinkerPpo(batch, presets.verl.objective)).toThrow(/config\.dualClip is 3/);
    expect(() =>
      grpoToTinkerPpo(
        { ...batch, refLogprobs: batch.logprobs },
        { ...presets.paper.objective, kl: { coefficient: 0.01, estimator: 'k3' } },
      ),
    ).toThrow(/config\.kl has coefficient 0\.01/);
    expect(() =>
      grpoToTinkerPpo(batch, {
        ...presets.paper.objective,
        entropy: { coefficient: 0.01, gradient: 'sampled-token' },
      }),
    ).toThrow(/config\.entropy/);
    // verl without its dual clip is expressible.
    expect(grpoToTinkerPpo(batch, { ...presets.verl.objective, dualClip: null }).lossFn).toBe('ppo');
  });

  it('refuses a batch where the log-ratio clamp is active, naming sequence and token', () => {
    const batch = makeBatch(6, false);
    (batch.oldLogprobs as Float32Array[])[3]![0] = (batch.logprobs[3] as Float32Array)[0]! - 25;
    expect(() => grpoToTinkerPpo(batch, presets.paper.objective)).toThrow(NumericError);
    expect(() => grpoToTinkerPpo(batch, presets.paper.objective)).toThrow(/sequence 3 token 0/);
    // TRL presets have no clamp: mapped.
    expect(grpoToTinkerPpo(batch, presets['trl-dapo'].objective).lossFn).toBe('ppo');
  });
});

describe('tinkerLoss', () => {
  it('cross_entropy: −Σ w·logp with coefficients w', () => {
    const result = tinkerLoss('cross_entropy', { logprobs: [-1, -2], weights: [0.5, -1] });
    expect(Array.from(result.elementwise)).toEqual([0.5, -2]);
    expect(Array.from(result.coefficients)).toEqual([0.5, -1]);
  });

  it('importance_sampling and ppo: finite-difference gradients match the coefficients', () => {
    const logprobs = [-1.2, -0.4, -2.5, -0.9];
    const inputs = { samplingLogprobs: [-1.0, -0.9, -2.0, -0.95], advantages: [0.7, -1.3, -0.4, 1.1] };
    for (const lossFn of ['importance_sampling', 'ppo']) {
      const { coefficients } = tinkerLoss(lossFn, { logprobs, ...inputs });
      for (let t = 0; t < logprobs.length; t++) {
        const h = 1e-6;
        const plus = logprobs.map((value, index) => (index === t ? value + h : value));
        const minus = logprobs.map((value, index) => (index === t ? value - h : value));
        const sum = (values: number[]) =>
          tinkerLoss(lossFn, { logprobs: values, ...inputs }).elementwise.reduce((a, b) => a + b, 0);
        const gradient = (sum(plus) - sum(minus)) / (2 * h);
        expect(Math.abs(-gradient - (coefficients[t] as number))).toBeLessThan(1e-6);
      }
    }
  });

  it('rejects unknown losses and missing inputs', () => {
    expect(() => tinkerLoss('dro', { logprobs: [0] })).toThrow(/not supported/);
    expect(() => tinkerLoss('ppo', { logprobs: [0] })).toThrow(/advantages/);
  });
});
