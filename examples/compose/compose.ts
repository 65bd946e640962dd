// A custom RLPT pipeline composed in code: your own judge (a word-overlap reward with rlpt's hardening and
// cache around it), rollouts from rlpt's onnx backend, updates by the local ONNX learner — the same stage
// runner as `rlpt train`. Run: pnpm --filter @rlpt/example-compose start [outDir] [--quick]
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareDemo } from '@rlpt/data';
import { createBackendFromSpec, registerBuiltins, resolveTrainConfig, runTraining } from '@rlpt/recipes';
import { defineJudge, withCache, withHardening } from '@rlpt/reward';

/** Reward: the share of the reference's first words that the prediction gets right, in order. */
const overlapJudge = withHardening(
  withCache(
    defineJudge({
      name: 'first-words',
      judgeItem(item) {
        const words = (text: string) => text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
        const predicted = words(item.prediction);
        const reference = words(item.target ?? item.reference).slice(0, predicted.length);
        let same = 0;
        while (same < reference.length && reference[same] === predicted[same]) same++;
        return predicted.length === 0 ? 0 : same / Math.max(predicted.length, reference.length);
      },
    }),
  ),
);

export async function compose(outDir: string, quick = false) {
  const data = join(outDir, 'data');
  // Each run starts over: the folders this script wrote last time are replaced.
  await Promise.all([data, join(outDir, 'run')].map((dir) => rm(dir, { recursive: true, force: true })));
  await prepareDemo({ out: data, trainDocuments: quick ? 120 : 400, heldOutDocuments: 20, seed: 1 });
  const config = await resolveTrainConfig(
    {
      runDir: join(outDir, 'run'),
      seed: 1,
      threads: 1,
      model: { init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, maxPositionEmbeddings: 128 } },
      data: { path: data },
      stages: [
        { type: 'pretrain', steps: quick ? 30 : 200, batchSize: 16, learningRate: 5e-3 },
        { type: 'sft', steps: quick ? 60 : 150, batchSize: 16, learningRate: 5e-3 },
        { type: 'rlpt', steps: quick ? 4 : 40, promptsPerStep: 4, rolloutsPerPrompt: 4, maxTokens: 16 },
      ],
      eval: { items: 8, n: 2, every: 0 },
    },
    { source: 'compose.ts' },
  );
  registerBuiltins();
  return runTraining(config, {
    parts: {
      judge: overlapJudge,
      loadPolicy: (modelDir) => createBackendFromSpec(`onnx:${modelDir}`, { threads: 1 }),
    },
    onEvent: (event) => {
      if (event.type === 'step-end' && event.stage === 'rlpt')
        console.log(`rlpt step ${event.step}: reward ${event.metrics['reward.mean']?.toFixed(3)}`);
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outDir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'runs/compose';
  const outcome = await compose(outDir, process.argv.includes('--quick'));
  for (const evaluation of outcome.evaluations)
    console.log(`held-out ${evaluation.name}: pass@1 ${evaluation.pass1.toFixed(3)}`);
}
