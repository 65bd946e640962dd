/**
 * A small but real RLPT setup for the trainer's integration tests: a word-level tiny model built by
 * `@rlpt/model`, the ONNX learner, the ONNX backend and the lexical judge, on a toy corpus whose next
 * sentence is inferable (counting: "two three four ." follows "one two three .").
 */
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOnnxLearner, type OnnxLearner } from '@rlpt/learner-onnx';
import { createTinyModel, loadTextTokenizer } from '@rlpt/model';
import { renderTaskPrompt } from '@rlpt/prompts';
import { createLexicalJudge } from '@rlpt/reward';
import type { JudgeV1, RlptEvent, TaskKind } from '@rlpt/spec';
import { Trainer } from '../trainer.js';
import { goldCompletion, nextSegmentItem } from '../items.js';
import type { RlItem, RlOptions, SftExample, TokenizerLike, TrainerOptions } from '../types.js';

const numbers = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
export const tags = ['<|startofprediction|>', '<|endofprediction|>'] as const;

/** Sentence i of a counting document: three consecutive numbers from `start + i`. */
function sentence(start: number, index: number): string {
  return `${numbers.slice(start + index, start + index + 3).join(' ')} .`;
}

/** Documents of `length` counting sentences, starting at each number that fits. */
export function documents(length = 4): string[][] {
  const docs: string[][] = [];
  for (let start = 0; start + length + 2 <= numbers.length; start++) {
    docs.push(Array.from({ length }, (_, index) => sentence(start, index)));
  }
  return docs;
}

export interface TinyTarget {
  id: string;
  context: string;
  target: string;
  next: string;
  reference: string;
}

/** Every target s_i (i ≥ 1) with its context, following sentence and a 2-sentence reference window. */
export function targets(docs = documents()): TinyTarget[] {
  return docs.flatMap((sentences, doc) =>
    sentences.slice(1).map((target, offset) => {
      const index = offset + 1;
      return {
        id: `doc${doc}:${index}`,
        context: sentences.slice(0, index).join(' '),
        target,
        next: sentences[index + 1] ?? '',
        reference: sentences.slice(index, index + 2).join(' '),
      };
    }),
  );
}

/** ASR for every target, MSR for every other one that has a next sentence. */
export function rlItems(list = targets()): RlItem[] {
  return list.map((target, index) => {
    const task: TaskKind = target.next && index % 2 === 1 ? 'msr' : 'asr';
    return nextSegmentItem({
      ...target,
      id: `${target.id}:${task}`,
      task,
      prompt: renderTaskPrompt(task, target, { preset: 'tiny' }),
    });
  });
}

export function sftExamples(list = targets()): SftExample[] {
  const items = rlItems(list);
  return items.map((item, index) => ({
    id: item.id,
    prompt: item.prompt,
    completion: goldCompletion(list[index]!.target),
  }));
}

function vocabulary(): string[] {
  const texts = [
    ...documents().flat(),
    ...rlItems().map((item) => item.prompt),
  ];
  const words = new Set<string>();
  for (const text of texts) {
    for (const part of text.replaceAll(tags[0], ' ').replaceAll(tags[1], ' ').split(/\s+/)) {
      for (const word of part.match(/\w+|[^\w\s]+/g) ?? []) words.add(word);
    }
  }
  words.delete('<MASK>');
  return [...words].sort();
}

/** Writes the tiny word-level model (vocabulary ≈ 30, ~30k parameters) and returns its tokenizer. */
export async function buildTinyModel(dir: string, seed = 1): Promise<{ dir: string; tokenizer: TokenizerLike }> {
  await createTinyModel({
    dir,
    tokenizer: { words: vocabulary(), addedTokens: [...tags, '<MASK>'] },
    hiddenSize: 32,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 64,
    maxPositionEmbeddings: 128,
    seed,
    std: 0.1,
    overwrite: true,
  });
  return { dir, tokenizer: await tinyTokenizer(dir) };
}

/** The trainer's tokenizer over a model folder's `tokenizer.json` (ids as the backend sees them). */
export async function tinyTokenizer(modelDir: string): Promise<TokenizerLike> {
  return loadTextTokenizer(modelDir);
}

export async function tinyLearner(modelDir: string): Promise<OnnxLearner> {
  return createOnnxLearner({ modelDir, threads: 1, maxGradNorm: 1, adam: { beta2: 0.99 } });
}

export const loadPolicy = async (modelDir: string) => createOnnxBackend({ modelDir, threads: 1 });

/** The lexical judge the RL stages use (exact words, the prefix reward). */
export function lexicalJudge(): JudgeV1 {
  return createLexicalJudge({ tolerance: 0, mode: 'prefix' });
}

export interface PipelineOptions {
  runDir: string;
  modelDir: string;
  tokenizer: TokenizerLike;
  resume?: boolean;
  checkpointEvery?: number;
  rlSteps?: number;
  onEvent?: (event: RlptEvent) => void;
  /** Replaces the default lexical judge. */
  judge?: JudgeV1;
  rl?: Partial<RlOptions>;
}

/** The budget the resume test runs: pretrain → SFT → RLPT with held-out evaluations. */
export const pipelineBudget = { pretrainSteps: 30, sftSteps: 40, rlSteps: 9 };

/**
 * pretrain → SFT → RLPT (with an evaluation every 3 RL steps) → final evaluation, in one run directory.
 * Returns the learner (still open) and the trainer (closed).
 */
export async function runPipeline(options: PipelineOptions): Promise<{ learner: OnnxLearner; trainer: Trainer }> {
  const learner = await tinyLearner(options.modelDir);
  const trainerOptions: TrainerOptions = {
    runDir: options.runDir,
    learner,
    loadPolicy,
    tokenizer: options.tokenizer,
    seed: 7,
    resume: options.resume ?? false,
    checkpointEvery: options.checkpointEvery ?? 2,
    config: { test: 'pipeline' },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
  const trainer = await Trainer.create(trainerOptions);
  const items = rlItems();
  const heldOut = items.filter((_, index) => index % 4 === 0);
  const judge = options.judge ?? lexicalJudge();
  await trainer.pretrain(
    documents().map((sentences) => sentences.join(' ')),
    { steps: pipelineBudget.pretrainSteps, batchSize: 4, learningRate: 1e-2, schedule: 'cosine', warmupSteps: 3 },
  );
  await trainer.sft(sftExamples(), { steps: pipelineBudget.sftSteps, batchSize: 8, learningRate: 1e-2 });
  await trainer.rl(items, {
    steps: options.rlSteps ?? pipelineBudget.rlSteps,
    promptsPerStep: 4,
    rolloutsPerPrompt: 4,
    maxTokens: 8,
    temperature: 1,
    learningRate: 3e-3,
    judge,
    samplesEvery: 2,
    evaluation: {
      every: 3,
      items: heldOut,
      options: { judge, n: 2, temperature: 1, maxTokens: 8, name: 'heldout' },
    },
    ...options.rl,
  });
  await trainer.evaluate(heldOut, { judge, n: 4, temperature: 1, maxTokens: 8, greedy: true, name: 'final' });
  await trainer.close();
  return { learner, trainer };
}

export const modelFolder = (root: string) => join(root, 'model');
