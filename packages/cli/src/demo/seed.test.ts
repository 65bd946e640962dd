import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../testing.js';
import { runDemoSeed } from './seed.js';

const makeTempDir = useTempDirs();

describe('the demo seed on a micro budget', () => {
  it("the SFT control spends the RLPT phase's forward-equivalent tokens (not its wall time)", async () => {
    const outDir = await makeTempDir('rlpt-demo-seed-');
    const result = await runDemoSeed({
      seed: 0,
      outDir,
      budget: {
        trainDocuments: 100,
        heldOutDocuments: 30,
        evalPrompts: 8,
        pretrainSteps: 4,
        sftSteps: 2,
        sftLearningRate: 5e-4,
        rlSteps: 3,
        rlLearningRate: 2e-4,
        curveEvery: 100,
        curvePrompts: 4,
      },
      reward: 'prefix',
      control: true,
      threads: 1,
    });
    const rl = result.rlComputeTokens!;
    // RLPT's phase: the difference of the run's counts at the end of RLPT and of the cold start's SFT.
    expect(rl).toBe(
      Number(result.stages.rlpt!.last.computeTokens) - Number(result.stages.sft!.last.computeTokens),
    );
    expect(rl).toBeGreaterThan(0);
    // The control stops at the first step that reaches it: at least as much, less than one more step's worth.
    const control = result.control!;
    expect(control.computeTokens).toBeGreaterThanOrEqual(rl);
    const perStep = control.computeTokens! / control.steps;
    expect(control.computeTokens! - rl).toBeLessThan(perStep * 1.5);
    expect(control.steps).toBeGreaterThan(1);
  }, 120_000);
});
