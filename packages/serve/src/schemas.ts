/**
 * Request validation for `/v1/completions` and `/v1/chat/completions` (zod v4). Field names and ranges
 * follow the OpenAI API; `top_k`, `min_p`, `stop_token_ids`, `return_token_ids` and
 * `return_tokens_as_token_ids` are vLLM's extensions. Unknown fields are rejected with their name.
 */
import * as z from 'zod';

const tokenId = z.number().int().min(0);
const tokenIds = z.array(tokenId).min(1, 'a token-id prompt needs at least one token');

const common = {
  model: z.string().min(1),
  n: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).lte(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).lte(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z
    .union([z.string(), z.array(z.string())], { error: 'must be a string or an array of strings' })
    .nullish(),
  stop_token_ids: z.array(tokenId).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  presence_penalty: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  user: z.string().nullish(),
  return_token_ids: z.boolean().nullish(),
  return_tokens_as_token_ids: z.boolean().nullish(),
  // vLLM sampling extras (served by the engine of `rlpt serve model`).
  repetition_penalty: z.number().gt(0).nullish(),
  min_tokens: z.number().int().min(0).nullish(),
  ignore_eos: z.boolean().nullish(),
  skip_special_tokens: z.boolean().nullish(),
  prompt_logprobs: z.number().int().min(0).max(20).nullish(),
};

export const completionsRequestSchema = z.strictObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)], {
    error:
      'must be a string, a non-empty array of strings, an array of token ids, or an array of token-id arrays',
  }),
  logprobs: z.number().int().min(0).max(20).nullish(),
  add_special_tokens: z.boolean().nullish(),
  /** rlpt extension: the temperature `prompt_logprobs` are computed under (default 1, vLLM's). */
  prompt_logprobs_temperature: z.number().gt(0).nullish(),
  echo: z.boolean().nullish(),
  best_of: z.number().int().min(1).nullish(),
  suffix: z.string().nullish(),
});

const textPart = z.object({ type: z.literal('text'), text: z.string() });

const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z
    .union([z.string(), z.array(textPart)], {
      error: 'must be a string or an array of { type: "text", text } parts',
    })
    .nullish(),
  name: z.string().optional(),
});

export const chatRequestSchema = z.strictObject({
  ...common,
  messages: z.array(message).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  response_format: z.object({ type: z.string() }).nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  store: z.boolean().nullish(),
});

/** vLLM's `POST /detokenize`. */
export const detokenizeRequestSchema = z.strictObject({
  model: z.string().nullish(),
  tokens: z.array(tokenId),
});

/** SGLang's `POST /update_weights_from_disk` (fields rlpt does not use are accepted and ignored). */
export const updateWeightsRequestSchema = z.object({
  model_path: z.string().min(1),
  load_format: z.string().nullish(),
  abort_all_requests: z.boolean().nullish(),
  weight_version: z.string().nullish(),
});

/** vLLM's `POST /tokenize`: a text prompt or chat messages. */
export const tokenizeRequestSchema = z.union(
  [
    z.strictObject({
      model: z.string().nullish(),
      prompt: z.string(),
      add_special_tokens: z.boolean().nullish(),
      return_token_strs: z.boolean().nullish(),
    }),
    z.strictObject({
      model: z.string().nullish(),
      messages: z.array(message).min(1),
      add_generation_prompt: z.boolean().nullish(),
      add_special_tokens: z.boolean().nullish(),
      return_token_strs: z.boolean().nullish(),
    }),
  ],
  { error: 'expected { prompt: string } or { messages: [...] } (vLLM /tokenize)' },
);

export type DetokenizeRequest = z.infer<typeof detokenizeRequestSchema>;
export type UpdateWeightsRequest = z.infer<typeof updateWeightsRequestSchema>;
export type TokenizeRequest = z.infer<typeof tokenizeRequestSchema>;
export type CompletionsRequest = z.infer<typeof completionsRequestSchema>;
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** A validation problem as an OpenAI error: a message listing every issue, `param` the first one's path. */
export interface ValidationProblem {
  message: string;
  param: string | null;
}

export function describeIssues(error: z.ZodError): ValidationProblem {
  const lines: string[] = [];
  let param: string | null = null;
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`Unrecognized request argument supplied: ${path ? `${path}.` : ''}${key}`);
        param ??= path ? `${path}.${key}` : key;
      }
      continue;
    }
    lines.push(`${path || '(body)'}: ${issue.message}`);
    param ??= path || null;
  }
  return { message: lines.join('; '), param };
}
