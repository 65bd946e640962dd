// `rlpt prepare` throughput and memory, measured in this run on this machine.
//
// 1. Worker scaling: `prepare()` end to end (read → normalise → dedup → decontaminate → segment → samples →
//    shuffle → shards) on the real corpora in ../shared/data/corpora (WikiText-2 valid+test, tiny
//    Shakespeare; 3.4 MB, 348 documents, ~27k samples) with the default options (Qwen3 tokenizer, paper
//    prompts, `samples` output), with 1 worker thread and with 2. RLPT_BENCH_ROUNDS rounds (default 2), each
//    running 1 then 2 workers back to back into fresh folders; docs/s = documents read / wall seconds of
//    the whole `prepare` call (worker start-up included); the headline is the median of the per-round
//    ratios, so load from other processes on a shared machine affects both sides of each ratio alike.
//    Scan (read + process) and finalize (sort + write) seconds, CPU seconds of the whole process (all
//    threads: the parallel overhead) and the load average before and after are printed too: on a machine
//    whose load average exceeds its core count a second worker gets no extra CPU and the ratio says so.
// 2. Memory: peak RSS (`process.resourceUsage().maxRSS`, so the main thread and its workers) of a fresh
//    process running `prepare` on a synthetic 50 MB corpus and on a 500 MB one (ten times the documents),
//    generated into a temp folder and deleted afterwards. Documents are ~4 KB of seeded random words
//    (20,000-word vocabulary, so nothing is a duplicate): 200 sentences of 2–3 words (context only) and one
//    of 12 words, the target of one sample.
//    These two runs use `tokenizer: 'whitespace'` and `contextTokens: 256` so 550 MB finish in minutes on
//    two cores (Qwen3 tokenises ~1 MB/s per core); everything else is the default pipeline with 2 workers.
//    The exact and near-duplicate index does grow with the number of documents (about 250 bytes per
//    document at the default 9 LSH bands); that growth is in the ratio.
//
// Run alone: `pnpm bench:prepare` (RLPT_BENCH_RSS=0 skips part 2).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type PrepareOptions, prepare } from '@rlpt/data';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const corporaDir = join(repoRoot, '../shared/data/corpora');
const rounds = Number(process.env.RLPT_BENCH_ROUNDS ?? 2);
const measureRss = process.env.RLPT_BENCH_RSS !== '0';
const childFlag = '--rss-child';

/** Child mode: run one prepare and report its peak RSS. */
if (process.argv.includes(childFlag)) {
  const options = JSON.parse(process.argv[process.argv.indexOf(childFlag) + 1]!) as PrepareOptions;
  // Peak RSS per phase, sampled every 50 ms (maxRSS below is the kernel's exact figure for the whole run).
  let phase: 'scan' | 'finalize' = 'scan';
  const peaks = { scan: 0, finalize: 0 };
  const sampler = setInterval(() => {
    peaks[phase] = Math.max(peaks[phase], process.memoryUsage().rss);
  }, 50);
  const { stats } = await prepare(options, {
    onEvent: (event) => {
      if (event.type === 'progress' && event.phase === 'write') phase = 'finalize';
    },
  });
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, scanMb: peaks.scan / 2 ** 20, finalizeMb: peaks.finalize / 2 ** 20, documents: stats.documents.read, samples: stats.samples.total, seconds: stats.run.seconds })}\n`,
  );
  process.exit(0);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const scratch = mkdtempSync(join(tmpdir(), 'rlpt-bench-prepare-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

// --- 1. docs/s with 1 vs 2 workers -------------------------------------------------------------------
let inputs: string[];
if (existsSync(corporaDir)) {
  inputs = [corporaDir];
} else {
  console.log(`prepare: corpora not found at ${corporaDir}; using a synthetic 5 MB corpus instead.`);
  inputs = [join(scratch, 'fallback')];
  mkdirSync(inputs[0]!);
  writeSyntheticCorpus(inputs[0]!, 5e6, 0);
}

async function run(workers: number, round: number, extra: Partial<PrepareOptions> = {}, corpus = inputs) {
  const out = join(scratch, `w${workers}-r${round}`);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const { stats } = await prepare({ inputs: corpus, out, workers, formats: ['samples'], ...extra });
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  rmSync(out, { recursive: true, force: true });
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { ...stats.run, seconds, cpuSeconds, documents: stats.documents.read, samples: stats.samples.total };
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
console.log(`${availableParallelism()} cores; load average before: ${load()}`);
const header =
  '| corpus | round | workers | documents | samples | seconds | scan s | finalize s | CPU s (all threads) | docs/s |';
console.log(header);
console.log(header.replace(/[^|]/g, '-'));

/** Rounds of 1 then 2 workers; returns the per-round docs/s ratios. */
async function scaling(name: string, roundCount: number, extra: Partial<PrepareOptions>, corpus: string[]) {
  const ratios: number[] = [];
  for (let round = 1; round <= roundCount; round++) {
    const rates: number[] = [];
    for (const workers of [1, 2]) {
      const result = await run(workers, round, extra, corpus);
      const rate = result.documents / result.seconds;
      rates.push(rate);
      console.log(
        `| ${name} | ${round} | ${workers} | ${result.documents} | ${result.samples} | ${result.seconds.toFixed(2)} | ${result.scanSeconds.toFixed(2)} | ${result.finalizeSeconds.toFixed(2)} | ${result.cpuSeconds.toFixed(2)} | ${rate.toFixed(1)} |`,
      );
    }
    ratios.push(rates[1]! / rates[0]!);
  }
  return ratios;
}

const ratios = await scaling('shared corpora', rounds, {}, inputs);

// --- 2. peak RSS, 500 MB vs 50 MB ------------------------------------------------------------------------
/** Writes ~`bytes` of synthetic documents (blank-line separated) into `dir`, in files of ≤ 50 MB. */
function writeSyntheticCorpus(dir: string, bytes: number, seed: number): void {
  let state = seed * 2654435761 + 1;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocabulary = Array.from({ length: 20_000 }, () =>
    Array.from({ length: 3 + Math.floor(random() * 7) }, () => letters[Math.floor(random() * 26)]).join(''),
  );
  const word = () => vocabulary[Math.floor(random() * vocabulary.length)]!;
  const sentence = (words: number) => {
    const text = Array.from({ length: words }, word).join(' ');
    return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
  };
  const fileBytes = 50e6;
  let written = 0;
  for (let file = 0; written < bytes; file++) {
    const documents: string[] = [];
    let size = 0;
    while (size < Math.min(fileBytes, bytes - written)) {
      const target = 1 + Math.floor(random() * 198);
      const sentences = Array.from({ length: 200 }, (_, index) =>
        sentence(index === target ? 12 : 2 + Math.floor(random() * 2)),
      );
      const document = sentences.join(' ');
      documents.push(document);
      size += document.length + 2;
    }
    writeFileSync(join(dir, `part-${String(file).padStart(3, '0')}.txt`), `${documents.join('\n\n')}\n`);
    written += size;
  }
}

if (measureRss) {
  const small = join(scratch, 'corpus-50mb');
  const large = join(scratch, 'corpus-500mb');
  mkdirSync(small);
  mkdirSync(large);
  const generated = performance.now();
  writeSyntheticCorpus(large, 500e6, 1);
  // The small corpus is the first 50 MB file of the large one: same documents, one tenth of them.
  spawnSync('cp', [join(large, 'part-000.txt'), small]);
  console.log(
    `\ngenerated 550 MB of synthetic text in ${((performance.now() - generated) / 1000).toFixed(1)}s`,
  );
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const measure = (input: string, name: string) => {
    const options: PrepareOptions = {
      inputs: [input],
      out: join(scratch, `rss-${name}`),
      workers: 2,
      tokenizer: 'whitespace',
      contextTokens: 256,
      formats: ['samples'],
    };
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        tsx,
        '--conditions=@rlpt/source',
        fileURLToPath(import.meta.url),
        childFlag,
        JSON.stringify(options),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (child.status !== 0) throw new Error(`RSS run on ${name} failed:\n${child.stderr}`);
    rmSync(join(scratch, `rss-${name}`), { recursive: true, force: true });
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
      maxRssKb: number;
      scanMb: number;
      finalizeMb: number;
      documents: number;
      samples: number;
      seconds: number;
    };
    console.log(
      `| ${name} | ${result.documents} | ${result.samples} | ${result.seconds.toFixed(1)} | ${(result.maxRssKb / 1024).toFixed(0)} | ${result.scanMb.toFixed(0)} | ${result.finalizeMb.toFixed(0)} |`,
    );
    return result.maxRssKb;
  };
  console.log('| corpus | documents | samples | seconds | peak RSS MB | scan phase MB | finalize phase MB |');
  console.log('| ------ | --------- | ------- | ------- | ----------- | ------------- | ----------------- |');
  const rssSmall = measure(small, '50 MB');
  const rssLarge = measure(large, '500 MB');
  rmSync(small, { recursive: true, force: true });
  rmSync(large, { recursive: true, force: true });
  console.log(
    `prepare memory: ${(rssLarge / rssSmall).toFixed(2)}x peak RSS on a 500 MB corpus vs a 50 MB one (${(rssLarge / 1024).toFixed(0)} MB vs ${(rssSmall / 1024).toFixed(0)} MB)`,
  );
}

console.log(
  `\nload average after: ${load()} (a busy machine cannot show scaling: compare with the core count)`,
);
console.log(`per-round ratios: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}`);
console.log(`prepare: ${median(ratios).toFixed(2)}x docs/s with 2 workers vs 1`);
