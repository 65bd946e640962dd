// `rlpt study tasks` (issue 17): the λ term of the paper's Eq. 5 — RLPT on ASR only, MSR only, and the mix
// (one MSR prompt in three, the demo's λ = 0.5), from one cold start per seed, compute-matched, measured on
// held-out ASR and MSR prompts.
import type { JudgeV1 } from '@rlpt/spec';
import type { RlItem, SftExample, TextItem } from '@rlpt/trainer';
import { type DemoTarget, type DemoWorld, demoItem, demoRollouts, demoTask } from '../demo/world.js';
import { lexicalJudges, type GridBudget, gridStudy } from './grid.js';

export interface TasksBudget extends GridBudget {
  /** Held-out prompts per task and samples per prompt. */
  evalPrompts: number;
  evalSamples: number;
  textItems: number;
}

export const tasksBudgets: Record<'full' | 'smoke', TasksBudget> = {
  full: {
    trainDocuments: 3000,
    heldOutDocuments: 600,
    pretrainSteps: 600,
    sftSteps: 40,
    computeBudget: 1_200_000,
    chunks: 3,
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

interface Items {
  asr: RlItem[];
  msr: RlItem[];
  mix: RlItem[];
  sft: SftExample[];
  documents: string[];
  heldAsr: RlItem[];
  heldMsr: RlItem[];
  nll: TextItem[];
  judges: { prefix: JudgeV1; strict: JudgeV1 };
}

async function buildItems(world: DemoWorld, budget: TasksBudget, seed: number): Promise<Items> {
  const { goldCompletion } = await import('@rlpt/trainer');
  const { corpus } = world;
  const train = corpus.trainTargets;
  const withNext = (target: DemoTarget) => target.next !== '';
  const asr = train.map((target) => demoItem(target, 'asr', 'prefix'));
  const msr = train.filter(withNext).map((target) => demoItem(target, 'msr', 'prefix'));
  const gold = (target: DemoTarget, task: 'asr' | 'msr') => ({
    id: `${target.id}:${task}`,
    prompt: demoItem(target, task, 'prefix').prompt,
    completion: goldCompletion(target.target),
  });
  const held = corpus.heldOutTargets;
  return {
    asr,
    msr,
    // The demo's λ mix: MSR for one target in three that has a next sentence.
    mix: train.map((target, index) => demoItem(target, demoTask(target, index, seed), 'prefix')),
    // Cold start on both formats, so every arm starts able to answer both.
    sft: [
      ...train.map((target) => gold(target, 'asr')),
      ...train.filter(withNext).map((target) => gold(target, 'msr')),
    ],
    documents: corpus.train.map((document) => document.text),
    heldAsr: held.slice(0, budget.evalPrompts).map((target) => demoItem(target, 'asr', 'strict')),
    heldMsr: held
      .filter(withNext)
      .slice(0, budget.evalPrompts)
      .map((target) => demoItem(target, 'msr', 'strict')),
    nll: held
      .slice(0, budget.textItems)
      .map((target) => ({ id: target.id, context: target.context, continuation: target.target })),
    judges: {
      ...(await lexicalJudges()),
    },
  };
}

const rlArm = (name: 'asr' | 'msr' | 'mix', title: string) => ({
  name,
  title,
  training: 'reward' as const,
  train: (trainer: import('@rlpt/trainer').Trainer, items: Items, chunk: import('./grid.js').ChunkOptions) =>
    trainer.rl(items[name], {
      ...chunk,
      ...demoRollouts,
      maxTokens: 24,
      judge: items.judges.prefix,
    }),
});

export const tasksStudy = gridStudy<Items, TasksBudget>({
  name: 'tasks',
  title: 'RLPT on ASR only, MSR only, and the λ mix (Eq. 5), compute-matched',
  defaultSeeds: 3,
  budgets: tasksBudgets,
  world: { prompts: ['asr', 'msr'] },
  items: buildItems,
  sft: (items) => items.sft,
  documents: (items) => items.documents,
  control: 'mix',
  arms: [
    rlArm('asr', 'ASR only (next sentence)'),
    rlArm('msr', 'MSR only (masked middle sentence)'),
    rlArm('mix', 'ASR + MSR, λ = 0.5 (one MSR in three)'),
  ],
  yardsticks: [
    { key: 'asrPass1', label: 'held-out ASR pass@1' },
    { key: 'asrGreedy', label: 'held-out ASR greedy' },
    { key: 'msrPass1', label: 'held-out MSR pass@1' },
    { key: 'msrGreedy', label: 'held-out MSR greedy' },
    { key: 'nll', label: 'next-segment NLL', lowerIsBetter: true },
  ],
  measure: async (trainer, items, budget, label) => {
    const options = {
      judge: items.judges.strict,
      n: budget.evalSamples,
      temperature: 1,
      maxTokens: 24,
      greedy: true,
    };
    const asr = await trainer.evaluate(items.heldAsr, { ...options, name: `asr@${label}` });
    const msr = await trainer.evaluate(items.heldMsr, { ...options, name: `msr@${label}` });
    const nll = await trainer.evaluateText(items.nll, { name: `nll@${label}` });
    return {
      asrPass1: asr.pass1,
      asrGreedy: asr.greedy ?? Number.NaN,
      msrPass1: msr.pass1,
      msrGreedy: msr.greedy ?? Number.NaN,
      nll: nll.nll,
    };
  },
  describe: (budget, _settings, parameters) => [
    `The paper's Eq. 5 mixes ASR (predict the next sentence) and MSR (fill a masked middle sentence, seeing the one after it) with weight λ. This study trains RLPT on each task alone and on the mix, from one cold start per seed: a ${parameters.toLocaleString('en-US')}-parameter word-level model pretrained on the demo corpus (${budget.trainDocuments} training documents, ${budget.pretrainSteps} steps) and cold-started on the tag format of both tasks (${budget.sftSteps} SFT steps). Training reward: the lexical prefix judge; 16 prompts × 8 rollouts per step, learning rate 2e-4.`,
    `Yardsticks (held-out documents): ASR and MSR prompts judged by the strict lexical judge, sampled pass@1 (${budget.evalPrompts} prompts × ${budget.evalSamples} samples per task) and greedy; the NLL per token of the next sentence after the raw context (${budget.textItems} contexts, no prompt).`,
  ],
});
