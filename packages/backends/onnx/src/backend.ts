/**
 * `createOnnxBackend`: the backend's state (lazy load, close) and its `generate` and `score` calls. The
 * decode loop is in `decode.ts`, scoring in `score.ts`, loading and tokenisation in `loaded-model.ts`.
 */
import {
  type CallOptions,
  type Completion,
  type EventHandler,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  type Logger,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  silentLogger,
  type Warning,
} from '@rlpt/spec';
import { IncrementalDetokenizer } from './detokenize.js';
import { completionStream } from './prng.js';
import { Sampler } from './sampler.js';
import type { ExecutionProvider } from './session.js';
import { checkInteger, fail, resolveRequest, throwIfAborted } from './request.js';
import { type LoadedModel, loadModel, promptIds } from './loaded-model.js';
import { completionText, decodeRows, type Row } from './decode.js';
import { scoreBatch } from './score.js';

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

  async function model(): Promise<LoadedModel> {
    if (loaded) return loaded;
    loading ??= loadModel(settings, warn, logger).then(
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
      promptIds(state, prompt, `prompts[${index}]`, settings, resolved),
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
      await decodeRows(state, rows.slice(start, start + maxBatchSize), resolved, options.signal, samplerFor);
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
      const prompt = promptIds(state, item.prompt, `items[${index}].prompt`, settings);
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
        samplerFor,
        scoreLogitsBytes,
      );
    }
    return { results };
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
      return promptIds(await model(), prompt, 'prompt', settings);
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
