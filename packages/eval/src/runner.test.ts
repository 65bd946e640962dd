import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { passAtK } from '@rlpt/grpo';
import { rawChatTemplate } from '@rlpt/prompts';
import {
  ApiCallError,
  type Completion,
  ConfigError,
  type GenerateRequest,
  type GenerateResult,
  type InferenceBackendV1,
  type Prompt,
  type RlptEvent,
} from '@rlpt/spec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Benchmark, BenchmarkItem } from './benchmarks.js';
import { readItemResults } from './results.js';
import { runEval } from './runner.js';

/**
 * A deterministic backend for runner tests: it reads the question from the prompt and answers from a
 * script (completion j of item q is `plan(q, j)`), so every count below is known in advance. It is a
 * complete InferenceBackendV1 (n, finish reasons, usage), not a mock of the runner.
 */
class ScriptedBackend implements InferenceBackendV1 {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'scripted';
  readonly modelId = 'scripted-model';
  readonly capabilities = { logprobs: false, tokenIds: false, chat: true, seed: false, score: false };
  calls = 0;
  prompts: Prompt[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failures = new Map<string, Error[]>();

  constructor(private readonly plan: (question: string, index: number) => Completion) {}

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const results = request.prompts.map((prompt) => {
        this.prompts.push(prompt);
        const text =
          typeof prompt === 'string' ? prompt : 'messages' in prompt ? prompt.messages[0]!.content : '';
        const question = /Q(\d+)/.exec(text)?.[0] ?? '?';
        const queued = this.failures.get(question);
        if (queued && queued.length > 0) throw queued.shift();
        return {
          completions: Array.from({ length: request.n ?? 1 }, (_, index) => this.plan(question, index)),
        };
      });
      return { results, usage: { promptTokens: 0, completionTokens: 0 }, warnings: [] };
    } finally {
      this.inFlight--;
    }
  }
}

const mathBenchmark = (count: number): Benchmark => ({
  name: 'toy-math',
  title: 'ToyMath',
  grading: 'math',
  metric: 'pass@k',
  files: [],
  skipped: 0,
  items: Array.from(
    { length: count },
    (_, index): BenchmarkItem => ({
      id: `q${index}`,
      question: `Q${index}: what is ${index} + 1?`,
      answer: String(index + 1),
      metadata: {},
    }),
  ),
});

/** Item q gets q mod 5 correct answers; then a wrong one, an unanswered one, a truncated one, the rest wrong. */
function mathPlan(question: string, index: number): Completion {
  const q = Number(question.slice(1));
  const correct = q % 5;
  if (index < correct)
    return { text: `Reasoning.\n\nSo the answer is $\\boxed{${q + 1}}$.`, finishReason: 'stop' };
  if (index === correct) return { text: 'Reasoning… \\boxed{-1}', finishReason: 'stop' };
  if (index === correct + 1)
    return { text: 'I could not finish the computation in time', finishReason: 'stop' };
  if (index === correct + 2) return { text: 'We keep expanding the sum and', finishReason: 'length' };
  return { text: `\\boxed{${q + 100}}`, finishReason: 'stop' };
}

let outDir: string;
beforeEach(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'rlpt-eval-'));
});
afterEach(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('runEval', () => {
  it('grades n samples per item, computes unbiased pass@k and writes the run folder', async () => {
    const backend = new ScriptedBackend(mathPlan);
    const events: RlptEvent[] = [];
    const report = await runEval({
      backend,
      benchmarks: [mathBenchmark(10)],
      outDir,
      n: 8,
      ks: [1, 4, 8, 16],
      concurrency: 3,
      onEvent: (event) => events.push(event),
    });
    const { results } = readItemResults(path.join(outDir, 'toy-math', 'results.jsonl'));
    expect(results).toHaveLength(10);
    for (const result of results) {
      const q = Number(result.id.slice(1));
      expect(result.correct).toBe(q % 5);
      expect(result.n).toBe(8);
      expect(result.passAtK['1']).toBeCloseTo(passAtK(8, q % 5, 1), 12);
      expect(result.passAtK['8']).toBe(q % 5 > 0 ? 1 : 0);
      expect(result.passAtK['16']).toBeUndefined();
      expect(result.truncated).toBe(1);
      // The unanswered response has no number; the truncated one has none either.
      expect(result.unanswered).toBe(2);
      const failures = result.samples.map((sample) => sample.failure ?? 'ok');
      expect(failures.filter((failure) => failure === 'ok')).toHaveLength(q % 5);
      expect(failures).toContain('truncated');
      expect(failures).toContain('no-answer');
      expect(failures).toContain('wrong-answer');
      expect(result.samples[0]!.text).toBeTypeOf('string');
    }
    const summary = report.benchmarks[0]!;
    const expectedPass1 = results.reduce((sum, result) => sum + passAtK(8, result.correct, 1), 0) / 10;
    expect(summary.passAtK['1']).toBeCloseTo(expectedPass1, 12);
    expect(summary.accuracy).toBeCloseTo(expectedPass1, 12);
    expect(summary).toMatchObject({
      items: 10,
      total: 10,
      errors: 0,
      samples: 80,
      unansweredRate: 0.25,
      truncatedRate: 0.125,
    });
    expect(report.settings).toMatchObject({
      n: 8,
      temperature: 0.6,
      topP: 0.95,
      maxTokens: 32768,
      ks: [1, 4, 8, 16],
    });
    // pass@16 cannot be computed from 8 samples: shown as n/a with the reason, not dropped.
    expect(summary.unavailable).toEqual({ 'pass@16': 'needs ≥ 16 samples per item; ran n = 8' });
    expect(report.markdown).toMatch(/ToyMath P@16 \|/);
    expect(report.markdown).toContain('- ToyMath pass@16: n/a (needs ≥ 16 samples per item; ran n = 8)');
    expect(backend.maxInFlight).toBeLessThanOrEqual(3);
    expect(backend.maxInFlight).toBeGreaterThan(1);
    const markdown = readFileSync(path.join(outDir, 'results.md'), 'utf8');
    expect(markdown).toContain('| Model');
    expect(markdown).toContain('ToyMath P@1');
    expect(markdown).toContain(`| scripted-model | ${(expectedPass1 * 100).toFixed(1)}`);
    expect(JSON.parse(readFileSync(path.join(outDir, 'results.json'), 'utf8')).benchmarks[0].items).toBe(10);
    const progress = events.filter((event) => event.type === 'progress');
    expect(progress.at(-1)).toEqual({
      type: 'progress',
      phase: 'eval:toy-math',
      done: 10,
      total: 10,
      unit: 'items',
    });
  });

  it('sends the paper protocol by default and { messages } prompts unless a chat template is given', async () => {
    const requests: GenerateRequest[] = [];
    const backend = new ScriptedBackend(mathPlan);
    const original = backend.generate.bind(backend);
    backend.generate = (request) => {
      requests.push(request);
      return original(request);
    };
    await runEval({ backend, benchmarks: [mathBenchmark(1)], outDir, n: 2 });
    expect(requests[0]).toMatchObject({ n: 2, temperature: 0.6, topP: 0.95, maxTokens: 32768 });
    expect(requests[0]!.prompts[0]).toEqual({
      messages: [
        { role: 'user', content: expect.stringContaining('put your final answer within \\boxed{}') },
      ],
    });
    const other = mkdtempSync(path.join(tmpdir(), 'rlpt-eval-'));
    try {
      await runEval({
        backend,
        benchmarks: [mathBenchmark(1)],
        outDir: other,
        n: 2,
        chatTemplate: rawChatTemplate,
      });
      expect(typeof requests[1]!.prompts[0]).toBe('string');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('resumes: finished items are not generated again and a torn last line is cut', async () => {
    const first = new ScriptedBackend(mathPlan);
    await runEval({ backend: first, benchmarks: [mathBenchmark(6)], outDir, n: 4, batchSize: 2 });
    expect(first.calls).toBe(3);
    const file = path.join(outDir, 'toy-math', 'results.jsonl');
    // Simulate a crash: keep 4 complete lines, then half of the fifth.
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    writeFileSync(file, `${lines.slice(0, 4).join('\n')}\n${lines[4]!.slice(0, 40)}`);
    const events: RlptEvent[] = [];
    const second = new ScriptedBackend(mathPlan);
    const report = await runEval({
      backend: second,
      benchmarks: [mathBenchmark(6)],
      outDir,
      n: 4,
      onEvent: (event) => events.push(event),
    });
    expect(second.calls).toBe(2);
    expect(report.resumedItems).toBe(4);
    expect(report.generatedItems).toBe(2);
    expect(events.some((event) => event.type === 'warning' && /torn last line/.test(event.message))).toBe(
      true,
    );
    const { results, badLines } = readItemResults(file);
    expect(badLines).toEqual([]);
    expect(results.map((result) => result.id).sort()).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
    expect(report.benchmarks[0]!.items).toBe(6);
  });

  it('refuses to resume a folder sampled with other settings', async () => {
    await runEval({ backend: new ScriptedBackend(mathPlan), benchmarks: [mathBenchmark(1)], outDir, n: 2 });
    const run = runEval({
      backend: new ScriptedBackend(mathPlan),
      benchmarks: [mathBenchmark(1)],
      outDir,
      n: 4,
      temperature: 1,
    });
    await expect(run).rejects.toSatisfy(ConfigError.isInstance);
    await expect(
      runEval({ backend: new ScriptedBackend(mathPlan), benchmarks: [mathBenchmark(1)], outDir, n: 4 }),
    ).rejects.toThrow(/n: this folder was run with 2, now 4/);
  });

  it('records a backend failure per item, keeps going, and retries the item on the next run', async () => {
    const backend = new ScriptedBackend(mathPlan);
    backend.failures.set('Q2', [new Error('model exploded')]);
    backend.failures.set('Q3', [
      new ApiCallError({ url: 'http://x/v1', message: 'overloaded', statusCode: 503 }),
    ]);
    const events: RlptEvent[] = [];
    const report = await runEval({
      backend,
      benchmarks: [mathBenchmark(5)],
      outDir,
      n: 2,
      concurrency: 1,
      onEvent: (event) => events.push(event),
    });
    // Q3's 503 is retried and succeeds; Q2's plain error is recorded.
    expect(report.benchmarks[0]).toMatchObject({ items: 4, errors: 1 });
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'skipped-input', reason: 'backend-error', id: 'q2' }),
    );
    const failed = readItemResults(path.join(outDir, 'toy-math', 'results.jsonl')).results.find(
      (result) => result.id === 'q2',
    );
    expect(failed?.error).toEqual({ reason: 'backend-error', message: 'model exploded' });
    const again = new ScriptedBackend(mathPlan);
    const second = await runEval({ backend: again, benchmarks: [mathBenchmark(5)], outDir, n: 2 });
    expect(again.calls).toBe(1);
    expect(second.benchmarks[0]).toMatchObject({ items: 5, errors: 0 });
  });

  it('stops after maxConsecutiveErrors failures in a row, keeping finished items', async () => {
    const backend = new ScriptedBackend(mathPlan);
    for (let q = 1; q < 10; q++) backend.failures.set(`Q${q}`, [new Error('connection refused')]);
    const run = runEval({
      backend,
      benchmarks: [mathBenchmark(10)],
      outDir,
      n: 1,
      concurrency: 1,
      maxConsecutiveErrors: 3,
    });
    await expect(run).rejects.toThrow(
      /stopped after 3 failed generate calls in a row \(connection refused\)/,
    );
    const { results } = readItemResults(path.join(outDir, 'toy-math', 'results.jsonl'));
    expect(results.filter((result) => !result.error).map((result) => result.id)).toEqual(['q0']);
  });

  it('aborts on signal, keeping what finished', async () => {
    const controller = new AbortController();
    let answered = 0;
    const backend = new ScriptedBackend((question, index) => {
      if (index === 0 && ++answered === 3) controller.abort();
      return mathPlan(question, index);
    });
    await expect(
      runEval({
        backend,
        benchmarks: [mathBenchmark(20)],
        outDir,
        n: 1,
        concurrency: 1,
        signal: controller.signal,
      }),
    ).rejects.toThrow(/aborted/);
    const { results } = readItemResults(path.join(outDir, 'toy-math', 'results.jsonl'));
    expect(results.length).toBeGreaterThanOrEqual(2);
    expect(results.length).toBeLessThan(20);
  });

  it('reports accuracy for multiple-choice benchmarks and counts unanswered samples', async () => {
    const benchmark: Benchmark = {
      name: 'toy-mc',
      title: 'ToyMC',
      grading: 'multiple-choice',
      metric: 'accuracy',
      files: [],
      skipped: 0,
      items: [0, 1, 2, 3].map((q) => ({
        id: `m${q}`,
        question: `Q${q}: pick the right one`,
        answer: 'ABCD'[q]!,
        choices: ['w', 'x', 'y', 'z'],
        metadata: {},
      })),
    };
    // Item q: sample 0 answers the right letter, sample 1 answers A, sample 2 says nothing useful.
    const backend = new ScriptedBackend((question, index) => {
      const q = Number(question.slice(1));
      const text =
        index === 0 ? `Answer: ${'ABCD'[q]}` : index === 1 ? 'The answer is (A).' : 'Hmm, hard to say.';
      return { text, finishReason: 'stop' };
    });
    const report = await runEval({ backend, benchmarks: [benchmark], outDir, n: 3 });
    const summary = report.benchmarks[0]!;
    // Correct samples: 1 per item, plus item 0's second sample (A) → 5 of 12.
    expect(summary.accuracy).toBeCloseTo(5 / 12, 12);
    expect(summary.unansweredRate).toBeCloseTo(4 / 12, 12);
    expect(report.markdown).toContain(`| ToyMC |`);
    expect(report.markdown).toContain((500 / 12).toFixed(1));
  });

  it('shows pass@8 as n/a with the reason when n < 8 (the default ks 1,8)', async () => {
    const report = await runEval({
      backend: new ScriptedBackend(mathPlan),
      benchmarks: [mathBenchmark(3)],
      outDir,
      n: 2,
    });
    const summary = report.benchmarks[0]!;
    expect(Object.keys(summary.passAtK)).toEqual(['1']);
    expect(summary.unavailable['pass@8']).toBe('needs ≥ 8 samples per item; ran n = 2');
    const [header, , row] = report.markdown.split('\n');
    expect(header).toMatch(/ToyMath P@1 +\| ToyMath P@8/);
    expect(row).toMatch(/\| n\/a +\|$/);
    expect(report.markdown).toMatch(/P@1 [0-9.]+, P@8 n\/a/);
    expect(report.markdown).toContain('pass@8: n/a (needs ≥ 8 samples per item; ran n = 2)');
  });

  it('counts byte-soup completions as unanswered, even with a stray digit in them', async () => {
    const soup =
      'IHTo\uFFFDV[^\uFFFD\u0017S\uFFFDV1_\uFFFD\\uRl?S\uFFFD\u0013yT]\uFFFD]A;>u;(j2(\uFFFD_\uFFFDu';
    const report = await runEval({
      backend: new ScriptedBackend(() => ({ text: soup, finishReason: 'length' })),
      benchmarks: [mathBenchmark(2)],
      outDir,
      n: 2,
    });
    expect(report.benchmarks[0]).toMatchObject({ unansweredRate: 1, truncatedRate: 1, accuracy: 0 });
  });

  it('a benchmark without graded items shows n/a, not 0%, for its rates', async () => {
    const backend = new ScriptedBackend(mathPlan);
    backend.failures.set('Q0', [new Error('max_tokens is 32768, more than this server allows (2048)')]);
    const report = await runEval({ backend, benchmarks: [mathBenchmark(1)], outDir, n: 2 });
    const summary = report.benchmarks[0]!;
    expect(summary.unavailable).toMatchObject({
      unanswered: 'no graded items: the backend failed on 1 of 1',
      'pass@1': 'no graded items: the backend failed on 1 of 1',
    });
    expect(report.markdown).toMatch(
      /\| ToyMath +\| P@1 n\/a, P@8 n\/a \| 0\/1 +\| n\/a +\| n\/a +\| n\/a +\| 1 /,
    );
  });

  it('a folder without sampled items resumes with new settings; one with samples names what may change', async () => {
    // Every call fails (as with max tokens above a server's limit): nothing was sampled.
    const failing = new ScriptedBackend(mathPlan);
    failing.failures.set('Q0', [new Error('HTTP 400')]);
    failing.failures.set('Q1', [new Error('HTTP 400')]);
    await runEval({ backend: failing, benchmarks: [mathBenchmark(2)], outDir, n: 2, maxTokens: 32768 });
    const events: RlptEvent[] = [];
    const fixed = await runEval({
      backend: new ScriptedBackend(mathPlan),
      benchmarks: [mathBenchmark(2)],
      outDir,
      n: 2,
      maxTokens: 1024,
      onEvent: (event) => events.push(event),
    });
    expect(fixed.benchmarks[0]).toMatchObject({ items: 2, errors: 0 });
    expect(fixed.settings.maxTokens).toBe(1024);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'warning',
        message: expect.stringMatching(/no sampled items.*maxTokens/),
      }),
    );
    // Now it holds samples: other sampling settings are refused, with what may change and --overwrite.
    const refused = runEval({
      backend: new ScriptedBackend(mathPlan),
      benchmarks: [mathBenchmark(2)],
      outDir,
      n: 2,
      maxTokens: 512,
    });
    await expect(refused).rejects.toThrow(/maxTokens: this folder was run with 1024, now 512/);
    await expect(
      runEval({
        backend: new ScriptedBackend(mathPlan),
        benchmarks: [mathBenchmark(2)],
        outDir,
        n: 2,
        maxTokens: 512,
      }),
    ).rejects.toThrow(
      /pass@k values, benchmarks, limits, concurrency and batch size may change[\s\S]*--overwrite/,
    );
    // pass@k values may change on resume: nothing is generated again.
    const again = new ScriptedBackend(mathPlan);
    const resumed = await runEval({
      backend: again,
      benchmarks: [mathBenchmark(2)],
      outDir,
      n: 2,
      maxTokens: 1024,
      ks: [2],
    });
    expect(again.calls).toBe(0);
    expect(Object.keys(resumed.benchmarks[0]!.passAtK)).toEqual(['2']);
  });

  it('overwrite replaces an earlier run, and refuses a folder that is not a run folder', async () => {
    await runEval({ backend: new ScriptedBackend(mathPlan), benchmarks: [mathBenchmark(2)], outDir, n: 2 });
    const backend = new ScriptedBackend(mathPlan);
    const report = await runEval({
      backend,
      benchmarks: [mathBenchmark(1)],
      outDir,
      n: 4,
      overwrite: true,
    });
    expect(backend.calls).toBe(1);
    expect(report.resumedItems).toBe(0);
    const { results } = readItemResults(path.join(outDir, 'toy-math', 'results.jsonl'));
    expect(results.map((result) => [result.id, result.n])).toEqual([['q0', 4]]);
    const other = mkdtempSync(path.join(tmpdir(), 'rlpt-eval-other-'));
    try {
      writeFileSync(path.join(other, 'notes.txt'), 'mine');
      await expect(
        runEval({ backend, benchmarks: [mathBenchmark(1)], outDir: other, n: 2, overwrite: true }),
      ).rejects.toThrow(/holds files but no run.json, so it is not an rlpt eval run folder/);
      expect(readFileSync(path.join(other, 'notes.txt'), 'utf8')).toBe('mine');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('validates its options', async () => {
    const backend = new ScriptedBackend(mathPlan);
    await expect(runEval({ backend, benchmarks: [], outDir, n: 0 })).rejects.toThrow(
      /n must be a positive integer/,
    );
    await expect(runEval({ backend, benchmarks: [], outDir, topP: 1.5 })).rejects.toThrow(
      /topP must be in \(0, 1\]/,
    );
  });
});
