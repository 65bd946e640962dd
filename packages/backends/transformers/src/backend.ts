import { resolve } from 'node:path';
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
  RlptError,
  type ScoreRequest,
  type ScoreResult,
  silentLogger,
  type Warning,
} from '@rlpt/spec';
import { checkModelFolder, dtypeSuffixes, type TransformersDtype, tokenIdList } from './folder.js';
import { checkInteger, fail, type ResolvedRequest, resolveRequest } from './request.js';

type Transformers = typeof import('@huggingface/transformers');
type PreTrainedModel = import('@huggingface/transformers').PreTrainedModel;
type PreTrainedTokenizer = import('@huggingface/transformers').PreTrainedTokenizer;
type Tensor = import('@huggingface/transformers').Tensor;

/** Devices transformers.js can run a model on in Node (`cpu` is onnxruntime-node's CPU provider). */
export type TransformersDevice = 'cpu' | 'cuda' | 'dml' | 'webgpu' | 'gpu' | 'auto';

/** Settings for {@link createTransformersBackend}. */
export interface TransformersBackendSettings {
  /**
   * Model folder: `config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx` (for dtype
   * fp32), optional `generation_config.json`. Loaded from disk only: remote loading is switched off.
   */
  modelDir: string;
  /** onnxruntime intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Weight format, which picks the ONNX file (`fp32` → `onnx/model.onnx`, `q8` → `model_quantized.onnx`, …). Default `fp32`. */
  dtype?: TransformersDtype;
  /** Where transformers.js runs the model. Default `cpu`. */
  device?: TransformersDevice;
  /** ONNX file name inside `onnx/`, without the dtype suffix and `.onnx`. Default `model`. */
  modelFileName?: string;
  /** Most sequences (prompts × n) passed to one `generate()` call; larger requests run in groups. Default 64. */
  maxBatchSize?: number;
  /** Budget for the logits of one teacher-forced forward (logprobs, `score`), in bytes. Default 256 MiB. */
  scoreLogitsBytes?: number;
  /** Add the tokenizer's special tokens (e.g. BOS) to string prompts. Default true; chat prompts never. */
  addSpecialTokens?: boolean;
  logger?: Logger;
  onEvent?: EventHandler;
}

/** The transformers.js backend: an `InferenceBackendV1` with a few extras. */
export interface TransformersBackend extends InferenceBackendV1 {
  readonly provider: 'transformers';
  /** Loads the tokenizer and model now (otherwise the first call does); rejects with `ModelLoadError`. */
  init(): Promise<void>;
  /** Token ids of a prompt as `generate` would feed them. */
  tokenize(prompt: Prompt): Promise<number[]>;
  score(request: ScoreRequest, options?: CallOptions): Promise<ScoreResult>;
  /** Disposes the onnxruntime session. */
  close(): Promise<void>;
}

interface LoadedModel {
  transformers: Transformers;
  model: PreTrainedModel;
  tokenizer: PreTrainedTokenizer;
  eosIds: Set<number>;
  padId: number;
  maxPositions: number;
  /** Width of the model's logits (may exceed the tokenizer's vocabulary). */
  vocabSize: number;
  /** Ids the tokenizer can decode. */
  tokenizerVocabSize: number;
  /** The graph takes `num_logits_to_keep`, so scoring forwards compute only the rows they need. */
  keepsLogits: boolean;
}

interface Row {
  promptIndex: number;
  promptIds: number[];
  maxNew: number;
  tokens: number[];
  finish?: FinishReason;
  /** Text cut before a stop string, when one ended the row. */
  stoppedText?: string;
}

/**
 * transformers.js samples from one global random generator (`random`), so seeded calls are only
 * reproducible when no other generation interleaves: every backend instance in the process queues here.
 */
let queueTail: Promise<unknown> = Promise.resolve();
function exclusive<T>(task: () => Promise<T>): Promise<T> {
  const run = queueTail.then(task, task);
  queueTail = run.catch(() => undefined);
  return run;
}

function throwIfAborted(signal: AbortSignal | undefined, what = 'Generation'): void {
  if (signal?.aborted) throw new AbortError({ message: `${what} was aborted.`, cause: signal.reason });
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** `max(values / temperature)` and `log Σ exp(values / temperature − max)` in float64. */
function logSumExp(values: Float32Array, start: number, length: number, temperature: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let index = start; index < start + length; index++) {
    const value = (values[index] as number) / temperature;
    if (value > max) max = value;
  }
  let sum = 0;
  for (let index = start; index < start + length; index++)
    sum += Math.exp((values[index] as number) / temperature - max);
  return max + Math.log(sum);
}

/**
 * Creates the transformers.js backend: `@huggingface/transformers` 4.3 `generate()` behind
 * `InferenceBackendV1`, with per-token logprobs from a teacher-forced forward (transformers.js returns no
 * scores). Nothing is loaded until the first call (or `init()`); transformers.js is imported lazily and
 * never touches the network (`env.allowRemoteModels = false`, `local_files_only`).
 *
 * @example
 * const backend = createTransformersBackend({ modelDir: 'models/tiny', threads: 2 });
 * const { results } = await backend.generate({ prompts: ['Once upon'], n: 4, maxTokens: 32, seed: 1, logprobs: true });
 */
export function createTransformersBackend(settings: TransformersBackendSettings): TransformersBackend {
  if (!settings || typeof settings.modelDir !== 'string' || settings.modelDir.length === 0) {
    fail('modelDir', 'createTransformersBackend: `modelDir` (a model folder path) is required.');
  }
  const modelDir = resolve(settings.modelDir);
  const dtype = settings.dtype ?? 'fp32';
  if (!(dtype in dtypeSuffixes)) {
    fail(
      'dtype',
      `dtype must be one of ${Object.keys(dtypeSuffixes).join(', ')}, got ${JSON.stringify(dtype)}.`,
    );
  }
  const device = settings.device ?? 'cpu';
  const modelFileName = settings.modelFileName ?? 'model';
  if (settings.threads !== undefined) checkInteger(settings.threads, 'threads', 1);
  const maxBatchSize = checkInteger(settings.maxBatchSize ?? 64, 'maxBatchSize', 1);
  const scoreLogitsBytes = checkInteger(
    settings.scoreLogitsBytes ?? 256 * 1024 * 1024,
    'scoreLogitsBytes',
    1,
  );
  const logger = settings.logger ?? silentLogger;
  const reported = new Set<string>();
  let loading: Promise<LoadedModel> | undefined;
  let loaded: LoadedModel | undefined;

  const report = (warnings: Warning[]) => {
    for (const warning of warnings) {
      if (reported.has(warning.message)) continue;
      reported.add(warning.message);
      logger.warn(warning.message);
      settings.onEvent?.({ type: 'warning', message: warning.message });
    }
  };

  async function load(): Promise<LoadedModel> {
    const folder = await checkModelFolder(modelDir, dtype, modelFileName);
    const transformers = (await import('@huggingface/transformers')) as Transformers;
    // Local folders only: a missing file must fail here, never turn into a download.
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    let tokenizer: PreTrainedTokenizer;
    try {
      tokenizer = await transformers.AutoTokenizer.from_pretrained(modelDir, { local_files_only: true });
    } catch (error) {
      throw new ModelLoadError({
        path: `${modelDir}/tokenizer.json`,
        message: `transformers.js cannot load the tokenizer in ${modelDir}: ${(error as Error).message}`,
        cause: error,
      });
    }
    let model: PreTrainedModel;
    try {
      model = await transformers.AutoModelForCausalLM.from_pretrained(modelDir, {
        local_files_only: true,
        dtype,
        device,
        model_file_name: modelFileName,
        session_options: {
          logSeverityLevel: 3,
          interOpNumThreads: 1,
          ...(settings.threads ? { intraOpNumThreads: settings.threads } : {}),
        },
      });
    } catch (error) {
      throw new ModelLoadError({
        path: folder.onnxPath,
        message: `transformers.js cannot load ${folder.onnxPath} as a causal LM (model_type ${String(folder.config.model_type)}, device ${device}): ${(error as Error).message}`,
        cause: error,
      });
    }
    const { config, generationConfig } = folder;
    const generationEos = tokenIdList(generationConfig.eos_token_id);
    const eosIds = new Set(generationEos.length > 0 ? generationEos : tokenIdList(config.eos_token_id));
    if (eosIds.size === 0 && Number.isInteger(tokenizer.eos_token_id)) eosIds.add(tokenizer.eos_token_id);
    const padId =
      tokenIdList(generationConfig.pad_token_id)[0] ??
      tokenIdList(config.pad_token_id)[0] ??
      (Number.isInteger(tokenizer.pad_token_id) ? tokenizer.pad_token_id : undefined) ??
      [...eosIds][0] ??
      0;
    let tokenizerVocabSize = 0;
    for (const id of tokenizer.get_vocab().values())
      tokenizerVocabSize = Math.max(tokenizerVocabSize, id + 1);
    const session = (model.sessions as Record<string, { inputNames?: string[] } | undefined>).model;
    logger.debug('transformers backend loaded', { modelDir, dtype, device, model: model.constructor.name });
    return {
      transformers,
      model,
      tokenizer,
      eosIds,
      padId,
      maxPositions: positiveInteger(config.max_position_embeddings) ?? Number.POSITIVE_INFINITY,
      vocabSize: positiveInteger(config.vocab_size) ?? tokenizerVocabSize,
      tokenizerVocabSize,
      keepsLogits: session?.inputNames?.includes('num_logits_to_keep') ?? false,
    };
  }

  async function state(): Promise<LoadedModel> {
    if (loaded) return loaded;
    loading ??= load().then(
      (value) => {
        loaded = value;
        return value;
      },
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    );
    return loading;
  }

  function promptIds(
    current: LoadedModel,
    prompt: Prompt,
    where: string,
    resolved?: Pick<ResolvedRequest, 'chatVariables' | 'enableThinking' | 'addSpecialTokens'>,
  ): number[] {
    const { tokenizer } = current;
    let ids: number[];
    if (typeof prompt === 'string') {
      const addSpecialTokens = resolved?.addSpecialTokens ?? settings.addSpecialTokens ?? true;
      ids = prompt.length === 0 ? [] : tokenizer.encode(prompt, { add_special_tokens: addSpecialTokens });
    } else if (prompt && typeof prompt === 'object' && 'messages' in prompt) {
      let text: string;
      try {
        text = tokenizer.apply_chat_template(prompt.messages, {
          add_generation_prompt: true,
          ...resolved?.chatVariables,
          ...(resolved?.enableThinking !== undefined ? { enable_thinking: resolved.enableThinking } : {}),
          tokenize: false,
        }) as unknown as string;
      } catch (error) {
        throw new InvalidArgumentError({
          argument: where,
          message: `${where} is a chat prompt, but the chat template of ${modelDir} cannot render it (${(error as Error).message}); pass a string prompt or add chat_template to tokenizer_config.json.`,
          cause: error,
        });
      }
      ids = tokenizer.encode(text, { add_special_tokens: false });
    } else if (prompt && typeof prompt === 'object' && 'tokenIds' in prompt) {
      ids = Array.from(prompt.tokenIds);
      const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= current.vocabSize);
      if (bad >= 0) {
        fail(
          where,
          `${where}.tokenIds[${bad}] = ${ids[bad]} is not a token id of this model (0 … ${current.vocabSize - 1}).`,
        );
      }
    } else {
      fail(where, `${where} must be a string, { messages } or { tokenIds }.`);
    }
    if (ids.length === 0) fail(where, `${where} is empty (0 tokens); give at least one token of context.`);
    if (ids.length >= current.maxPositions) {
      fail(
        where,
        `${where} has ${ids.length} tokens, but the model's max_position_embeddings is ${current.maxPositions}; shorten the prompt (left-truncate the context).`,
      );
    }
    return ids;
  }

  function decode(current: LoadedModel, ids: number[]): string {
    const decodable = ids.filter((id) => id < current.tokenizerVocabSize);
    return decodable.length === 0 ? '' : current.tokenizer.decode(decodable, { skip_special_tokens: true });
  }

  /** Records one sampled token of a row and decides whether the row is finished. */
  function accept(current: LoadedModel, row: Row, token: number, request: ResolvedRequest): void {
    row.tokens.push(token);
    if (current.eosIds.has(token) || request.stopTokenIds.includes(token)) {
      row.finish = 'stop';
      return;
    }
    if (request.stop.length > 0) {
      const text = decode(current, row.tokens);
      let cut = -1;
      for (const stop of request.stop) {
        const at = text.indexOf(stop);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        row.stoppedText = text.slice(0, cut);
        row.finish = 'stop';
        return;
      }
    }
    if (row.tokens.length >= row.maxNew) row.finish = 'length';
  }

  /** One transformers.js `generate()` call over a group of rows, left-padded to the longest prompt. */
  async function generateGroup(
    current: LoadedModel,
    rows: Row[],
    request: ResolvedRequest,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { transformers } = current;
    const batch = rows.length;
    const length = Math.max(...rows.map((row) => row.promptIds.length));
    const ids = new BigInt64Array(batch * length).fill(BigInt(current.padId));
    const mask = new BigInt64Array(batch * length);
    for (const [index, row] of rows.entries()) {
      const start = index * length + length - row.promptIds.length;
      for (const [offset, id] of row.promptIds.entries()) {
        ids[start + offset] = BigInt(id);
        mask[start + offset] = 1n;
      }
    }
    let aborted = false;
    // Called by generate() after every step with each row's full sequence (prompt + new tokens).
    class RowStopper extends transformers.StoppingCriteria {
      override _call(sequences: (bigint | number)[][]): boolean[] {
        if (signal?.aborted) {
          aborted = true;
          return sequences.map(() => true);
        }
        return sequences.map((sequence, index) => {
          const row = rows[index] as Row;
          if (row.finish === undefined) accept(current, row, Number(sequence[sequence.length - 1]), request);
          return row.finish !== undefined;
        });
      }
    }
    const sampling =
      request.temperature > 0
        ? { do_sample: true, temperature: request.temperature, top_k: request.topK }
        : { do_sample: false };
    try {
      await current.model.generate({
        input_ids: new transformers.Tensor('int64', ids, [batch, length]),
        attention_mask: new transformers.Tensor('int64', mask, [batch, length]),
        max_new_tokens: Math.max(...rows.map((row) => row.maxNew)),
        ...sampling,
        // Neutralise generation_config.json extras the request cannot express; eos is handled by RowStopper.
        num_beams: 1,
        repetition_penalty: 1,
        no_repeat_ngram_size: 0,
        min_length: 0,
        min_new_tokens: null,
        eos_token_id: null,
        forced_bos_token_id: null,
        forced_eos_token_id: null,
        suppress_tokens: null,
        begin_suppress_tokens: null,
        bad_words_ids: null,
        stopping_criteria: [new RowStopper()],
        // The nulls are transformers.js's own defaults; its typings declare these fields as optional numbers.
      } as unknown as Parameters<PreTrainedModel['generate']>[0]);
    } catch (error) {
      throw new RlptError({
        message: `transformers.js generate() failed on ${modelDir} (batch ${batch}, prompt length ${length}): ${(error as Error).message}`,
        cause: error,
      });
    }
    if (aborted) throwIfAborted(signal);
  }

  /**
   * Teacher-forced logprobs: one forward over prompt + completion (left-padded batches), then
   * log softmax(logits / temperature) at each completion token, computed in float64.
   */
  async function teacherForced(
    current: LoadedModel,
    items: { prompt: number[]; completion: number[] }[],
    temperature: number,
    signal: AbortSignal | undefined,
  ): Promise<Float32Array[]> {
    const results = items.map((item) => new Float32Array(item.completion.length));
    const order = items.flatMap((item, index) => (item.completion.length > 0 ? [index] : []));
    const V = current.vocabSize;
    let start = 0;
    while (start < order.length) {
      // Grow the chunk while its logits fit the budget.
      let end = start;
      let longest = 0;
      let widest = 0;
      while (end < order.length && end - start < maxBatchSize) {
        const item = items[order[end] as number] as { prompt: number[]; completion: number[] };
        const nextLongest = Math.max(longest, item.prompt.length + item.completion.length);
        const nextWidest = Math.max(widest, item.completion.length + 1);
        const positions = current.keepsLogits ? nextWidest : nextLongest;
        if (end > start && (end - start + 1) * positions * V * 4 > scoreLogitsBytes) break;
        longest = nextLongest;
        widest = nextWidest;
        end++;
      }
      const chunk = order.slice(start, end);
      start = end;
      throwIfAborted(signal, 'Scoring');
      const batch = chunk.length;
      const ids = new BigInt64Array(batch * longest).fill(BigInt(current.padId));
      const mask = new BigInt64Array(batch * longest);
      for (const [row, index] of chunk.entries()) {
        const item = items[index] as { prompt: number[]; completion: number[] };
        const sequence = [...item.prompt, ...item.completion];
        const offset = row * longest + longest - sequence.length;
        for (const [column, id] of sequence.entries()) {
          ids[offset + column] = BigInt(id);
          mask[offset + column] = 1n;
        }
      }
      const { Tensor } = current.transformers;
      const inputs: Record<string, Tensor> = {
        input_ids: new Tensor('int64', ids, [batch, longest]),
        attention_mask: new Tensor('int64', mask, [batch, longest]),
      };
      if (current.keepsLogits) inputs.num_logits_to_keep = new Tensor('int64', [BigInt(widest)], []);
      let logits: Tensor;
      try {
        logits = ((await current.model(inputs)) as { logits: Tensor }).logits;
      } catch (error) {
        throw new RlptError({
          message: `transformers.js forward failed on ${modelDir} (batch ${batch}, length ${longest}): ${(error as Error).message}`,
          cause: error,
        });
      }
      if (logits.type !== 'float32') logits = logits.to('float32');
      const data = logits.data as Float32Array;
      const positions = logits.dims[1] as number;
      const width = logits.dims[2] as number;
      for (const [row, index] of chunk.entries()) {
        const item = items[index] as { prompt: number[]; completion: number[] };
        const out = results[index] as Float32Array;
        const count = item.completion.length;
        for (let step = 0; step < count; step++) {
          // Column longest − count − 1 + step predicts completion token `step`.
          const position = longest - count - 1 + step - (longest - positions);
          const offset = (row * positions + position) * width;
          const target = item.completion[step] as number;
          out[step] =
            (data[offset + target] as number) / temperature - logSumExp(data, offset, width, temperature);
        }
      }
    }
    return results;
  }

  function completionText(current: LoadedModel, row: Row, request: ResolvedRequest): string {
    if (row.stoppedText !== undefined) return row.stoppedText;
    let ids = row.tokens;
    const last = ids[ids.length - 1];
    if (
      row.finish === 'stop' &&
      last !== undefined &&
      (current.eosIds.has(last) || request.stopTokenIds.includes(last))
    )
      ids = ids.slice(0, -1);
    return decode(current, ids);
  }

  async function generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResult> {
    const warnings: Warning[] = [];
    const resolved = resolveRequest(request, warnings);
    throwIfAborted(options.signal);
    const current = await state();
    const prepared = request.prompts.map((prompt, index) =>
      promptIds(current, prompt, `prompts[${index}]`, resolved),
    );
    for (const id of resolved.stopTokenIds) {
      if (id >= current.vocabSize) {
        fail(
          'stopTokenIds',
          `stopTokenIds contains ${id}, which is outside the model's vocabulary (0 … ${current.vocabSize - 1}).`,
        );
      }
    }
    const rows: Row[] = [];
    let capped = 0;
    for (const [promptIndex, ids] of prepared.entries()) {
      const room = current.maxPositions - ids.length;
      if (room < resolved.maxTokens) capped++;
      for (let sample = 0; sample < resolved.n; sample++)
        rows.push({ promptIndex, promptIds: ids, maxNew: Math.min(resolved.maxTokens, room), tokens: [] });
    }
    if (capped > 0) {
      warnings.push({
        type: 'other',
        message: `${capped} prompt(s) leave fewer than maxTokens (${resolved.maxTokens}) positions before max_position_embeddings (${current.maxPositions}); their completions stop there with finishReason 'length'.`,
      });
    }
    report(warnings);
    await exclusive(async () => {
      throwIfAborted(options.signal);
      // A fresh OS-entropy seed when none is given, so an earlier seeded call is never replayed.
      current.transformers.random.seed(resolved.seed);
      for (let start = 0; start < rows.length; start += maxBatchSize)
        await generateGroup(current, rows.slice(start, start + maxBatchSize), resolved, options.signal);
    });
    let logprobs: Float32Array[] | undefined;
    if (resolved.logprobs) {
      logprobs = await teacherForced(
        current,
        rows.map((row) => ({ prompt: row.promptIds, completion: row.tokens })),
        resolved.temperature > 0 ? resolved.temperature : 1,
        options.signal,
      );
    }
    const results = prepared.map((ids) => ({ promptTokenIds: ids, completions: [] as Completion[] }));
    let completionTokens = 0;
    for (const [index, row] of rows.entries()) {
      completionTokens += row.tokens.length;
      const completion: Completion = {
        text: completionText(current, row, resolved),
        tokenIds: row.tokens,
        finishReason: row.finish ?? 'length',
      };
      if (logprobs) completion.logprobs = logprobs[index] as Float32Array;
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
    throwIfAborted(options.signal, 'Scoring');
    const current = await state();
    const items = request.items.map((item, index) => {
      const prompt = promptIds(current, item?.prompt, `items[${index}].prompt`);
      const where = `items[${index}].completion`;
      let completion: number[];
      if (typeof item.completion === 'string') {
        completion =
          item.completion.length === 0
            ? []
            : current.tokenizer.encode(item.completion, { add_special_tokens: false });
      } else if (item.completion && typeof item.completion === 'object' && 'tokenIds' in item.completion) {
        completion = Array.from(item.completion.tokenIds);
        const bad = completion.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= current.vocabSize);
        if (bad >= 0)
          fail(where, `${where}.tokenIds[${bad}] = ${completion[bad]} is not a token id of this model.`);
      } else {
        fail(where, `${where} must be a string or { tokenIds }.`);
      }
      if (prompt.length + completion.length > current.maxPositions) {
        fail(
          `items[${index}]`,
          `items[${index}] has ${prompt.length} + ${completion.length} tokens, more than max_position_embeddings (${current.maxPositions}).`,
        );
      }
      return { prompt, completion };
    });
    const logprobs = await teacherForced(current, items, temperature, options.signal);
    return {
      results: items.map((item, index) => ({
        tokenIds: item.completion,
        logprobs: logprobs[index] as Float32Array,
      })),
    };
  }

  return {
    specificationVersion: 'v1',
    provider: 'transformers',
    modelId: settings.modelDir,
    capabilities: { logprobs: true, tokenIds: true, chat: true, seed: true, score: true },
    async init() {
      await state();
    },
    async tokenize(prompt: Prompt) {
      return promptIds(await state(), prompt, 'prompt');
    },
    generate,
    score,
    async close() {
      const current = loaded ?? (loading ? await loading.catch(() => undefined) : undefined);
      loaded = undefined;
      loading = undefined;
      await current?.model.dispose();
    },
  };
}
