// The whole pipeline on real parts: the shipped benchmark files, @rlpt/model's tiny ONNX model on
// @rlpt/backend-onnx (directly, and behind `createModelServer` through @rlpt/backend-openai over HTTP).
// The model is random, so scores are ~0; what is checked is that every item flows through prompt →
// chat template → generate → grading → results, with the requested sampling settings.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOnnxBackend } from '@rlpt/backend-onnx';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { createTinyModel } from '@rlpt/model';
import { type ModelServer, createModelServer } from '@rlpt/serve';
import type { InferenceBackendV1 } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Benchmark, loadBenchmark } from './benchmarks.js';
import { readItemResults } from './results.js';
import { runEval } from './runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shipped = path.resolve(here, '../../../../shared/data/benchmarks');
const hasShipped = existsSync(shipped);

let dir: string;
let onnx: ReturnType<typeof createOnnxBackend>;
let server: ModelServer;
let url: string;
let benchmarks: Benchmark[];

beforeAll(async () => {
  if (!hasShipped) return;
  dir = await mkdtemp(path.join(tmpdir(), 'rlpt-eval-e2e-'));
  const model = await createTinyModel({ dir: path.join(dir, 'tiny'), seed: 3 });
  onnx = createOnnxBackend({ modelDir: model.dir, threads: 1 });
  await onnx.init();
  server = createModelServer({ backend: onnx, modelName: 'tiny', maxBatch: 8, batchWindowMs: 2 });
  ({ url } = await server.listen({ port: 0 }));
  benchmarks = await Promise.all(
    ['aime24', 'gsm8k', 'minerva-math', 'olympiadbench', 'mmlu-stem'].map((name) =>
      loadBenchmark(name, { dataDir: shipped, limit: 2 }),
    ),
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  await onnx?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function checkRun(backend: InferenceBackendV1, outDir: string) {
  const report = await runEval({
    backend,
    benchmarks,
    outDir,
    n: 2,
    maxTokens: 12,
    seed: 7,
    batchSize: 2,
    concurrency: 2,
  });
  expect(report.benchmarks.map((summary) => [summary.name, summary.items, summary.errors])).toEqual([
    ['aime24', 2, 0],
    ['gsm8k', 2, 0],
    ['minerva-math', 2, 0],
    ['olympiadbench', 2, 0],
    ['mmlu-stem', 2, 0],
  ]);
  for (const benchmark of benchmarks) {
    const { results } = readItemResults(path.join(outDir, benchmark.name, 'results.jsonl'));
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result.n).toBe(2);
      for (const sample of result.samples) {
        expect(sample.text).toBeTypeOf('string');
        expect(['stop', 'length']).toContain(sample.finishReason);
        if (sample.finishReason === 'length') expect(sample.tokens ?? 12).toBeLessThanOrEqual(12);
      }
    }
  }
  expect(report.markdown).toContain('AIME24 P@1');
  expect(report.markdown).toContain('MMLU-STEM');
  return report;
}

describe.skipIf(!hasShipped)('eval end to end on a tiny ONNX model', () => {
  it('runs the shipped benchmarks through @rlpt/backend-onnx', async () => {
    const report = await checkRun(onnx, path.join(dir, 'run-onnx'));
    expect(report.provider).toBe('onnx');
    // A second run resumes everything and generates nothing.
    const again = await runEval({
      backend: onnx,
      benchmarks,
      outDir: path.join(dir, 'run-onnx'),
      n: 2,
      maxTokens: 12,
      seed: 7,
    });
    expect(again.generatedItems).toBe(0);
    expect(again.resumedItems).toBe(10);
  });

  it('runs them against the model server through @rlpt/backend-openai', async () => {
    const backend = createOpenAIBackend({
      baseURL: `${url}/v1`,
      model: 'tiny',
      server: 'vllm',
      apiKey: 'unused',
    });
    try {
      const report = await checkRun(backend, path.join(dir, 'run-openai'));
      expect(report.provider).toBe('openai');
    } finally {
      await backend.close?.();
    }
  });
});
