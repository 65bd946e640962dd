/**
 * Turns OpenAI requests into {@link EngineRequest}s for the serve engine (checks, tokenisation, vLLM's
 * sampling extras); `engine-routes.ts` runs them and shapes the replies.
 */
import type { ServerResponse } from 'node:http';
import type { SamplingSettings } from './batcher.js';
import type { DecodeEngine, EngineRequest } from './engine/engine.js';
import { engineChat, engineCompletions, type EngineRouteContext } from './engine-routes.js';
import { HttpError } from './format.js';
import type { ChatRequest, CompletionsRequest } from './schemas.js';
import { backendError, beginStream, sendJson, writeEvent } from './http.js';
import type { RouteContext } from './server-options.js';
import { completionsPrompts, toChatMessage } from './request-checks.js';

/** `/v1/completions` and `/v1/chat/completions` on the decode engine: prompts become token ids first. */
export function createEngineRoutes({ resolved, checks, maxQueued }: RouteContext) {
  const { checkPromptLength, checkTokenCount, responseOptions, samplingSettings } = checks;

  function engineContext(engine: DecodeEngine): EngineRouteContext {
    const decodeToken = resolved.decodeToken!;
    return {
      engine,
      spell: (tokenId, asIds) => (asIds ? `token_id:${tokenId}` : decodeToken(tokenId)),
      detokenize: (tokenIds) =>
        resolved.detokenize ? resolved.detokenize(tokenIds) : tokenIds.map(decodeToken).join(''),
      usage: (prompt, completion) => ({
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      }),
      beginStream: (res) => beginStream(true, res, resolved.keepAliveMs)!,
      writeEvent,
      sendJson,
      async run(request, res, onDelta) {
        if (engine.stats().waiting >= maxQueued) {
          throw new HttpError({
            status: 429,
            message: `The server is overloaded: ${engine.stats().waiting} sequences are already waiting. Retry shortly (Retry-After), or start the server with a larger --max-queue.`,
            code: 'server_overloaded',
            headers: { 'retry-after': '1' },
          });
        }
        const gone = new AbortController();
        const onClose = () => {
          if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
        };
        res.on('close', onClose);
        try {
          return await engine.generate(request, { signal: gone.signal, ...(onDelta ? { onDelta } : {}) });
        } catch (error) {
          if (gone.signal.aborted)
            throw new HttpError({ status: 499, message: 'The client closed the connection.' });
          throw backendError(error);
        } finally {
          res.off('close', onClose);
        }
      },
    };
  }

  function engineRequest(
    body: CompletionsRequest | ChatRequest,
    settings: SamplingSettings,
    prompts: number[][],
    maxTokens: number,
    logprobs: boolean,
    topLogprobs: number,
  ): EngineRequest {
    return {
      prompts,
      n: settings.n ?? 1,
      maxTokens,
      sampling: {
        temperature: settings.temperature ?? 1,
        topP: settings.topP ?? 1,
        topK: settings.topK ?? 0,
        minP: settings.minP ?? 0,
        presencePenalty: body.presence_penalty ?? 0,
        frequencyPenalty: body.frequency_penalty ?? 0,
        repetitionPenalty: body.repetition_penalty ?? 1,
        minTokens: body.min_tokens ?? 0,
      },
      ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      stop: settings.stop ?? [],
      stopTokenIds: settings.stopTokenIds ?? [],
      ignoreEos: body.ignore_eos === true,
      logprobs,
      topLogprobs,
    };
  }

  function checkTokenIds(engine: DecodeEngine, ids: number[], where: string): void {
    const vocab = engine.vocabSize;
    const bad = vocab === undefined ? -1 : ids.findIndex((id) => id >= vocab);
    if (bad >= 0) {
      throw new HttpError({
        status: 400,
        message: `${where}[${bad}] is ${ids[bad]}, not a token id of this model (vocabulary 0 … ${(vocab as number) - 1}).`,
        param: where,
      });
    }
    checkTokenCount(ids.length, where, 'prompt');
  }

  async function engineCompletionsRoute(
    engine: DecodeEngine,
    body: CompletionsRequest,
    res: ServerResponse,
    echoOnly: boolean,
  ) {
    const refuse = (param: string, message: string): never => {
      throw new HttpError({ status: 400, message, param, code: 'unsupported_parameter' });
    };
    if (body.suffix) refuse('suffix', 'suffix is not supported by this server.');
    if (body.best_of != null && body.best_of !== (body.n ?? 1))
      refuse('best_of', 'best_of other than n is not supported by this server.');
    if (body.prompt_logprobs_temperature != null && body.prompt_logprobs == null)
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs_temperature needs prompt_logprobs.',
        param: 'prompt_logprobs_temperature',
      });
    if (body.prompt_logprobs != null && body.stream)
      refuse('prompt_logprobs', '`prompt_logprobs` are not available when `stream=True`.');
    if (body.stream_options && !body.stream)
      refuse('stream_options', 'Stream options can only be defined when `stream=True`.');
    const prompts = completionsPrompts(body.prompt);
    const logprobs = body.logprobs != null;
    const maxTokens = echoOnly ? 0 : (body.max_tokens ?? resolved.defaultCompletionsMaxTokens);
    const settings = samplingSettings(body, Math.max(1, maxTokens), logprobs, prompts.length, true);
    const ids: number[][] = [];
    const texts: string[] = [];
    const tokenize = resolved.tokenize!;
    for (const [index, prompt] of prompts.entries()) {
      const where = typeof body.prompt === 'string' || prompts.length === 1 ? 'prompt' : `prompt.${index}`;
      if (typeof prompt === 'string') {
        await checkPromptLength([prompt], where, 'prompt');
        const promptIds = await tokenize({ prompt, addSpecialTokens: body.add_special_tokens ?? true });
        checkTokenCount(promptIds.length, where, 'prompt');
        if (promptIds.length === 0)
          throw new HttpError({ status: 400, message: `${where} is empty.`, param: where });
        ids.push(promptIds);
        texts.push(prompt);
      } else if ('tokenIds' in prompt) {
        const promptIds = Array.from(prompt.tokenIds);
        checkTokenIds(engine, promptIds, where);
        ids.push(promptIds);
        texts.push(body.echo ? engineContext(engine).detokenize(promptIds) : '');
      }
    }
    const request = engineRequest(body, settings, ids, maxTokens, logprobs, body.logprobs ?? 0);
    const options = responseOptions('cmpl', body, logprobs);
    await engineCompletions(
      engineContext(engine),
      {
        request,
        promptTexts: texts,
        echo: body.echo === true,
        logprobs: body.logprobs ?? undefined,
        promptLogprobs: body.prompt_logprobs ?? undefined,
        promptLogprobsTemperature: body.prompt_logprobs_temperature ?? undefined,
        returnTokenIds: options.returnTokenIds,
        asIds: options.spelling.asIds,
        includeUsage: body.stream_options?.include_usage === true,
        stream: body.stream === true,
        id: options.id,
        created: options.created,
        model: options.model,
      },
      res,
    );
  }

  async function engineChatRoute(engine: DecodeEngine, body: ChatRequest, res: ServerResponse) {
    const refuse = (param: string, message: string): never => {
      throw new HttpError({ status: 400, message, param, code: 'unsupported_parameter' });
    };
    if (body.tools && body.tools.length > 0) refuse('tools', 'tools are not supported by this server.');
    if (body.response_format && body.response_format.type !== 'text')
      refuse(
        'response_format',
        `response_format ${body.response_format.type} is not supported by this server; only text.`,
      );
    if (body.top_logprobs && !body.logprobs)
      throw new HttpError({
        status: 400,
        message: 'when using `top_logprobs`, `logprobs` must be set to true.',
        param: 'top_logprobs',
      });
    if (body.prompt_logprobs != null && body.stream)
      refuse('prompt_logprobs', '`prompt_logprobs` are not available when `stream=True`.');
    if (body.stream_options && !body.stream)
      refuse('stream_options', 'Stream options can only be defined when `stream=True`.');
    const messages = body.messages.map(toChatMessage);
    const logprobs = body.logprobs === true;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? resolved.maxTokens;
    const settings = samplingSettings(body, maxTokens, logprobs, 1, true);
    await checkPromptLength(
      messages.map((message) => message.content),
      'messages',
      'messages',
    );
    const promptIds = await resolved.tokenize!({ messages });
    checkTokenCount(promptIds.length, 'messages', 'messages');
    const options = responseOptions('chatcmpl', body, logprobs);
    await engineChat(
      engineContext(engine),
      {
        request: engineRequest(
          body,
          settings,
          [promptIds],
          maxTokens,
          logprobs,
          logprobs ? (body.top_logprobs ?? 0) : 0,
        ),
        logprobs,
        topLogprobs: body.top_logprobs ?? 0,
        promptLogprobs: body.prompt_logprobs ?? undefined,
        returnTokenIds: options.returnTokenIds,
        asIds: options.spelling.asIds,
        includeUsage: body.stream_options?.include_usage === true,
        stream: body.stream === true,
        id: options.id,
        created: options.created,
        model: options.model,
      },
      res,
    );
  }

  return { completions: engineCompletionsRoute, chat: engineChatRoute };
}
