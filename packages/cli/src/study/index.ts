import type { StudyDefinition } from './run.js';

/** The named studies (`rlpt study <name>`), loaded on demand. */
export const studies: Record<string, { title: string; load: () => Promise<StudyDefinition<never>> }> = {
  rewards: {
    title: 'RLPT vs RPT vs RLP vs continued pretraining, compute-matched, on three held-out yardsticks',
    load: async () => (await import('./rewards.js')).rewardsStudy as unknown as StudyDefinition<never>,
  },
  'reward-shape': {
    title: "prefix vs strict reward when predictions may span several sentences (the paper's Fig. 4)",
    load: async () =>
      (await import('./reward-shape.js')).rewardShapeStudy as unknown as StudyDefinition<never>,
  },
  tasks: {
    title: 'RLPT on ASR only, MSR only, and the λ mix (Eq. 5), compute-matched',
    load: async () => (await import('./tasks.js')).tasksStudy as unknown as StudyDefinition<never>,
  },
  transfer: {
    title: 'RLPT vs compute-matched SFT on three generators, evaluated on a fourth they never train on',
    load: async () => (await import('./transfer.js')).transferStudy as unknown as StudyDefinition<never>,
  },
  rlvr: {
    title: 'RLVR alone vs RLPT then RLVR at equal total compute, on a verifiable task (running sums)',
    load: async () => (await import('./rlvr.js')).rlvrStudy as unknown as StudyDefinition<never>,
  },
  scaling: {
    title: "the paper's scaling law on held-out pass@1 along RLPT: per seed, seed mean, extrapolation check",
    load: async () => (await import('./scaling.js')).scalingStudy as unknown as StudyDefinition<never>,
  },
};
