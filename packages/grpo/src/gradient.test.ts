import { describe, expect, it } from 'vitest';
import { createRandom, finiteDifferenceMismatches, kinks, randomBatch } from '../test/helpers.js';
import {
  type KlConfig,
  type ObjectiveConfig,
  type PresetName,
  aggregationModes,
  grpoObjective,
  presets,
} from './index.js';

// Property: the coefficients are −∂loss/∂logπ_t of the loss the same call returns, for every aggregation
// mode, KL estimator, clamp region and preset. Inputs are float64 so perturbations are exact; samples
// stay 1e-3 (in log space) away from every kink (test/helpers.ts `kinks`), and each test asserts that
// the clipped / clamped regions were actually visited, so zero-gradient branches are checked too.

// Small clamps put every region inside the sampled ranges (logπ − logπ_old ∈ [−3, 3], − logπ_ref ∈ [−4, 4]).
const regions: ObjectiveConfig = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, logRatioClamp: 2 };
const klVariants: (KlConfig | null)[] = [
  null,
  { coefficient: 0.3, estimator: 'k1', valueClamp: 2 },
  { coefficient: 0.3, estimator: 'abs', valueClamp: 2 },
  { coefficient: 0.3, estimator: 'k2', valueClamp: 2 },
  { coefficient: 0.3, estimator: 'k3', valueClamp: 10, logRatioClamp: 3 },
  { coefficient: 0.3, estimator: 'k3', valueClamp: null, logRatioClamp: null },
];

/** Valid tokens whose logπ − logπ_ref lies beyond a KL clamp kink inside the sampled range [−4, 4]. */
function tokensBeyondKlClamp(batch: ReturnType<typeof randomBatch>, config: ObjectiveConfig): number {
  const clampKinks = kinks(config).ref.filter((point) => point !== 0 && Math.abs(point) < 4);
  let count = 0;
  batch.logprobs.forEach((current, sequence) => {
    current.forEach((logprob, token) => {
      if (batch.masks?.[sequence]?.[token] !== 1 || batch.keep?.[sequence] === 0) return;
      const difference = logprob - batch.refLogprobs![sequence]![token]!;
      if (clampKinks.some((point) => (point > 0 ? difference > point : difference < point))) count++;
    });
  });
  return count;
}

describe('coefficients equal a finite-difference derivative of the loss', () => {
  for (const aggregation of aggregationModes) {
    for (const kl of klVariants) {
      const label = kl === null ? 'no KL' : `${kl.estimator} KL (clamp ${kl.valueClamp ?? 'none'})`;
      it(`${aggregation}, ${label}, with entropy bonus, masks, empty and dropped sequences`, () => {
        const config: ObjectiveConfig = {
          ...regions,
          aggregation,
          tokenSumNormalizer: 12,
          kl,
          entropy: { coefficient: 0.05, gradient: 'learner' },
        };
        const random = createRandom(
          1000 + aggregationModes.indexOf(aggregation) * 17 + klVariants.indexOf(kl),
        );
        let visited = { clipLow: 0, clipHigh: 0, dual: 0, clamp: 0, klClamp: 0 };
        for (let trial = 0; trial < 8; trial++) {
          const batch = randomBatch(random, config);
          expect(finiteDifferenceMismatches(batch, config)).toEqual([]);
          const { stats } = grpoObjective(batch, config);
          visited = {
            clipLow: visited.clipLow + stats.clipFractionLow,
            clipHigh: visited.clipHigh + stats.clipFractionHigh,
            dual: visited.dual + stats.dualClipFraction,
            clamp: visited.clamp + stats.logRatioClampFraction,
            klClamp: visited.klClamp + tokensBeyondKlClamp(batch, config),
          };
        }
        expect(visited.clipLow).toBeGreaterThan(0);
        expect(visited.clipHigh).toBeGreaterThan(0);
        expect(visited.dual).toBeGreaterThan(0);
        expect(visited.clamp).toBeGreaterThan(0);
        if (kl?.valueClamp) expect(visited.klClamp).toBeGreaterThan(0);
      });
    }
  }

  it('with micro-batches and with empty sequences counted (TRL) or excluded (verl)', () => {
    const random = createRandom(7);
    for (const microBatchSize of [1, 2, 3, null]) {
      for (const emptySequences of ['count', 'exclude'] as const) {
        for (const aggregation of aggregationModes) {
          const config: ObjectiveConfig = { ...regions, aggregation, microBatchSize, emptySequences };
          const batch = randomBatch(random, config, { withRef: false, withEntropies: false });
          expect(finiteDifferenceMismatches(batch, config)).toEqual([]);
        }
      }
    }
  });

  it('on-policy (logπ_old = a frozen copy of logπ): the coefficient is the unclipped A·w', () => {
    const random = createRandom(11);
    for (const aggregation of aggregationModes) {
      const config: ObjectiveConfig = { aggregation, clipLow: 0.2, dualClip: 3 };
      const batch = randomBatch(random, config, { oldRange: [0, 0], withRef: false });
      expect(finiteDifferenceMismatches(batch, config)).toEqual([]);
    }
  });

  for (const name of Object.keys(presets) as PresetName[]) {
    const preset = presets[name];
    it(`preset ${name}`, () => {
      const random = createRandom(name.length * 31 + name.charCodeAt(0));
      for (let trial = 0; trial < 4; trial++) {
        const batch = randomBatch(random, preset.objective, { oldRange: [-1.5, 1.5] });
        expect(finiteDifferenceMismatches(batch, preset.objective)).toEqual([]);
      }
    });
    const presetKl = preset.objective.kl;
    if (presetKl) {
      it(`preset ${name} with its KL estimator switched on`, () => {
        const config: ObjectiveConfig = { ...preset.objective, kl: { ...presetKl, coefficient: 0.2 } };
        const random = createRandom(name.length * 37 + 5);
        for (let trial = 0; trial < 4; trial++) {
          const batch = randomBatch(random, config, { oldRange: [-1.5, 1.5], refRange: [-3.5, 3.5] });
          expect(finiteDifferenceMismatches(batch, config)).toEqual([]);
        }
      });
    }
  }
  it('preset trl-bnpo with micro-batches of 2 sequences', () => {
    const config: ObjectiveConfig = { ...presets['trl-bnpo'].objective, microBatchSize: 2 };
    const batch = randomBatch(createRandom(3), config, { sequences: 9 });
    expect(finiteDifferenceMismatches(batch, config)).toEqual([]);
  });
});

describe('straight-through KL (k1+, abs+, k2+, k3+)', () => {
  // verl: value = the named estimator, gradient = k2's, i.e. ½d² − sg(½d²) + sg(k). So the loss equals
  // the plain estimator's loss, and the coefficients are the derivative of the k2 (unclamped) loss.
  for (const base of ['k1', 'abs', 'k2', 'k3'] as const) {
    it(`${base}+ reports ${base}'s loss and carries k2's gradient`, () => {
      const kl: KlConfig = { coefficient: 0.4, estimator: `${base}+`, valueClamp: 10, logRatioClamp: 20 };
      const config: ObjectiveConfig = { ...regions, kl };
      const plain: ObjectiveConfig = { ...regions, kl: { ...kl, estimator: base } };
      const surrogate: ObjectiveConfig = {
        ...regions,
        kl: { coefficient: 0.4, estimator: 'k2', valueClamp: null },
      };
      const random = createRandom(base.length + 99);
      for (let trial = 0; trial < 3; trial++) {
        const batch = randomBatch(random, plain, { refRange: [-2, 2] });
        expect(grpoObjective(batch, config).loss).toBe(grpoObjective(batch, plain).loss);
        expect(finiteDifferenceMismatches(batch, config, surrogate)).toEqual([]);
      }
    });
  }
});
