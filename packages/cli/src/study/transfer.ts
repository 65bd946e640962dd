// `rlpt study transfer` (issue 17): does what RLPT learns carry over to a kind of document it never trained
// on? The demo corpus has four generators; pretraining and the cold start (the task format) see them all, but
// every arm trains on three, and the fourth (`apples`: running sums) is only evaluated. RLPT against SFT on the
// gold sentences of the same three generators, compute-matched, from one cold start per seed. (With the
// fourth generator out of the cold start too, the 0.66M model answered every one of its prompts with an empty
// prediction: the format itself did not carry over, and every arm scored 0 there.)
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, SftExample } from '@rlpt/trainer';
import { type DemoWorld, demoItem, demoRollouts, demoTask } from '../demo/world.js';
import { lexicalJudges, type GridBudget, gridStudy } from './grid.js';

/** The generator held out of the cold start and of every arm's training. */
export const heldOutGenerator = 'apples';

export interface TransferBudget extends GridBudget {
  evalPrompts: number;
  evalSamples: number;
}

export const transferBudgets: Record<'full' | 'smoke', TransferBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 1200,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 1_500_000,
    chunks: 3,
    evalPrompts: 200,
    evalSamples: 4,
  },
  smoke: {
    trainDocuments: 120,
    heldOutDocuments: 60,
    pretrainSteps: 8,
    sftSteps: 4,
    computeBudget: 30_000,
    chunks: 2,
    evalPrompts: 12,
    evalSamples: 2,
  },
};

interface Items {
  rl: RlItem[];
  gold: SftExample[];
  /** The cold start: the format on every generator. */
  coldStart: SftExample[];
  documents: string[];
  unseen: RlItem[];
  seen: RlItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1 };
}

async function buildItems(world: DemoWorld, budget: TransferBudget, seed: number): Promise<Items> {
  const { goldCompletion } = await import('@rlpt/trainer');
  const { corpus } = world;
  const trained = corpus.trainTargets.filter((target) => target.template !== heldOutGenerator);
  const rl = trained.map((target, index) => demoItem(target, demoTask(target, index, seed), 'prefix'));
  const held = corpus.heldOutTargets;
  return {
    rl,
    gold: rl.map((entry, index) => ({
      id: entry.id,
      prompt: entry.prompt,
      completion: goldCompletion(trained[index]!.target),
    })),
    coldStart: corpus.trainTargets.map((target, index) => {
      const entry = demoItem(target, demoTask(target, index, seed), 'prefix');
      return { id: entry.id, prompt: entry.prompt, completion: goldCompletion(target.target) };
    }),
    // Pretraining reads every generator, the held-out one included.
    documents: corpus.train.map((document) => document.text),
    unseen: held
      .filter((target) => target.template === heldOutGenerator)
      .slice(0, budget.evalPrompts)
      .map((target) => demoItem(target, 'asr', 'strict')),
    seen: held
      .filter((target) => target.template !== heldOutGenerator)
      .slice(0, budget.evalPrompts)
      .map((target) => demoItem(target, 'asr', 'strict')),
    judges: {
      ...(await lexicalJudges()),
    },
  };
}

export const transferStudy = gridStudy<Items, TransferBudget>({
  name: 'transfer',
  title: `RLPT vs compute-matched SFT on three generators, evaluated on a fourth (${heldOutGenerator}) they never train on`,
  defaultSeeds: 3,
  budgets: transferBudgets,
  world: { prompts: ['asr', 'msr'] },
  items: buildItems,
  sft: (items) => items.coldStart,
  documents: (items) => items.documents,
  control: 'sft',
  arms: [
    {
      name: 'rlpt',
      title: 'RLPT (lexical prefix judge, ASR + MSR)',
      training: 'reward',
      train: (trainer, items, chunk) =>
        trainer.rl(items.rl, {
          ...chunk,
          ...demoRollouts,
          maxTokens: 24,
          judge: items.judges.prefix,
        }),
    },
    {
      name: 'sft',
      title: 'SFT on the gold sentences (control)',
      training: 'loss',
      // The demo's control rate: the cold start's SFT continued at a lower rate.
      train: (trainer, items, chunk) =>
        trainer.sft(items.gold, { ...chunk, learningRate: 1e-4, batchSize: 32 }),
    },
  ],
  yardsticks: [
    { key: 'unseenPass1', label: `unseen (${heldOutGenerator}) pass@1` },
    { key: 'unseenGreedy', label: `unseen (${heldOutGenerator}) greedy` },
    { key: 'seenPass1', label: 'trained generators pass@1' },
    { key: 'seenGreedy', label: 'trained generators greedy' },
  ],
  measure: async (trainer, items, budget, label) => {
    const options = {
      judge: items.judges.strict,
      n: budget.evalSamples,
      temperature: 1,
      maxTokens: 24,
      greedy: true,
    };
    const unseen = await trainer.evaluate(items.unseen, { ...options, name: `unseen@${label}` });
    const seen = await trainer.evaluate(items.seen, { ...options, name: `seen@${label}` });
    return {
      unseenPass1: unseen.pass1,
      unseenGreedy: unseen.greedy ?? Number.NaN,
      seenPass1: seen.pass1,
      seenGreedy: seen.greedy ?? Number.NaN,
    };
  },
  describe: (budget, _settings, parameters) => [
    `The paper's headline is generalisation: RLPT on web text lifts benchmarks of other kinds. Here the demo corpus's four generators play that role. A ${parameters.toLocaleString('en-US')}-parameter word-level model pretrains on documents of all four (${budget.trainDocuments} documents, ${budget.pretrainSteps} steps) and is cold-started on the task format of all four (${budget.sftSteps} SFT steps); both arms then train only on the other three, so the held-out generator measures whether their gains carry over. Arms: RLPT (16 prompts × 8 rollouts, lexical prefix judge, learning rate 2e-4) and SFT on the same three generators' gold sentences (learning rate 1e-4, the demo's control), the same forward-equivalent tokens.`,
    `Yardsticks: held-out documents of the unseen generator (\`${heldOutGenerator}\`, running sums) and of the trained ones, ASR prompts judged by the strict lexical judge (${budget.evalPrompts} prompts × ${budget.evalSamples} samples each, and greedy).`,
  ],
});
