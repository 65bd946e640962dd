// `rlpt study reward-shape` (issue 17): the paper's Fig. 4 — the prefix reward against the strict one when a
// prediction may span more than one sentence. The judge's reference is the target and the two sentences after
// it (the paper's window), and the cold start predicts two sentences for one target in three, so longer
// predictions occur from the first step: the prefix reward accepts a correct two-sentence prediction, the
// strict one only the target alone. Panels: training reward, response length, held-out reward.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, SftExample } from '@rlpt/trainer';
import type { DemoTarget, DemoWorld } from '../demo/world.js';
import { lineChart, type Series } from '../report/svg.js';
import { lexicalJudges, type GridBudget, type GridJobResult, gridStudy } from './grid.js';
import { meanSd } from './stats.js';
import { demoRollouts } from '../demo/world.js';

export interface RewardShapeBudget extends GridBudget {
  evalPrompts: number;
  evalSamples: number;
}

export const rewardShapeBudgets: Record<'full' | 'smoke', RewardShapeBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 600,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 1_200_000,
    chunks: 4,
    evalPrompts: 200,
    evalSamples: 4,
  },
  smoke: {
    trainDocuments: 120,
    heldOutDocuments: 40,
    pretrainSteps: 8,
    sftSteps: 4,
    computeBudget: 30_000,
    chunks: 2,
    evalPrompts: 12,
    evalSamples: 2,
  },
};

/** Tokens a prediction may use: room for two sentences and the tags. */
const maxTokens = 32;

interface Items {
  prefix: RlItem[];
  strict: RlItem[];
  sft: SftExample[];
  documents: string[];
  heldPrefix: RlItem[];
  heldStrict: RlItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1 };
}

async function buildItems(world: DemoWorld, budget: RewardShapeBudget, seed: number): Promise<Items> {
  const [{ renderTaskPrompt }, { nextSegmentItem, goldCompletion }] = await Promise.all([
    import('@rlpt/prompts'),
    import('@rlpt/trainer'),
  ]);
  const { corpus } = world;
  const sentences = new Map(
    [...corpus.train, ...corpus.heldOut].map((document) => [
      document.id,
      document.sentences.map((sentence) => sentence.text),
    ]),
  );
  // The paper's reference window: s_i and the (up to) two sentences after it.
  const windowOf = (target: DemoTarget) =>
    (sentences.get(target.documentId) ?? [target.target]).slice(target.index, target.index + 3).join(' ');
  const item = (target: DemoTarget, mode: 'prefix' | 'strict') =>
    nextSegmentItem(
      {
        id: `${target.id}:asr`,
        task: 'asr',
        prompt: renderTaskPrompt('asr', { context: target.context, next: target.next }, { preset: 'tiny' }),
        target: target.target,
        reference: windowOf(target),
        context: target.context,
      },
      mode,
    );
  const train = corpus.trainTargets;
  const held = corpus.heldOutTargets.slice(0, budget.evalPrompts);
  return {
    prefix: train.map((target) => item(target, 'prefix')),
    strict: train.map((target) => item(target, 'strict')),
    // One target in three that has a next sentence is answered with both sentences.
    sft: train.map((target, index) => ({
      id: `${target.id}:asr`,
      prompt: item(target, 'prefix').prompt,
      completion: goldCompletion(
        target.next !== '' && (index * 2654435761 + seed) % 3 === 0
          ? `${target.target} ${target.next}`
          : target.target,
      ),
    })),
    documents: corpus.train.map((document) => document.text),
    heldPrefix: held.map((target) => item(target, 'prefix')),
    heldStrict: held.map((target) => item(target, 'strict')),
    judges: {
      ...(await lexicalJudges()),
    },
  };
}

const arm = (name: 'prefix' | 'strict', title: string) => ({
  name,
  title,
  training: 'reward' as const,
  train: (trainer: import('@rlpt/trainer').Trainer, items: Items, chunk: import('./grid.js').ChunkOptions) =>
    trainer.rl(items[name], {
      ...chunk,
      ...demoRollouts,
      maxTokens,
      judge: items.judges[name],
    }),
});

/** The training panels of Fig. 4: reward and response length along training, seed means per arm. */
async function analyse(
  results: Map<string, GridJobResult>,
  settings: { out: string; seeds: number },
): Promise<{ markdown: string[]; summary: string[] }> {
  const seeds = Array.from({ length: settings.seeds }, (_, seed) => seed);
  const panel = async (metric: string, file: string, title: string, yLabel: string) => {
    const series: Series[] = (['prefix', 'strict'] as const).map((name) => {
      const jobs = seeds.map((seed) => results.get(`${name}-${seed}`)!);
      return {
        name,
        points: jobs[0]!.points
          .slice(1)
          .map((_, index) => [
            meanSd(jobs.map((job) => job.points[index + 1]!.computeTokens)).mean / 1e6,
            meanSd(jobs.map((job) => Number(job.parts?.[index]?.[metric] ?? Number.NaN))).mean,
          ]) as [number, number][],
      };
    });
    await writeFile(
      join(settings.out, file),
      lineChart({
        title,
        xLabel: 'forward-equivalent tokens since the cold start (millions)',
        yLabel,
        series,
      }),
    );
    return series;
  };
  const reward = await panel(
    'reward.mean',
    'training-reward.svg',
    "Training reward at each part's last step (seed mean)",
    'training reward (each arm its own judge)',
  );
  const length = await panel(
    'response.length',
    'training-length.svg',
    "Response length at each part's last step (seed mean)",
    'tokens',
  );
  const last = (series: Series[], name: string) =>
    series.find((entry) => entry.name === name)!.points.at(-1)![1];
  return {
    markdown: [
      '## Training panels (Fig. 4)',
      '',
      'Training reward (each arm judged by its own reward) and response length at the last step of each part, seed means:',
      '',
      '![training reward](training-reward.svg)',
      '![response length](training-length.svg)',
      '',
    ],
    summary: [
      `training reward at the end: prefix ${last(reward, 'prefix').toFixed(3)}, strict ${last(reward, 'strict').toFixed(3)}; response length: prefix ${last(length, 'prefix').toFixed(1)}, strict ${last(length, 'strict').toFixed(1)} tokens`,
    ],
  };
}

export const rewardShapeStudy = gridStudy<Items, RewardShapeBudget>({
  name: 'reward-shape',
  title: "Prefix vs strict reward when predictions may span several sentences (the paper's Fig. 4)",
  defaultSeeds: 3,
  budgets: rewardShapeBudgets,
  world: { prompts: ['asr', 'msr'] },
  items: buildItems,
  sft: (items) => items.sft,
  documents: (items) => items.documents,
  control: 'strict',
  arms: [
    arm('prefix', 'prefix reward (a prefix of the 3-sentence window that covers s_i)'),
    arm('strict', 'strict reward (s_i exactly)'),
  ],
  yardsticks: [
    { key: 'prefixPass1', label: 'held-out prefix pass@1' },
    { key: 'strictPass1', label: 'held-out strict pass@1' },
    { key: 'prefixGreedy', label: 'held-out prefix greedy' },
    { key: 'responseTokens', label: 'held-out response length (tokens)', neutral: true },
  ],
  measure: async (trainer, items, budget, label) => {
    // The same samples judged both ways: one seed for both evaluations.
    const options = { n: budget.evalSamples, temperature: 1, maxTokens, seed: 7919 };
    const prefix = await trainer.evaluate(items.heldPrefix, {
      ...options,
      judge: items.judges.prefix,
      greedy: true,
      name: `prefix@${label}`,
    });
    const strict = await trainer.evaluate(items.heldStrict, {
      ...options,
      judge: items.judges.strict,
      name: `strict@${label}`,
    });
    return {
      prefixPass1: prefix.pass1,
      strictPass1: strict.pass1,
      prefixGreedy: prefix.greedy ?? Number.NaN,
      responseTokens: prefix.meanResponseTokens,
    };
  },
  analyse,
  describe: (budget, _settings, parameters) => [
    `The paper's Fig. 4 compares its prefix reward with a strict one: training reward, response length and downstream performance. Here: a ${parameters.toLocaleString('en-US')}-parameter word-level model pretrained on the demo corpus (${budget.trainDocuments} documents, ${budget.pretrainSteps} steps), cold-started (${budget.sftSteps} SFT steps) to answer the ASR prompt with the next sentence — and with the next two for one target in three, so predictions that span two sentences exist from the start. The judge's reference is the target and the two sentences after it. RLPT (ASR, 16 prompts × 8 rollouts, ≤ ${maxTokens} tokens, learning rate 2e-4) with the lexical judge in prefix mode (a prefix of the window that covers s_i scores 1) against strict mode (s_i exactly).`,
    `Held-out yardsticks: the same ${budget.evalPrompts} prompts × ${budget.evalSamples} samples judged both ways, the prefix judge's greedy accuracy, and the mean length of the sampled responses.`,
  ],
});
