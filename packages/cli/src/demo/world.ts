import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { renderTaskPrompt } from '@rlpt/prompts';
import { nextSegmentItem, type RlItem, type TokenizerLike } from '@rlpt/trainer';

const tags = ['<|startofprediction|>', '<|endofprediction|>'];

/** Words of a prompt template the word-level tokenizer must know. */
function templateWords(text: string): string[] {
  return text
    .replace(/\{[a-z_]+\}/g, ' ')
    .split(/\s+/)
    .flatMap((word) => word.match(/\w+|[^\w\s]+/g) ?? [])
    .filter((word) => !tags.includes(word));
}

export type DemoCorpus = ReturnType<typeof import('@rlpt/data').buildDemoCorpus>;
export type DemoTarget = DemoCorpus['trainTargets'][number];

export interface DemoWorld {
  corpus: DemoCorpus;
  /** The initial model folder (`<dir>/init-model`). */
  modelDir: string;
  tokenizer: TokenizerLike;
  parameters: number;
}

/**
 * The demo's world for one seed: the generated corpus (held-out contexts never prefix a training document)
 * and a ~0.6M-parameter model with a word-level tokenizer over the corpus and the `tiny` prompt preset's
 * words. `addedTokens` beyond the prediction tags and `<MASK>` (e.g. RLP's `<think>`) become single tokens.
 */
export async function createDemoWorld(options: {
  seed: number;
  dir: string;
  trainDocuments: number;
  heldOutDocuments: number;
  /** Prompts of the `tiny` preset whose words the tokenizer knows. Default ASR and MSR. */
  prompts?: ('asr' | 'msr' | 'nextToken')[];
  addedTokens?: string[];
}): Promise<DemoWorld> {
  const [
    { buildDemoCorpus, demoVocabulary },
    { createTinyModel, loadTextTokenizer, countParameters },
    prompts,
  ] = await Promise.all([import('@rlpt/data'), import('@rlpt/model'), import('@rlpt/prompts')]);
  const { seed } = options;
  const corpus = buildDemoCorpus({
    seed: 1000 + seed,
    trainDocuments: options.trainDocuments,
    heldOutDocuments: options.heldOutDocuments,
  });
  const tiny = prompts.presets.tiny;
  const words = [
    ...new Set([
      ...demoVocabulary,
      ...(options.prompts ?? ['asr', 'msr']).flatMap((kind) => templateWords(tiny[kind])),
      '<MASK>',
    ]),
  ].filter((word) => !/\s/.test(word) && word.length > 0);
  const modelDir = join(options.dir, 'init-model');
  await mkdir(options.dir, { recursive: true });
  const model = await createTinyModel({
    dir: modelDir,
    tokenizer: { words, addedTokens: [...tags, '<MASK>', ...(options.addedTokens ?? [])] },
    hiddenSize: 128,
    layers: 3,
    heads: 4,
    kvHeads: 4,
    intermediateSize: 384,
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: true,
    seed,
    overwrite: true,
  });
  // The word-level tokenizer's config names <bos>/<eos>: the same ids as model.tokenizerFiles.
  const tokenizer = await loadTextTokenizer(modelDir);
  return { corpus, modelDir, tokenizer, parameters: countParameters(model.config) };
}

/** The demo's GRPO settings: group-normalised advantages, zero-variance groups dropped, ±0.2 clipping, token mean. */
export const demoGrpo = {
  advantage: {
    scale: 'group' as const,
    std: 'unbiased' as const,
    epsilon: 1e-6,
    dropZeroVarianceGroups: true,
  },
  objective: { clipLow: 0.2, clipHigh: 0.2, aggregation: 'token-mean' as const },
};

/** The demo's λ = 0.5 mix: MSR for one target in three that has a next sentence (by index and salt), else ASR. */
export function demoTask(target: DemoTarget, index: number, salt: number): 'asr' | 'msr' {
  return target.next !== '' && (index * 2654435761 + salt) % 3 === 0 ? 'msr' : 'asr';
}

/** The RL item of a demo target: the `tiny` preset's ASR or MSR prompt, judged in `mode`. */
export function demoItem(target: DemoTarget, task: 'asr' | 'msr', mode: 'prefix' | 'strict'): RlItem {
  return nextSegmentItem(
    {
      id: `${target.id}:${task}`,
      task,
      prompt: renderTaskPrompt(task, { context: target.context, next: target.next }, { preset: 'tiny' }),
      target: target.target,
      reference: target.reference,
      context: target.context,
    },
    mode,
  );
}

/** The demo's RLPT rollouts: 16 prompts × 8 samples at T = 1, with the demo's GRPO settings. */
export const demoRollouts = { promptsPerStep: 16, rolloutsPerPrompt: 8, temperature: 1, grpo: demoGrpo };
