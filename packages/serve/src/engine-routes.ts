/**
 * `/v1/completions` and `/v1/chat/completions` over the serve engine ({@link DecodeEngine}), in vLLM's
 * shapes: `logprobs: N` / `top_logprobs: N` from the decode loop's processed distribution, `echo` and
 * `prompt_logprobs` from a teacher-forced pass over the prompt (raw, temperature 1, as vLLM), vLLM's
 * sampling extras (penalties, `min_tokens`, `ignore_eos`, `stop_token_ids`), and SSE that sends each
 * decode step's tokens as they are produced.
 */
import type { ServerResponse } from 'node:http';
import type { EngineRequest, EngineResult, SequenceDelta, DecodeEngine } from './engine/engine.js';
import type { TokenChoice } from './engine/sampling.js';

/** The logprob floor vLLM clamps −∞ to. */
const FLOOR = -9999;

function clamp(value: number): number {
  return Number.isFinite(value) ? value : value > 0 ? value : FLOOR;
}

/** What the routes need from the server. */
export interface EngineRouteContext {
  engine: DecodeEngine;
  /** Spells one token (logprobs keys, `tokens`). */
  spell(tokenId: number, asIds: boolean): string;
  /** Decodes token ids to text (echo of token-id prompts). */
  detokenize(tokenIds: number[]): string;
  usage(
    promptTokens: number,
    completionTokens: number,
  ): {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
  };
  beginStream(res: ServerResponse): { stop(): void };
  writeEvent(res: ServerResponse, data: unknown): void;
  sendJson(res: ServerResponse, status: number, body: unknown): void;
  /** Runs the engine for this HTTP request; rejects with 499 when the client leaves. */
  run(
    request: EngineRequest,
    res: ServerResponse,
    onDelta?: (deltas: SequenceDelta[]) => void,
  ): Promise<EngineResult>;
}

interface Spelled {
  asIds: boolean;
}

type PromptLogprobs = ({ logprob: number; rank: number; top: TokenChoice[] } | null)[];

/** One position of completions' legacy logprobs: the token, its logprob and the top dict (vLLM). */
interface LegacyEntry {
  token: string;
  logprob: number | null;
  top: Record<string, number> | null;
}

function legacyLogprobs(entries: LegacyEntry[], startOffset: number) {
  const textOffset: number[] = [];
  let offset = startOffset;
  for (const entry of entries) {
    textOffset.push(offset);
    offset += entry.token.length;
  }
  return {
    text_offset: textOffset,
    token_logprobs: entries.map((entry) => entry.logprob),
    tokens: entries.map((entry) => entry.token),
    top_logprobs: entries.map((entry) => entry.top),
  };
}

/**
 * Entries of generated tokens. The top dict lists the sampled token first, then the N most likely ones
 * (vLLM's engine dict): N keys when the sampled token is among them, N + 1 otherwise.
 */
function generatedEntries(
  context: EngineRouteContext,
  tokenIds: number[],
  logprobs: number[],
  top: TokenChoice[][],
  spelled: Spelled,
): LegacyEntry[] {
  return tokenIds.map((tokenId, index) => {
    const token = context.spell(tokenId, spelled.asIds);
    const logprob = clamp(logprobs[index] ?? FLOOR);
    const dict: Record<string, number> = { [token]: logprob };
    for (const choice of top[index] ?? [])
      dict[context.spell(choice.tokenId, spelled.asIds)] = clamp(choice.logprob);
    return { token, logprob, top: dict };
  });
}

function promptEntries(
  context: EngineRouteContext,
  promptIds: number[],
  scored: PromptLogprobs,
  spelled: Spelled,
): LegacyEntry[] {
  return promptIds.map((tokenId, index) => {
    const token = context.spell(tokenId, spelled.asIds);
    const entry = scored[index];
    if (!entry) return { token, logprob: null, top: null };
    const dict: Record<string, number> = { [token]: clamp(entry.logprob) };
    for (const choice of entry.top)
      dict[context.spell(choice.tokenId, spelled.asIds)] = clamp(choice.logprob);
    return { token, logprob: clamp(entry.logprob), top: dict };
  });
}

/** vLLM's `prompt_logprobs`: per position a dict keyed by token id (null at 0). */
function vllmPromptLogprobs(context: EngineRouteContext, promptIds: number[], scored: PromptLogprobs) {
  return promptIds.map((tokenId, index) => {
    const entry = scored[index];
    if (!entry) return null;
    const dict: Record<string, { logprob: number; rank: number; decoded_token: string }> = {
      [String(tokenId)]: {
        logprob: clamp(entry.logprob),
        rank: entry.rank,
        decoded_token: context.spell(tokenId, false),
      },
    };
    for (const [rank, choice] of entry.top.entries()) {
      dict[String(choice.tokenId)] ??= {
        logprob: clamp(choice.logprob),
        rank: rank + 1,
        decoded_token: context.spell(choice.tokenId, false),
      };
    }
    return dict;
  });
}

/** Chat `logprobs.content`: `top_logprobs` keeps the first N of [sampled, rank 1, rank 2, …] (vLLM). */
function chatContent(
  context: EngineRouteContext,
  tokenIds: number[],
  logprobs: number[],
  top: TokenChoice[][],
  topN: number,
  spelled: Spelled,
) {
  const encoder = new TextEncoder();
  const describe = (tokenId: number, logprob: number) => {
    const token = context.spell(tokenId, spelled.asIds);
    return { token, logprob: clamp(logprob), bytes: Array.from(encoder.encode(token)) };
  };
  return tokenIds.map((tokenId, index) => {
    const logprob = logprobs[index] ?? FLOOR;
    const alternatives: ReturnType<typeof describe>[] = [];
    const seen = new Set<number>();
    for (const choice of [{ tokenId, logprob }, ...(top[index] ?? [])]) {
      if (alternatives.length >= topN) break;
      if (seen.has(choice.tokenId)) continue;
      seen.add(choice.tokenId);
      alternatives.push(describe(choice.tokenId, choice.logprob));
    }
    return { ...describe(tokenId, logprob), top_logprobs: alternatives };
  });
}

export interface CompletionsPlan {
  request: EngineRequest;
  /** Prompt texts for echo (the string as sent, or the detokenised ids). */
  promptTexts: string[];
  echo: boolean;
  /** `logprobs: N` (undefined: none). */
  logprobs: number | undefined;
  promptLogprobs: number | undefined;
  /** rlpt extension: the temperature prompt logprobs are computed under (echoed on each choice). */
  promptLogprobsTemperature: number | undefined;
  returnTokenIds: boolean;
  asIds: boolean;
  includeUsage: boolean;
  stream: boolean;
  id: string;
  created: number;
  model: string;
}

export async function engineCompletions(
  context: EngineRouteContext,
  plan: CompletionsPlan,
  res: ServerResponse,
) {
  const { request } = plan;
  const spelled = { asIds: plan.asIds };
  // Prompt logprobs: for echo (at the `logprobs` depth) or vLLM's prompt_logprobs, whichever is deeper.
  const wantPrompt = (plan.echo && plan.logprobs !== undefined) || plan.promptLogprobs !== undefined;
  const promptDepth = Math.max(plan.echo ? (plan.logprobs ?? 0) : 0, plan.promptLogprobs ?? 0);
  const scored: PromptLogprobs[] = wantPrompt
    ? await Promise.all(
        request.prompts.map((ids) =>
          context.engine.promptLogprobs(ids, promptDepth, plan.promptLogprobsTemperature ?? 1),
        ),
      )
    : [];
  const promptTokens = request.prompts.reduce((sum, ids) => sum + ids.length, 0);
  const base = { id: plan.id, object: 'text_completion', created: plan.created, model: plan.model };
  const n = request.n;
  const echoEntries = (promptIndex: number) =>
    promptEntries(context, request.prompts[promptIndex] ?? [], scored[promptIndex] ?? [], spelled);

  if (plan.stream) {
    const stream = context.beginStream(res);
    try {
      const offsets = new Map<number, number>();
      if (plan.echo) {
        for (const [promptIndex, text] of plan.promptTexts.entries()) {
          for (let sample = 0; sample < n; sample++) {
            const index = promptIndex * n + sample;
            offsets.set(index, text.length);
            context.writeEvent(res, {
              ...base,
              choices: [
                {
                  index,
                  text,
                  logprobs: plan.logprobs !== undefined ? legacyLogprobs(echoEntries(promptIndex), 0) : null,
                  finish_reason: null,
                  stop_reason: null,
                },
              ],
            });
          }
        }
      }
      const echoOnly = request.maxTokens === 0;
      const result = echoOnly
        ? undefined
        : await context.run(request, res, (deltas) => {
            for (const delta of deltas) {
              const start = offsets.get(delta.index) ?? 0;
              const entries =
                plan.logprobs !== undefined
                  ? generatedEntries(context, delta.tokenIds, delta.logprobs, delta.top, spelled)
                  : [];
              offsets.set(delta.index, start + entries.reduce((sum, entry) => sum + entry.token.length, 0));
              context.writeEvent(res, {
                ...base,
                choices: [
                  {
                    index: delta.index,
                    text: delta.text,
                    logprobs: plan.logprobs !== undefined ? legacyLogprobs(entries, start) : null,
                    finish_reason: delta.finishReason ?? null,
                    stop_reason: delta.stopReason ?? null,
                    ...(plan.returnTokenIds ? { token_ids: delta.tokenIds } : {}),
                  },
                ],
              });
            }
          });
      if (echoOnly) {
        for (let index = 0; index < request.prompts.length * n; index++) {
          context.writeEvent(res, {
            ...base,
            choices: [{ index, text: '', logprobs: null, finish_reason: 'length', stop_reason: null }],
          });
        }
      }
      if (plan.includeUsage) {
        const completionTokens =
          result?.sequences.reduce((sum, sequence) => sum + sequence.tokenIds.length, 0) ?? 0;
        context.writeEvent(res, {
          ...base,
          choices: [],
          usage: context.usage(promptTokens, completionTokens),
        });
      }
      res.end('data: [DONE]\n\n');
    } finally {
      stream.stop();
    }
    return;
  }

  const result: EngineResult =
    request.maxTokens === 0
      ? {
          weightsVersion: context.engine.stats().weightsVersion,
          sequences: request.prompts.flatMap((_, promptIndex) =>
            Array.from({ length: n }, (__, sample) => ({
              index: promptIndex * n + sample,
              promptIndex,
              tokenIds: [],
              logprobs: [],
              top: [],
              text: '',
              finishReason: 'length' as const,
              stopReason: null,
            })),
          ),
        }
      : await context.run(request, res);
  const choices = result.sequences.map((sequence) => {
    const generated =
      plan.logprobs !== undefined
        ? generatedEntries(context, sequence.tokenIds, sequence.logprobs, sequence.top, spelled)
        : [];
    const entries =
      plan.echo && plan.logprobs !== undefined
        ? [...echoEntries(sequence.promptIndex), ...generated]
        : generated;
    const promptIds = request.prompts[sequence.promptIndex] ?? [];
    return {
      index: sequence.index,
      text: plan.echo ? `${plan.promptTexts[sequence.promptIndex] ?? ''}${sequence.text}` : sequence.text,
      logprobs: plan.logprobs !== undefined ? legacyLogprobs(entries, 0) : null,
      finish_reason: sequence.finishReason,
      stop_reason: sequence.stopReason,
      ...(plan.promptLogprobs !== undefined
        ? { prompt_logprobs: vllmPromptLogprobs(context, promptIds, scored[sequence.promptIndex] ?? []) }
        : {}),
      // Echoed so a client can tell this server from one that ignores the extension (vLLM).
      ...(plan.promptLogprobsTemperature !== undefined
        ? { prompt_logprobs_temperature: plan.promptLogprobsTemperature }
        : {}),
      ...(plan.returnTokenIds ? { token_ids: sequence.tokenIds, prompt_token_ids: promptIds } : {}),
    };
  });
  const completionTokens = result.sequences.reduce((sum, sequence) => sum + sequence.tokenIds.length, 0);
  context.sendJson(res, 200, {
    ...base,
    choices,
    usage: context.usage(promptTokens, completionTokens),
    system_fingerprint: `rlpt-weights-${result.weightsVersion}`,
  });
}

export interface ChatPlan {
  request: EngineRequest;
  logprobs: boolean;
  topLogprobs: number;
  promptLogprobs: number | undefined;
  returnTokenIds: boolean;
  asIds: boolean;
  includeUsage: boolean;
  stream: boolean;
  id: string;
  created: number;
  model: string;
}

export async function engineChat(context: EngineRouteContext, plan: ChatPlan, res: ServerResponse) {
  const { request } = plan;
  const spelled = { asIds: plan.asIds };
  const promptIds = request.prompts[0] ?? [];
  const base = { id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model };
  const content = (tokenIds: number[], logprobs: number[], top: TokenChoice[][]) =>
    plan.logprobs
      ? { content: chatContent(context, tokenIds, logprobs, top, plan.topLogprobs, spelled) }
      : null;
  if (plan.stream) {
    const stream = context.beginStream(res);
    try {
      for (let index = 0; index < request.n; index++) {
        context.writeEvent(res, {
          ...base,
          choices: [
            { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
          ],
        });
      }
      const result = await context.run(request, res, (deltas) => {
        for (const delta of deltas) {
          if (delta.text === '' && delta.finishReason === undefined && !plan.logprobs) continue;
          context.writeEvent(res, {
            ...base,
            choices: [
              {
                index: delta.index,
                delta: delta.text === '' && delta.finishReason !== undefined ? {} : { content: delta.text },
                logprobs: content(delta.tokenIds, delta.logprobs, delta.top),
                finish_reason: delta.finishReason ?? null,
                ...(delta.finishReason !== undefined ? { stop_reason: delta.stopReason ?? null } : {}),
                ...(plan.returnTokenIds ? { token_ids: delta.tokenIds } : {}),
              },
            ],
          });
        }
      });
      if (plan.includeUsage) {
        const completionTokens = result.sequences.reduce(
          (sum, sequence) => sum + sequence.tokenIds.length,
          0,
        );
        context.writeEvent(res, {
          ...base,
          choices: [],
          usage: context.usage(promptIds.length, completionTokens),
        });
      }
      res.end('data: [DONE]\n\n');
    } finally {
      stream.stop();
    }
    return;
  }
  const scored =
    plan.promptLogprobs !== undefined
      ? await context.engine.promptLogprobs(promptIds, plan.promptLogprobs)
      : undefined;
  const result = await context.run(request, res);
  const completionTokens = result.sequences.reduce((sum, sequence) => sum + sequence.tokenIds.length, 0);
  context.sendJson(res, 200, {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: result.sequences.map((sequence) => ({
      index: sequence.index,
      message: { role: 'assistant', content: sequence.text },
      logprobs: content(sequence.tokenIds, sequence.logprobs, sequence.top),
      finish_reason: sequence.finishReason,
      stop_reason: sequence.stopReason,
      ...(plan.returnTokenIds ? { token_ids: sequence.tokenIds } : {}),
    })),
    usage: context.usage(promptIds.length, completionTokens),
    prompt_logprobs: scored ? vllmPromptLogprobs(context, promptIds, scored) : null,
    ...(plan.returnTokenIds ? { prompt_token_ids: promptIds } : {}),
    system_fingerprint: `rlpt-weights-${result.weightsVersion}`,
  });
}
