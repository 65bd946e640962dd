/**
 * Backend conformance cases. Where generation ends: stop strings, stop token ids, `maxTokens`, and aborts
 * before and during a call.
 */
import { AbortError, type Completion, type GenerateRequest } from '@rlpt/spec';
import type { BackendConformanceCase, ConformanceCaseContext, Failer } from '../backend-types.js';
import {
  compareGreedy,
  completionsOf,
  describeError,
  firstDivergence,
  formatIds,
  generateChecked,
  greedy,
  idsOf,
  nearTie,
  preview,
  requireTokenIds,
  settle,
} from '../backend-checks.js';

export const stoppingCases: BackendConformanceCase[] = [
  {
    id: 'stop-strings',
    title: 'stop strings end generation before their first occurrence (not included in text)',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const maxTokens = Math.max(context.options.maxTokens, 16);
      const base = await generateChecked(context, failer, greedy(context, { maxTokens }));
      // One stop string per prompt, taken from the middle of its greedy text (all sent in one request).
      const stops: string[] = [];
      for (const entry of base.results) {
        const text = (entry.completions[0] as Completion).text;
        for (let start = Math.floor(text.length / 3); start + 2 <= text.length; start++) {
          const candidate = text.slice(start, start + 2);
          if (!candidate.includes('\uFFFD') && !stops.includes(candidate)) {
            stops.push(candidate);
            break;
          }
        }
      }
      if (stops.length === 0) failer.skip('the greedy texts are too short to take a stop string from.');
      const stopped = await generateChecked(context, failer, greedy(context, { maxTokens, stop: stops }));
      let cut = 0;
      for (const [index, entry] of stopped.results.entries()) {
        const original = base.results[index]?.completions[0] as Completion;
        const completion = entry.completions[0] as Completion;
        const where = `prompts[${index}] (stop ${JSON.stringify(stops)})`;
        const positions = stops.map((stop) => original.text.indexOf(stop)).filter((at) => at >= 0);
        const expectedText =
          positions.length > 0 ? original.text.slice(0, Math.min(...positions)) : original.text;
        const ids = idsOf(completion);
        const originalIds = idsOf(original);
        if (ids && originalIds) {
          const at = firstDivergence(ids, originalIds);
          if (at >= 0) {
            const { tie, detail } = await nearTie(
              context,
              [...(entry.promptTokenIds ?? []), ...ids.slice(0, at)],
              ids[at] as number,
              originalIds[at] as number,
            );
            if (tie) {
              context.note(`${where}: near-tie at token ${at} (${detail}); prompt not checked.`);
              continue;
            }
            failer.fail(
              `${where}: tokens ${formatIds(ids)} are not a prefix of the unstopped greedy tokens ${formatIds(originalIds)}.`,
            );
          }
        }
        for (const stop of stops) {
          failer.check(
            !completion.text.includes(stop),
            `${where}: text ${preview(completion.text)} contains the stop string ${JSON.stringify(stop)}.`,
          );
        }
        failer.check(
          completion.text === expectedText,
          `${where}: text is ${preview(completion.text)}; the unstopped greedy text is ${preview(original.text)}, so it must be ${preview(expectedText)} (everything before the first stop string).`,
        );
        if (positions.length > 0) {
          failer.check(
            completion.finishReason === 'stop',
            `${where}: finishReason is ${completion.finishReason}, want stop (a stop string occurred).`,
          );
          cut++;
        }
      }
      failer.check(cut > 0, `no prompt's output contained a stop string of ${JSON.stringify(stops)}.`);
    },
  },
  {
    id: 'stop-token-ids',
    title: 'stop token ids end generation; text excludes the stop token',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'choosing stop token ids from a greedy output');
      const maxTokens = Math.max(context.options.maxTokens, 16);
      const base = await generateChecked(context, failer, greedy(context, { maxTokens }));
      const stopTokenIds: number[] = [];
      for (const entry of base.results) {
        const ids = (entry.completions[0] as Completion).tokenIds as number[];
        const candidate = ids[Math.min(3, ids.length - 1)];
        if (ids.length >= 2 && candidate !== undefined && !stopTokenIds.includes(candidate))
          stopTokenIds.push(candidate);
      }
      if (stopTokenIds.length === 0)
        failer.skip('the greedy outputs are too short to take a stop token from.');
      const stopped = await generateChecked(context, failer, greedy(context, { maxTokens, stopTokenIds }));
      let checked = 0;
      for (const [index, entry] of stopped.results.entries()) {
        const originalIds = base.results[index]?.completions[0]?.tokenIds ?? [];
        const completion = entry.completions[0] as Completion;
        const ids = completion.tokenIds as number[];
        const where = `prompts[${index}] (stopTokenIds ${JSON.stringify(stopTokenIds)})`;
        const stopAt = originalIds.findIndex((id) => stopTokenIds.includes(id));
        const at = firstDivergence(ids, originalIds);
        if (at >= 0 && (stopAt < 0 || at <= stopAt)) {
          const { tie, detail } = await nearTie(
            context,
            [...(entry.promptTokenIds ?? []), ...ids.slice(0, at)],
            ids[at] as number,
            originalIds[at] as number,
          );
          if (tie) {
            context.note(`${where}: near-tie at token ${at} (${detail}); prompt not checked.`);
            continue;
          }
          failer.fail(
            `${where}: tokens ${formatIds(ids)} do not follow the greedy tokens ${formatIds(originalIds)}.`,
          );
        }
        if (stopAt < 0) continue;
        failer.check(
          completion.finishReason === 'stop',
          `${where}: the greedy output has stop token ${originalIds[stopAt]} at position ${stopAt}, but finishReason is ${completion.finishReason}.`,
        );
        failer.check(
          ids.length === stopAt || ids.length === stopAt + 1,
          `${where}: generation must end at the stop token (position ${stopAt}); got ${ids.length} tokens ${formatIds(ids)}.`,
        );
        // The text is what the tokens before the stop token decode to: generate exactly that many.
        let prefixText = '';
        if (stopAt > 0) {
          const prefixRun = await generateChecked(context, failer, {
            prompts: [context.options.prompts[index] as string],
            maxTokens: stopAt,
            temperature: 0,
          });
          const prefix = prefixRun.results[0]?.completions[0] as Completion;
          const prefixIds = prefix.tokenIds as number[];
          const drift = firstDivergence(prefixIds, originalIds);
          if (drift >= 0) {
            const { tie, detail } = await nearTie(
              context,
              [...(entry.promptTokenIds ?? []), ...prefixIds.slice(0, drift)],
              prefixIds[drift] as number,
              originalIds[drift] as number,
            );
            if (tie) {
              context.note(
                `${where}: near-tie at token ${drift} alone vs in the batch (${detail}); text not checked.`,
              );
              checked++;
              continue;
            }
            failer.fail(
              `${where}: the same prompt alone gave tokens ${formatIds(prefixIds)}, in the batch ${formatIds(originalIds)}.`,
            );
          }
          prefixText = prefix.text;
        }
        failer.check(
          completion.text === prefixText,
          `${where}: text ${preview(completion.text)} must be the text of the ${stopAt} tokens before the stop token, ${preview(prefixText)}.`,
        );
        checked++;
      }
      failer.check(checked > 0, 'no prompt stopped on a stop token id.');
    },
  },
  {
    id: 'max-tokens',
    title: 'maxTokens is respected and ends completions with finishReason length',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const maxTokens = 5;
      for (const temperature of [0, 1]) {
        const result = await generateChecked(context, failer, {
          ...greedy(context),
          maxTokens,
          temperature,
          n: 2,
        });
        let atLength = 0;
        for (const [index, entry] of result.results.entries()) {
          for (const [sampleIndex, completion] of entry.completions.entries()) {
            const where = `T = ${temperature}, prompts[${index}].completions[${sampleIndex}]`;
            const ids = completion.tokenIds;
            if (completion.finishReason === 'length') {
              atLength++;
              if (ids) {
                failer.check(
                  ids.length === maxTokens,
                  `${where}: finishReason length after ${ids.length} tokens; maxTokens is ${maxTokens}.`,
                );
              }
            } else if (ids) {
              failer.check(
                ids.length <= maxTokens,
                `${where}: ${ids.length} tokens exceed maxTokens ${maxTokens}.`,
              );
            }
          }
        }
        failer.check(
          atLength > 0,
          `T = ${temperature}: no completion of ${result.results.length * 2} ended with finishReason length at maxTokens ${maxTokens}.`,
        );
        failer.check(
          result.usage.completionTokens <= maxTokens * result.results.length * 2,
          `usage.completionTokens ${result.usage.completionTokens} exceeds ${maxTokens} × ${result.results.length * 2} completions.`,
        );
      }
    },
  },
  {
    id: 'abort-before',
    title: 'an already-aborted signal rejects with AbortError',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const controller = new AbortController();
      controller.abort();
      const outcome = await settle(context.backend.generate(greedy(context), { signal: controller.signal }));
      if (!('error' in outcome))
        failer.fail('generate() with an aborted signal resolved; it must reject with AbortError.');
      failer.check(
        AbortError.isInstance(outcome.error),
        `generate() with an aborted signal rejected with ${describeError(outcome.error)}; want @rlpt/spec's AbortError.`,
      );
      if (context.backend.capabilities.score && context.backend.score) {
        const scored = await settle(
          context.backend.score(
            { items: [{ prompt: context.options.prompts[0] as string, completion: ' and' }] },
            { signal: controller.signal },
          ),
        );
        failer.check(
          'error' in scored && AbortError.isInstance(scored.error),
          `score() with an aborted signal ${'error' in scored ? `rejected with ${describeError(scored.error)}` : 'resolved'}; want AbortError.`,
        );
      }
    },
  },
  {
    id: 'abort-mid',
    title: 'aborting mid-generation rejects with AbortError and the backend keeps working',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend, options } = context;
      const baseline = await generateChecked(context, failer, greedy(context));
      let longest = Math.max(...options.prompts.map((prompt) => prompt.length));
      if (backend.capabilities.tokenIds)
        longest = Math.max(...baseline.results.map((entry) => entry.promptTokenIds?.length ?? 0));
      const room = context.maxContextTokens ? context.maxContextTokens - longest - 1 : options.abortMaxTokens;
      const maxTokens = Math.min(options.abortMaxTokens, room);
      if (maxTokens < 48)
        failer.skip(`the context leaves only ${room} new tokens; too short to abort mid-generation.`);
      const request: GenerateRequest = { prompts: options.prompts, n: 2, temperature: 1, maxTokens };
      const started = performance.now();
      await generateChecked(context, failer, { ...request, maxTokens: 4 });
      const short = performance.now() - started;
      const delay = Math.min(2000, Math.max(1, 2 * short));
      const controller = new AbortController();
      const pending = settle(backend.generate(request, { signal: controller.signal }));
      const timer = setTimeout(() => controller.abort(new Error('conformance abort')), delay);
      const outcome = await pending;
      clearTimeout(timer);
      if (!('error' in outcome)) {
        const lengths = completionsOf(outcome.value).flatMap((list) =>
          list.map((c) => c.tokenIds?.length ?? -1),
        );
        failer.fail(
          `generate(maxTokens ${maxTokens}) resolved although the signal was aborted ${delay.toFixed(1)} ms after the call (4 tokens took ${short.toFixed(1)} ms; completion lengths ${lengths.join(', ')}): the signal must stop generation.`,
        );
      }
      failer.check(
        AbortError.isInstance(outcome.error),
        `generate() aborted mid-way rejected with ${describeError(outcome.error)}; want @rlpt/spec's AbortError.`,
      );
      const after = await generateChecked(context, failer, greedy(context));
      for (const [index, entry] of after.results.entries()) {
        await compareGreedy(
          context,
          failer,
          `after the abort, prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          baseline.results[index]?.completions[0] as Completion,
          ['after abort', 'before abort'],
        );
      }
    },
  },
];
