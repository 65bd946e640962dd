// Throughput of `splitSentences` (both engines) on the real corpora in ../shared/data/corpora, against
// raw `sentence-splitter` (one paragraph at a time) and NLTK's untrained Punkt splitter, all measured in
// this run on the same machine; plus each splitter's exact-split score on the golden-rule cases and a
// linear-time check (the same text doubled should take about twice as long).
//
// What is timed:
// - scanner / sentence-splitter engine: `splitSentences(wholeCorpusText, { engine })`, which includes
//   finding the paragraphs;
// - raw sentence-splitter: `split(paragraph)` for every paragraph (from `splitParagraphs`, not timed);
// - NLTK Punkt: `PunktSentenceTokenizer().tokenize(paragraph)` for the same paragraphs, timed inside a
//   `/usr/bin/python3` subprocess with `time.perf_counter` (process start and JSON I/O not timed).
// MB/s = UTF-8 megabytes (10^6 bytes) of the corpus text / seconds; each cell is the best of
// RLPT_BENCH_REPS samples (default 5; 2 for the two slow sentence-splitter variants) after warm-up runs,
// where a sample repeats a fast splitter until it lasts ≥ 0.1 s (about one Punkt pass over a corpus).
//
// The headline pairs the scanner and Punkt: RLPT_BENCH_ROUNDS rounds (default 3), each timing the
// scanner and then Punkt back to back, and reports the median of the per-round ratios, so load from other
// processes on a shared machine affects both sides of each ratio alike. Punkt is skipped, with a note,
// when `import nltk` fails (install: `apt-get install -y python3-nltk`); the headline then compares
// against raw sentence-splitter.
//
// Run alone: `pnpm bench:segment`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SegmentEngine, splitParagraphs, splitSentences } from '@rlpt/segment';
import { goldenRules, hardCases } from '../packages/segment/src/__fixtures__/golden-rules.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const corporaDir = join(repoRoot, '../shared/data/corpora');
const corpusFiles = ['wikitext-2/valid.txt', 'wikitext-2/test.txt', 'tinyshakespeare/input.txt'];
const repetitions = Number(process.env.RLPT_BENCH_REPS ?? 5);
const rounds = Number(process.env.RLPT_BENCH_ROUNDS ?? 3);
const slowRepetitions = Math.min(repetitions, 2);

// sentence-splitter is a dependency of @rlpt/segment, not of the bench package: resolve it from there.
const segmentRequire = createRequire(join(repoRoot, 'packages/segment/package.json'));
const { split: rawSplit } = (await import(segmentRequire.resolve('sentence-splitter'))) as {
  split: (text: string) => Array<{ type: string; raw: string }>;
};

if (!existsSync(corporaDir)) {
  console.log(`segment: corpora not found at ${corporaDir}; nothing to measure.`);
  console.log('segment: 0x (no corpora)');
  process.exit(0);
}

interface Corpus {
  name: string;
  text: string;
  bytes: number;
  paragraphs: string[];
}
type Timing = { seconds: number; sentences: number };
type Row = { splitter: string; perCorpus: Timing[] };

const corpora: Corpus[] = corpusFiles.map((file) => {
  const text = readFileSync(join(corporaDir, file), 'utf8');
  return {
    name: file,
    text,
    bytes: Buffer.byteLength(text, 'utf8'),
    paragraphs: splitParagraphs(text).map((paragraph) => paragraph.text),
  };
});
const totalBytes = corpora.reduce((sum, corpus) => sum + corpus.bytes, 0);
const mbPerSecond = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
const totalSeconds = (row: Row) => row.perCorpus.reduce((sum, cell) => sum + cell.seconds, 0);
const rate = (row: Row) => mbPerSecond(totalBytes, totalSeconds(row));

/**
 * Best of `reps` samples of `run`. A sample repeats `run` until it lasts ≥ 0.1 s (seconds = mean per
 * run), like one pass of Punkt over a corpus, so a fast splitter cannot profit from short quiet moments
 * on a loaded machine.
 */
function bestSeconds(run: () => number, reps: number): Timing {
  const warmStart = performance.now();
  let sentences = run(); // warm-up
  const single = Math.max((performance.now() - warmStart) / 1000, 1e-6);
  const perSample = Math.max(1, Math.ceil(0.1 / single));
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < reps; rep++) {
    const start = performance.now();
    for (let repeat = 0; repeat < perSample; repeat++) sentences = run();
    best = Math.min(best, (performance.now() - start) / 1000 / perSample);
  }
  return { seconds: best, sentences };
}

function measure(splitter: string, reps: number, run: (corpus: Corpus) => number): Row {
  return { splitter, perCorpus: corpora.map((corpus) => bestSeconds(() => run(corpus), reps)) };
}

/** Per corpus, the fastest of several rows of the same splitter. */
function fastest(splitter: string, measured: Row[]): Row {
  return {
    splitter,
    perCorpus: corpora.map((_, index) =>
      measured
        .map((row) => row.perCorpus[index] as Timing)
        .reduce((best, cell) => (cell.seconds < best.seconds ? cell : best)),
    ),
  };
}

const engineRun = (engine: SegmentEngine) => (corpus: Corpus) =>
  splitSentences(corpus.text, { engine }).length;
const rawRun = (corpus: Corpus) => {
  let count = 0;
  for (const paragraph of corpus.paragraphs) {
    for (const node of rawSplit(paragraph)) if (node.type === 'Sentence') count++;
  }
  return count;
};

// NLTK Punkt in a Python subprocess, on the same paragraphs (and, once, on the golden cases).
const cases = [...goldenRules, ...hardCases];
const punktScript = `
import json, sys, time
from nltk.tokenize.punkt import PunktSentenceTokenizer
data = json.load(open(sys.argv[1], encoding='utf8'))
tokenizer = PunktSentenceTokenizer()
timings = []
for paragraphs in data['corpora']:
    count = sum(len(tokenizer.tokenize(p)) for p in paragraphs)  # warm-up
    best = float('inf')
    for _ in range(data['reps']):
        start = time.perf_counter()
        count = sum(len(tokenizer.tokenize(p)) for p in paragraphs)
        best = min(best, time.perf_counter() - start)
    timings.append({'seconds': best, 'sentences': count})
cases = [tokenizer.tokenize(text) for text in data['cases']]
print(json.dumps({'timings': timings, 'cases': cases}))
`;
const python = '/usr/bin/python3';
const probe = existsSync(python) ? spawnSync(python, ['-c', 'import nltk'], { encoding: 'utf8' }) : undefined;
const punktAvailable = probe !== undefined && probe.status === 0;
const workDir = mkdtempSync(join(tmpdir(), 'rlpt-bench-segment-'));
const punktInput = join(workDir, 'input.json');
const punktScriptPath = join(workDir, 'punkt.py');
writeFileSync(
  punktInput,
  JSON.stringify({
    reps: repetitions,
    corpora: corpora.map((corpus) => corpus.paragraphs),
    cases: cases.map((testCase) => testCase.input),
  }),
);
writeFileSync(punktScriptPath, punktScript);

function runPunkt(): { timings: Timing[]; cases: string[][] } {
  const result = spawnSync(python, [punktScriptPath, punktInput], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`NLTK Punkt subprocess failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { timings: Timing[]; cases: string[][] };
}

// Let V8 optimise the scanner on every corpus before anything is timed.
for (let round = 0; round < 3; round++) for (const corpus of corpora) engineRun('scanner')(corpus);

const scannerRows: Row[] = [];
const punktRows: Row[] = [];
const ratios: number[] = [];
let punktCases: string[][] = [];
try {
  for (let round = 0; round < rounds; round++) {
    const scannerRow = measure('scanner (default engine)', repetitions, engineRun('scanner'));
    scannerRows.push(scannerRow);
    if (!punktAvailable) continue;
    const punkt = runPunkt();
    punktCases = punkt.cases;
    const punktRow = { splitter: 'NLTK Punkt (untrained), per paragraph', perCorpus: punkt.timings };
    punktRows.push(punktRow);
    ratios.push(rate(scannerRow) / rate(punktRow));
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
const scanner = fastest('scanner (default engine)', scannerRows);
const engineRow = measure('sentence-splitter engine', slowRepetitions, engineRun('sentence-splitter'));
const raw = measure('raw sentence-splitter, per paragraph', slowRepetitions, rawRun);
const rows: Row[] = [scanner, engineRow, raw];
if (punktRows.length > 0) rows.push(fastest('NLTK Punkt (untrained), per paragraph', punktRows));

// Golden-rule scores: exact lists of sentence texts.
function score(splitter: (input: string) => string[], list = goldenRules): number {
  return list.filter(
    (testCase) => JSON.stringify(splitter(testCase.input)) === JSON.stringify(testCase.expected),
  ).length;
}
const scores: Record<string, { golden: number; all: number }> = {};
const engineSplitter = (engine: SegmentEngine) => (input: string) =>
  splitSentences(input, { engine }).map((sentence) => sentence.text);
const rawSplitter = (input: string) =>
  rawSplit(input)
    .filter((node) => node.type === 'Sentence')
    .map((node) => node.raw.trim());
const byInput = new Map(cases.map((testCase, index) => [testCase.input, punktCases[index] ?? []]));
const splitters: Array<[string, (input: string) => string[]]> = [
  ['scanner (default engine)', engineSplitter('scanner')],
  ['sentence-splitter engine', engineSplitter('sentence-splitter')],
  ['raw sentence-splitter, per paragraph', rawSplitter],
];
if (punktAvailable)
  splitters.push(['NLTK Punkt (untrained), per paragraph', (input) => byInput.get(input) ?? []]);
for (const [name, splitter] of splitters)
  scores[name] = { golden: score(splitter), all: score(splitter, cases) };

// Linear time: the same corpus text doubled and quadrupled.
const base = corpora.map((corpus) => corpus.text).join('\n\n');
const scaling = [1, 2, 4].map((factor) => {
  const text = Array.from({ length: factor }, () => base).join('\n\n');
  return {
    factor,
    seconds: bestSeconds(() => splitSentences(text).length, repetitions).seconds,
  };
});

const pad = (value: string, width: number) => value.padEnd(width);
console.log(
  `Corpora: ${corpora.map((c) => `${c.name} (${(c.bytes / 1e6).toFixed(2)} MB, ${c.paragraphs.length} paragraphs)`).join(', ')}`,
);
console.log(
  `Best of ${repetitions} runs per cell (${slowRepetitions} for the sentence-splitter variants; scanner and Punkt over ${rounds} rounds), after warm-up.\n`,
);
console.log(
  `${pad('splitter', 40)}${corpora.map((c) => pad(c.name, 27)).join('')}${pad('total MB/s', 12)}golden rules  all cases`,
);
for (const row of rows) {
  const cells = row.perCorpus.map((cell, index) =>
    pad(
      `${mbPerSecond((corpora[index] as Corpus).bytes, cell.seconds).toFixed(1)} MB/s (${cell.sentences})`,
      27,
    ),
  );
  const rowScore = scores[row.splitter];
  const scoreText = rowScore
    ? `${pad(`${rowScore.golden}/${goldenRules.length}`, 14)}${rowScore.all}/${cases.length}`
    : '';
  console.log(`${pad(row.splitter, 40)}${cells.join('')}${pad(rate(row).toFixed(1), 12)}${scoreText}`);
}
if (!punktAvailable) {
  console.log(
    `\nNLTK Punkt skipped: ${existsSync(python) ? '`import nltk` failed' : `${python} not found`} (apt-get install -y python3-nltk).`,
  );
}
const timeRatio = (a: number, b: number) =>
  ((scaling[a]?.seconds ?? 0) / (scaling[b]?.seconds ?? 1)).toFixed(2);
console.log(
  `\nLinear time (scanner, all corpora concatenated ×1/×2/×4): ${scaling.map((entry) => `×${entry.factor} ${(entry.seconds * 1000).toFixed(1)} ms`).join(', ')}; time ratio ×2/×1 = ${timeRatio(1, 0)}, ×4/×2 = ${timeRatio(2, 1)}`,
);
console.log(`scanner vs raw sentence-splitter: ${(rate(scanner) / rate(raw)).toFixed(1)}x MB/s`);
if (ratios.length > 0) {
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  console.log(`scanner / Punkt MB/s per round: ${ratios.map((ratio) => `${ratio.toFixed(2)}x`).join(', ')}`);
  console.log(`segment: ${median.toFixed(2)}x scanner MB/s vs NLTK Punkt`);
} else {
  console.log(
    `segment: ${(rate(scanner) / rate(raw)).toFixed(2)}x scanner MB/s vs raw sentence-splitter (Punkt unavailable)`,
  );
}
