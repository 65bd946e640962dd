import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RlptEvent } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { BENCHMARK_NAMES, buildPrompt, loadBenchmark, shufflePermutation } from './benchmarks.js';
import { isEquivalent } from './math/equivalence.js';
import { gradeMathResponse } from './math/grade.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const shipped = path.resolve(repoRoot, '../shared/data/benchmarks');
const fixtures = path.join(here, '__fixtures__');
const hasShipped = existsSync(shipped);

describe.skipIf(!hasShipped)(`shipped benchmarks (${shipped})`, () => {
  it('AIME24: 30 items, integer answers', async () => {
    const benchmark = await loadBenchmark('aime24', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(30);
    expect(benchmark.metric).toBe('pass@k');
    expect(benchmark.items.every((item) => /^[0-9]+$/.test(item.answer))).toBe(true);
    expect(benchmark.items[0]).toMatchObject({ id: '60', answer: '204' });
    expect(benchmark.items[0]!.question).toContain('Aya goes for a $9$-kilometer-long walk');
  });

  it('AMC23: 40 items, numeric answers written as numbers', async () => {
    const benchmark = await loadBenchmark('amc23', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(40);
    expect(benchmark.items[0]!.answer).toBe('27');
    expect(benchmark.items.every((item) => Number.isFinite(Number(item.answer)))).toBe(true);
  });

  it("Minerva: 272 items, gold = the solution's last \\boxed{}", async () => {
    const benchmark = await loadBenchmark('minerva-math', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(272);
    expect(benchmark.items[0]).toMatchObject({ id: '0', answer: '1.6' });
    expect(benchmark.items.every((item) => item.answer.length > 0 && !item.answer.includes('\\boxed'))).toBe(
      true,
    );
  });

  it('OlympiadBench: 675 items, answer lists, multi-answer flags and units', async () => {
    const benchmark = await loadBenchmark('olympiadbench', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(675);
    expect(benchmark.metric).toBe('accuracy');
    const multi = benchmark.items.filter((item) => item.multipleAnswers);
    expect(multi.length).toBeGreaterThan(90);
    const withUnit = benchmark.items.filter((item) => item.unit);
    expect(withUnit.map((item) => item.unit)).toContain('km/h');
    const first = benchmark.items[0]!;
    expect(first).toMatchObject({ id: '1606', answer: '2' });
    // Every gold is equivalent to itself after normalisation (no gold is unparseable garbage that only matches by accident).
    for (const item of benchmark.items) expect(isEquivalent(item.answer, item.answer)).toBe(true);
  });

  it('MMLU-STEM: 3018 items, 4 options, index answers mapped to letters', async () => {
    const benchmark = await loadBenchmark('mmlu-stem', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(3018);
    expect(benchmark.grading).toBe('multiple-choice');
    expect(benchmark.items[0]).toMatchObject({ answer: 'C', metadata: { type: 'college_biology' } });
    expect(benchmark.items.every((item) => item.choices?.length === 4 && /^[ABCD]$/.test(item.answer))).toBe(
      true,
    );
  });

  it('GSM8K: 1319 items, gold = the number after ####', async () => {
    const benchmark = await loadBenchmark('gsm8k', { dataDir: shipped });
    expect(benchmark.items).toHaveLength(1319);
    expect(benchmark.items[0]).toMatchObject({ id: '0', answer: '18' });
    expect(benchmark.items.every((item) => /^-?[0-9.]+$/.test(item.answer))).toBe(true);
  });

  it('every shipped math gold is graded correct in three response styles, and its neighbour is not', async () => {
    let graded = 0;
    for (const name of ['aime24', 'amc23', 'minerva-math', 'olympiadbench', 'gsm8k']) {
      const benchmark = await loadBenchmark(name, { dataDir: shipped });
      for (const item of benchmark.items) {
        const answer = item.answer.replace(/^\$|\$$/g, '');
        const responses = [
          `Thus the final answer is $\\boxed{${answer}}$.`,
          `The answer is $${answer}$.`,
          `<think>hmm</think>\n\\[\\boxed{${answer}}\\]`,
        ];
        for (const response of responses) {
          const grade = gradeMathResponse(response, item.answer, {
            multipleAnswers: item.multipleAnswers ?? false,
          });
          expect({ name, id: item.id, response, correct: grade.correct }).toMatchObject({ correct: true });
          graded++;
        }
        if (/^-?[0-9]+$/.test(answer))
          expect(gradeMathResponse(`\\boxed{${Number(answer) + 1}}`, item.answer).correct).toBe(false);
      }
    }
    expect(graded).toBe(3 * (30 + 40 + 272 + 675 + 1319));
  });

  it('limit keeps the first N items', async () => {
    const benchmark = await loadBenchmark('gsm8k', { dataDir: shipped, limit: 5 });
    expect(benchmark.items.map((item) => item.id)).toEqual(['0', '1', '2', '3', '4']);
  });
});

describe('published file shapes (fixtures)', () => {
  it('MMLU: Hendrycks CSVs without header, test split only, ragged rows reported', async () => {
    const events: RlptEvent[] = [];
    const benchmark = await loadBenchmark('mmlu', {
      dataDir: fixtures,
      onEvent: (event) => events.push(event),
    });
    expect(benchmark.items).toHaveLength(3);
    expect(benchmark.items[0]).toMatchObject({
      answer: 'B',
      choices: ['0', '1', '2', '3'],
      metadata: { subject: 'abstract_algebra' },
    });
    expect(benchmark.items[1]!.question).toContain('Statement 2 | If H and K');
    expect(benchmark.items[1]!.choices).toEqual(['True, True', 'False, False', 'True, False', 'False, True']);
    expect(benchmark.skipped).toBe(1);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'skipped-input', reason: 'csv-ragged-row', line: 5 }),
    );
  });

  it('MMLU: the Hugging Face layout (choices list, index answer)', async () => {
    const benchmark = await loadBenchmark('mmlu', { path: path.join(fixtures, 'mmlu_hf.jsonl') });
    expect(benchmark.items[0]).toMatchObject({ answer: 'D', metadata: { subject: 'anatomy' } });
  });

  it('MMLU-Pro: Parquet with list options, A–J answers, N/A padding dropped', async () => {
    const benchmark = await loadBenchmark('mmlu-pro', { dataDir: fixtures });
    expect(benchmark.files[0]).toMatch(/test-00000-of-00001\.parquet$/);
    expect(benchmark.items.map((item) => item.id)).toEqual(['70', '71', '72']);
    expect(benchmark.items[0]).toMatchObject({ answer: 'I', metadata: { category: 'business' } });
    expect(benchmark.items[0]!.choices).toHaveLength(9);
    expect(benchmark.items[1]!.choices).toHaveLength(10);
    expect(benchmark.items[2]).toMatchObject({ answer: 'B', choices: ['Oxygen', 'Carbon dioxide'] });
    const prompt = buildPrompt(benchmark, benchmark.items[1]!)[0]!.content;
    expect(prompt).toContain('one of ABCDEFGHIJ');
    expect(prompt).toContain('J) 12');
  });

  it('GPQA-Diamond: CSV with the published columns, options shuffled with a recorded seed', async () => {
    const a = await loadBenchmark('gpqa-diamond', { dataDir: fixtures, seed: 1 });
    const b = await loadBenchmark('gpqa-diamond', { dataDir: fixtures, seed: 1 });
    expect(a.shuffleSeed).toBe(1);
    expect(a.items).toHaveLength(2);
    expect(a.items).toEqual(b.items);
    for (const item of a.items) {
      const correct = item.choices![item.answer.charCodeAt(0) - 65]!;
      expect(['10^-4 eV', '11']).toContain(correct);
      expect(item.metadata.permutation).toHaveLength(4);
    }
    expect(a.items[0]!.question).not.toMatch(/\n$/);
    // Different seeds give different orders for some item.
    const seeds = await Promise.all(
      [2, 3, 4, 5].map((seed) => loadBenchmark('gpqa-diamond', { dataDir: fixtures, seed })),
    );
    expect(
      new Set(seeds.map((benchmark) => benchmark.items.map((item) => item.answer).join())).size,
    ).toBeGreaterThan(1);
  });

  it('shufflePermutation is a permutation and deterministic', () => {
    for (let seed = 0; seed < 50; seed++) {
      const order = shufflePermutation(4, seed, 'rec1');
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      expect(shufflePermutation(4, seed, 'rec1')).toEqual(order);
    }
  });

  it('SuperGPQA: JSONL with options and answer_letter; bad letters reported', async () => {
    const events: RlptEvent[] = [];
    const benchmark = await loadBenchmark('supergpqa', {
      dataDir: fixtures,
      onEvent: (event) => events.push(event),
    });
    expect(benchmark.items).toHaveLength(2);
    expect(benchmark.items[0]).toMatchObject({
      id: '279a9bc1f0a44d4a9f1a8e1f0c2ad4b4',
      answer: 'B',
      metadata: { field: 'Biology' },
    });
    expect(benchmark.skipped).toBe(1);
    expect(events[0]).toMatchObject({ type: 'skipped-input', reason: 'bad-answer' });
  });

  it('KOR-Bench: category folders, rules joined by rule_id, [[…]] gold', async () => {
    const benchmark = await loadBenchmark('kor-bench', { dataDir: fixtures });
    expect(benchmark.grading).toBe('bracket');
    expect(benchmark.items.map((item) => item.id).sort()).toEqual(['cipher-1', 'operation-1', 'operation-2']);
    const operation = benchmark.items.find((item) => item.id === 'operation-1')!;
    expect(operation.context).toContain('a▽b = a^2 + b');
    expect(operation.answer).toBe('[[13]]');
    const prompt = buildPrompt(benchmark, operation)[0]!.content;
    expect(prompt).toContain('### Rule:');
    expect(prompt).toContain('Compute 3▽4.');
  });

  it('MATH-500: answer field, or the last box of the solution when absent', async () => {
    const benchmark = await loadBenchmark('math-500', { dataDir: fixtures });
    expect(benchmark.items.map((item) => item.id)).toEqual([
      'test/precalculus/807.json',
      'test/algebra/2584.json',
      'test/number_theory/515.json',
    ]);
    expect(benchmark.items[2]!.answer).toBe('27');
    expect(benchmark.items[0]!.metadata).toEqual({ subject: 'Precalculus', level: 2 });
  });

  it('AIME25: Parquet with problem/answer', async () => {
    const benchmark = await loadBenchmark('aime25', { dataDir: fixtures });
    expect(benchmark.items.map((item) => item.answer)).toEqual(['70', '588']);
  });

  it('OlympiadBench: the official JSON (context, multi-answer, units)', async () => {
    const benchmark = await loadBenchmark('olympiadbench', { path: path.join(fixtures, 'OlympiadBench') });
    expect(benchmark.items).toHaveLength(4);
    const [, tuple, speed, multi] = benchmark.items;
    expect(tuple).toMatchObject({ answer: '$(3,1)$', context: expect.stringContaining('positive integers') });
    expect(speed).toMatchObject({ unit: 'km/h' });
    expect(multi).toMatchObject({ answer: '$-2$, $2$', multipleAnswers: true });
    expect(isEquivalent(multi!.answer, '2, -2')).toBe(true);
    const prompt = buildPrompt(benchmark, speed!)[0]!.content;
    expect(prompt).toContain('km/h');
    expect(prompt).toContain('\\boxed{}');
  });
});

describe('errors', () => {
  it('unknown names list the known ones', async () => {
    await expect(loadBenchmark('mmlu-ultra', { dataDir: fixtures })).rejects.toThrow(
      /Unknown benchmark 'mmlu-ultra'. Known: mmlu,/,
    );
  });
  it('a missing file says what was looked for and where', async () => {
    await expect(loadBenchmark('aime24', { dataDir: fixtures })).rejects.toThrow(
      /AIME24: no file found in .*aime24\{\.jsonl/,
    );
    await expect(loadBenchmark('aime24', { path: '/nonexistent/aime.jsonl' })).rejects.toThrow(
      /does not exist/,
    );
  });
  it('a file of the wrong benchmark is an error, not an empty run', async () => {
    await expect(
      loadBenchmark('gsm8k', { path: path.join(fixtures, 'SuperGPQA-all.jsonl') }),
    ).rejects.toThrow(/GSM8K: no usable items .* \(3 records skipped\)/);
  });
  it('every benchmark name resolves', () => {
    expect(BENCHMARK_NAMES).toEqual([
      'mmlu',
      'mmlu-stem',
      'mmlu-pro',
      'gpqa-diamond',
      'supergpqa',
      'kor-bench',
      'olympiadbench',
      'math-500',
      'amc23',
      'minerva-math',
      'aime24',
      'aime25',
      'gsm8k',
    ]);
  });
});

describe('prompts', () => {
  it('math prompts end with the Qwen2.5-Math instruction', () => {
    const [message] = buildPrompt(
      { grading: 'math' },
      { id: '1', question: 'What is 1+1?', answer: '2', metadata: {} },
    );
    expect(message).toEqual({
      role: 'user',
      content: 'What is 1+1?\nPlease reason step by step, and put your final answer within \\boxed{}.',
    });
  });
  it('multiple-choice prompts list lettered options and ask for "Answer: $LETTER"', () => {
    const [message] = buildPrompt(
      { grading: 'multiple-choice' },
      { id: '1', question: 'Pick one.', answer: 'A', choices: ['x', 'y', 'z', 'w'], metadata: {} },
    );
    expect(message!.content).toContain("'Answer: $LETTER'");
    expect(message!.content).toContain('A) x\nB) y\nC) z\nD) w');
  });
});
