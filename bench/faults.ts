// The generative judge against a flaky OpenAI-compatible judge server (issue: reliability under faults).
//
// Items: consecutive line pairs of ../shared/data/corpora/tinyshakespeare (prediction = the next line, or a
// line from elsewhere), judged by the scripted judge model of @rlpt/reward/testing behind a real HTTP server
// on 127.0.0.1. Three runs of the same items with the judge as `rlpt` builds it (createOpenAIBackend with no
// retries of its own; createGenerativeJudge's defaults except the time limit, 3 s, so hangs cost seconds
// rather than minutes): fault-free (the baseline), then 10% and 30% of requests faulted, drawn uniformly
// and seeded from 500, 429 (Retry-After: 1), hang, dropped connection, garbled 200 body and slow (300 ms).
// For each: the share of items that end ok, failed items, retries spent, rate-limit answers, requests,
// wall time vs the fault-free run, and the number of ok verdicts that differ from the fault-free run's
// (must be 0: a fault is never scored).
//
// Run alone: `pnpm bench:faults` (RLPT_BENCH_ITEMS, default 1000).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { createGenerativeJudge } from '@rlpt/reward';
import { type FaultOptions, startScriptedJudgeServer } from '@rlpt/reward/testing';
import type { JudgeItem, JudgeVerdict } from '@rlpt/spec';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const corpus = join(repoRoot, '../shared/data/corpora/tinyshakespeare/input.txt');
const ITEMS = Number(process.env.RLPT_BENCH_ITEMS ?? 1000);
/** Time limit of one judge request: hangs cost this much, and a loaded machine must not hit it. */
const TIMEOUT_MS = Number(process.env.RLPT_BENCH_TIMEOUT_MS ?? 3000);

if (!existsSync(corpus)) {
  console.error(
    `\n!!! faults: ${corpus} is missing — this bench reads ../shared/data. Nothing measured. !!!\n`,
  );
  console.log('faults: 0x (shared data missing)');
  process.exit(1);
}

const lines = readFileSync(corpus, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.split(/\s+/).length >= 4);
const items: JudgeItem[] = Array.from({ length: ITEMS }, (_, index) => {
  const at = (index * 37) % (lines.length - 2);
  const reference = `${lines[at + 1]} ${lines[at + 2]}`;
  // Half the predictions are the real next line (a prefix of the reference), half come from elsewhere.
  const prediction =
    index % 2 === 0 ? (lines[at + 1] as string) : (lines[(at + 5003) % lines.length] as string);
  return { id: `faults-${index}`, prediction, reference };
});

interface RunResult {
  label: string;
  verdicts: JudgeVerdict[];
  seconds: number;
  retries: number;
  rateLimited: number;
  requests: number;
  faults: Record<string, number>;
}

async function run(label: string, faults?: FaultOptions): Promise<RunResult> {
  const server = await startScriptedJudgeServer({ record: false, ...(faults ? { faults } : {}) });
  const backend = createOpenAIBackend({
    baseURL: server.baseURL,
    model: server.modelName,
    apiKey: 'bench',
    maxRetries: 0,
    concurrency: 8 * 16,
  });
  const judge = createGenerativeJudge({ backend, timeoutMs: TIMEOUT_MS, cache: false, hardening: false });
  const started = performance.now();
  const verdicts = await judge.judge(items);
  const seconds = (performance.now() - started) / 1000;
  const stats = judge.stats();
  await judge.close();
  await backend.close();
  await server.close();
  return {
    label,
    verdicts,
    seconds,
    retries: stats.retries,
    rateLimited: stats.rateLimited,
    requests: stats.requests,
    faults: server.faults,
  };
}

const faultOptions = (rate: number): FaultOptions => ({ rate, seed: 11, retryAfterSeconds: 1, slowMs: 300 });
const clean = await run('fault-free');
const results = [
  clean,
  await run('10% faults', faultOptions(0.1)),
  await run('30% faults', faultOptions(0.3)),
];

const okShare = (result: RunResult) =>
  result.verdicts.filter((verdict) => verdict.status === 'ok').length / result.verdicts.length;
console.log(
  `faults: ${ITEMS} items (tinyshakespeare line pairs), judge defaults, ${TIMEOUT_MS} ms request time limit`,
);
console.log(
  'run          ok share  failed  wrong  retries  rate-limited  judge requests  wall s  vs fault-free  faults injected',
);
for (const result of results) {
  const failed = result.verdicts.filter((verdict) => verdict.status === 'failed').length;
  const wrong = result.verdicts.filter(
    (verdict, index) =>
      verdict.status === 'ok' &&
      clean.verdicts[index]?.status === 'ok' &&
      verdict.score !== clean.verdicts[index]?.score,
  ).length;
  if (wrong > 0) process.exitCode = 1;
  console.log(
    [
      result.label.padEnd(11),
      okShare(result).toFixed(4).padStart(8),
      String(failed).padStart(7),
      String(wrong).padStart(6),
      String(result.retries).padStart(8),
      String(result.rateLimited).padStart(13),
      String(result.requests).padStart(15),
      result.seconds.toFixed(2).padStart(7),
      `${(result.seconds / clean.seconds).toFixed(1)}x`.padStart(14),
      ` ${JSON.stringify(result.faults)}`,
    ].join(' '),
  );
}
const at10 = results[1] as RunResult;
console.log(`faults: ${okShare(at10).toFixed(4)}x items ok at 10% faults vs a fault-free run`);
