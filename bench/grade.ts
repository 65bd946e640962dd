// Grading speed of @rlpt/eval on the shipped benchmarks, with synthetic responses, on one core.
//
// Math: for every item of AIME24, AMC23, Minerva, OlympiadBench and GSM8K, eight chain-of-thought style
// responses (~700 characters of reasoning, then a final answer): the gold as written, the gold in
// another form (`x = …`, a unit, `\dfrac`), two wrong answers, a "The answer is …" sentence, a response
// with several boxes, one truncated without an answer, one in a `<think>` block. MC: MMLU-STEM with
// eight response styles ("Answer: C", "(C)", `\boxed{C}`, "**Answer:** C", …).
//
// Each rate is the median of several timed passes over all responses after a warm-up pass, in one
// thread (= per core). Baseline, measured in the same run: the same loop with a trivial grader (last
// `\boxed{}` by `lastIndexOf`, then string equality), i.e. the cost of touching every response.
// Goals: ≥ 10k math completions/s per core, ≥ 100k MC completions/s per core.
// Run alone: `pnpm bench:grade`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Benchmark, gradeItemResponse, loadBenchmark } from '@rlpt/eval';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, '../../shared/data/benchmarks');
if (!existsSync(dataDir)) {
  console.error(`bench/grade: ${dataDir} is missing (the shared benchmark data); nothing to measure.`);
  process.exit(1);
}
const passes = Number(process.env.RLPT_BENCH_REPS ?? 5);

const reasoning = [
  'We begin by restating the problem in our own words and identifying the quantities involved.',
  'Let $s$ denote the unknown; from the first condition we have $\\frac{9}{s} + t = 4$, and from the second $\\frac{9}{s+2} + t = 2.4$.',
  'Subtracting the two equations gives $\\frac{9}{s} - \\frac{9}{s+2} = 1.6$, so $18 = 1.6 s^2 + 3.2 s$.',
  'Multiplying by $5/2$ yields $4s^2 + 8s - 45 = 0$, which factors as $(2s-5)(2s+9) = 0$, hence $s = 2.5$.',
  'We double-check the arithmetic: $2.5 + 2 = 4.5$ and $9 / 4.5 = 2$, consistent with the data.',
].join('\n\n');

function mathResponses(answer: string): string[] {
  const numeric = /^-?[0-9]+$/.test(answer);
  const wrong = numeric ? String(Number(answer) + 1) : `${answer}+1`;
  return [
    `${reasoning}\n\nTherefore, the final answer is $\\boxed{${answer}}$.`,
    `${reasoning}\n\nSo $x = ${answer}$, i.e. \\boxed{x = ${answer}}`,
    `${reasoning}\n\nThe answer is \\boxed{${numeric ? `${answer} \\text{ units}` : `\\left(${answer}\\right)`}}.`,
    `${reasoning}\n\nTherefore, the final answer is $\\boxed{${wrong}}$.`,
    `${reasoning}\n\nThe answer is $${numeric ? String(Number(answer) * 2) : `2(${answer})`}$. I hope it is correct.`,
    `${reasoning}\n\nFirst guess \\boxed{0}, but correcting: \\boxed{${answer}}.`,
    `${reasoning}\n\nWe keep expanding the sum and`,
    `<think>${reasoning}</think>\n\nThe final answer is $\\boxed{${answer}}$.`,
  ];
}

function choiceResponses(letter: string, other: string): string[] {
  return [
    `${reasoning}\n\nAnswer: ${letter}`,
    `${reasoning}\n\nThe answer is (${other}).`,
    `${reasoning}\n\nSo the final answer is $\\boxed{${letter}}$.`,
    `${reasoning}\n\n**Answer:** ${letter}`,
    `${reasoning}\n\nAnswer: ${other}) the second option`,
    `${reasoning}\n\nI am not sure which one is right.`,
    `${reasoning}\n\nThe correct option is ${letter}.`,
    `<think>${reasoning}</think>\n(${letter})`,
  ];
}

interface Case {
  benchmark: Benchmark;
  itemIndex: number;
  response: string;
}

async function cases(
  names: string[],
  build: (benchmark: Benchmark, index: number) => string[],
): Promise<Case[]> {
  const all: Case[] = [];
  for (const name of names) {
    const benchmark = await loadBenchmark(name, { dataDir });
    benchmark.items.forEach((_, itemIndex) => {
      for (const response of build(benchmark, itemIndex)) all.push({ benchmark, itemIndex, response });
    });
  }
  return all;
}

function trivialGrade(response: string, gold: string): boolean {
  const start = response.lastIndexOf('\\boxed{');
  if (start < 0) return false;
  const end = response.indexOf('}', start + 7);
  return response.slice(start + 7, end < 0 ? undefined : end) === gold;
}

function rate(run: () => number, count: number): { perSecond: number; checksum: number } {
  run(); // warm-up (JIT, gold cache)
  const rates: number[] = [];
  let checksum = 0;
  for (let pass = 0; pass < passes; pass++) {
    const started = performance.now();
    checksum = run();
    rates.push(count / ((performance.now() - started) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { perSecond: rates[Math.floor(rates.length / 2)]!, checksum };
}

const mathCases = await cases(
  ['aime24', 'amc23', 'minerva-math', 'olympiadbench', 'gsm8k'],
  (benchmark, index) => mathResponses(benchmark.items[index]!.answer),
);
const choiceCases = await cases(['mmlu-stem'], (benchmark, index) => {
  const letter = benchmark.items[index]!.answer;
  return choiceResponses(letter, letter === 'A' ? 'B' : 'A');
});

const gradeAll = (list: Case[]) => () => {
  let correct = 0;
  for (const { benchmark, itemIndex, response } of list) {
    if (gradeItemResponse(benchmark, benchmark.items[itemIndex]!, response).correct) correct++;
  }
  return correct;
};
const trivialAll = (list: Case[]) => () => {
  let correct = 0;
  for (const { benchmark, itemIndex, response } of list)
    if (trivialGrade(response, benchmark.items[itemIndex]!.answer)) correct++;
  return correct;
};

const math = rate(gradeAll(mathCases), mathCases.length);
const mathBaseline = rate(trivialAll(mathCases), mathCases.length);
const choice = rate(gradeAll(choiceCases), choiceCases.length);
const choiceBaseline = rate(trivialAll(choiceCases), choiceCases.length);

const format = (value: number) => Math.round(value).toLocaleString('en-US');
console.log(
  `math responses: ${mathCases.length} (${(mathCases.length / 8).toFixed(0)} items × 8), ${math.checksum} graded correct`,
);
console.log(`  @rlpt/eval grader:        ${format(math.perSecond)} completions/s (goal 10,000)`);
console.log(
  `  trivial baseline (same run): ${format(mathBaseline.perSecond)} completions/s → grader costs ${(mathBaseline.perSecond / math.perSecond).toFixed(1)}x the baseline`,
);
console.log(
  `MC responses: ${choiceCases.length} (${(choiceCases.length / 8).toFixed(0)} items × 8), ${choice.checksum} graded correct`,
);
console.log(
  `  @rlpt/eval grader:        ${format(choice.perSecond)} completions/s (goal 100,000) → ${(choice.perSecond / 100_000).toFixed(2)}x the goal`,
);
console.log(`  trivial baseline (same run): ${format(choiceBaseline.perSecond)} completions/s`);
console.log(`grade: ${(math.perSecond / 10_000).toFixed(1)}x math completions/s per core vs the 10k/s goal`);
