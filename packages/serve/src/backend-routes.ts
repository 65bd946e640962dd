/** The OpenAI routes over any `InferenceBackendV1`, one `generate` call per micro-batch. */
import type { ServerResponse } from 'node:http';
import type { ChatMessage, Prompt, PromptResult } from '@rlpt/spec';
import { type MicroBatcher, QueueFullError, type SamplingSettings } from './batcher.js';
import { chatBody, chatChunks, completionsBody, completionsChunks, HttpError, usageOf } from './format.js';
import type { ChatRequest, CompletionsRequest } from './schemas.js';
import { backendError, beginStream, finishStream, sendJson } from './http.js';
import type { RouteContext } from './server-options.js';
import { completionsPrompts } from './request-checks.js';

/** `/v1/completions` and `/v1/chat/completions` over a plain backend: requests batch up in the micro-batcher. */
export function createBackendRoutes({ resolved, checks, batcher }: RouteContext) {
  const { checkPromptLength, checkTokenCount, responseOptions, samplingSettings } = checks;

  async function runJob(prompts: Prompt[], settings: SamplingSettings, res: ServerResponse) {
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
    };
    res.on('close', onClose);
    try {
      return await batcher.submit(prompts, settings, gone.signal);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError({
          status: 429,
          message: `${error.message} Retry shortly (Retry-After), or start the server with a larger --max-queue.`,
          code: 'server_overloaded',
          headers: { 'retry-after': '1' },
        });
      }
      if (gone.signal.aborted)
        throw new HttpError({ status: 499, message: 'The client closed the connection.' });
      throw backendError(error);
    } finally {
      res.off('close', onClose);
    }
  }

  async function completions(body: CompletionsRequest, res: ServerResponse) {
    if (body.echo) {
      throw new HttpError({
        status: 400,
        message: 'echo is not supported by this server.',
        param: 'echo',
        code: 'unsupported_parameter',
      });
    }
    if (body.suffix) {
      throw new HttpError({
        status: 400,
        message: 'suffix is not supported by this server.',
        param: 'suffix',
        code: 'unsupported_parameter',
      });
    }
    if (body.best_of != null && body.best_of !== (body.n ?? 1)) {
      throw new HttpError({
        status: 400,
        message: 'best_of other than n is not supported by this server.',
        param: 'best_of',
        code: 'unsupported_parameter',
      });
    }
    if (body.logprobs != null && body.logprobs > 0) {
      throw new HttpError({
        status: 400,
        message: `logprobs: ${body.logprobs} asks for the top alternatives at each step; this server returns only the sampled token's logprob. Send logprobs: 0.`,
        param: 'logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && body.prompt_logprobs > 0) {
      throw new HttpError({
        status: 400,
        message: `prompt_logprobs: ${body.prompt_logprobs} asks for alternatives; this server returns only each prompt token's own logprob. Send prompt_logprobs: 0.`,
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && !(resolved.backend.capabilities.score && resolved.backend.score)) {
      throw new HttpError({
        status: 400,
        message: `prompt_logprobs needs teacher-forced scoring, which this server's backend (${resolved.backend.provider}) does not offer.`,
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs != null && body.stream) {
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs cannot be combined with stream: true.',
        param: 'prompt_logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (body.prompt_logprobs_temperature != null && body.prompt_logprobs == null) {
      throw new HttpError({
        status: 400,
        message: 'prompt_logprobs_temperature needs prompt_logprobs: 0.',
        param: 'prompt_logprobs_temperature',
      });
    }
    const prompts = completionsPrompts(body.prompt);
    const logprobs = body.logprobs != null;
    const settings = samplingSettings(
      body,
      body.max_tokens ?? resolved.defaultCompletionsMaxTokens,
      logprobs,
      prompts.length,
    );
    for (const [index, prompt] of prompts.entries()) {
      const where = typeof body.prompt === 'string' || prompts.length === 1 ? 'prompt' : `prompt.${index}`;
      if (typeof prompt === 'string') await checkPromptLength([prompt], where, 'prompt');
      else if ('tokenIds' in prompt) checkTokenCount(prompt.tokenIds.length, where, 'prompt');
    }
    const options = responseOptions('cmpl', body, logprobs);
    const stream = beginStream(body.stream === true, res, resolved.keepAliveMs);
    try {
      const outcome = await runJob(prompts, settings, res);
      const usage = usageFor(outcome);
      if (stream) {
        finishStream(
          res,
          completionsChunks(outcome.results, body.stream_options?.include_usage ? usage : undefined, options),
        );
      } else {
        const reply = completionsBody(outcome.results, usage, options);
        if (body.prompt_logprobs != null) {
          const temperature = body.prompt_logprobs_temperature ?? undefined;
          const perPrompt = await promptLogprobs(outcome.results, temperature);
          const n = settings.n ?? 1;
          for (const choice of reply.choices) {
            const extra = choice as Record<string, unknown>;
            extra.prompt_logprobs = perPrompt[Math.floor(choice.index / n)];
            // Echoed so a client can tell this server from one that ignores the extension (vLLM).
            if (temperature !== undefined) extra.prompt_logprobs_temperature = temperature;
          }
        }
        sendJson(res, 200, reply);
      }
    } finally {
      stream?.stop();
    }
  }

  async function chat(body: ChatRequest, res: ServerResponse) {
    if (!resolved.backend.capabilities.chat) {
      throw new HttpError({
        status: 400,
        message: `The backend of this server (${resolved.backend.provider}) has no chat template; use /v1/completions.`,
        code: 'unsupported_endpoint',
      });
    }
    if (body.tools && body.tools.length > 0) {
      throw new HttpError({
        status: 400,
        message: 'tools are not supported by this server.',
        param: 'tools',
        code: 'unsupported_parameter',
      });
    }
    if (body.response_format && body.response_format.type !== 'text') {
      throw new HttpError({
        status: 400,
        message: `response_format ${body.response_format.type} is not supported by this server; only text.`,
        param: 'response_format',
        code: 'unsupported_parameter',
      });
    }
    if (body.top_logprobs) {
      throw new HttpError({
        status: 400,
        message: `top_logprobs: ${body.top_logprobs} asks for alternatives; this server returns only the sampled token's logprob. Send top_logprobs: 0 or leave it out.`,
        param: 'top_logprobs',
        code: 'unsupported_parameter',
      });
    }
    const messages: ChatMessage[] = body.messages.map((message) => ({
      role: message.role,
      content:
        typeof message.content === 'string'
          ? message.content
          : (message.content ?? []).map((part) => part.text).join(''),
    }));
    const logprobs = body.logprobs === true;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? resolved.maxTokens;
    const settings = samplingSettings(body, maxTokens, logprobs, 1);
    await checkPromptLength(
      messages.map((message) => message.content),
      'messages',
      'messages',
    );
    const options = responseOptions('chatcmpl', body, logprobs);
    const stream = beginStream(body.stream === true, res, resolved.keepAliveMs);
    try {
      const outcome = await runJob([{ messages }], settings, res);
      const usage = usageFor(outcome);
      const result = outcome.results[0]!;
      if (stream) {
        finishStream(
          res,
          chatChunks(result, body.stream_options?.include_usage ? usage : undefined, options),
        );
      } else {
        sendJson(res, 200, chatBody(result, usage, options));
      }
    } finally {
      stream?.stop();
    }
  }

  /**
   * vLLM's `prompt_logprobs: 0`: per prompt position, the logprob of the actual token (`null` at 0),
   * from the backend's teacher-forced `score`.
   */
  async function promptLogprobs(
    results: PromptResult[],
    temperature: number | undefined,
  ): Promise<(Record<string, unknown> | null)[][]> {
    const score = resolved.backend.score?.bind(resolved.backend);
    if (!score)
      throw new HttpError({ status: 400, message: 'prompt_logprobs needs a backend with score().' });
    const ids = results.map((result) => {
      if (!result.promptTokenIds) {
        throw new HttpError({
          status: 500,
          message: 'The backend returned no prompt token ids; prompt_logprobs needs them.',
        });
      }
      return result.promptTokenIds;
    });
    const scorable = ids.filter((promptIds) => promptIds.length > 1);
    const scored = scorable.length
      ? await score({
          ...(temperature === undefined ? {} : { temperature }),
          items: scorable.map((promptIds) => ({
            prompt: { tokenIds: promptIds.slice(0, 1) },
            completion: { tokenIds: promptIds.slice(1) },
          })),
        })
      : { results: [] };
    let next = 0;
    return ids.map((promptIds) => {
      if (promptIds.length <= 1) return promptIds.map(() => null);
      const item = scored.results[next++]!;
      return [
        null,
        ...promptIds.slice(1).map((tokenId, index) => ({
          [String(tokenId)]: {
            logprob: item.logprobs[index],
            rank: null,
            decoded_token: resolved.decodeToken ? resolved.decodeToken(tokenId) : null,
          },
        })),
      ];
    });
  }

  function usageFor(outcome: Awaited<ReturnType<MicroBatcher['submit']>>) {
    // Token ids give exact per-request counts; without them only a batch of one can be attributed.
    const fallback =
      outcome.batchRequests === 1
        ? { prompt: outcome.batchUsage.promptTokens, completion: outcome.batchUsage.completionTokens }
        : undefined;
    return usageOf(outcome.results, fallback);
  }

  return { completions, chat };
}
