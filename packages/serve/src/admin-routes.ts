/** Routes beside the OpenAI ones: `/update_weights_from_disk` (SGLang) and `/tokenize` (vLLM). */
import type { ServerResponse } from 'node:http';
import { HttpError } from './format.js';
import { type TokenizeRequest, updateWeightsRequestSchema } from './schemas.js';
import { sendJson } from './http.js';
import type { RouteContext } from './server-options.js';
import { toChatMessage } from './request-checks.js';

/** SGLang's weight routes and vLLM's `/tokenize`; the weight version lives here. */
export function createAdminRoutes({ resolved, checks }: RouteContext) {
  const { checkPromptLength, parse } = checks;
  const logger = resolved.logger;
  let weightVersion: string | null = null;

  /** SGLang's `POST /update_weights_from_disk`: `{ success, message, num_paused_requests }`, 400 on failure. */
  async function updateWeightsRoute(raw: unknown, res: ServerResponse) {
    const body = parse(updateWeightsRequestSchema, raw, false);
    const engine = resolved.engine;
    const backendUpdate = resolved.backend.updateWeights?.bind(resolved.backend);
    if (!engine && !backendUpdate) {
      throw new HttpError({
        status: 404,
        message: `This server's backend (${resolved.backend.provider}) cannot load weights; /update_weights_from_disk is off.`,
        code: 'not_found',
      });
    }
    const started = performance.now();
    try {
      let message: string;
      if (engine) {
        const { version, runningOnOldWeights } = await engine.updateWeights(body.model_path);
        message = `Loaded ${body.model_path} as weights version ${version} in ${Math.round(performance.now() - started)} ms; ${runningOnOldWeights} running sequence(s) finish on the weights they started on, every request admitted from now on uses the new ones.`;
      } else {
        await backendUpdate!(body.model_path);
        message = `Loaded ${body.model_path} in ${Math.round(performance.now() - started)} ms.`;
      }
      if (body.weight_version != null) {
        weightVersion = body.weight_version;
        message += ` Weight version updated to ${body.weight_version}.`;
      }
      logger.info(message);
      sendJson(res, 200, { success: true, message, num_paused_requests: 0 });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn(`update_weights_from_disk ${body.model_path} failed: ${reason}`);
      sendJson(res, 400, {
        success: false,
        message: `Failed to load weights from ${body.model_path}: ${reason} The old weights stay in use.`,
        num_paused_requests: 0,
      });
    }
  }

  async function tokenizeRoute(body: TokenizeRequest, res: ServerResponse) {
    if (!resolved.tokenize) {
      throw new HttpError({
        status: 404,
        message: 'This server has no tokenizer to offer: /tokenize is off (createModelServer({ tokenize })).',
        code: 'not_found',
      });
    }
    let tokens: number[];
    if ('messages' in body) {
      if (body.add_generation_prompt === false) {
        throw new HttpError({
          status: 400,
          message:
            'add_generation_prompt: false is not supported; chat prompts always end with the generation prompt.',
          param: 'add_generation_prompt',
          code: 'unsupported_parameter',
        });
      }
      const messages = body.messages.map(toChatMessage);
      await checkPromptLength(
        messages.map((message) => message.content),
        'messages',
        'messages',
      );
      tokens = await resolved.tokenize({ messages });
    } else {
      await checkPromptLength([body.prompt], 'prompt', 'prompt');
      tokens = await resolved.tokenize({
        prompt: body.prompt,
        addSpecialTokens: body.add_special_tokens ?? true,
      });
    }
    const decode = resolved.decodeToken;
    sendJson(res, 200, {
      count: tokens.length,
      max_model_len: resolved.maxModelLength ?? null,
      tokens,
      token_strs: body.return_token_strs && decode ? tokens.map((token) => decode(token)) : null,
    });
  }

  return {
    updateWeights: updateWeightsRoute,
    tokenize: tokenizeRoute,
    /** The version the last weight update named (`weight_version`), or null. */
    weightVersion: (): string | null => weightVersion,
  };
}
