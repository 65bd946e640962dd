import type { GenerateRequest, GenerateResult, InferenceBackendV1 } from '@rlpt/spec';

/**
 * A real (tiny) language model as a proxy for the next-token filter in @rlpt/data's tests, where no model
 * backend is a dependency: a character bigram model with add-one smoothing, fitted on `text`. It keeps the
 * `InferenceBackendV1` contract of `@rlpt/spec` (packages/spec/src/backend.ts): one completion per prompt,
 * `topLogprobs` most likely first, logprobs of the unscaled distribution at temperature 1. Its next-token
 * distribution is the bigram's after the prompt's last character, so entropies can be checked by hand.
 * The end-to-end test with a real ONNX model is in @rlpt/cli (`rlpt prepare --proxy onnx:…`).
 */
export function createBigramProxy(text: string): InferenceBackendV1 & {
  calls: GenerateRequest[];
  distribution(prompt: string): { character: string; logprob: number }[];
} {
  const alphabet = [...new Set(Array.from(text))].sort();
  const counts = new Map<string, Map<string, number>>();
  const characters = Array.from(text);
  for (let index = 1; index < characters.length; index++) {
    const previous = characters[index - 1] as string;
    const row = counts.get(previous) ?? new Map<string, number>();
    row.set(characters[index] as string, (row.get(characters[index] as string) ?? 0) + 1);
    counts.set(previous, row);
  }
  const distribution = (prompt: string) => {
    const last = Array.from(prompt).pop() ?? '';
    const row = counts.get(last) ?? new Map<string, number>();
    const total = [...row.values()].reduce((sum, value) => sum + value, 0) + alphabet.length;
    return alphabet
      .map((character) => ({ character, logprob: Math.log(((row.get(character) ?? 0) + 1) / total) }))
      .sort((a, b) => b.logprob - a.logprob || (a.character < b.character ? -1 : 1));
  };
  const calls: GenerateRequest[] = [];
  return {
    specificationVersion: 'v1',
    provider: 'bigram',
    modelId: 'char-bigram',
    capabilities: { logprobs: true, tokenIds: false, chat: false, seed: true, score: false },
    calls,
    distribution,
    async generate(request): Promise<GenerateResult> {
      calls.push(request);
      return {
        results: request.prompts.map((prompt) => {
          const ranked = distribution(typeof prompt === 'string' ? prompt : '');
          const top = ranked.slice(0, request.topLogprobs ?? 0);
          const best = ranked[0] as { character: string; logprob: number };
          return {
            completions: [
              {
                text: best.character,
                logprobs: Float32Array.of(best.logprob),
                ...(request.topLogprobs
                  ? {
                      topLogprobs: [top.map((entry) => ({ token: entry.character, logprob: entry.logprob }))],
                    }
                  : {}),
                finishReason: 'length' as const,
              },
            ],
          };
        }),
        usage: { promptTokens: 0, completionTokens: request.prompts.length },
        warnings: [],
      };
    },
  };
}
