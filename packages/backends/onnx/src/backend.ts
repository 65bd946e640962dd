import type { Tokenizer } from '@huggingface/tokenizers';
import type { ChatTemplate } from '@rlpt/prompts';
import {
  AbortError,
  type CallOptions,
  type Completion,
  type EventHandler,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Logger,
  ModelLoadError,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  silentLogger,
  type Warning,
} from '@rlpt/spec';
import { findStop, IncrementalDetokenizer } from './detokenize.js';
import { readModelFolder, tokenIdList } from './model-folder.js';
import { completionStream, type Xoshiro128 } from './prng.js';
import { Sampler, type SamplingSettings } from './sampler.js';
import { cpuSessionOptions, DecoderSession, type ExecutionProvider, type KvCache } from './session.js';
import { type BlockProbabilities, SoftmaxHead } from './softmax-head.js';

/** Settings for {@link createOnnxBackend}. */
export interface OnnxBackendSettings {
  /** Model folder: `config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx`. */
  modelDir: string;
  /**
   * ONNX file inside `modelDir` (default: the first of `onnx/model.onnx`, `model.onnx`,
   * `onnx/decoder_model_merged.onnx`, `decoder_model_merged.onnx`).
   */
  modelFile?: string;
  /** Intra-op threads for onnxruntime (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /**
   * Let onnxruntime's idle threads spin-wait (default false). Spinning lowers latency on an idle machine
   * but burns cores that judges, tokenizers and other processes need; on a shared 2-core machine it made
   * decoding 2–3× slower.
   */
  spinning?: boolean;
  /**
   * Execution providers in order of preference (default `['cpu']`). `['cuda', 'cpu']` uses CUDA when
   * onnxruntime-node's CUDA provider is installed and warns (then runs on CPU) when it is not.
   */
  executionProviders?: ExecutionProvider[];
  /**
   * Compute softmax statistics (max, log-sum-exp, block sums) in onnxruntime instead of JS, so drawing a
   * token costs O(vocab / 512 + 512) instead of `vocab` exps. `'auto'` (default) turns it on for
   * vocabularies of 16,384 or more; used for unfiltered sampling and for greedy logprobs.
   */
  softmaxHead?: 'auto' | boolean;
  /** Most sequences (prompts × n) decoded together in one batch (default 64). */
  maxBatchSize?: number;
  /** Budget for the logits of one `score` forward, in bytes (default 256 MiB); longer inputs are chunked. */
  scoreLogitsBytes?: number;
  /** Add the tokenizer's special tokens (e.g. BOS) to string prompts (default true; chat prompts never). */
  addSpecialTokens?: boolean;
  /** A Jinja chat template to use instead of the one in `tokenizer_config.json`. */
  chatTemplate?: string;
  logger?: Logger;
  onEvent?: EventHandler;
}

/** The onnxruntime-node backend (an `InferenceBackendV1` with a few extras). */
export interface OnnxBackend extends InferenceBackendV1 {
  readonly provider: 'onnx';
  /** Loads the model now (otherwise the first call does); rejects with `ModelLoadError` on a bad folder. */
  init(): Promise<void>;
  /** The execution provider in use after loading (`cpu` when CUDA was unavailable). */
  readonly executionProvider: ExecutionProvider | undefined;
  /** Token ids of a prompt as `generate` would feed them. */
  tokenize(prompt: Prompt): Promise<number[]>;
  score(request: ScoreRequest, options?: CallOptions): Promise<ScoreResult>;
  close(): Promise<void>;
}

interface LoadedModel {
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

interface Row {
  promptIndex: number;
  sampleIndex: number;
  promptIds: number[];
  padding: number;
  random: Xoshiro128 | undefined;
  tokens: number[];
  logprobs: number[];
  maxNew: number;
  finish?: FinishReason;
  detokenizer?: IncrementalDetokenizer;
  stoppedText?: string;
}

interface ResolvedRequest {
  n: number;
  maxTokens: number;
  sampling: SamplingSettings;
  seed: number;
  stop: string[];
  stopTokenIds: Set<number>;
  logprobs: boolean;
  chatVariables: Record<string, unknown>;
  enableThinking: boolean | undefined;
  addSpecialTokens: boolean | undefined;
}

const knownProviderOptions = new Set(['chatTemplateKwargs', 'enableThinking', 'addSpecialTokens']);

function fail(argument: string, message: string): never {
  throw new InvalidArgumentError({ argument, message });
}

function checkInteger(value: unknown, argument: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(argument, `${argument} must be an integer ≥ ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function resolveRequest(request: GenerateRequest, warnings: Warning[]): ResolvedRequest {
  if (!request || !Array.isArray(request.prompts))
    fail('prompts', 'generate: `prompts` must be an array of prompts.');
  const n = checkInteger(request.n ?? 1, 'n', 1);
  const maxTokens = checkInteger(request.maxTokens, 'maxTokens', 1);
  const temperature = request.temperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) {
    fail(
      'temperature',
      `temperature must be a finite number ≥ 0 (0 = greedy), got ${JSON.stringify(request.temperature)}.`,
    );
  }
  const topK = checkInteger(request.topK ?? 0, 'topK', 0);
  const topP = request.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1))
    fail('topP', `topP must be in (0, 1], got ${JSON.stringify(request.topP)}.`);
  const minP = request.minP ?? 0;
  if (typeof minP !== 'number' || !(minP >= 0 && minP <= 1))
    fail('minP', `minP must be in [0, 1], got ${JSON.stringify(request.minP)}.`);
  const seedValue = request.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (typeof seedValue !== 'number' || !Number.isSafeInteger(seedValue) || seedValue < 0) {
    fail('seed', `seed must be a non-negative safe integer, got ${JSON.stringify(request.seed)}.`);
  }
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.some((entry) => typeof entry !== 'string' || entry.length === 0)) {
    fail('stop', 'stop must be an array of non-empty strings.');
  }
  const stopTokenIds = request.stopTokenIds ?? [];
  if (!Array.isArray(stopTokenIds) || stopTokenIds.some((id) => !Number.isInteger(id) || id < 0)) {
    fail('stopTokenIds', 'stopTokenIds must be an array of non-negative integer token ids.');
  }
  const providerOptions = request.providerOptions ?? {};
  for (const key of Object.keys(providerOptions)) {
    if (!knownProviderOptions.has(key)) {
      warnings.push({
        type: 'unsupported-setting',
        setting: `providerOptions.${key}`,
        message: `providerOptions.${key} is not used by the onnx backend (known: ${[...knownProviderOptions].join(', ')}).`,
      });
    }
  }
  const kwargs = providerOptions.chatTemplateKwargs;
  const enableThinking = providerOptions.enableThinking;
  const addSpecialTokens = providerOptions.addSpecialTokens;
  return {
    n,
    maxTokens,
    sampling: { temperature, topK, topP, minP },
    seed: seedValue,
    stop,
    stopTokenIds: new Set(stopTokenIds),
    logprobs: request.logprobs === true,
    chatVariables: typeof kwargs === 'object' && kwargs !== null ? (kwargs as Record<string, unknown>) : {},
    enableThinking: typeof enableThinking === 'boolean' ? enableThinking : undefined,
    addSpecialTokens: typeof addSpecialTokens === 'boolean' ? addSpecialTokens : undefined,
  };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError({ message: 'Generation was aborted.', cause: signal.reason });
}

/**
 * Creates the onnxruntime-node backend: its own batched decode loop with a KV cache over any decoder ONNX
 * in the Hugging Face Optimum layout. Nothing is loaded until the first call (or `init()`);
 * onnxruntime-node is imported lazily.
 *
 * @example
 * const backend = createOnnxBackend({ modelDir: 'models/tiny' });
 * const { results } = await backend.generate({ prompts: ['Once upon'], n: 4, maxTokens: 32, seed: 1, logprobs: true });
 */
export function createOnnxBackend(settings: OnnxBackendSettings): OnnxBackend {
  if (!settings || typeof settings.modelDir !== 'string' || settings.modelDir.length === 0) {
    fail('modelDir', 'createOnnxBackend: `modelDir` (a model folder path) is required.');
  }
  const logger = settings.logger ?? silentLogger;
  const maxBatchSize = checkInteger(settings.maxBatchSize ?? 64, 'maxBatchSize', 1);
  if (settings.threads !== undefined) checkInteger(settings.threads, 'threads', 1);
  const scoreLogitsBytes = settings.scoreLogitsBytes ?? 256 * 1024 * 1024;
  let loading: Promise<LoadedModel> | undefined;
  let loaded: LoadedModel | undefined;
  const samplers = new Map<number, Sampler>();
  let pendingLoadWarnings: Warning[] = [];

  const warn = (message: string, warnings?: Warning[]) => {
    logger.warn(message);
    settings.onEvent?.({ type: 'warning', message });
    warnings?.push({ type: 'other', message });
  };

  async function load(): Promise<LoadedModel> {
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
    const config = info.config;
    // As in transformers: generation_config.json's eos wins; config.json's is the fallback.
    const generationEos = tokenIdList(info.generationConfig.eos_token_id);
    const eosIds = new Set(generationEos.length > 0 ? generationEos : tokenIdList(config.eos_token_id));
    if (eosIds.size === 0) {
      const eosToken = info.tokenizerConfig.eos_token;
      const content =
        typeof eosToken === 'string' ? eosToken : (eosToken as { content?: string } | null)?.content;
      const id = content ? tokenizer.token_to_id(content) : undefined;
      if (id !== undefined) eosIds.add(id);
    }
    const padId =
      tokenIdList(info.generationConfig.pad_token_id)[0] ??
      tokenIdList(config.pad_token_id)[0] ??
      [...eosIds][0] ??
      0;
    const maxPositionsValue = config.max_position_embeddings ?? config.n_positions;
    const maxPositions =
      typeof maxPositionsValue === 'number' && maxPositionsValue > 0
        ? maxPositionsValue
        : Number.POSITIVE_INFINITY;
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
    const head =
      useHead && vocabSize !== undefined ? new SoftmaxHead(ort, vocabSize, headOptions) : undefined;
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

  async function model(): Promise<LoadedModel> {
    if (loaded) return loaded;
    loading ??= load().then(
      (value) => {
        loaded = value;
        pendingLoadWarnings = [...value.loadWarnings];
        return value;
      },
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    );
    return loading;
  }

  function samplerFor(vocabSize: number): Sampler {
    let sampler = samplers.get(vocabSize);
    if (!sampler) {
      sampler = new Sampler(vocabSize);
      samplers.set(vocabSize, sampler);
    }
    return sampler;
  }

  function promptIds(
    state: LoadedModel,
    prompt: Prompt,
    where: string,
    resolved?: Pick<ResolvedRequest, 'chatVariables' | 'enableThinking' | 'addSpecialTokens'>,
  ): number[] {
    let ids: number[];
    if (typeof prompt === 'string') {
      const addSpecialTokens = resolved?.addSpecialTokens ?? settings.addSpecialTokens ?? true;
      ids =
        prompt.length === 0
          ? []
          : state.tokenizer.encode(prompt, { add_special_tokens: addSpecialTokens }).ids;
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

  function completionText(state: LoadedModel, row: Row, stopIds: Set<number>): string {
    if (row.stoppedText !== undefined) return row.stoppedText;
    let ids = row.tokens;
    const last = ids[ids.length - 1];
    if (row.finish === 'stop' && last !== undefined && (stopIds.has(last) || state.eosIds.has(last)))
      ids = ids.slice(0, -1);
    const decodable = ids.filter((id) => id < state.tokenizerVocabSize);
    return decodable.length === 0 ? '' : state.tokenizer.decode(decodable, { skip_special_tokens: true });
  }

  /** Decodes one group of rows (each prompt prefilled once, its cache repeated for its samples). */
  async function decodeRows(
    state: LoadedModel,
    rows: Row[],
    request: ResolvedRequest,
    signal: AbortSignal | undefined,
  ) {
    const { session } = state;
    const prompts: Row[] = [];
    const prefillIndex = rows.map((row) => {
      let index = prompts.findIndex((entry) => entry.promptIndex === row.promptIndex);
      if (index < 0) index = prompts.push(row) - 1;
      return index;
    });
    const length = Math.max(...prompts.map((row) => row.promptIds.length));
    const ids: number[] = [];
    const mask: number[] = [];
    const positions: number[] = [];
    for (const row of prompts) {
      const padding = length - row.promptIds.length;
      for (let column = 0; column < length; column++) {
        const isPad = column < padding;
        ids.push(isPad ? state.padId : (row.promptIds[column - padding] as number));
        mask.push(isPad ? 0 : 1);
        positions.push(isPad ? 1 : column - padding);
      }
    }
    throwIfAborted(signal);
    const prefill = await session.run({
      batch: prompts.length,
      inputIds: ids,
      sequence: length,
      attentionMask: mask,
      positionIds: positions,
      cache: session.emptyCache(prompts.length),
      keepLast: 1,
    });
    const sampler = samplerFor(prefill.vocabSize);
    const V = prefill.vocabSize;
    const prefillStats = await statsFor(state, prefill.logits, prompts.length, prefill.positions, request);
    for (const [index, row] of rows.entries()) {
      row.padding = length - row.promptIds.length;
      const prompt = prefillIndex[index] as number;
      const offset = (prompt * prefill.positions + prefill.positions - 1) * V;
      const logits = prefill.logits.subarray(offset, offset + V);
      accept(state, row, pick(sampler, logits, prompt, prefillStats, row, request), request);
    }
    const identity = prefillIndex.every((value, index) => value === index);
    let cache: KvCache = identity ? prefill.cache : session.selectRows(prefill.cache, prefillIndex);
    let active = rows;
    for (;;) {
      const stillActive = active.filter((row) => row.finish === undefined);
      if (stillActive.length === 0) break;
      if (stillActive.length < active.length) {
        // Drop finished rows, and the left padding that every remaining row masks out.
        const keep = active.flatMap((row, index) => (row.finish === undefined ? [index] : []));
        const dropColumns = Math.min(...stillActive.map((row) => row.padding));
        cache = session.selectRows(cache, keep, dropColumns);
        for (const row of stillActive) row.padding -= dropColumns;
        active = stillActive;
      }
      const batch = active.length;
      const total = cache.length + 1;
      const stepMask = new Uint8Array(batch * total);
      for (const [index, row] of active.entries())
        stepMask.fill(1, index * total + row.padding, (index + 1) * total);
      throwIfAborted(signal);
      const out = await session.run({
        batch,
        inputIds: active.map((row) => row.tokens[row.tokens.length - 1] as number),
        sequence: 1,
        attentionMask: stepMask,
        // The fed token is the last sampled one: position = prompt length + tokens before it.
        positionIds: active.map((row) => row.promptIds.length + row.tokens.length - 1),
        cache,
        keepLast: 1,
      });
      cache = out.cache;
      const stats = await statsFor(state, out.logits, batch, out.positions, request);
      for (const [index, row] of active.entries()) {
        const offset = (index * out.positions + out.positions - 1) * V;
        const logits = out.logits.subarray(offset, offset + V);
        accept(state, row, pick(sampler, logits, index, stats, row, request), request);
      }
    }
  }

  /** Softmax statistics for `rows` contiguous logit rows, when the head applies to this request. */
  async function statsFor(
    state: LoadedModel,
    logits: Float32Array,
    rows: number,
    positions: number,
    request: ResolvedRequest,
  ): Promise<BlockProbabilities | undefined> {
    const { sampling } = request;
    const unfiltered = sampling.topK === 0 && sampling.topP === 1 && sampling.minP === 0;
    const wanted = sampling.temperature === 0 ? request.logprobs : unfiltered;
    if (!state.head || positions !== 1 || !wanted || logits.length !== rows * state.head.vocabSize)
      return undefined;
    return state.head.run(logits, rows, sampling.temperature === 0 ? 1 : sampling.temperature);
  }

  function pick(
    sampler: Sampler,
    logits: Float32Array,
    statsRow: number,
    stats: BlockProbabilities | undefined,
    row: Row,
    request: ResolvedRequest,
  ): { token: number; logprob: number } {
    if (!stats) return sampler.sample(logits, request.sampling, row.random, request.logprobs);
    const blockProbs = stats.blockProbs.subarray(statsRow * stats.blocks, (statsRow + 1) * stats.blocks);
    return sampler.sampleFromBlocks(
      logits,
      request.sampling.temperature,
      blockProbs,
      stats.blockSize,
      row.random,
    );
  }

  function accept(
    state: LoadedModel,
    row: Row,
    sampled: { token: number; logprob: number },
    request: ResolvedRequest,
  ): void {
    const { token } = sampled;
    row.tokens.push(token);
    if (request.logprobs) row.logprobs.push(sampled.logprob);
    if (state.eosIds.has(token) || request.stopTokenIds.has(token)) {
      row.finish = 'stop';
      return;
    }
    if (row.detokenizer) {
      const added = row.detokenizer.push(token);
      if (added.length > 0) {
        const at = findStop(row.detokenizer.text, added.length, request.stop);
        if (at >= 0) {
          row.stoppedText = row.detokenizer.text.slice(0, at);
          row.finish = 'stop';
          return;
        }
      }
    }
    if (row.tokens.length >= row.maxNew) row.finish = 'length';
  }

  async function generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResult> {
    const warnings: Warning[] = [];
    const resolved = resolveRequest(request, warnings);
    throwIfAborted(options.signal);
    const state = await model();
    if (pendingLoadWarnings.length > 0) {
      warnings.push(...pendingLoadWarnings);
      pendingLoadWarnings = [];
    }
    const prepared = request.prompts.map((prompt, index) =>
      promptIds(state, prompt, `prompts[${index}]`, resolved),
    );
    for (const id of resolved.stopTokenIds) {
      if (state.session.vocabSize !== undefined && id >= state.session.vocabSize) {
        fail(
          'stopTokenIds',
          `stopTokenIds contains ${id}, which is outside the model's vocabulary (0 … ${state.session.vocabSize - 1}).`,
        );
      }
    }
    const rows: Row[] = [];
    let capped = 0;
    const isDecodable = (id: number) => id < state.tokenizerVocabSize;
    for (const [promptIndex, ids] of prepared.entries()) {
      const room = state.maxPositions - ids.length;
      if (room < resolved.maxTokens) capped++;
      for (let sampleIndex = 0; sampleIndex < resolved.n; sampleIndex++) {
        rows.push({
          promptIndex,
          sampleIndex,
          promptIds: ids,
          padding: 0,
          random:
            resolved.sampling.temperature > 0 ? completionStream(resolved.seed, ids, sampleIndex) : undefined,
          tokens: [],
          logprobs: [],
          maxNew: Math.min(resolved.maxTokens, room),
          ...(resolved.stop.length > 0
            ? { detokenizer: new IncrementalDetokenizer(state.tokenizer, isDecodable) }
            : {}),
        });
      }
    }
    if (capped > 0) {
      warnings.push({
        type: 'other',
        message: `${capped} prompt(s) leave fewer than maxTokens (${resolved.maxTokens}) positions before max_position_embeddings (${state.maxPositions}); their completions stop there with finishReason 'length'.`,
      });
    }
    for (let start = 0; start < rows.length; start += maxBatchSize) {
      await decodeRows(state, rows.slice(start, start + maxBatchSize), resolved, options.signal);
    }
    const results = prepared.map((ids) => ({ promptTokenIds: ids, completions: [] as Completion[] }));
    let completionTokens = 0;
    for (const row of rows) {
      completionTokens += row.tokens.length;
      const completion: Completion = {
        text: completionText(state, row, resolved.stopTokenIds),
        tokenIds: row.tokens,
        finishReason: row.finish ?? 'length',
      };
      if (resolved.logprobs) completion.logprobs = Float32Array.from(row.logprobs);
      results[row.promptIndex]?.completions.push(completion);
    }
    return {
      results,
      usage: { promptTokens: prepared.reduce((sum, ids) => sum + ids.length, 0), completionTokens },
      warnings,
    };
  }

  async function score(request: ScoreRequest, options: CallOptions = {}): Promise<ScoreResult> {
    if (!request || !Array.isArray(request.items))
      fail('items', 'score: `items` must be an array of { prompt, completion }.');
    const temperature = request.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
      fail(
        'temperature',
        `score: temperature must be a finite number > 0, got ${JSON.stringify(request.temperature)}.`,
      );
    }
    throwIfAborted(options.signal);
    const state = await model();
    const items = request.items.map((item, index) => {
      const prompt = promptIds(state, item.prompt, `items[${index}].prompt`);
      let completion: number[];
      if (typeof item.completion === 'string') {
        completion =
          item.completion.length === 0
            ? []
            : state.tokenizer.encode(item.completion, { add_special_tokens: false }).ids;
      } else if (item.completion && typeof item.completion === 'object' && 'tokenIds' in item.completion) {
        completion = Array.from(item.completion.tokenIds);
        const vocab = state.session.vocabSize ?? state.tokenizerVocabSize;
        const bad = completion.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
        if (bad >= 0)
          fail(
            `items[${index}].completion`,
            `items[${index}].completion.tokenIds[${bad}] is not a token id of this model.`,
          );
      } else {
        fail(`items[${index}].completion`, `items[${index}].completion must be a string or { tokenIds }.`);
      }
      if (prompt.length + completion.length > state.maxPositions) {
        fail(
          `items[${index}]`,
          `items[${index}] has ${prompt.length} + ${completion.length} tokens, more than max_position_embeddings (${state.maxPositions}).`,
        );
      }
      return { prompt, completion };
    });
    const results: ScoreResult['results'] = items.map((item) => ({
      tokenIds: item.completion,
      logprobs: new Float32Array(item.completion.length),
    }));
    const order = items.flatMap((item, index) => (item.completion.length > 0 ? [index] : []));
    for (let start = 0; start < order.length; start += maxBatchSize) {
      await scoreBatch(
        state,
        order.slice(start, start + maxBatchSize),
        items,
        results,
        temperature,
        options.signal,
      );
    }
    return { results };
  }

  async function scoreBatch(
    state: LoadedModel,
    indices: number[],
    items: { prompt: number[]; completion: number[] }[],
    results: ScoreResult['results'],
    temperature: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { session } = state;
    const batch = indices.length;
    const sequences = indices.map((index) => [
      ...(items[index]?.prompt ?? []),
      ...(items[index]?.completion ?? []),
    ]);
    const length = Math.max(...sequences.map((sequence) => sequence.length));
    const paddings = sequences.map((sequence) => length - sequence.length);
    // Column c's logits predict column c + 1; row r needs columns [length − C_r − 1, length − 2].
    const firstNeeded = Math.min(
      ...indices.map((index) => length - (items[index]?.completion.length ?? 0) - 1),
    );
    const vocabGuess = session.vocabSize ?? state.tokenizerVocabSize;
    const chunk = Math.max(1, Math.floor(scoreLogitsBytes / (batch * vocabGuess * 4)));
    const ranges: [number, number][] = [];
    let column = 0;
    if (session.logitsToKeepInput && firstNeeded > 0) {
      ranges.push([0, firstNeeded]);
      column = firstNeeded;
    }
    while (column < length - 1) {
      const end = Math.min(length - 1, column + chunk);
      ranges.push([column, end]);
      column = end;
    }
    let cache = session.emptyCache(batch);
    for (const [start, end] of ranges) {
      const width = end - start;
      const ids: number[] = [];
      const mask: number[] = [];
      const positions: number[] = [];
      for (const [row, sequence] of sequences.entries()) {
        const padding = paddings[row] as number;
        for (let c = start; c < end; c++)
          ids.push(c < padding ? state.padId : (sequence[c - padding] as number));
        for (let c = 0; c < end; c++) mask.push(c < padding ? 0 : 1);
        for (let c = start; c < end; c++) positions.push(c < padding ? 1 : c - padding);
      }
      const keep = end <= firstNeeded ? 1 : end - Math.max(start, firstNeeded);
      throwIfAborted(signal);
      const out = await session.run({
        batch,
        inputIds: ids,
        sequence: width,
        attentionMask: mask,
        positionIds: positions,
        cache,
        keepLast: keep,
      });
      cache = out.cache;
      if (end <= firstNeeded) continue;
      const sampler = samplerFor(out.vocabSize);
      const V = out.vocabSize;
      for (const [row, index] of indices.entries()) {
        const completion = items[index]?.completion ?? [];
        const firstColumn = length - completion.length - 1;
        const result = results[index];
        if (!result) continue;
        for (let position = 0; position < out.positions; position++) {
          const c = end - out.positions + position;
          if (c < firstColumn || c > length - 2) continue;
          const offset = (row * out.positions + position) * V;
          const logits = out.logits.subarray(offset, offset + V);
          const target = completion[c - firstColumn] as number;
          result.logprobs[c - firstColumn] =
            (logits[target] as number) / temperature - sampler.logSumExp(logits, temperature);
        }
      }
    }
  }

  return {
    specificationVersion: 'v1',
    provider: 'onnx',
    modelId: settings.modelDir,
    capabilities: { logprobs: true, tokenIds: true, chat: true, seed: true, score: true },
    get executionProvider() {
      return loaded?.session.executionProvider;
    },
    async init() {
      await model();
    },
    async tokenize(prompt: Prompt) {
      return promptIds(await model(), prompt, 'prompt');
    },
    generate,
    score,
    async close() {
      const current = loaded ?? (loading ? await loading.catch(() => undefined) : undefined);
      loaded = undefined;
      loading = undefined;
      await current?.session.release();
      await current?.head?.release();
    },
  };
}
