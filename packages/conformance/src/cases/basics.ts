/**
 * Backend conformance cases. Greedy decoding: the interface, repeatable greedy choices, and agreement with
 * an uncached forward or a reference backend.
 */
import type { Completion, GenerateRequest, Prompt } from '@rlpt/spec';
import { argmax, logitsRow } from '../uncached.js';
import type { BackendConformanceCase, ConformanceCaseContext, Failer } from '../backend-types.js';
import {
  compareGreedy,
  firstDivergence,
  formatIds,
  generateChecked,
  greedy,
  preview,
  requireTokenIds,
} from '../backend-checks.js';

export const basicsCases: BackendConformanceCase[] = [
  {
    id: 'interface',
    title: 'declares specificationVersion v1, provider, modelId and boolean capabilities',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      const check: Failer['check'] = failer.check;
      check(
        backend.specificationVersion === 'v1',
        `specificationVersion is ${backend.specificationVersion}.`,
      );
      check(
        typeof backend.provider === 'string' && backend.provider.length > 0,
        'provider must be a non-empty string.',
      );
      check(
        typeof backend.modelId === 'string' && backend.modelId.length > 0,
        'modelId must be a non-empty string.',
      );
      for (const key of ['logprobs', 'tokenIds', 'chat', 'seed', 'score'] as const) {
        check(
          typeof backend.capabilities?.[key] === 'boolean',
          `capabilities.${key} must be a boolean, got ${JSON.stringify(backend.capabilities?.[key])}.`,
        );
      }
      check(typeof backend.generate === 'function', 'generate must be a function.');
      if (backend.capabilities.score)
        check(typeof backend.score === 'function', 'capabilities.score is true but score() is missing.');
    },
  },
  {
    id: 'greedy-repeatable',
    title: 'greedy output is repeatable: the same request twice gives the same completions',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const first = await generateChecked(context, failer, greedy(context));
      const second = await generateChecked(context, failer, greedy(context));
      for (const [index, entry] of second.results.entries()) {
        await compareGreedy(
          context,
          failer,
          `prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          first.results[index]?.completions[0] as Completion,
          ['second call', 'first call'],
        );
        if (context.backend.capabilities.tokenIds) {
          const a = entry.promptTokenIds ?? [];
          const b = first.results[index]?.promptTokenIds ?? [];
          failer.check(
            a.length === b.length && firstDivergence(a, b) < 0,
            `prompts[${index}]: promptTokenIds differ between two identical calls: ${formatIds(a)} vs ${formatIds(b)}.`,
          );
        }
      }
    },
  },
  {
    id: 'greedy-uncached',
    title: 'greedy tokens are the argmax of an uncached full forward',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, 'comparing greedy tokens with an uncached forward');
      if (!context.uncached)
        failer.skip('setup.modelDir not given: no uncached forward to compare greedy tokens with.');
      const result = await generateChecked(context, failer, greedy(context));
      const uncached = context.uncached;
      let checked = 0;
      for (const [promptIndex, entry] of result.results.entries()) {
        const promptIds = entry.promptTokenIds as number[];
        const completion = entry.completions[0] as Completion;
        const tokens = completion.tokenIds as number[];
        const where = `prompts[${promptIndex}] ${preview(context.options.prompts[promptIndex] ?? '', 30)}`;
        if (completion.finishReason === 'length') {
          failer.check(
            tokens.length === context.options.maxTokens,
            `${where}: finishReason length after ${tokens.length} of ${context.options.maxTokens} tokens.`,
          );
        }
        const logits = await uncached.logits([...promptIds, ...tokens]);
        for (const [step, token] of tokens.entries()) {
          const row = logitsRow(logits, promptIds.length - 1 + step);
          const best = argmax(row);
          const gap = (row[best] as number) - (row[token] as number);
          if (gap > context.options.tieTolerance) {
            failer.fail(
              `${where}: greedy token ${step} is ${token} (uncached logit ${(row[token] as number).toFixed(6)}) but the uncached argmax is ${best} (${(row[best] as number).toFixed(6)}); tokens ${formatIds(tokens)}.`,
            );
          }
          if (best !== token)
            context.note(
              `${where}: token ${step} is a near-tie (${token} vs ${best}, gap ${gap.toExponential(2)}).`,
            );
          checked++;
        }
      }
      failer.check(checked > 0, 'no greedy tokens were generated to check.');
    },
  },
  {
    id: 'reference-greedy',
    title: 'greedy output is identical to the reference backend on the same model',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const reference = context.reference;
      if (!reference)
        failer.skip('setup.reference not given: no second backend to compare greedy output with.');
      const prompts: Prompt[] = [...context.options.prompts];
      const withChat = context.backend.capabilities.chat && reference.capabilities.chat;
      if (withChat) prompts.push({ messages: [{ role: 'user', content: 'Name three colours.' }] });
      else context.note('chat prompts not compared: capabilities.chat is false on one of the backends.');
      const request: GenerateRequest = { ...greedy(context), prompts, logprobs: true };
      const ours = await generateChecked(context, failer, request);
      const theirs = await generateChecked(context, failer, request, reference, context.referenceName);
      const labels: [string, string] = [context.suite, context.referenceName];
      let logprobsCompared = 0;
      for (const [index, entry] of ours.results.entries()) {
        const other = theirs.results[index];
        const where = `prompts[${index}]${index >= context.options.prompts.length ? ' (chat)' : ''}`;
        if (entry.promptTokenIds && other?.promptTokenIds) {
          failer.check(
            firstDivergence(entry.promptTokenIds, other.promptTokenIds) < 0 &&
              entry.promptTokenIds.length === other.promptTokenIds.length,
            `${where}: prompt token ids differ: ${labels[0]} ${formatIds(entry.promptTokenIds)} vs ${labels[1]} ${formatIds(other.promptTokenIds)} (tokenizer or chat template rendering differs).`,
          );
        }
        const a = entry.completions[0] as Completion;
        const b = other?.completions[0] as Completion;
        const outcome = await compareGreedy(context, failer, where, entry.promptTokenIds, a, b, labels);
        if (outcome === 'same' && a.logprobs && b.logprobs) {
          for (const [step, value] of a.logprobs.entries()) {
            const delta = Math.abs(value - (b.logprobs[step] as number));
            if (!(delta <= context.options.logprobTolerance)) {
              failer.fail(
                `${where}: greedy logprob of token ${step} is ${value} (${labels[0]}) vs ${b.logprobs[step]} (${labels[1]}), |Δ| ${delta.toExponential(2)}.`,
              );
            }
            logprobsCompared++;
          }
        }
      }
      if (logprobsCompared === 0) context.note('logprobs not compared (one backend gives none).');
    },
  },
];
