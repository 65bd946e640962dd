/**
 * A deterministic `InferenceBackendV1` for testing the HTTP layer (validation, formats, batching,
 * shutdown) without a model: it records every `generate` call, takes `delayMs` per call whatever the
 * batch size (as one decode pass would), and answers each prompt with its text reversed, one token per
 * character (token id = char code, logprob of the k-th token = −(k+1)/10). End-to-end tests with a real
 * model live in `e2e.test.ts`.
 */
import {
  AbortError,
  type Completion,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  InvalidArgumentError,
  type Prompt,
} from '@rlpt/spec';

export interface RecordingBackend extends InferenceBackendV1 {
  calls: GenerateRequest[];
}

export function promptText(prompt: Prompt): string {
  if (typeof prompt === 'string') return prompt;
  if ('messages' in prompt)
    return prompt.messages.map((message) => `${message.role}: ${message.content}\n`).join('');
  return String.fromCharCode(...Array.from(prompt.tokenIds));
}

/** What the backend answers for a prompt, sample index `sample` (so n samples differ). */
export function expectedText(prompt: Prompt, sample: number, maxTokens: number, stop: string[] = []): string {
  let text = `${[...promptText(prompt)].reverse().join('')}${sample > 0 ? `#${sample}` : ''}`.slice(
    0,
    maxTokens,
  );
  for (const marker of stop) {
    const at = text.indexOf(marker);
    if (at >= 0) text = text.slice(0, at);
  }
  return text;
}

export function createRecordingBackend(
  options: { delayMs?: number; modelId?: string } = {},
): RecordingBackend {
  const calls: GenerateRequest[] = [];
  return {
    specificationVersion: 'v1',
    provider: 'recording',
    modelId: options.modelId ?? 'recording-model',
    capabilities: { logprobs: true, tokenIds: true, chat: true, seed: true, score: false },
    calls,
    async generate(request, callOptions = {}): Promise<GenerateResult> {
      calls.push(request);
      const poisoned = request.prompts.findIndex((prompt) => promptText(prompt).includes('poison'));
      if (poisoned >= 0) {
        throw new InvalidArgumentError({
          argument: `prompts[${poisoned}]`,
          message: `generate: prompts[${poisoned}] is poisoned (test backend).`,
        });
      }
      if (request.maxTokens === 13) {
        throw new InvalidArgumentError({
          argument: 'maxTokens',
          message: 'maxTokens 13 is unlucky (test backend).',
        });
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, options.delayMs ?? 0);
        callOptions.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new AbortError({ cause: callOptions.signal?.reason }));
        });
      });
      let promptTokens = 0;
      let completionTokens = 0;
      const results = request.prompts.map((prompt) => {
        const promptTokenIds = [...promptText(prompt)].map((char) => char.codePointAt(0)!);
        promptTokens += promptTokenIds.length;
        const completions = Array.from({ length: request.n ?? 1 }, (_, sample): Completion => {
          const text = expectedText(prompt, sample, request.maxTokens, request.stop);
          const tokenIds = [...text].map((char) => char.codePointAt(0)!);
          completionTokens += tokenIds.length;
          const completion: Completion = {
            text,
            tokenIds,
            finishReason: tokenIds.length >= request.maxTokens ? 'length' : 'stop',
          };
          if (request.logprobs)
            completion.logprobs = Float32Array.from(tokenIds, (_, index) => -(index + 1) / 10);
          return completion;
        });
        return { promptTokenIds, completions };
      });
      return { results, usage: { promptTokens, completionTokens }, warnings: [] };
    },
  };
}
