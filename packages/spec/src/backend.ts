/** A chat message, as OpenAI and Hugging Face chat templates take it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string;
}

/**
 * One prompt: raw text (base models, RLPT templates as-is), chat messages (rendered with the model's chat
 * template by the backend), or token ids (already tokenised; skips the tokenizer).
 */
export type Prompt = string | { messages: ChatMessage[] } | { tokenIds: ArrayLike<number> };

export interface GenerateRequest {
  prompts: Prompt[];
  /** Completions per prompt (GRPO's group size). Default 1. */
  n?: number;
  /** Maximum new tokens per completion. */
  maxTokens: number;
  /** Sampling temperature; 0 means greedy. Default 1. */
  temperature?: number;
  /** Nucleus sampling; 1 disables. */
  topP?: number;
  /** Keep the k most likely tokens; 0 or undefined disables. */
  topK?: number;
  /** Drop tokens with probability below minP × the top probability; 0 disables. */
  minP?: number;
  /** Seed for reproducible sampling. */
  seed?: number;
  /** Stop strings: generation ends before the first occurrence (not included in `text`). */
  stop?: string[];
  /** Stop token ids (in addition to the model's end-of-sequence tokens). */
  stopTokenIds?: number[];
  /** Return per-token logprobs of the generated tokens. */
  logprobs?: boolean;
  /** With `logprobs`: also the N most likely tokens at each step (0–20; OpenAI's `top_logprobs`). */
  topLogprobs?: number;
  /** Backend-specific options, passed through untouched (e.g. vLLM's `extra_body`). */
  providerOptions?: Record<string, unknown>;
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

/** One alternative at a decode step. */
export interface TopLogprob {
  /** The token as the server spells it (decoded text, or `token_id:<id>`). */
  token: string;
  /** Its id, when the server gives it. */
  tokenId?: number;
  logprob: number;
}

export interface Completion {
  text: string;
  /** Generated token ids, when the backend knows them. */
  tokenIds?: number[];
  /**
   * Per-token logprobs of `tokenIds` under the distribution the token was sampled from (each backend
   * documents which: temperature-scaled or raw).
   */
  logprobs?: Float32Array;
  /** Per generated token, the `topLogprobs` most likely tokens, most likely first (when asked for). */
  topLogprobs?: TopLogprob[][];
  finishReason: FinishReason;
  /**
   * Reasoning the server split out of the reply (a reasoning parser's `reasoning` /
   * `reasoning_content`); `text` then holds only the final answer. Absent when the thoughts, if any, are in
   * `text` (as `<think>…</think>`).
   */
  reasoning?: string;
}

export interface PromptResult {
  /** Prompt token ids, when the backend knows them. */
  promptTokenIds?: number[];
  /** `n` completions for this prompt. */
  completions: Completion[];
}

/** A setting the backend ignored or changed: reported, not thrown (vercel/ai's provider pattern). */
export interface Warning {
  type: 'unsupported-setting' | 'other';
  setting?: string;
  message: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerateResult {
  /** One entry per prompt, in request order. */
  results: PromptResult[];
  usage: Usage;
  warnings: Warning[];
}

export interface BackendCapabilities {
  /** Per-token logprobs on `generate` when asked. */
  logprobs: boolean;
  /** Token ids of prompts and completions. */
  tokenIds: boolean;
  /** Chat prompts (`{ messages }`). */
  chat: boolean;
  /** Reproducible sampling with `seed`. */
  seed: boolean;
  /** Teacher-forced `score`. */
  score: boolean;
}

export interface ScoreRequest {
  items: { prompt: Prompt; completion: string | { tokenIds: ArrayLike<number> } }[];
  /** Temperature the logprobs are computed under (default 1). */
  temperature?: number;
}

export interface ScoreResult {
  /** Per item: completion token ids and their logprobs given the prompt. */
  results: { tokenIds: number[]; logprobs: Float32Array }[];
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** Anything that generates text: rollouts, judge calls, evaluation. Inference only. */
export interface InferenceBackendV1 {
  readonly specificationVersion: 'v1';
  /** Provider name, e.g. `onnx`, `openai`, `transformers`. */
  readonly provider: string;
  /** Model id or folder. */
  readonly modelId: string;
  readonly capabilities: BackendCapabilities;
  generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResult>;
  /** Teacher-forced logprobs of given completions (present when `capabilities.score`). */
  score?(request: ScoreRequest, options?: CallOptions): Promise<ScoreResult>;
  /**
   * Loads new weights from a model folder (present where the backend or its server can: `rlpt serve
   * model`, SGLang). Resolves once requests made from then on use them, so a trainer can push weights
   * after each optimiser step and stay on-policy. Requests already running may finish on the old weights
   * (each backend documents which).
   */
  updateWeights?(modelDir: string, options?: CallOptions): Promise<void>;
  /** Releases sessions, sockets and workers. */
  close?(): Promise<void>;
}
