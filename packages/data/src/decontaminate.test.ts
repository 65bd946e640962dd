import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { corpus, hasSharedData, tempDir } from '../test/helpers.js';
import { benchmarkName, benchmarkTexts, ContaminationIndex, loadBenchmarks } from './decontaminate.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

describe('benchmark texts', () => {
  it('extracts every string (and strings in arrays) or only the named fields', () => {
    const record = { question: 'What is two plus two?', choices: ['3', '4'], meta: { note: 'n' }, idx: 3 };
    expect(benchmarkTexts(record)).toEqual(['What is two plus two?', '3', '4', 'n']);
    expect(benchmarkTexts(record, ['question', 'meta.note'])).toEqual(['What is two plus two?', 'n']);
  });

  it('names benchmarks after their files', () => {
    expect(benchmarkName('/x/gsm8k.jsonl')).toBe('gsm8k');
    expect(benchmarkName('/x/mmlu_stem.jsonl.gz')).toBe('mmlu_stem');
  });
});

describe('ContaminationIndex', () => {
  it('matches documents containing a benchmark 13-gram, case and punctuation aside', async () => {
    const file = join(dir, 'tiny.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({
          question:
            'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.',
        }),
        '{broken',
        JSON.stringify({ question: 'Too short to match.' }),
      ].join('\n'),
    );
    const { index, benchmarks, issues } = await loadBenchmarks([file], { ngram: 13 });
    expect(benchmarks).toEqual([{ name: 'tiny', file, records: 2, ngrams: 8, shortTexts: 1 }]);
    expect(issues).toEqual([expect.objectContaining({ reason: 'malformed-json', line: 2 })]);
    const hit = index.match(
      'Background. NATALIA sold clips to 48 of her friends in April; and then she sold half as many!',
    );
    expect(hit?.mask).toBe(1);
    expect(hit?.counts[0]).toBe(5);
    expect(hit?.examples[0]).toBe('natalia sold clips to 48 of her friends in april and then she');
    expect(index.match('Natalia sold clips to 48 of her friends in April.')).toBeUndefined();
  });

  it('requires minMatches distinct n-grams', async () => {
    const file = join(dir, 'one.jsonl');
    writeFileSync(file, JSON.stringify({ text: 'a b c d e f g h i j k l m n o' }));
    const { index } = await loadBenchmarks([file], { ngram: 13, minMatches: 3 });
    expect(index.match('a b c d e f g h i j k l m')).toBeUndefined();
    expect(index.match('a b c d e f g h i j k l m n o')?.counts[0]).toBe(3);
  });

  it('survives sharing with workers', async () => {
    const file = join(dir, 'shared.jsonl');
    writeFileSync(
      file,
      JSON.stringify({ text: 'one two three four five six seven eight nine ten eleven twelve thirteen' }),
    );
    const { index } = await loadBenchmarks([file]);
    const copy = ContaminationIndex.fromShared(structuredClone(index.toShared()));
    expect(
      copy.match('zero one two three four five six seven eight nine ten eleven twelve thirteen')?.mask,
    ).toBe(1);
  });

  it.skipIf(!hasSharedData)('indexes the real benchmarks and reports per-benchmark hits', async () => {
    const names = ['gsm8k', 'mmlu_stem', 'aime24'];
    const { index, benchmarks, issues } = await loadBenchmarks(
      names.map((name) => join(corpus.benchmarks, `${name}.jsonl`)),
    );
    expect(issues).toEqual([]);
    expect(benchmarks.map((benchmark) => [benchmark.name, benchmark.records])).toEqual([
      ['gsm8k', 1319],
      ['mmlu_stem', 3018],
      ['aime24', 30],
    ]);
    for (const benchmark of benchmarks) expect(benchmark.ngrams).toBeGreaterThan(1000);
    const gsm = JSON.parse(readFileSync(join(corpus.benchmarks, 'gsm8k.jsonl'), 'utf8').split('\n')[10]!) as {
      question: string;
    };
    const hit = index.match(`Some unrelated intro text. ${gsm.question} And an unrelated ending.`);
    expect(hit?.mask).toBe(0b001);
    const wiki = readFileSync(corpus.wikitextValid, 'utf8').slice(0, 200_000);
    expect(index.match(wiki)).toBeUndefined();
  });
});
