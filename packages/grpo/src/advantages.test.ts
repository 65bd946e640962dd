import { describe, expect, it } from 'vitest';
import { createRandom } from '../test/helpers.js';
import {
  GrpoArgumentError,
  GrpoNumericError,
  computeGroupAdvantages,
  groupAdvantages,
  presets,
  zeroVarianceGroups,
} from './index.js';

/** |actual − expected| ≤ float32 rounding (2⁻²³ relative) of each value. */
function expectFloat32Close(actual: Float32Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, index) => {
    const target = expected[index]!;
    expect(Math.abs(value - target)).toBeLessThanOrEqual(Math.abs(target) * 2 ** -23 + 1e-12);
  });
}

describe('groupAdvantages: golden values by hand', () => {
  // rewards [1, 0, 0, 0]: μ = 0.25, deviations [0.75, −0.25 ×3], Σd² = 0.5625 + 3·0.0625 = 0.75.
  // Unbiased σ = √(0.75/3) = 0.5; biased σ = √(0.75/4) = √0.1875 ≈ 0.4330127.
  const rewards = [1, 0, 0, 0];
  it('default (paper): unbiased std, ε = 1e-6 after the std', () => {
    expectFloat32Close(groupAdvantages(rewards, 4), [
      0.75 / 0.500001,
      -0.25 / 0.500001,
      -0.25 / 0.500001,
      -0.25 / 0.500001,
    ]);
  });
  it('biased std', () => {
    const sigma = Math.sqrt(0.1875);
    expectFloat32Close(
      groupAdvantages(rewards, 4, { std: 'biased' }),
      [0.75, -0.25, -0.25, -0.25].map((d) => d / (sigma + 1e-6)),
    );
  });
  it('each engine’s ε: verl 1e-6, OpenRLHF 1e-9, TRL 1e-4 (visible at float32: 1.4999970, 1.5, 1.4997001)', () => {
    expectFloat32Close(
      groupAdvantages(rewards, 4, presets.verl.advantage),
      [0.75, -0.25, -0.25, -0.25].map((d) => d / 0.500001),
    );
    expectFloat32Close(
      groupAdvantages(rewards, 4, presets.openrlhf.advantage),
      [0.75, -0.25, -0.25, -0.25].map((d) => d / (0.5 + 1e-9)),
    );
    expectFloat32Close(
      groupAdvantages(rewards, 4, presets['trl-grpo'].advantage),
      [0.75, -0.25, -0.25, -0.25].map((d) => d / 0.5001),
    );
  });
  it('centring only (Dr.GRPO)', () => {
    expectFloat32Close(groupAdvantages(rewards, 4, { scale: 'none' }), [0.75, -0.25, -0.25, -0.25]);
  });
  it('batch std (TRL scale_rewards="batch"): group means, std of all rewards', () => {
    // rewards [1, 0 | 1, 1], G = 2: group means 0.5 and 1 → centred [0.5, −0.5, 0, 0].
    // Batch mean 0.75, deviations [.25, −.75, .25, .25], Σd² = 0.75, unbiased σ = √(0.75/3) = 0.5.
    expectFloat32Close(groupAdvantages([1, 0, 1, 1], 2, { scale: 'batch', epsilon: 1e-4 }), [
      0.5 / 0.5001,
      -0.5 / 0.5001,
      0,
      0,
    ]);
  });
  it('continuous rewards in two groups', () => {
    // Group [0.2, 0.4, 0.9]: μ = 0.5, d = [−0.3, −0.1, 0.4], Σd² = 0.26, σ = √0.13.
    // Group [3, 5, 7]: μ = 5, d = [−2, 0, 2], σ = √(8/2) = 2.
    const sigma = Math.sqrt(0.13);
    expectFloat32Close(groupAdvantages([0.2, 0.4, 0.9, 3, 5, 7], 3, { epsilon: 1e-9 }), [
      -0.3 / sigma,
      -0.1 / sigma,
      0.4 / sigma,
      -1,
      0,
      1,
    ]);
  });
});

describe('groupAdvantages: properties', () => {
  it('mean-centred advantages sum to ~0 in every group', () => {
    const random = createRandom(42);
    for (const groupSize of [2, 3, 8, 16]) {
      for (const scale of ['group', 'batch', 'none'] as const) {
        const rewards = Array.from({ length: groupSize * 25 }, () =>
          random() < 0.3 ? Math.round(random()) : 10 * random() - 5,
        );
        const advantages = groupAdvantages(rewards, groupSize, { scale });
        for (let group = 0; group < 25; group++) {
          const slice = advantages.subarray(group * groupSize, (group + 1) * groupSize);
          const sum = slice.reduce((a, b) => a + b, 0);
          const largest = slice.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
          // Float32 storage rounds each value by ≤ 2⁻²⁴ relative; the sum of G of them by ≤ G·2⁻²⁴·max|A|.
          expect(Math.abs(sum)).toBeLessThanOrEqual(groupSize * largest * 2 ** -23 + 1e-12);
        }
      }
    }
  });

  it('is invariant to adding a constant to a group and, with std scaling, to scaling it', () => {
    const rewards = [0.1, 0.7, 0.3, 0.9];
    const shifted = rewards.map((r) => r + 100);
    const scaled = rewards.map((r) => r * 10);
    const base = groupAdvantages(rewards, 4, { epsilon: 1e-12 });
    expectFloat32Close(groupAdvantages(shifted, 4, { epsilon: 1e-12 }), Array.from(base));
    // 100 ± 0.x loses ~1e-14 relative in float64: far below float32 resolution.
    expectFloat32Close(groupAdvantages(scaled, 4, { epsilon: 1e-12 }), Array.from(base));
  });
});

describe('groupAdvantages: edge cases', () => {
  it('group of one: 0 by default, verl’s μ := 0, σ := 1 with singletonGroups "raw"', () => {
    expect(Array.from(groupAdvantages([1, 0, 0.5], 1))).toEqual([0, 0, 0]);
    expectFloat32Close(groupAdvantages([1, 0, 0.5], 1, presets.verl.advantage), [
      1 / 1.000001,
      0,
      0.5 / 1.000001,
    ]);
    expectFloat32Close(
      groupAdvantages([1, 0, 0.5], 1, { scale: 'none', singletonGroups: 'raw' }),
      [1, 0, 0.5],
    );
  });

  it('all-equal groups are flagged, exactly 0, and dropped on request', () => {
    // 0.1 · 3 / 3 is not exactly 0.1 in float64, yet zero-variance groups still come out exactly 0.
    const rewards = [0.1, 0.1, 0.1, 1, 0, 1, 1, 1, 1];
    const result = computeGroupAdvantages(rewards, 3, { dropZeroVarianceGroups: true });
    expect(Array.from(result.zeroVarianceGroups)).toEqual([1, 0, 1]);
    expect(Array.from(result.advantages.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(result.advantages.subarray(6, 9))).toEqual([0, 0, 0]);
    expect(Array.from(result.keep)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0]);
    expect(result.stats.zeroVarianceGroups).toBe(2);
    expect(result.stats.zeroVarianceGroupShare).toBeCloseTo(2 / 3, 15);
    expect(result.stats.droppedSequences).toBe(6);
    expect(Array.from(computeGroupAdvantages(rewards, 3).keep)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(zeroVarianceGroups(rewards, 3))).toEqual([1, 0, 1]);
  });

  it('zeroVarianceTolerance treats near-equal rewards as equal', () => {
    expect(Array.from(zeroVarianceGroups([0.5, 0.5 + 1e-9, 0, 1], 2))).toEqual([0, 0]);
    expect(Array.from(zeroVarianceGroups([0.5, 0.5 + 1e-9, 0, 1], 2, 1e-6))).toEqual([1, 0]);
    const advantages = groupAdvantages([0.5, 0.5 + 1e-9, 0, 1], 2, { zeroVarianceTolerance: 1e-6 });
    expect(Array.from(advantages.subarray(0, 2))).toEqual([0, 0]);
  });

  it('empty input gives empty output and zero stats', () => {
    const result = computeGroupAdvantages([], 8);
    expect(result.advantages.length).toBe(0);
    for (const value of Object.values(result.stats)) expect(value).toBe(0);
  });

  it('reports batch statistics', () => {
    // rewards [1, 0, 0, 0 | 1, 1, 0, 0], scale none: A = [.75, −.25, −.25, −.25 | .5, .5, −.5, −.5].
    const { stats } = computeGroupAdvantages([1, 0, 0, 0, 1, 1, 0, 0], 4, { scale: 'none' });
    expect(stats.groups).toBe(2);
    expect(stats.rewardMean).toBeCloseTo(3 / 8, 15);
    expect(stats.rewardStd).toBeCloseTo(Math.sqrt(3 / 8 - 9 / 64), 15); // E[r²] − μ² for 0/1 rewards
    expect(stats.advantageMean).toBeCloseTo(0, 7);
    // E[A²] = (0.5625 + 3·0.0625 + 4·0.25)/8 = 1.75/8.
    expect(stats.advantageStd).toBeCloseTo(Math.sqrt(1.75 / 8), 7);
    expect([stats.advantageMin, stats.advantageMax]).toEqual([-0.5, 0.75]);
  });
});

describe('groupAdvantages: errors', () => {
  function caught(run: () => unknown): unknown {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error('expected a throw');
  }

  it('names the index of a NaN or infinite reward', () => {
    for (const [value, text] of [
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      const error = caught(() => groupAdvantages([1, 0, value, 1], 2));
      expect(GrpoNumericError.isInstance(error)).toBe(true);
      expect((error as GrpoNumericError).argument).toBe('rewards');
      expect((error as GrpoNumericError).index).toBe(2);
      expect((error as Error).message).toContain(`groupAdvantages: rewards[2] is ${text}`);
    }
  });

  it.each([
    [[1, 0, 1], 2, 'rewards', /rewards\.length \(3\) is not a multiple of groupSize \(2\)/],
    [[1, 0], 0, 'groupSize', /groupSize must be an integer ≥ 1/],
    [[1, 0], 1.5, 'groupSize', /groupSize must be an integer ≥ 1/],
  ])('rejects a bad shape (%#)', (rewards, groupSize, argument, pattern) => {
    const error = caught(() => groupAdvantages(rewards, groupSize));
    expect(GrpoArgumentError.isInstance(error)).toBe(true);
    expect((error as GrpoArgumentError).argument).toBe(argument);
    expect((error as Error).message).toMatch(pattern);
  });

  it.each([
    [{ epsilon: 0 }, 'options.epsilon'],
    [{ epsilon: -1 }, 'options.epsilon'],
    [{ scale: 'prompt' }, 'options.scale'],
    [{ std: 'sample' }, 'options.std'],
    [{ norm_adv_by_std_in_grpo: false }, 'options.norm_adv_by_std_in_grpo'],
  ])('rejects a bad option (%#)', (options, argument) => {
    const error = caught(() => groupAdvantages([1, 0], 2, options as never));
    expect(GrpoArgumentError.isInstance(error)).toBe(true);
    expect((error as GrpoArgumentError).argument).toBe(argument);
  });

  it('allows ε = 0 without std scaling', () => {
    expect(Array.from(groupAdvantages([1, 0], 2, { scale: 'none', epsilon: 0 }))).toEqual([0.5, -0.5]);
  });
});
