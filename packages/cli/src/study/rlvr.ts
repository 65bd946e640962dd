// `rlpt study rlvr` (issue 17): the paper's Table 2 — RLPT as a base for RLVR. A small verifiable task (the
// running sums of the demo's `apples` documents, asked as "the next word", checked exactly) trained by RLVR
// alone, against RLPT on the other documents first and RLVR after it, at equal total compute.
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, SftExample } from '@rlpt/trainer';
import { type DemoTarget, type DemoWorld, demoItem, demoRollouts, demoTask } from '../demo/world.js';
import { lexicalJudges, type GridBudget, gridStudy } from './grid.js';

/** The generator whose sums are the verifiable task. */
const taskGenerator = 'apples';

export interface RlvrBudget extends GridBudget {
  evalPrompts: number;
  evalSamples: number;
}

export const rlvrBudgets: Record<'full' | 'smoke', RlvrBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 1200,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 1_600_000,
    chunks: 4,
    evalPrompts: 200,
    evalSamples: 4,
  },
  smoke: {
    trainDocuments: 120,
    heldOutDocuments: 60,
    pretrainSteps: 8,
    sftSteps: 4,
    computeBudget: 40_000,
    chunks: 2,
    evalPrompts: 12,
    evalSamples: 2,
  },
};

interface Items {
  rlpt: RlItem[];
  questions: RlItem[];
  sft: SftExample[];
  documents: string[];
  heldQuestions: RlItem[];
  heldSegments: RlItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1; verify: JudgeV1 };
}

/** The sum in an `apples` target ("Now Leo has 7 cards .") as a question: the context up to it, the number. */
function question(target: DemoTarget): { context: string; answer: string } | undefined {
  const words = target.target.split(' ');
  const at = words.findIndex((word) => /^\d+$/.test(word));
  if (at < 0) return undefined;
  return { context: [target.context, ...words.slice(0, at)].join(' '), answer: words[at]! };
}

async function buildItems(world: DemoWorld, budget: RlvrBudget, seed: number): Promise<Items> {
  const [{ renderTaskPrompt }, { nextSegmentItem, goldCompletion }, reward] = await Promise.all([
    import('@rlpt/prompts'),
    import('@rlpt/trainer'),
    import('@rlpt/reward'),
  ]);
  // A question is verified exactly: the strict judge against the number alone.
  const ask = (target: DemoTarget) => {
    const asked = question(target);
    if (!asked) return [];
    return [
      {
        item: nextSegmentItem(
          {
            id: `${target.id}:sum`,
            task: 'next-token',
            prompt: renderTaskPrompt('next-token', { context: asked.context }, { preset: 'tiny' }),
            target: asked.answer,
            reference: asked.answer,
            context: asked.context,
          },
          'strict',
        ),
        answer: asked.answer,
      },
    ];
  };
  const { corpus } = world;
  const general = corpus.trainTargets.filter((target) => target.template !== taskGenerator);
  const rlpt = general.map((target, index) => demoItem(target, demoTask(target, index, seed), 'prefix'));
  const questions = corpus.trainTargets.filter((target) => target.template === taskGenerator).flatMap(ask);
  // The cold start learns both formats; of the questions only every tenth, so RLVR has something to learn.
  const sft = [
    ...rlpt.map((item, index) => ({
      id: item.id,
      prompt: item.prompt,
      completion: goldCompletion(general[index]!.target),
    })),
    ...questions
      .filter((_, index) => index % 10 === 0)
      .map(({ item, answer }) => ({ id: item.id, prompt: item.prompt, completion: goldCompletion(answer) })),
  ];
  const held = corpus.heldOutTargets;
  return {
    rlpt,
    questions: questions.map(({ item }) => item),
    sft,
    documents: corpus.train.map((document) => document.text),
    heldQuestions: held
      .filter((target) => target.template === taskGenerator)
      .flatMap(ask)
      .slice(0, budget.evalPrompts)
      .map(({ item }) => item),
    heldSegments: held
      .filter((target) => target.template !== taskGenerator)
      .slice(0, budget.evalPrompts)
      .map((target) => demoItem(target, 'asr', 'strict')),
    judges: {
      ...(await lexicalJudges()),
      // The verifier: the answer exactly. No hardening — its minimum of 3 words would reject every answer.
      verify: reward.createLexicalJudge({ tolerance: 0, mode: 'strict', hardening: false }),
    },
  };
}

export const rlvrStudy = gridStudy<Items, RlvrBudget>({
  name: 'rlvr',
  title: 'RLVR alone vs RLPT then RLVR at equal total compute, on a verifiable task (running sums)',
  defaultSeeds: 3,
  budgets: rlvrBudgets,
  world: { prompts: ['asr', 'msr', 'nextToken'] },
  items: buildItems,
  sft: (items) => items.sft,
  documents: (items) => items.documents,
  control: 'rlvr',
  arms: [
    {
      name: 'rlvr',
      title: 'RLVR alone (the whole budget)',
      training: 'reward',
      train: (trainer, items, chunk) =>
        trainer.rl(items.questions, {
          ...chunk,
          ...demoRollouts,
          maxTokens: 8,
          judge: items.judges.verify,
        }),
    },
    {
      name: 'rlpt-rlvr',
      title: 'RLPT (first half) then RLVR (second half)',
      training: 'reward',
      train: (trainer, items, chunk, _world, part) =>
        part.index <= part.count / 2
          ? trainer.rl(items.rlpt, {
              ...chunk,
              ...demoRollouts,
              maxTokens: 24,
              judge: items.judges.prefix,
            })
          : trainer.rl(items.questions, {
              ...chunk,
              ...demoRollouts,
              maxTokens: 8,
              judge: items.judges.verify,
            }),
    },
  ],
  yardsticks: [
    { key: 'sumPass1', label: 'held-out sums pass@1' },
    { key: 'sumGreedy', label: 'held-out sums greedy' },
    { key: 'segmentPass1', label: 'next-segment pass@1 (other documents)' },
  ],
  measure: async (trainer, items, budget, label) => {
    const options = { judge: items.judges.strict, n: budget.evalSamples, temperature: 1, greedy: true };
    const sums = await trainer.evaluate(items.heldQuestions, {
      ...options,
      judge: items.judges.verify,
      maxTokens: 8,
      name: `sums@${label}`,
    });
    const segments = await trainer.evaluate(items.heldSegments, {
      ...options,
      greedy: false,
      maxTokens: 24,
      name: `segments@${label}`,
    });
    return { sumPass1: sums.pass1, sumGreedy: sums.greedy ?? Number.NaN, segmentPass1: segments.pass1 };
  },
  describe: (budget, _settings, parameters) => [
    `The paper's Table 2: RLPT followed by RLVR beats RLVR alone. The verifiable task here: the running sums of the demo's \`${taskGenerator}\` documents, asked as the next word after "Now Leo has" and checked exactly (${budget.evalPrompts} held-out questions × ${budget.evalSamples} samples, and greedy). A ${parameters.toLocaleString('en-US')}-parameter word-level model pretrains on all documents (${budget.trainDocuments}, ${budget.pretrainSteps} steps) and is cold-started (${budget.sftSteps} SFT steps) on next-segment prompts of the other three generators and one question in ten with its answer. Arms at equal total compute: RLVR for the whole budget; RLPT on the other generators' next-segment prompts for the first half, then RLVR for the second. 16 prompts × 8 rollouts, learning rate 2e-4 for both.`,
  ],
});
