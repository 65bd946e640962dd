import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SAMPLER_FILE,
  type SampleResponse,
  TinkerClient,
  type TinkerClientSettings,
  type TinkerSamplerPointer,
} from '@rlpt/learner-tinker';
import type { Tokenizer } from '@rlpt/model';
import type { ChatTemplate } from '@rlpt/prompts';
import {
  type BackendCapabilities,
  type CallOptions,
  checkPromptLength,
  type Completion,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  ModelLoadError,
  type Prompt,
  throwIfAborted,
  unsupportedSettingWarnings,
  validateGenerateRequest,
  type Warning,
} from '@rlpt/spec';

/** Settings of {@link createTinkerBackend}. */
export interface TinkerBackendSettings extends TinkerClientSettings {
  /** Base model as the server names it. */
  baseModel: string;
  /** Sampler weights to sample from (`tinker://…`, from `save_weights_for_sampler`); default: the base model. */
  modelPath?: string;
  /**
   * A folder with the model's `tokenizer.json` + `tokenizer_config.json`: needed for text and chat
   * prompts, stop strings and completion text. Without it only `{ tokenIds }` prompts work and `text` is ''.
   */
  tokenizerDir?: string;
  /** Context length; default: `get_server_capabilities`' `max_context_length`. */
  maxContextTokens?: number;
  /** Add the tokenizer's special tokens (BOS) to string prompts. Default true. */
  addSpecialTokens?: boolean;
}

export interface TinkerBackend extends InferenceBackendV1 {
  readonly provider: 'tinker';
  /** Connects, loads the tokenizer and opens the sampling session (otherwise the first call does). */
  init(): Promise<void>;
  /** The `tinker://` sampler path in use (undefined: the base model). */
  readonly modelPath: string | undefined;
  /**
   * Follows new sampler weights: a folder `TinkerLearner.exportForInference` wrote (`tinker-sampler.json`)
   * or a `tinker://` path. Requests started afterwards sample from them.
   */
  updateWeights(modelDirOrPath: string, options?: CallOptions): Promise<void>;
  /** Stops the session heartbeat. */
  close(): Promise<void>;
}

interface State {
  tokenizer: Tokenizer | undefined;
  chat: ChatTemplate | undefined;
  eosIds: Set<number>;
  maxContextTokens: number | undefined;
  samplingSessionId: string;
}

/**
 * An `InferenceBackendV1` over Tinker sampling (`create_sampling_session` + `asample`, as the SDK's
 * `SamplingClient` does): token ids in and out, per-token logprobs, `n`, seed, stop strings or stop
 * token ids, `stop_reason`.
 */
export function createTinkerBackend(settings: TinkerBackendSettings): TinkerBackend {
  if (typeof settings?.baseModel !== 'string' || settings.baseModel.length === 0) {
    throw new InvalidArgumentError({
      argument: 'baseModel',
      message: 'createTinkerBackend: baseModel is required.',
    });
  }
  const client = new TinkerClient(settings);
  let modelPath = settings.modelPath;
  let samplerSeq = 0;
  let state: Promise<State> | undefined;
  let chatCapable = false;

  const openSession = async (path: string | undefined, signal?: AbortSignal): Promise<string> => {
    const session = await client.connect(signal);
    const reply = (await client.post(
      '/api/v1/create_sampling_session',
      {
        session_id: session,
        sampling_session_seq_id: client.nextSamplerSeq(),
        ...(path ? { model_path: path } : { base_model: settings.baseModel }),
        type: 'create_sampling_session',
      },
      signal ? { signal } : {},
    )) as { sampling_session_id?: unknown };
    if (typeof reply?.sampling_session_id !== 'string') {
      throw new ModelLoadError({
        path: path ?? settings.baseModel,
        message: `create_sampling_session at ${client.baseURL} gave no sampling_session_id for ${path ?? settings.baseModel}.`,
      });
    }
    samplerSeq = 0;
    return reply.sampling_session_id;
  };

  const load = async (): Promise<State> => {
    let tokenizer: Tokenizer | undefined;
    let chat: ChatTemplate | undefined;
    const eosIds = new Set<number>();
    if (settings.tokenizerDir) {
      const { loadTokenizer } = await import('@rlpt/model');
      const loaded = await loadTokenizer(settings.tokenizerDir);
      tokenizer = loaded.tokenizer;
      const eos = loaded.config.eos_token;
      const eosText = typeof eos === 'string' ? eos : (eos as { content?: string } | undefined)?.content;
      const eosId = eosText ? tokenizer.token_to_id(eosText) : undefined;
      if (eosId !== undefined && eosId !== null) eosIds.add(eosId);
      try {
        const { createChatTemplate } = await import('@rlpt/prompts');
        chat = createChatTemplate(loaded.config as Parameters<typeof createChatTemplate>[0]);
        chatCapable = true;
      } catch {
        chat = undefined;
      }
    }
    let maxContextTokens = settings.maxContextTokens;
    await client.connect();
    if (maxContextTokens === undefined) {
      const capabilities = (await client.get('/api/v1/get_server_capabilities').catch(() => undefined)) as
        | { supported_models?: { model_name?: string; max_context_length?: number }[] }
        | undefined;
      const entry = capabilities?.supported_models?.find((model) => model.model_name === settings.baseModel);
      if (typeof entry?.max_context_length === 'number') maxContextTokens = entry.max_context_length;
    }
    return { tokenizer, chat, eosIds, maxContextTokens, samplingSessionId: await openSession(modelPath) };
  };
  const ready = (): Promise<State> => {
    state ??= load();
    state.catch(() => {
      state = undefined;
    });
    return state;
  };

  const promptTokens = (current: State, prompt: Prompt, index: number): number[] => {
    const where = `prompts[${index}]`;
    if (typeof prompt === 'string') {
      if (!current.tokenizer) {
        throw new InvalidArgumentError({
          argument: where,
          message: `${where} is text, but the backend has no tokenizer; set tokenizerDir or send { tokenIds }.`,
        });
      }
      return prompt.length === 0
        ? []
        : current.tokenizer.encode(prompt, { add_special_tokens: settings.addSpecialTokens ?? true }).ids;
    }
    if ('messages' in prompt) {
      if (!current.chat || !current.tokenizer) {
        throw new InvalidArgumentError({
          argument: where,
          message: `${where} is a chat prompt but the tokenizer in tokenizerDir has no chat template.`,
        });
      }
      return current.tokenizer.encode(current.chat.render(prompt.messages), { add_special_tokens: false })
        .ids;
    }
    return Array.from(prompt.tokenIds);
  };

  const decode = (current: State, ids: number[]): string =>
    current.tokenizer && ids.length > 0 ? current.tokenizer.decode(ids, { skip_special_tokens: true }) : '';

  const capabilities: BackendCapabilities = {
    logprobs: true,
    tokenIds: true,
    chat: false,
    seed: true,
    score: false,
  };

  const backend: TinkerBackend = {
    specificationVersion: 'v1',
    provider: 'tinker',
    modelId: settings.modelPath ?? settings.baseModel,
    get capabilities() {
      return { ...capabilities, chat: chatCapable };
    },
    get modelPath() {
      return modelPath;
    },
    async init() {
      await ready();
    },
    async generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResult> {
      const signal = options.signal;
      throwIfAborted(signal);
      const current = await ready();
      validateGenerateRequest(request, {
        capabilities: { chat: chatCapable },
        ...(current.maxContextTokens !== undefined ? { maxContextTokens: current.maxContextTokens } : {}),
        label: 'tinker generate',
      });
      const n = request.n ?? 1;
      const stopStrings = request.stop ?? [];
      if (stopStrings.length > 0 && !current.tokenizer) {
        throw new InvalidArgumentError({
          argument: 'stop',
          message: 'tinker generate: stop strings need a tokenizer (tokenizerDir).',
        });
      }
      const stopTokenIds = request.stopTokenIds ?? [];
      const warnings: Warning[] = unsupportedSettingWarnings(request, capabilities, [
        'minP',
        'topLogprobs',
        'providerOptions',
      ]);
      const prompts = request.prompts.map((prompt, index) => {
        const ids = promptTokens(current, prompt, index);
        if (ids.length === 0) {
          throw new InvalidArgumentError({
            argument: `prompts[${index}]`,
            message: `tinker generate: prompts[${index}] is empty (0 tokens).`,
          });
        }
        if (current.maxContextTokens !== undefined)
          checkPromptLength(ids.length, index, current.maxContextTokens, 'tinker generate');
        return ids;
      });
      // Tinker takes stop strings or stop token ids: strings go to the server, ids are applied here then.
      const stop = stopStrings.length > 0 ? stopStrings : stopTokenIds.length > 0 ? stopTokenIds : undefined;
      const clientStopIds = stopStrings.length > 0 ? new Set(stopTokenIds) : new Set<number>();
      const sessionId = current.samplingSessionId;
      // One signal for the fan-out: it follows the caller's, may carry a listener per prompt in flight (no
      // MaxListeners warning), and stops the other prompts' requests when one fails.
      const fanOut = new AbortController();
      setMaxListeners(0, fanOut.signal);
      const onAbort = () => fanOut.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const replies = await Promise.all(
        prompts.map(async (ids) => {
          const requestId = await client.submit(
            '/api/v1/asample',
            {
              sampling_session_id: sessionId,
              seq_id: samplerSeq++,
              num_samples: n,
              prompt: { chunks: [{ type: 'encoded_text', tokens: ids }] },
              sampling_params: {
                max_tokens: request.maxTokens,
                ...(request.seed !== undefined ? { seed: request.seed } : {}),
                ...(stop ? { stop } : {}),
                temperature: request.temperature ?? 1,
                top_k: request.topK && request.topK > 0 ? request.topK : -1,
                top_p: request.topP ?? 1,
              },
              prompt_logprobs: false,
              topk_prompt_logprobs: 0,
              type: 'sample',
            },
            { signal: fanOut.signal, extraHeaders: { 'X-Tinker-Sampling-Backpressure': '1' } },
          );
          return client.sampleResult(requestId, fanOut.signal);
        }),
      )
        .catch((error: unknown) => {
          fanOut.abort(error);
          throw error;
        })
        .finally(() => signal?.removeEventListener('abort', onAbort));
      let completionTokens = 0;
      const results = replies.map((reply: SampleResponse, index) => ({
        promptTokenIds: prompts[index] as number[],
        completions: reply.sequences.map((sequence): Completion => {
          let tokens = sequence.tokens;
          let logprobs = sequence.logprobs ?? [];
          let finishReason: Completion['finishReason'] =
            sequence.stop_reason === 'length' ? 'length' : 'stop';
          const cut = tokens.findIndex((token) => clientStopIds.has(token));
          if (cut >= 0) {
            tokens = tokens.slice(0, cut + 1);
            logprobs = logprobs.slice(0, cut + 1);
            finishReason = 'stop';
          }
          completionTokens += tokens.length;
          // Text leaves out a final eos / stop token and ends before the first stop string.
          const last = tokens[tokens.length - 1];
          const textIds =
            finishReason === 'stop' &&
            last !== undefined &&
            (current.eosIds.has(last) || stopTokenIds.includes(last))
              ? tokens.slice(0, -1)
              : tokens;
          let text = decode(current, textIds);
          for (const stopString of stopStrings) {
            const at = text.indexOf(stopString);
            if (at >= 0) text = text.slice(0, at);
          }
          return {
            text,
            tokenIds: tokens,
            ...(request.logprobs ? { logprobs: Float32Array.from(logprobs) } : {}),
            finishReason,
          };
        }),
      }));
      return {
        results,
        usage: { promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0), completionTokens },
        warnings,
      };
    },
    async updateWeights(modelDirOrPath: string, options: CallOptions = {}) {
      let path = modelDirOrPath;
      if (!modelDirOrPath.startsWith('tinker://')) {
        const file = join(modelDirOrPath, SAMPLER_FILE);
        let pointer: TinkerSamplerPointer;
        try {
          pointer = JSON.parse(await readFile(file, 'utf8')) as TinkerSamplerPointer;
        } catch (cause) {
          throw new ModelLoadError({
            path: file,
            cause,
            message: `updateWeights(${modelDirOrPath}): cannot read ${SAMPLER_FILE}; pass a folder TinkerLearner.exportForInference wrote, or a tinker:// sampler path.`,
          });
        }
        path = pointer.modelPath;
      }
      const current = await ready();
      current.samplingSessionId = await openSession(path, options.signal);
      modelPath = path;
    },
    async close() {
      client.close();
    },
  };
  return backend;
}
