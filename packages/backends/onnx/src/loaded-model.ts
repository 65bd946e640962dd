/** Loading a model folder for the backend, and turning prompts into token ids for it. */
import type { Tokenizer } from '@huggingface/tokenizers';
import type { ChatTemplate } from '@rlpt/prompts';
import { InvalidArgumentError, type Logger, ModelLoadError, type Prompt, type Warning } from '@rlpt/spec';
import { decodingConfig, readModelFolder } from './model-folder.js';
import { cpuSessionOptions, DecoderSession } from './session.js';
import { SoftmaxHead } from './softmax-head.js';
import { fail, type ResolvedRequest } from './request.js';
import type { OnnxBackendSettings } from './backend.js';

/** A loaded model: the decoder session, tokenizer, chat template and the ids decoding needs. */
export interface LoadedModel {
  session: DecoderSession;
  head: SoftmaxHead | undefined;
  tokenizer: Tokenizer;
  tokenizerConfig: Record<string, unknown>;
  chat: ChatTemplate | undefined;
  chatError: unknown;
  eosIds: Set<number>;
  padId: number;
  maxPositions: number;
  /** Ids the tokenizer can decode (a model's vocab may be padded beyond it). */
  tokenizerVocabSize: number;
  loadWarnings: Warning[];
}

/** Loads the model folder: the ONNX session (lazily imported onnxruntime-node), tokenizer and chat template. */
export async function loadModel(
  settings: OnnxBackendSettings,
  warn: (message: string, warnings?: Warning[]) => void,
  logger: Logger,
): Promise<LoadedModel> {
  const info = await readModelFolder(settings.modelDir, settings.modelFile);
  const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  const loadWarnings: Warning[] = [];
  const session = await DecoderSession.open(ort, info, {
    ...(settings.threads ? { threads: settings.threads } : {}),
    spinning: settings.spinning === true,
    executionProviders: settings.executionProviders ?? ['cpu'],
    warn: (message) => warn(message, loadWarnings),
  });
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(info.tokenizerJson, info.tokenizerConfig);
  } catch (error) {
    throw new ModelLoadError({
      path: `${info.dir}/tokenizer.json`,
      message: `Cannot build a tokenizer from ${info.dir}/tokenizer.json: ${(error as Error).message}`,
      cause: error,
    });
  }
  const { createChatTemplate } = await import('@rlpt/prompts');
  let chat: ChatTemplate | undefined;
  let chatError: unknown;
  try {
    chat = createChatTemplate(info.tokenizerConfig, {
      source: `${info.dir}/tokenizer_config.json`,
      ...(settings.chatTemplate ? { chatTemplate: settings.chatTemplate } : {}),
    });
  } catch (error) {
    chatError = error;
  }
  const decoding = decodingConfig(info, () => {
    const eosToken = info.tokenizerConfig.eos_token;
    const content =
      typeof eosToken === 'string' ? eosToken : (eosToken as { content?: string } | null)?.content;
    return content ? tokenizer.token_to_id(content) : undefined;
  });
  const eosIds = new Set(decoding.eosIds);
  const { padId, maxPositions } = decoding;
  let tokenizerVocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values())
    tokenizerVocabSize = Math.max(tokenizerVocabSize, id + 1);
  const vocabSize = session.vocabSize;
  const useHead =
    settings.softmaxHead === true ||
    ((settings.softmaxHead ?? 'auto') === 'auto' && vocabSize !== undefined && vocabSize >= 16384);
  const headOptions = cpuSessionOptions({
    ...(settings.threads ? { threads: settings.threads } : {}),
    spinning: settings.spinning === true,
  });
  const head = useHead && vocabSize !== undefined ? new SoftmaxHead(ort, vocabSize, headOptions) : undefined;
  logger.debug('onnx backend loaded', {
    model: info.onnxPath,
    executionProvider: session.executionProvider,
    layers: session.numLayers,
    kvHeads: session.kvHeads,
    headDim: session.headDim,
  });
  return {
    session,
    head,
    tokenizer,
    tokenizerConfig: info.tokenizerConfig,
    chat,
    chatError,
    eosIds,
    padId,
    maxPositions,
    tokenizerVocabSize,
    loadWarnings,
  };
}

/** Token ids of a prompt as `generate` feeds them, with the checks (vocabulary, context) that name `where`. */
export function promptIds(
  state: LoadedModel,
  prompt: Prompt,
  where: string,
  defaults: Pick<OnnxBackendSettings, 'addSpecialTokens'>,
  resolved?: Pick<ResolvedRequest, 'chatVariables' | 'enableThinking' | 'addSpecialTokens'>,
): number[] {
  let ids: number[];
  if (typeof prompt === 'string') {
    const addSpecialTokens = resolved?.addSpecialTokens ?? defaults.addSpecialTokens ?? true;
    ids =
      prompt.length === 0 ? [] : state.tokenizer.encode(prompt, { add_special_tokens: addSpecialTokens }).ids;
  } else if (prompt && typeof prompt === 'object' && 'messages' in prompt) {
    if (!state.chat) {
      throw new InvalidArgumentError({
        argument: where,
        message: `${where} is a chat prompt but the model has no usable chat template (${(state.chatError as Error)?.message ?? 'none'}); pass a string prompt or the chatTemplate setting.`,
        cause: state.chatError,
      });
    }
    const text = state.chat.render(prompt.messages, {
      ...(resolved?.enableThinking !== undefined ? { enableThinking: resolved.enableThinking } : {}),
      variables: resolved?.chatVariables ?? {},
    });
    ids = state.tokenizer.encode(text, { add_special_tokens: false }).ids;
  } else if (prompt && typeof prompt === 'object' && 'tokenIds' in prompt) {
    ids = Array.from(prompt.tokenIds);
    const vocab = state.session.vocabSize ?? state.tokenizerVocabSize;
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad >= 0)
      fail(
        where,
        `${where}.tokenIds[${bad}] = ${ids[bad]} is not a token id of this model (0 … ${vocab - 1}).`,
      );
  } else {
    fail(where, `${where} must be a string, { messages } or { tokenIds }.`);
  }
  if (ids.length === 0) fail(where, `${where} is empty (0 tokens); give at least one token of context.`);
  const modelVocab = state.session.vocabSize;
  if (modelVocab !== undefined) {
    const outside = ids.find((id) => id >= modelVocab);
    if (outside !== undefined) {
      fail(
        where,
        `${where} tokenises to id ${outside} (${JSON.stringify(state.tokenizer.id_to_token(outside))}), outside the model's vocabulary of ${modelVocab}: tokenizer.json and the ONNX model don't match.`,
      );
    }
  }
  if (ids.length >= state.maxPositions) {
    fail(
      where,
      `${where} has ${ids.length} tokens, but the model's max_position_embeddings is ${state.maxPositions}; shorten the prompt (left-truncate the context).`,
    );
  }
  return ids;
}
