import { describe, expect, it } from 'vitest';
import {
  type ObjectiveBatch,
  type PresetName,
  grpoObjective,
  presets,
  resolveAdvantageOptions,
  resolveObjectiveConfig,
} from './index.js';

const f64 = (...values: number[]) => new Float64Array(values);
const names = Object.keys(presets) as PresetName[];

describe('presets', () => {
  it('has exactly the documented names', () => {
    expect(names.sort()).toEqual(
      [
        'openrlhf',
        'openrlhf-dr-grpo',
        'paper',
        'trl-bnpo',
        'trl-dapo',
        'trl-dr-grpo',
        'trl-grpo',
        'verl',
      ].sort(),
    );
  });

  for (const name of names) {
    it(`${name} is a frozen, complete { advantage, objective } record that validates`, () => {
      const preset = presets[name];
      expect(Object.keys(preset).sort()).toEqual(['advantage', 'objective']);
      expect(Object.isFrozen(preset.objective)).toBe(true);
      expect(() => {
        (preset.objective as { clipLow: number }).clipLow = 0.5;
      }).toThrow(TypeError);
      // Every knob is spelled out, so the README table can be read straight off the preset.
      expect(Object.keys(preset.advantage).sort()).toEqual(Object.keys(resolveAdvantageOptions({})).sort());
      expect(Object.keys(preset.objective).sort()).toEqual(Object.keys(resolveObjectiveConfig({})).sort());
      expect(resolveObjectiveConfig(preset.objective)).toMatchObject({ clipLow: preset.objective.clipLow });
    });
  }
});

describe('presets reproduce each engine’s loss on the same batch (values by hand)', () => {
  // On-policy, ℓ = −A per token. Sequences: 1 token (A = 2), 3 tokens (A = −1), empty (A = 0).
  // Σℓ = −2 + 3 = 1 over N = 4 tokens; per-sequence token means −2 and 1.
  const batch: ObjectiveBatch = { logprobs: [f64(-1), f64(-1, -1, -1), f64()], advantages: [2, -1, 0] };
  const expected: Record<PresetName, number> = {
    verl: 1 / 4, // token-mean
    openrlhf: 1 / 4, // token-level global mean
    'openrlhf-dr-grpo': 1 / 4,
    'trl-dapo': 1 / 4, // Σ mℓ / (tokens in the whole batch)
    'trl-bnpo': 1 / 4, // one micro-batch: the same token mean
    paper: 1 / 4,
    'trl-grpo': (-2 / 1 + 3 / 3) / 3, // mean over all B = 3 sequences (the empty one counts) of token means
    'trl-dr-grpo': 1 / (3 * 256), // Σ mℓ / (B · max_completion_length)
  };
  for (const name of names) {
    it(name, () => {
      expect(grpoObjective(batch, presets[name].objective).loss).toBeCloseTo(expected[name], 14);
    });
  }
});

describe('presets differ where the engines differ', () => {
  // One token with A = −1 and ρ = 4 (logπ − logπ_old = ln 4), token-mean over 1 token.
  const batch: ObjectiveBatch = { logprobs: [f64(Math.log(4))], oldLogprobs: [f64(0)], advantages: [-1] };
  it('verl caps A < 0 at −A·3 (dual clip); OpenRLHF and TRL do not', () => {
    const verl = grpoObjective(batch, presets.verl.objective);
    expect(verl.loss).toBeCloseTo(3, 14);
    expect(verl.coefficients[0]![0]).toBe(0);
    for (const name of ['openrlhf', 'trl-dapo', 'paper'] as const) {
      const result = grpoObjective(batch, presets[name].objective);
      expect(result.loss).toBeCloseTo(4, 14); // max(4, 1.2) = 4
      expect(result.coefficients[0]![0]).toBeCloseTo(-4, 6); // A·ρ
    }
  });

  it('verl and OpenRLHF clamp logπ − logπ_old at 20; TRL does not', () => {
    // A = −1e-9, logπ − logπ_old = 22: ℓ = 1e-9·e^20 (clamped) vs 1e-9·e^22.
    const far: ObjectiveBatch = { logprobs: [f64(0)], oldLogprobs: [f64(-22)], advantages: [-1e-9] };
    expect(grpoObjective(far, presets.openrlhf.objective).loss).toBeCloseTo(1e-9 * Math.exp(20), 10);
    expect(grpoObjective(far, presets['trl-grpo'].objective).loss).toBeCloseTo(1e-9 * Math.exp(22), 10);
  });

  it('KL conventions once switched on: verl k3 clamped at 10, OpenRLHF k1 clamped at ±10, TRL k3 unclamped', () => {
    // One token, A = 0, logπ − logπ_ref = −3 (x = 3 for k3: e³ − 4 ≈ 16.0855), β = 1, token-mean.
    const klBatch: ObjectiveBatch = { logprobs: [f64(-4)], refLogprobs: [f64(-1)], advantages: [0] };
    const on = (name: PresetName) => {
      const objective = presets[name].objective;
      return grpoObjective(klBatch, { ...objective, kl: { ...objective.kl!, coefficient: 1 } }).loss;
    };
    expect(on('verl')).toBeCloseTo(10, 12);
    expect(on('openrlhf')).toBeCloseTo(-3, 12); // k1 = d = −3, inside ±10
    expect(on('trl-grpo')).toBeCloseTo(Math.exp(3) - 4, 12);
  });
});
