/**
 * Backend conformance cases. Logprobs, sampling distribution and `score()`: the numbers a learner trains
 * on.
 */
import type { Completion, GenerateRequest } from '@rlpt/spec';
import { logitsRow } from '../uncached.js';
import type { BackendConformanceCase, ConformanceCaseContext, Failer } from '../backend-types.js';
import {
  checkLogprobsUncached,
  describeError,
  firstDivergence,
  formatIds,
  generateChecked,
  greedy,
  ksUniform,
  mulberry32,
  preview,
  requireTokenIds,
  samplingPit,
  settle,
} from '../backend-checks.js';

export const logprobsCases: BackendConformanceCase[] = [
  {
    id: 'logprobs',
    title: 'logprobs agree with an uncached full forward (sampled, temperature-scaled and greedy)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      if (!backend.capabilities.logprobs) failer.skip('capabilities.logprobs is false.');
      requireTokenIds(context, failer, 'checking logprobs token by token');
      if (!context.uncached && !backend.capabilities.score) {
        failer.skip('no setup.modelDir and capabilities.score is false: nothing to check logprobs against.');
      }
      if (!context.uncached)
        context.note('no setup.modelDir: logprobs compared with the backend’s own score().');
      const seed = backend.capabilities.seed ? { seed: 7 } : {};
      const requests: { request: GenerateRequest; temperature: number }[] = [
        { request: { ...greedy(context), temperature: 1, n: 2, logprobs: true, ...seed }, temperature: 1 },
        {
          request: { ...greedy(context), temperature: 0.6, logprobs: true, ...seed },
          temperature: options.logprobTemperature === 'scaled' ? 0.6 : 1,
        },
        { request: { ...greedy(context), logprobs: true }, temperature: 1 },
      ];
      let checked = 0;
      for (const { request, temperature } of requests) {
        const result = await generateChecked(context, failer, request);
        for (const [promptIndex, entry] of result.results.entries()) {
          const promptIds = entry.promptTokenIds as number[];
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const where = `generate(T = ${request.temperature}) prompts[${promptIndex}].completions[${sampleIndex}]`;
            const tokens = completion.tokenIds as number[];
            const logprobs = completion.logprobs as Float32Array;
            if (context.uncached) {
              checked += await checkLogprobsUncached(
                context,
                failer,
                where,
                promptIds,
                tokens,
                logprobs,
                temperature,
              );
              continue;
            }
            const scored = await backend.score?.({
              items: [{ prompt: { tokenIds: promptIds }, completion: { tokenIds: tokens } }],
              temperature,
            });
            const values = scored?.results[0]?.logprobs;
            failer.check(
              values && values.length === tokens.length,
              `${where}: score() returned no logprobs.`,
            );
            for (const [step, value] of logprobs.entries()) {
              const delta = Math.abs(value - (values[step] as number));
              if (!(delta <= options.logprobTolerance)) {
                failer.fail(
                  `${where}: generate logprob of token ${step} is ${value}, score() gives ${values[step]} (|Δ| ${delta.toExponential(2)}).`,
                );
              }
              checked++;
            }
          }
        }
      }
      failer.check(checked > 0, 'no tokens were generated to check.');
    },
  },
  {
    id: 'logprobs-self-consistent',
    title:
      'logprobs are consistent with themselves: same prefix and temperature, same logprob (no ONNX copy needed)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      if (!backend.capabilities.logprobs) failer.skip('capabilities.logprobs is false.');
      requireTokenIds(context, failer, 'comparing logprobs token by token');
      // Two calls may each be off by logprobTolerance from the exact value.
      const tolerance = 2 * options.logprobTolerance;
      // Greedy twice: identical tokens must carry identical logprobs.
      const first = await generateChecked(context, failer, greedy(context, { logprobs: true }));
      const second = await generateChecked(context, failer, greedy(context, { logprobs: true }));
      // Greedy logprobs are under T = 1; so are sampled ones at T = 1, whatever `logprobTemperature` is.
      const seed = backend.capabilities.seed ? { seed: 11 } : {};
      const sampled = await generateChecked(context, failer, {
        ...greedy(context),
        temperature: 1,
        n: 4,
        logprobs: true,
        ...seed,
      });
      let compared = 0;
      const compare = (where: string, a: Completion, b: Completion): void => {
        const ids = a.tokenIds as number[];
        const other = b.tokenIds as number[];
        const shared =
          firstDivergence(ids, other) < 0 ? Math.min(ids.length, other.length) : firstDivergence(ids, other);
        for (let step = 0; step < shared; step++) {
          const x = (a.logprobs as Float32Array)[step] as number;
          const y = (b.logprobs as Float32Array)[step] as number;
          if (!(Math.abs(x - y) <= tolerance))
            failer.fail(
              `${where}: token ${step} (id ${ids[step]}) after the same prefix has logprob ${x} in one completion and ${y} in the other (|Δ| = ${Math.abs(x - y).toExponential(2)} > ${tolerance}); logprobs are misaligned or depend on the batch.`,
            );
          compared++;
        }
      };
      for (const [index, entry] of first.results.entries()) {
        const greedyA = entry.completions[0] as Completion;
        compare(
          `greedy twice, prompts[${index}]`,
          greedyA,
          second.results[index]?.completions[0] as Completion,
        );
        const samples = sampled.results[index]?.completions ?? [];
        for (const [sampleIndex, sample] of samples.entries()) {
          compare(`prompts[${index}] sample ${sampleIndex} vs greedy (both T = 1)`, sample, greedyA);
          for (const other of samples.slice(sampleIndex + 1))
            compare(`prompts[${index}] samples sharing a prefix`, sample, other);
        }
        // The greedy token is the most likely one: no sample's first token may be more likely.
        const top = (greedyA.logprobs as Float32Array)[0];
        for (const sample of samples) {
          const lp = (sample.logprobs as Float32Array)[0];
          if (top !== undefined && lp !== undefined)
            failer.check(
              lp <= top + tolerance,
              `prompts[${index}]: a sampled first token has logprob ${lp} (T = 1), above the greedy first token's ${top}: the greedy token must be the most likely.`,
            );
        }
      }
      failer.check(compared > 0, 'no two completions shared a prefix: nothing was compared.');
    },
  },
  {
    id: 'sampling-distribution',
    title: 'sampled tokens follow softmax(logits / T) restricted to top-k (randomised PIT, KS test)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'testing the sampling distribution');
      const uncached = context.uncached;
      if (!uncached) failer.skip('setup.modelDir not given: no uncached forward to test samples against.');
      const seed = context.backend.capabilities.seed ? { seed: 2024 } : {};
      if (!context.backend.capabilities.seed)
        context.note('capabilities.seed is false: this statistical test fails by chance 0.1% of the time.');
      const uniform = mulberry32(17);
      for (const setting of [
        { temperature: 1, topK: 0 },
        { temperature: 0.7, topK: 5 },
      ]) {
        const result = await generateChecked(context, failer, {
          ...greedy(context),
          n: 8,
          temperature: setting.temperature,
          ...(setting.topK > 0 ? { topK: setting.topK } : {}),
          ...seed,
        });
        if (setting.topK > 0 && result.warnings.some((warning) => warning.setting === 'topK')) {
          context.note(`topK ${setting.topK} came back as an unsupported setting: that draw is not tested.`);
          continue;
        }
        const values: number[] = [];
        for (const [promptIndex, entry] of result.results.entries()) {
          const promptIds = entry.promptTokenIds as number[];
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const tokens = completion.tokenIds as number[];
            if (tokens.length === 0) continue;
            const logits = await uncached.logits([...promptIds, ...tokens]);
            for (const [step, token] of tokens.entries()) {
              const row = logitsRow(logits, promptIds.length - 1 + step);
              const value = samplingPit(row, token, setting.temperature, setting.topK, uniform());
              if (value === undefined) {
                failer.fail(
                  `T = ${setting.temperature}, topK ${setting.topK}: prompts[${promptIndex}].completions[${sampleIndex}] token ${step} (id ${token}) is outside the ${setting.topK} most likely tokens.`,
                );
              }
              values.push(value);
            }
          }
        }
        if (values.length < 40) failer.skip(`only ${values.length} sampled tokens: too few for the test.`);
        // Asymptotic KS critical value at α = 0.001.
        const critical = 1.949 / Math.sqrt(values.length);
        const distance = ksUniform(values);
        failer.check(
          distance <= critical,
          `T = ${setting.temperature}, topK ${setting.topK}: the ${values.length} sampled tokens do not follow softmax(logits / T) over the top-k set (KS distance of their PIT values ${distance.toFixed(3)} > ${critical.toFixed(3)} at α = 0.001); look for an implicit top-k (transformers.js defaults to 50), a wrong temperature, or a biased sampler.`,
        );
        context.note(
          `T = ${setting.temperature}, topK ${setting.topK}: KS distance ${distance.toFixed(3)} (critical ${critical.toFixed(3)}) over ${values.length} tokens.`,
        );
      }
    },
  },
  {
    id: 'score',
    title: 'score() gives teacher-forced logprobs that agree with an uncached forward',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      if (!backend.capabilities.score || !backend.score) failer.skip('capabilities.score is false.');
      requireTokenIds(context, failer, 'checking score() token by token');
      const base = await generateChecked(context, failer, greedy(context));
      const items = base.results.map((entry) => ({
        prompt: { tokenIds: entry.promptTokenIds as number[] },
        completion: { tokenIds: (entry.completions[0] as Completion).tokenIds as number[] },
      }));
      for (const temperature of [1, 0.8]) {
        const outcome = await settle(backend.score({ items, temperature }));
        if ('error' in outcome)
          failer.fail(`score() rejected: ${describeError(outcome.error)}`, outcome.error);
        const results = outcome.value.results;
        failer.check(
          Array.isArray(results) && results.length === items.length,
          `score() returned ${results?.length} results for ${items.length} items.`,
        );
        for (const [index, item] of items.entries()) {
          const got = results[index];
          const where = `score(T = ${temperature}) items[${index}]`;
          failer.check(
            got && got.tokenIds.length === item.completion.tokenIds.length,
            `${where}: tokenIds ${JSON.stringify(got?.tokenIds)} do not echo the completion's ${item.completion.tokenIds.length} tokens.`,
          );
          failer.check(
            firstDivergence(got.tokenIds, item.completion.tokenIds) < 0,
            `${where}: tokenIds ${formatIds(got.tokenIds)} differ from the given ${formatIds(item.completion.tokenIds)}.`,
          );
          failer.check(
            got.logprobs instanceof Float32Array && got.logprobs.length === got.tokenIds.length,
            `${where}: logprobs must be a Float32Array with one value per token.`,
          );
          if (context.uncached) {
            await checkLogprobsUncached(
              context,
              failer,
              where,
              item.prompt.tokenIds,
              item.completion.tokenIds,
              got.logprobs,
              temperature,
            );
          }
        }
      }
      if (!context.uncached) {
        context.note('no setup.modelDir: score() checked for shape only (the logprobs case compares it).');
      }
      // A string completion is tokenised without special tokens and scored the same way.
      const text = base.results[0]?.completions[0]?.text ?? '';
      if (text.length > 0) {
        const scored = await backend.score({
          items: [{ prompt: context.options.prompts[0] as string, completion: text }],
        });
        const got = scored.results[0];
        failer.check(
          got && got.tokenIds.length > 0 && got.logprobs.length === got.tokenIds.length,
          `score() of a string completion ${preview(text)} returned ${JSON.stringify(got?.tokenIds)}.`,
        );
      }
    },
  },
];
