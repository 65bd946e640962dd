// RLP's scoring cost per step against RLPT's judge step, on the same batch, measured in the same run.
//
// RLP (METHOD.md §8) scores a thought with two teacher-forced passes: the policy reads context + thought +
// continuation (one sequence per thought), the EMA teacher reads context + continuation (one per context).
// RLPT scores a prediction with a generative judge: the judge reads its prompt (reference + prediction) and
// writes a few verdict tokens. Here the judge is a model of the policy's size behind @rlpt/backend-onnx (the
// paper's judge is usually larger than the policy, which would make RLPT's step costlier still); the lexical
// judge (no model) is shown for scale.
//
// Model: the demo's size (3 layers, d 128, 4 heads, MLP 384, tied; word-level over the embedded demo corpus's
// vocabulary, <think> and </think> single tokens). Batch: 16 held-out contexts of the embedded demo corpus ×
// 8 thoughts of 8 tokens (RLP) or 8 different predictions (RLPT: the real next sentence and 7 other sentences of
// the corpus, so verdict prompts have their real length); continuation = the real next sentence. One onnxruntime thread for every phase.
// Phases in a rotating order each round; the headline is the median over rounds of the per-round ratio.
// Data: the embedded demo corpus (no ../shared/data needed). Env: RLPT_BENCH_ROUNDS (5).
// Run alone: `pnpm bench rlp-scoring` (node bench/run-all.mjs rlp-scoring).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { buildDemoCorpus, demoVocabulary } from '@rlpt/data';
import { createOnnxLearner } from '@rlpt/learner-onnx';
import { createTinyModel, loadTextTokenizer } from '@rlpt/model';
import { createGenerativeJudge, createLexicalJudge } from '@rlpt/reward';
import type { JudgeItem, JudgeV1, TokenBatch } from '@rlpt/spec';

const rounds = Number(process.env.RLPT_BENCH_ROUNDS ?? 5);
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const dir = await mkdtemp(join(tmpdir(), 'rlpt-bench-rlp-'));
const tags = ['<|startofprediction|>', '<|endofprediction|>'];
const grmWords = 'Score 1 if Predicted means the same as the start of Reference , else 0 . Reply : or'.split(
  ' ',
);
const model = await createTinyModel({
  dir: join(dir, 'model'),
  tokenizer: {
    words: [...new Set([...demoVocabulary, ...grmWords])],
    addedTokens: [...tags, '<MASK>', '<think>', '</think>'],
  },
  hiddenSize: 128,
  layers: 3,
  heads: 4,
  kvHeads: 4,
  intermediateSize: 384,
  maxPositionEmbeddings: 256,
  tieWordEmbeddings: true,
  seed: 1,
});
const tokenizer = await loadTextTokenizer(model.dir);
const corpus = buildDemoCorpus({ seed: 1 });
const contexts = corpus.heldOutTargets.slice(0, 16);
const group = 8;
const thoughtTokens = 8;
const open = tokenizer.encode('<think>');
const close = tokenizer.encode('</think>');
const vocab = demoVocabulary.length;

// RLP: the policy's pass (one per thought) and the teacher's (one per context).
const withThought: TokenBatch = {
  sequences: contexts.flatMap((target, contextIndex) =>
    Array.from({ length: group }, (_, thought) => ({
      promptTokenIds: [
        ...tokenizer.encode(target.context),
        ...open,
        ...Array.from(
          { length: thoughtTokens },
          (_, t) => 3 + ((contextIndex * 131 + thought * 17 + t * 7) % vocab),
        ),
        ...close,
      ],
      completionTokenIds: tokenizer.encode(target.target),
    })),
  ),
};
const withoutThought: TokenBatch = {
  sequences: contexts.map((target) => ({
    promptTokenIds: tokenizer.encode(target.context),
    completionTokenIds: tokenizer.encode(target.target),
  })),
};
// RLPT: one verdict per prediction, against the reference window. Predictions differ within a group (as
// rollouts do: the judge de-duplicates identical items), each a real sentence of the corpus.
const sentences = corpus.heldOutTargets.map((target) => target.target);
const judgeItems: JudgeItem[] = contexts.flatMap((target, contextIndex) =>
  Array.from({ length: group }, (_, index) => ({
    id: `${target.id}:${index}`,
    prediction: index === 0 ? target.target : sentences[(contextIndex * group + index) % sentences.length]!,
    reference: target.reference,
    target: target.target,
    mode: 'prefix' as const,
  })),
);

const learner = await createOnnxLearner({ modelDir: model.dir, threads: 1, ema: { decay: 0.999 } });
const backend = createOnnxBackend({ modelDir: model.dir, threads: 1 });
const generative: JudgeV1 = createGenerativeJudge({
  backend,
  preset: 'tiny',
  maxTokens: 4,
  batchSize: judgeItems.length,
  retries: 0,
  cache: false,
  hardening: false,
  onFailure: 'zero',
});
const lexical = createLexicalJudge({ tolerance: 0 });
const phases: Record<string, () => Promise<unknown>> = {
  'rlp scoring': async () => {
    await learner.logprobs(withThought);
    await learner.teacherLogprobs(withoutThought);
  },
  'rlpt generative judge': () => generative.judge(judgeItems),
  'rlpt lexical judge': () => lexical.judge(judgeItems),
};
const names = Object.keys(phases);
const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
try {
  for (const name of names) await phases[name]!(); // warm-up: sessions, first shapes
  for (let round = 0; round < rounds; round++) {
    for (const name of names.map((_, index) => names[(index + round) % names.length]!)) {
      const started = performance.now();
      await phases[name]!();
      times[name]!.push(performance.now() - started);
    }
  }
} finally {
  await learner.close();
  await backend.close?.();
  await rm(dir, { recursive: true, force: true });
}
const scoredTokens =
  withThought.sequences.reduce((sum, s) => sum + s.promptTokenIds.length + s.completionTokenIds.length, 0) +
  withoutThought.sequences.reduce((sum, s) => sum + s.promptTokenIds.length + s.completionTokenIds.length, 0);
console.log(
  `model: demo size (3L d128 h4 ff384 tied, vocab ${model.config.vocabSize}); batch ${contexts.length} contexts × ${group}; RLP reads ${scoredTokens} tokens per step; ${rounds} rounds`,
);
for (const name of names)
  console.log(`  ${name.padEnd(22)} ${median(times[name]!).toFixed(1)} ms per step (median)`);
const ratio = median(times['rlp scoring']!.map((ms, index) => ms / times['rlpt generative judge']![index]!));
console.log(
  `rlp-scoring: ${ratio.toFixed(2)}x RLP's scoring (2 teacher-forced passes per thought, EMA teacher) vs RLPT's generative judge step (a policy-size judge writing ≤ 4 verdict tokens), same ${judgeItems.length}-rollout batch`,
);
