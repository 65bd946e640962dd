/** Backend conformance cases. Seeds and `n`: reproducible and varied sampling. */
import type { Completion, GenerateRequest, GenerateResult } from '@rlpt/spec';
import type { BackendConformanceCase, ConformanceCaseContext, Failer } from '../backend-types.js';
import {
  compareGreedy,
  completionsOf,
  formatIds,
  generateChecked,
  greedy,
  idsOf,
  preview,
  sameCompletion,
} from '../backend-checks.js';

export const samplingCases: BackendConformanceCase[] = [
  {
    id: 'seed-reproducible',
    title: 'seeded sampling is reproducible: the same seed gives the same completions',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.seed) failer.skip('capabilities.seed is false.');
      const request: GenerateRequest = { ...greedy(context), temperature: 1, n: 3, seed: 1234 };
      const first = await generateChecked(context, failer, request);
      const second = await generateChecked(context, failer, request);
      for (const [promptIndex, completions] of completionsOf(first).entries()) {
        for (const [sampleIndex, completion] of completions.entries()) {
          const again = second.results[promptIndex]?.completions[sampleIndex] as Completion;
          failer.check(
            sameCompletion(completion, again),
            `prompts[${promptIndex}].completions[${sampleIndex}] with seed 1234 differs between two identical calls: ${formatIds(idsOf(completion) ?? [])} ${preview(completion.text)} vs ${formatIds(idsOf(again) ?? [])} ${preview(again.text)}.`,
          );
        }
      }
    },
  },
  {
    id: 'seed-varies',
    title: 'different seeds (and unseeded calls) give different samples on a high-entropy model',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.seed) failer.skip('capabilities.seed is false.');
      const request: GenerateRequest = { ...greedy(context), temperature: 1, n: 2 };
      const runs = [
        await generateChecked(context, failer, { ...request, seed: 1 }),
        await generateChecked(context, failer, { ...request, seed: 2 }),
        await generateChecked(context, failer, request),
        await generateChecked(context, failer, request),
      ];
      const signature = (result: GenerateResult) =>
        JSON.stringify(completionsOf(result).map((list) => list.map((c) => [c.tokenIds ?? null, c.text])));
      const [one, two, unseededA, unseededB] = runs.map(signature);
      const total = context.options.prompts.length * 2;
      failer.check(
        one !== two,
        `seeds 1 and 2 gave the same ${total} completions: the seed does not reach the sampler (or the model is near-deterministic: run the suite on a high-entropy model, e.g. a createTinyModel default).`,
      );
      failer.check(
        unseededA !== unseededB,
        `two unseeded calls gave the same ${total} completions: without a seed, sampling must not replay a fixed stream (e.g. a global RNG left seeded by an earlier call).`,
      );
    },
  },
  {
    id: 'n',
    title: '`n` completions per prompt: greedy copies agree, samples differ',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const greedyResult = await generateChecked(context, failer, greedy(context, { n: 3 }));
      for (const [promptIndex, entry] of greedyResult.results.entries()) {
        const first = entry.completions[0] as Completion;
        for (const [sampleIndex, completion] of entry.completions.entries()) {
          await compareGreedy(
            context,
            failer,
            `greedy n = 3, prompts[${promptIndex}].completions[${sampleIndex}]`,
            entry.promptTokenIds,
            completion,
            first,
            [`completion ${sampleIndex}`, 'completion 0'],
          );
        }
      }
      const seed = context.backend.capabilities.seed ? { seed: 99 } : {};
      const sampled = await generateChecked(context, failer, {
        ...greedy(context),
        temperature: 1,
        n: 4,
        ...seed,
      });
      const distinct = sampled.results.map(
        (entry) => new Set(entry.completions.map((c) => JSON.stringify([c.tokenIds ?? null, c.text]))).size,
      );
      failer.check(
        distinct.some((count) => count > 1),
        `n = 4 at temperature 1 gave 4 identical completions for every prompt (distinct per prompt: ${distinct.join(', ')}): the n samples must be drawn independently.`,
      );
    },
  },
];
