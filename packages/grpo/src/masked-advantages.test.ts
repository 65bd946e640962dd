import { describe, expect, it } from 'vitest';
import { createRandom } from '../test/helpers.js';
import {
  type AdvantageOptions,
  computeGroupAdvantages,
  computeMaskedGroupAdvantages,
  GrpoArgumentError,
  presets,
} from './index.js';

describe('computeMaskedGroupAdvantages', () => {
  it('the documented example: the baseline is the mean of the valid rollouts, by hand', () => {
    const { advantages, keep } = computeMaskedGroupAdvantages([1, 0, 0, 1], 4, [0, 0, 1, 0]);
    // valid rewards 1, 0, 1: μ = 2/3, σ (n − 1) = sqrt(1/3)
    const sigma = Math.sqrt(1 / 3) + 1e-6;
    expect(advantages[0]).toBeCloseTo((1 - 2 / 3) / sigma, 6);
    expect(advantages[1]).toBeCloseTo((0 - 2 / 3) / sigma, 6);
    expect(advantages[2]).toBe(0);
    expect(Array.from(keep)).toEqual([1, 1, 0, 1]);
  });

  it('with nothing excluded, equals computeGroupAdvantages for every preset', () => {
    const random = createRandom(5);
    const rewards = Array.from({ length: 64 }, () => (random() < 0.5 ? 1 : 0));
    for (const [name, preset] of Object.entries(presets)) {
      const plain = computeGroupAdvantages(rewards, 8, preset.advantage);
      const masked = computeMaskedGroupAdvantages(rewards, 8, new Uint8Array(64), preset.advantage);
      expect(Array.from(masked.advantages), name).toEqual(Array.from(plain.advantages));
      expect(Array.from(masked.keep), name).toEqual(Array.from(plain.keep));
    }
  });

  it("each group's advantages equal computeGroupAdvantages on its valid rollouts alone (group and no scaling)", () => {
    const random = createRandom(11);
    const options: AdvantageOptions[] = [
      {},
      { scale: 'none' },
      { std: 'biased', epsilon: 1e-4 },
      { dropZeroVarianceGroups: true },
      { singletonGroups: 'raw' },
    ];
    for (let trial = 0; trial < 200; trial++) {
      const group = 2 + Math.floor(random() * 7);
      const groups = 1 + Math.floor(random() * 5);
      const rewards = Array.from({ length: group * groups }, () =>
        random() < 0.3 ? Math.round(random() * 4) / 4 : random() < 0.5 ? 1 : 0,
      );
      const excluded = rewards.map(() => (random() < 0.3 ? 1 : 0));
      // Excluded rewards are ignored, even NaN.
      const noisy = rewards.map((reward, index) => (excluded[index] ? Number.NaN : reward));
      const option = options[trial % options.length] as AdvantageOptions;
      const masked = computeMaskedGroupAdvantages(noisy, group, excluded, option);
      for (let start = 0; start < rewards.length; start += group) {
        const valid = [];
        for (let index = start; index < start + group; index++) if (!excluded[index]) valid.push(index);
        for (let index = start; index < start + group; index++) {
          if (excluded[index]) {
            expect(masked.advantages[index]).toBe(0);
            expect(masked.keep[index]).toBe(0);
          }
        }
        if (valid.length === 0) continue;
        const own = computeGroupAdvantages(
          valid.map((index) => rewards[index] as number),
          valid.length,
          option,
        );
        valid.forEach((index, offset) => {
          expect(masked.advantages[index]).toBe(own.advantages[offset]);
          expect(masked.keep[index]).toBe(own.keep[offset]);
        });
      }
    }
  });

  it('batch scaling divides by the std of the valid rewards only', () => {
    const rewards = [1, 0, 99, 0, 1, 1, 0, -50];
    const excluded = [0, 0, 1, 0, 0, 0, 0, 1];
    const { advantages } = computeMaskedGroupAdvantages(rewards, 4, excluded, { scale: 'batch' });
    const valid = [1, 0, 0, 1, 1, 0];
    const mu = valid.reduce((a, b) => a + b, 0) / valid.length;
    const sd = Math.sqrt(valid.reduce((a, b) => a + (b - mu) ** 2, 0) / (valid.length - 1)) + 1e-6;
    expect(advantages[0]).toBeCloseTo((1 - 1 / 3) / sd, 6);
    expect(advantages[4]).toBeCloseTo((1 - 2 / 3) / sd, 6);
  });

  it('a group with no valid rollout is a zero-variance group with nothing kept', () => {
    const result = computeMaskedGroupAdvantages([0, 0, 1, 0], 2, [1, 1, 0, 0], {
      dropZeroVarianceGroups: true,
    });
    expect(Array.from(result.zeroVarianceGroups)).toEqual([1, 0]);
    expect(Array.from(result.keep)).toEqual([0, 0, 1, 1]);
  });

  it('rejects a mask of the wrong length, naming it', () => {
    expect(() => computeMaskedGroupAdvantages([1, 0], 2, [0])).toThrow(GrpoArgumentError);
    expect(() => computeMaskedGroupAdvantages([1, 0], 2, [0])).toThrow(
      /excluded must have one entry per reward/,
    );
  });
});
