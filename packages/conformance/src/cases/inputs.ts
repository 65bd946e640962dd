/**
 * Backend conformance cases. Inputs: empty and over-long prompts, invalid arguments, batching, token-id and
 * chat prompts, and declared-false capabilities.
 */
import { type Completion, type GenerateRequest, type Prompt, RlptError } from '@rlpt/spec';
import type { BackendConformanceCase, ConformanceCaseContext, Failer } from '../backend-types.js';
import {
  checkRejection,
  compareGreedy,
  firstDivergence,
  formatIds,
  generateChecked,
  greedy,
  preview,
  requireTokenIds,
  settle,
} from '../backend-checks.js';

export const inputsCases: BackendConformanceCase[] = [
  {
    id: 'empty-prompt',
    title: 'an empty prompt rejects with an RlptError naming the prompt',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const prompts: Prompt[] = [context.options.prompts[0] as string, ''];
      checkRejection(
        failer,
        `generate(prompts ["…", ""])`,
        await settle(context.backend.generate({ prompts, maxTokens: 4, temperature: 0 })),
        /prompts?\W{0,3}1\b/i,
        'name the prompt, e.g. "prompts[1] is empty"',
      );
      if (context.backend.capabilities.tokenIds) {
        checkRejection(
          failer,
          'generate(prompts ["…", { tokenIds: [] }])',
          await settle(
            context.backend.generate({
              prompts: [context.options.prompts[0] as string, { tokenIds: [] }],
              maxTokens: 4,
              temperature: 0,
            }),
          ),
          /prompts?\W{0,3}1\b/i,
          'name the prompt, e.g. "prompts[1] is empty"',
        );
      }
    },
  },
  {
    id: 'overlong-prompt',
    title: 'a prompt longer than the context rejects with an RlptError naming the prompt',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const limit = context.maxContextTokens;
      if (!limit)
        failer.skip('context length unknown: pass setup.maxContextTokens or setup.modelDir (config.json).');
      // ≥ 8 characters per token of context: longer than the context for any tokenizer of English text.
      const sentence = 'The quick brown fox jumps over the lazy dog. ';
      const text = sentence.repeat(Math.ceil((8 * limit + 64) / sentence.length));
      checkRejection(
        failer,
        `generate(prompts ["…", <${text.length} characters>])`,
        await settle(
          context.backend.generate({
            prompts: [context.options.prompts[0] as string, text],
            maxTokens: 4,
            temperature: 0,
          }),
        ),
        /prompts?\W{0,3}1\b/i,
        `name the prompt and the limit (${limit} tokens)`,
      );
      if (context.backend.capabilities.tokenIds) {
        const first = await generateChecked(context, failer, greedy(context, { maxTokens: 1 }));
        const id = first.results[0]?.promptTokenIds?.[0] as number;
        checkRejection(
          failer,
          `generate(prompts ["…", { tokenIds: <${limit + 1} ids> }])`,
          await settle(
            context.backend.generate({
              prompts: [
                context.options.prompts[0] as string,
                { tokenIds: new Array<number>(limit + 1).fill(id) },
              ],
              maxTokens: 4,
              temperature: 0,
            }),
          ),
          /prompts?\W{0,3}1\b/i,
          `name the prompt and the limit (${limit} tokens)`,
        );
      }
    },
  },
  {
    id: 'invalid-arguments',
    title: 'invalid n, maxTokens and temperature reject with an RlptError naming the argument',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const prompts = [context.options.prompts[0] as string];
      const bad: [string, GenerateRequest, RegExp][] = [
        ['n: 0', { prompts, maxTokens: 4, n: 0 }, /\bn\b/],
        ['maxTokens: 0', { prompts, maxTokens: 0 }, /maxTokens|max_tokens/i],
        ['temperature: -1', { prompts, maxTokens: 4, temperature: -1 }, /temperature/i],
      ];
      for (const [label, request, pattern] of bad) {
        checkRejection(
          failer,
          `generate({ ${label} })`,
          await settle(context.backend.generate(request)),
          pattern,
          `name the argument (${label})`,
        );
      }
    },
  },
  {
    id: 'batch-vs-single',
    title: 'a batch of prompts of different lengths gives the same greedy outputs as one by one',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const batch = await generateChecked(context, failer, greedy(context));
      for (const [index, prompt] of context.options.prompts.entries()) {
        const single = await generateChecked(context, failer, greedy(context, { prompts: [prompt] }));
        const alone = single.results[0];
        const together = batch.results[index];
        if (alone?.promptTokenIds && together?.promptTokenIds) {
          failer.check(
            firstDivergence(alone.promptTokenIds, together.promptTokenIds) < 0 &&
              alone.promptTokenIds.length === together.promptTokenIds.length,
            `prompts[${index}]: prompt token ids differ between batch and single calls.`,
          );
        }
        await compareGreedy(
          context,
          failer,
          `prompts[${index}] ${preview(prompt, 30)}`,
          together?.promptTokenIds,
          together?.completions[0] as Completion,
          alone?.completions[0] as Completion,
          ['in the batch', 'alone'],
        );
      }
    },
  },
  {
    id: 'token-id-prompts',
    title: '{ tokenIds } prompts give the same greedy output as the text they came from',
    async run(context: ConformanceCaseContext, failer: Failer) {
      requireTokenIds(context, failer, '{ tokenIds } prompts');
      const text = await generateChecked(context, failer, greedy(context));
      const ids = text.results.map((entry) => ({ tokenIds: entry.promptTokenIds as number[] }));
      const fromIds = await generateChecked(context, failer, greedy(context, { prompts: ids }));
      for (const [index, entry] of fromIds.results.entries()) {
        failer.check(
          firstDivergence(entry.promptTokenIds ?? [], ids[index]?.tokenIds ?? []) < 0 &&
            entry.promptTokenIds?.length === ids[index]?.tokenIds.length,
          `prompts[${index}]: promptTokenIds ${formatIds(entry.promptTokenIds ?? [])} do not echo the given ${formatIds(ids[index]?.tokenIds ?? [])}.`,
        );
        await compareGreedy(
          context,
          failer,
          `prompts[${index}]`,
          entry.promptTokenIds,
          entry.completions[0] as Completion,
          text.results[index]?.completions[0] as Completion,
          ['from token ids', 'from text'],
        );
      }
    },
  },
  {
    id: 'chat-prompts',
    title: '{ messages } prompts are rendered and generated from',
    async run(context: ConformanceCaseContext, failer: Failer) {
      if (!context.backend.capabilities.chat) failer.skip('capabilities.chat is false.');
      const messages = [{ role: 'user', content: 'Name three colours.' }];
      const result = await generateChecked(context, failer, {
        prompts: [{ messages }, context.options.prompts[0] as string],
        maxTokens: 4,
        temperature: 0,
      });
      const entry = result.results[0];
      if (context.backend.capabilities.tokenIds) {
        failer.check(
          (entry?.promptTokenIds?.length ?? 0) > 0,
          'the chat prompt has no promptTokenIds (it must be rendered with the chat template and tokenised).',
        );
      }
    },
  },
  {
    id: 'declared-false',
    title: 'capabilities declared false are reported, not faked',
    async run(context: ConformanceCaseContext, failer: Failer) {
      const { backend } = context;
      const off = (['logprobs', 'seed', 'score', 'chat'] as const).filter(
        (key) => !backend.capabilities[key],
      );
      if (off.length === 0) failer.skip('every checked capability (logprobs, seed, score, chat) is true.');
      for (const key of off) {
        if (key === 'score') {
          failer.check(backend.score === undefined, 'capabilities.score is false but score() is defined.');
          continue;
        }
        if (key === 'chat') {
          const outcome = await settle(
            backend.generate({ prompts: [{ messages: [{ role: 'user', content: 'Hi' }] }], maxTokens: 2 }),
          );
          failer.check(
            'error' in outcome && RlptError.isInstance(outcome.error),
            'capabilities.chat is false, so a { messages } prompt must reject with an RlptError (e.g. UnsupportedFunctionalityError).',
          );
          continue;
        }
        const extra = key === 'logprobs' ? { logprobs: true } : { seed: 3, temperature: 1 };
        const result = await generateChecked(context, failer, {
          ...greedy(context, { maxTokens: 2 }),
          ...extra,
        });
        failer.check(
          result.warnings.some((warning) => warning.setting === key),
          `capabilities.${key} is false, so a request with ${key} must come back with a warning whose setting is '${key}' (got ${JSON.stringify(result.warnings)}).`,
        );
      }
    },
  },
];
