// `rlpt study rewards` (issue 20): RLPT's judge, RPT's exact next-token prefix and RLP's information gain,
// and a continued-pretraining control, from one cold start per seed, compute-matched by forward-equivalent
// tokens (the trainer's `computeBudget`), measured on three yardsticks that do not favour any of them.
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, TextItem } from '@rlpt/trainer';
import { type DemoTarget, type DemoWorld, demoItem, demoRollouts, demoTask } from '../demo/world.js';
import { lexicalJudges, type GridBudget, type GridJobResult, gridStudy, hashOf } from './grid.js';

export interface RewardsBudget extends GridBudget {
  /** Held-out next-segment prompts (ASR) and samples per prompt. */
  evalPrompts: number;
  evalSamples: number;
  /** Held-out contexts for NLL and next-token accuracy. */
  textItems: number;
}

export const rewardsBudgets: Record<'full' | 'smoke', RewardsBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 600,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 2_000_000,
    chunks: 4,
    evalPrompts: 200,
    evalSamples: 4,
    textItems: 400,
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
    textItems: 16,
  },
};

export type RewardsJobResult = GridJobResult;

const thinkOpen = '<think>';
const thinkClose = '</think>';

/** The context extended by the first k words of the target, and the rest of the target (k by hash). */
function splitInside(target: DemoTarget, salt: string): { context: string; word: string; rest: string } {
  const words = target.target.split(' ');
  const k = hashOf(`${target.id}:${salt}`) % words.length;
  return {
    context: [target.context, ...words.slice(0, k)].join(' '),
    word: words[k]!,
    rest: words.slice(k).join(' '),
  };
}

interface Items {
  rlpt: RlItem[];
  rpt: RlItem[];
  rlp: { id: string; context: string; continuation: string }[];
  sft: { id: string; prompt: string; completion: string }[];
  documents: string[];
  segment: RlItem[];
  nll: TextItem[];
  token: TextItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1; rpt: JudgeV1 };
}

async function buildItems(world: DemoWorld, budget: RewardsBudget, seed: number): Promise<Items> {
  const [{ renderTaskPrompt }, { nextSegmentItem, goldCompletion }, reward, { loadTokenizer }] =
    await Promise.all([
      import('@rlpt/prompts'),
      import('@rlpt/trainer'),
      import('@rlpt/reward'),
      import('@rlpt/model'),
    ]);
  const { corpus } = world;
  const nextTokenItem = (target: DemoTarget) => {
    const { context, word, rest } = splitInside(target, `rpt:${seed}`);
    return {
      item: nextSegmentItem(
        {
          id: `${target.id}:next-token`,
          task: 'next-token',
          prompt: renderTaskPrompt('next-token', { context }, { preset: 'tiny' }),
          target: word,
          reference: rest,
          context,
        },
        'prefix',
      ),
      word,
    };
  };
  // The demo's λ mix: one MSR prompt per two ASR where a next sentence exists.
  const rlpt = corpus.trainTargets.map((target, index) =>
    demoItem(target, demoTask(target, index, seed), 'prefix'),
  );
  const rpt = corpus.trainTargets.map((target) => nextTokenItem(target));
  // Cold start: the tag format of both judged tasks (gold sentences and gold next words).
  const sft = [
    ...rlpt.map((item, index) => ({
      id: item.id,
      prompt: item.prompt,
      completion: goldCompletion(corpus.trainTargets[index]!.target),
    })),
    ...rpt.map(({ item, word }) => ({ id: item.id, prompt: item.prompt, completion: goldCompletion(word) })),
  ];
  const held = corpus.heldOutTargets;
  return {
    rlpt,
    rpt: rpt.map(({ item }) => item),
    rlp: corpus.trainTargets.map((target) => ({
      id: `${target.id}:rlp`,
      context: target.context,
      continuation: target.target,
    })),
    sft,
    documents: corpus.train.map((document) => document.text),
    segment: held.slice(0, budget.evalPrompts).map((target) => demoItem(target, 'asr', 'strict')),
    nll: held
      .slice(0, budget.textItems)
      .map((target) => ({ id: target.id, context: target.context, continuation: target.target })),
    token: held.slice(0, budget.textItems).map((target) => {
      const { context, rest } = splitInside(target, 'yardstick');
      return { id: target.id, context, continuation: rest };
    }),
    judges: {
      ...(await lexicalJudges()),
      // RPT's token boundaries: the policy's own tokenizer.
      rpt: reward.createRptJudge({ tokenizer: (await loadTokenizer(world.modelDir)).tokenizer }),
    },
  };
}

export const rewardsStudy = gridStudy<Items, RewardsBudget>({
  name: 'rewards',
  title: 'RLPT vs RPT vs RLP vs continued pretraining, compute-matched, on three held-out yardsticks',
  defaultSeeds: 3,
  budgets: rewardsBudgets,
  world: { prompts: ['asr', 'msr', 'nextToken'], addedTokens: [thinkOpen, thinkClose] },
  items: buildItems,
  sft: (items) => items.sft,
  documents: (items) => items.documents,
  control: 'cpt',
  arms: [
    {
      name: 'rlpt',
      title: 'RLPT (lexical prefix judge, ASR + MSR)',
      training: 'reward',
      train: (trainer, items, chunk) =>
        trainer.rl(items.rlpt, {
          ...chunk,
          ...demoRollouts,
          maxTokens: 24,
          judge: items.judges.prefix,
        }),
    },
    {
      name: 'rpt',
      title: 'RPT (exact next-token prefix)',
      training: 'reward',
      train: (trainer, items, chunk) =>
        trainer.rl(items.rpt, {
          ...chunk,
          ...demoRollouts,
          maxTokens: 8,
          judge: items.judges.rpt,
        }),
    },
    {
      name: 'rlp',
      title: 'RLP (information gain over EMA teacher)',
      training: 'reward',
      // The paper's teacher decay; the teacher starts at the cold-start weights.
      emaDecay: 0.999,
      train: (trainer, items, chunk) =>
        trainer.rlp(items.rlp, {
          ...chunk,
          promptsPerStep: 16,
          thoughtsPerPrompt: 4,
          thoughtTokens: 8,
          temperature: 1,
          thinkOpen,
          thinkClose,
          aggregate: 'mean',
        }),
    },
    {
      name: 'cpt',
      title: 'continued pretraining (control)',
      training: 'loss',
      train: (trainer, items, chunk) => trainer.pretrain(items.documents, { ...chunk, batchSize: 32 }),
    },
  ],
  yardsticks: [
    { key: 'segmentGreedy', label: 'next-segment greedy' },
    { key: 'segmentPass1', label: 'next-segment pass@1' },
    { key: 'tokenAccuracy', label: 'next-token accuracy' },
    { key: 'nll', label: 'next-segment NLL', lowerIsBetter: true },
  ],
  measure: async (trainer, items, budget, label) => {
    const segment = await trainer.evaluate(items.segment, {
      judge: items.judges.strict,
      n: budget.evalSamples,
      temperature: 1,
      maxTokens: 24,
      greedy: true,
      name: `segment@${label}`,
    });
    const nll = await trainer.evaluateText(items.nll, { name: `nll@${label}` });
    const token = await trainer.evaluateText(items.token, { name: `token@${label}` });
    return {
      segmentPass1: segment.pass1,
      segmentGreedy: segment.greedy ?? Number.NaN,
      tokenAccuracy: token.nextTokenAccuracy,
      nll: nll.nll,
    };
  },
  describe: (budget, _settings, parameters) => [
    `Three rewards for pre-training text on one loop — RLPT's judge (lexical here: the toy has no judge model), RPT's exact next-token prefix, RLP's information gain over an EMA teacher — and a continued-pretraining control (next-token training on the same documents), from one cold start per seed: a ${parameters.toLocaleString('en-US')}-parameter word-level model pretrained on the demo corpus (${budget.trainDocuments} training documents, ${budget.pretrainSteps} steps) and cold-started on the tag format of both judged tasks (${budget.sftSteps} SFT steps). Held-out documents never share a context with training ones.`,
    `Yardsticks (held-out, the same for every arm): **next-segment** — the ASR prompt judged by the strict lexical judge, greedy and sampled pass@1 (${budget.evalPrompts} prompts × ${budget.evalSamples} samples); **next-token accuracy** — greedy next word after a raw context cut inside a sentence (or at its start), no prompt, no thinking (${budget.textItems} contexts); **next-segment NLL** — nats per token of the next sentence teacher-forced after the raw context, no thinking (${budget.textItems} contexts). Settings: RLPT and RPT 16 prompts × 8 rollouts per step; RLP 16 contexts × 4 thoughts of ≤ 8 tokens, per-token mean information gain, teacher decay 0.999; the control 32 documents per step; learning rate 2e-4 for all.`,
  ],
});
