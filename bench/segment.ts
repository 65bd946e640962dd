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
// MB/s = UTF-8 megabytes (10^6 bytes) of the corpus text / seconds. Each measurement is the best of
// RLPT_BENCH_REPS runs (default 5; 2 for the two slow sentence-splitter variants) after warm-up runs.
// Punkt is skipped, with a note, when `import nltk` fails (install: `apt-get install -y python3-nltk`).
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

function bestSeconds(run: () => number, reps: number): { seconds: number; sentences: number } {
  let sentences = run(); // warm-up
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < reps; rep++) {
    const start = performance.now();
    sentences = run();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return { seconds: best, sentences };
}

type Row = { splitter: string; perCorpus: Array<{ seconds: number; sentences: number }> };
const rows: Row[] = [];

function measure(splitter: string, reps: number, run: (corpus: Corpus) => number): Row {
  const row = { splitter, perCorpus: corpora.map((corpus) => bestSeconds(() => run(corpus), reps)) };
  rows.push(row);
  return row;
}

const engineRun = (engine: SegmentEngine) => (corpus: Corpus) =>
  splitSentences(corpus.text, { engine }).length;
// Let V8 optimise the scanner on every corpus before anything is timed.
for (let round = 0; round < 3; round++) for (const corpus of corpora) engineRun('scanner')(corpus);
const scanner = measure('scanner (default engine)', repetitions, engineRun('scanner'));
measure('sentence-splitter engine', slowRepetitions, engineRun('sentence-splitter'));
const raw = measure('raw sentence-splitter, per paragraph', slowRepetitions, (corpus) => {
  let count = 0;
  for (const paragraph of corpus.paragraphs) {
    for (const node of rawSplit(paragraph)) if (node.type === 'Sentence') count++;
  }
  return count;
});

// Golden-rule scores: exact lists of sentence texts.
const cases = [...goldenRules, ...hardCases];
function score(splitter: (input: string) => string[], list = goldenRules): number {
  return list.filter(
    (testCase) => JSON.stringify(splitter(testCase.input)) === JSON.stringify(testCase.expected),
  ).length;
}
const scores: Record<string, { golden: number; all: number }> = {};
for (const engine of ['scanner', 'sentence-splitter'] as const) {
  const splitter = (input: string) => splitSentences(input, { engine }).map((sentence) => sentence.text);
  scores[engine === 'scanner' ? 'scanner (default engine)' : 'sentence-splitter engine'] = {
    golden: score(splitter),
    all: score(splitter, cases),
  };
}
const rawSplitter = (input: string) =>
  rawSplit(input)
    .filter((node) => node.type === 'Sentence')
    .map((node) => node.raw.trim());
scores['raw sentence-splitter, per paragraph'] = {
  golden: score(rawSplitter),
  all: score(rawSplitter, cases),
};

// NLTK Punkt in a Python subprocess, on the same paragraphs and cases.
const punktScript = `
import json, sys, time
from nltk.tokenize.punkt import PunktSentenceTokenizer
data = json.load(open(sys.argv[1], encoding='utf8'))
tokenizer = PunktSentenceTokenizer()
reps = data['reps']
timings = []
for paragraphs in data['corpora']:
    count = sum(len(tokenizer.tokenize(p)) for p in paragraphs)  # warm-up
    best = float('inf')
    for _ in range(reps):
        start = time.perf_counter()
        count = sum(len(tokenizer.tokenize(p)) for p in paragraphs)
        best = min(best, time.perf_counter() - start)
    timings.append({'seconds': best, 'sentences': count})
cases = [tokenizer.tokenize(text) for text in data['cases']]
print(json.dumps({'timings': timings, 'cases': cases}))
`;
let punkt: Row | undefined;
let punktNote = '';
const python = '/usr/bin/python3';
const probe = existsSync(python) ? spawnSync(python, ['-c', 'import nltk'], { encoding: 'utf8' }) : undefined;
if (probe === undefined || probe.status !== 0) {
  punktNote = `NLTK Punkt skipped: ${existsSync(python) ? '`import nltk` failed' : `${python} not found`} (apt-get install -y python3-nltk).`;
} else {
  const dir = mkdtempSync(join(tmpdir(), 'rlpt-bench-segment-'));
  try {
    const input = join(dir, 'input.json');
    const script = join(dir, 'punkt.py');
    writeFileSync(
      input,
      JSON.stringify({
        reps: repetitions,
        corpora: corpora.map((corpus) => corpus.paragraphs),
        cases: cases.map((testCase) => testCase.input),
      }),
    );
    writeFileSync(script, punktScript);
    const result = spawnSync(python, [script, input], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (result.status !== 0) throw new Error(`punkt subprocess failed: ${result.stderr}`);
    const parsed = JSON.parse(result.stdout) as {
      timings: Array<{ seconds: number; sentences: number }>;
      cases: string[][];
    };
    punkt = { splitter: 'NLTK Punkt (untrained), per paragraph', perCorpus: parsed.timings };
    rows.push(punkt);
    const byInput = new Map(cases.map((testCase, index) => [testCase.input, parsed.cases[index] ?? []]));
    const punktSplitter = (text: string) => byInput.get(text) ?? [];
    scores[punkt.splitter] = { golden: score(punktSplitter), all: score(punktSplitter, cases) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Linear time: the same corpus text doubled and quadrupled.
const base = corpora.map((corpus) => corpus.text).join('\n\n');
const scaling = [1, 2, 4].map((factor) => {
  const text = Array.from({ length: factor }, () => base).join('\n\n');
  return {
    factor,
    seconds: bestSeconds(() => splitSentences(text).length, Math.min(repetitions, 3)).seconds,
  };
});

const mbPerSecond = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
const pad = (value: string, width: number) => value.padEnd(width);
console.log(
  `Corpora: ${corpora.map((c) => `${c.name} (${(c.bytes / 1e6).toFixed(2)} MB, ${c.paragraphs.length} paragraphs)`).join(', ')}`,
);
console.log(
  `Best of ${repetitions} runs (${slowRepetitions} for sentence-splitter variants) after a warm-up.\n`,
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
  const seconds = row.perCorpus.reduce((sum, cell) => sum + cell.seconds, 0);
  const rowScore = scores[row.splitter];
  const scoreText = rowScore
    ? `${pad(`${rowScore.golden}/${goldenRules.length}`, 14)}${rowScore.all}/${cases.length}`
    : '';
  console.log(
    `${pad(row.splitter, 40)}${cells.join('')}${pad(mbPerSecond(totalBytes, seconds).toFixed(1), 12)}${scoreText}`,
  );
}
if (punktNote) console.log(`\n${punktNote}`);
console.log(
  `\nLinear time (scanner, all corpora concatenated ×1/×2/×4): ${scaling
    .map((entry) => `×${entry.factor} ${(entry.seconds * 1000).toFixed(1)} ms`)
    .join(
      ', ',
    )}; time ratio ×2/×1 = ${((scaling[1]?.seconds ?? 0) / (scaling[0]?.seconds ?? 1)).toFixed(2)}, ×4/×2 = ${((scaling[2]?.seconds ?? 0) / (scaling[1]?.seconds ?? 1)).toFixed(2)}`,
);

const totalSeconds = (row: Row) => row.perCorpus.reduce((sum, cell) => sum + cell.seconds, 0);
const scannerRate = mbPerSecond(totalBytes, totalSeconds(scanner));
const rawRate = mbPerSecond(totalBytes, totalSeconds(raw));
console.log(`scanner vs raw sentence-splitter: ${(scannerRate / rawRate).toFixed(1)}x MB/s`);
if (punkt !== undefined) {
  const punktRate = mbPerSecond(totalBytes, totalSeconds(punkt));
  console.log(`segment: ${(scannerRate / punktRate).toFixed(2)}x scanner MB/s vs NLTK Punkt`);
} else {
  console.log(
    `segment: ${(scannerRate / rawRate).toFixed(2)}x scanner MB/s vs raw sentence-splitter (Punkt unavailable)`,
  );
}
