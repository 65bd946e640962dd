// Speed of @rlpt/reward, three parts, each against a baseline measured in the same run.
//
// 1. Judge pipeline vs raw fetch. A scripted OpenAI-compatible judge server that answers "Score: 1"
//    instantly runs in a child process. Baseline: 64 concurrent loops of fetch(POST /v1/chat/completions)
//    + res.json() + a check of the answer, each sending a pre-rendered judge prompt (the same text the
//    judge sends). Pipeline: createGenerativeJudge over createOpenAIBackend (batchSize 16 × concurrency 4
//    = 64 prompts in flight, one HTTP request each; cache off, every prediction distinct) judging the items
//    in one judge() call: hardening, prompt rendering, fencing, batching, verdict parsing, stats.
//    Also the backend alone (64 loops of backend.generate, same prompts) to split the overhead between
//    @rlpt/backend-openai and the judge. Items/s, interleaved rounds after warm-up, medians. Goal ≥ 0.9×.
//    This is the headline. Also the client's CPU time per item (process.cpuUsage of this process; the
//    server is the child's), which other load on a shared machine disturbs far less than wall time.
// 2. Reward server under bounded loopback load. `createRewardServer` with the lexical judge in a child
//    process; LOAD_CONNECTIONS keep-alive connections each POST /get_reward with one OpenRLHF sample (as
//    OpenRLHF sends them), closed loop, for LOAD_SECONDS. Requests/s, p50/p99, errors (any non-200 fails
//    the bench), server RSS and heap before and after (from its /metrics). Baseline: a bare node:http
//    server in the same child answering a fixed JSON body, same load.
// 3. Cache hits per second: `scope.get(reference, prediction)` (what the judges call) on a full
//    100 000-entry cache (12 500 references × 8 predictions, 60 and 20 words), probed with flat copies of
//    the strings (as JSON.parse hands them over: equal content, other objects, so every hit compares text).
//    Orders: hot (hits within one 4096-item rollout batch: identical predictions of a batch), GRPO-grouped
//    over the whole cache (a group's 8 predictions together, groups scattered) and fully scattered (worst
//    case for CPU caches). Baseline: Map.get on one flat concatenated key per entry, probed the same way.
//    Goal ≥ 1 M hits/s.
//
// Run alone: `pnpm bench:reward` (RLPT_BENCH_SECONDS changes the load phase length; default 5).
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { renderJudgePrompt } from '@rlpt/prompts';
import {
  createGenerativeJudge,
  createJudgeCache,
  createLexicalJudge,
  createRewardServer,
  fenceText,
} from '@rlpt/reward';
import { alwaysYesModel, startScriptedJudgeServer } from '@rlpt/reward/testing';
import type { JudgeItem } from '@rlpt/spec';

const IN_FLIGHT = 64;
/** Judge prompts per generate request; IN_FLIGHT / JUDGE_BATCH requests at once keep 64 prompts in flight. */
const JUDGE_BATCH = 16;
const ITEMS = Number(process.env.RLPT_BENCH_ITEMS ?? 3000);
const ROUNDS = 3;
/** Rounds of part 1: short and many, so load from other processes hits all three loops alike. */
const PIPELINE_ROUNDS = Number(process.env.RLPT_BENCH_ROUNDS ?? 7);
const LOAD_CONNECTIONS = 32;
const LOAD_SECONDS = Number(process.env.RLPT_BENCH_SECONDS ?? 5);
const CACHE_ENTRIES = 100_000;
const CACHE_LOOKUPS = 2_000_000;

const words =
  'the river rose over the old stone bridge while farmers moved their cattle to higher ground and the town council met to plan repairs before winter came'.split(
    ' ',
  );
const sentence = (seed: number, length: number) =>
  Array.from({ length }, (_, index) => words[(seed * 7 + index * 13) % words.length]).join(' ');

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

// ---------------------------------------------------------------- child process roles
async function serveJudge(): Promise<void> {
  const server = await startScriptedJudgeServer({ model: alwaysYesModel, record: false });
  process.stdout.write(`READY ${server.baseURL}\n`);
  await new Promise(() => {});
}

async function serveReward(): Promise<void> {
  const reward = createRewardServer({
    judge: createLexicalJudge({ cache: false }),
    maxConcurrentRequests: 1024,
  });
  const { url } = await reward.listen({ port: 0 });
  const { createServer } = await import('node:http');
  const fixed = JSON.stringify({ rewards: [1], scores: [1], extra_logs: {} });
  const bare = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(fixed),
      });
      response.end(fixed);
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const address = bare.address() as { port: number };
  process.stdout.write(`READY ${url} http://127.0.0.1:${address.port}\n`);
  await new Promise(() => {});
}

async function startChild(role: string): Promise<{ urls: string[]; stop(): void }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), role], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const urls = await new Promise<string[]>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += String(chunk);
      const line = /READY (.+)\n/.exec(output);
      if (line?.[1]) resolve(line[1].split(' '));
    });
    child.on('exit', (code) => reject(new Error(`${role} child exited with ${code}`)));
  });
  return { urls, stop: () => child.kill('SIGKILL') };
}

// ---------------------------------------------------------------- 1. pipeline vs raw fetch
function makeItems(round: number): JudgeItem[] {
  return Array.from({ length: ITEMS }, (_, index) => ({
    id: String(index),
    reference: sentence(index, 60),
    prediction: `${sentence(index + 1, 20)} r${round} i${index}`,
  }));
}

interface Measured {
  itemsPerSecond: number;
  /** CPU time of this (client) process per item: robust to other load on the machine, unlike wall time. */
  cpuMicrosPerItem: number;
}

function cpuMicrosSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

async function rawFetch(baseURL: string, items: JudgeItem[]): Promise<Measured> {
  const bodies = items.map((item) =>
    JSON.stringify({
      model: 'scripted-judge',
      messages: [
        {
          role: 'user',
          content: renderJudgePrompt('prefix', {
            reference: fenceText(item.reference),
            predicted: fenceText(item.prediction),
          }),
        },
      ],
      max_tokens: 8,
      temperature: 0,
      n: 1,
    }),
  );
  let next = 0;
  let approved = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const response = await fetch(`${baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        if (!response.ok) throw new Error(`raw fetch: HTTP ${response.status}`);
        const json = (await response.json()) as { choices: { message: { content: string } }[] };
        if (/score:\s*1/i.test(json.choices[0]?.message.content ?? '')) approved++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuMicros = cpuMicrosSince(cpu);
  if (approved !== items.length) throw new Error(`raw fetch: ${approved}/${items.length} approved`);
  return { itemsPerSecond: items.length / seconds, cpuMicrosPerItem: cpuMicros / items.length };
}

/**
 * The OpenAI backend alone (no judge), batched like the pipeline: IN_FLIGHT / JUDGE_BATCH loops of
 * backend.generate with JUDGE_BATCH pre-rendered prompts each.
 */
async function backendOnly(baseURL: string, items: JudgeItem[]): Promise<Measured> {
  const backend = createOpenAIBackend({
    baseURL,
    model: 'scripted-judge',
    apiKey: 'bench',
    concurrency: IN_FLIGHT,
    maxRetries: 0,
  });
  const prompts = items.map((item) => ({
    messages: [
      {
        role: 'user',
        content: renderJudgePrompt('prefix', {
          reference: fenceText(item.reference),
          predicted: fenceText(item.prediction),
        }),
      },
    ],
  }));
  let next = 0;
  let approved = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT / JUDGE_BATCH }, async () => {
      while (next < prompts.length) {
        const batch = prompts.slice(next, next + JUDGE_BATCH);
        next += batch.length;
        const result = await backend.generate({ prompts: batch, maxTokens: 8, temperature: 0, n: 1 });
        for (const entry of result.results) {
          if (/score:\s*1/i.test(entry.completions[0]?.text ?? '')) approved++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuMicros = cpuMicrosSince(cpu);
  await backend.close();
  if (approved !== items.length) throw new Error(`backend: ${approved}/${items.length} approved`);
  return { itemsPerSecond: items.length / seconds, cpuMicrosPerItem: cpuMicros / items.length };
}

async function pipeline(baseURL: string, items: JudgeItem[]): Promise<Measured> {
  const backend = createOpenAIBackend({
    baseURL,
    model: 'scripted-judge',
    apiKey: 'bench',
    concurrency: IN_FLIGHT,
    maxRetries: 0,
  });
  const judge = createGenerativeJudge({
    backend,
    batchSize: JUDGE_BATCH,
    concurrency: IN_FLIGHT / JUDGE_BATCH,
    cache: false,
    retries: 0,
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const verdicts = await judge.judge(items);
  const seconds = (performance.now() - started) / 1000;
  const cpuMicros = cpuMicrosSince(cpu);
  await judge.close();
  await backend.close();
  const approved = verdicts.filter((verdict) => verdict.status === 'ok' && verdict.score === 1).length;
  if (approved !== items.length)
    throw new Error(
      `pipeline: ${approved}/${items.length} approved (${JSON.stringify(judge.stats().reasons)})`,
    );
  return { itemsPerSecond: items.length / seconds, cpuMicrosPerItem: cpuMicros / items.length };
}

// ---------------------------------------------------------------- 2. reward server load
interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

async function load(url: string, body: string): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: LOAD_CONNECTIONS });
  const target = new URL(url);
  const latencies = new Float64Array(5_000_000);
  let count = 0;
  let errors = 0;
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const request = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            if (response.statusCode !== 200) errors++;
            if (count < latencies.length) latencies[count] = performance.now() - started;
            count++;
            resolve();
          });
        },
      );
      request.on('error', () => {
        errors++;
        resolve();
      });
      request.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: LOAD_CONNECTIONS }, async () => {
      while (performance.now() < deadline) await once();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.slice(0, Math.min(count, latencies.length)).sort();
  return {
    requestsPerSecond: count / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    errors,
    requests: count,
  };
}

async function serverMemory(url: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rss: read('process_resident_memory_bytes'), heap: read('nodejs_heap_used_bytes') };
}

// ---------------------------------------------------------------- 3. cache
interface CacheRates {
  hot: { scope: number; map: number };
  grouped: { scope: number; map: number };
  scattered: { scope: number; map: number };
}

function cacheBench(): CacheRates {
  // Flat string copies, as JSON.parse hands them to the judge: lookups compare contents, not pointers.
  const copy = (text: string) => JSON.parse(JSON.stringify(text)) as string;
  const entries = Array.from({ length: CACHE_ENTRIES }, (_, index) => ({
    reference: copy(`${sentence(index >> 3, 60)} ${index >> 3}`),
    prediction: copy(`${sentence(index, 20)} ${index}`),
  }));
  const probes = entries.map((entry) => ({
    reference: copy(entry.reference),
    prediction: copy(entry.prediction),
  }));
  const cache = createJudgeCache({ maxEntries: 2 * CACHE_ENTRIES + 2 });
  const scope = cache.scope('generative:openai:judge', '0123456789abcdef', 'prefix');
  const map = new Map<string, number>();
  entries.forEach((entry, index) => {
    scope.set(entry.reference, entry.prediction, { score: index % 2, status: 'ok' });
    map.set(copy(`${entry.reference}\u0000${entry.prediction}`), index);
  });
  if (cache.size !== CACHE_ENTRIES) throw new Error(`cache bench: ${cache.size} entries held`);
  const mapProbes = probes.map((probe) => copy(`${probe.reference}\u0000${probe.prediction}`));
  const groups = CACHE_ENTRIES >> 3;
  // grouped: the 8 predictions of a group one after the other, groups in scattered order (a GRPO batch);
  // scattered: every lookup somewhere else in the cache (worst case for CPU caches).
  const grouped = Uint32Array.from({ length: CACHE_LOOKUPS }, (_, index) => {
    const group = (Math.floor(index / 8) * 7919) % groups;
    return group * 8 + (index % 8);
  });
  const scattered = Uint32Array.from({ length: CACHE_LOOKUPS }, (_, index) => (index * 7919) % CACHE_ENTRIES);
  // hot: repeated hits within one rollout batch (4096 entries), as identical predictions of a batch get.
  const hot = Uint32Array.from({ length: CACHE_LOOKUPS }, (_, index) => (index * 7919) % 4096);
  const time = (order: Uint32Array, lookup: (index: number) => unknown) => {
    const started = performance.now();
    let hits = 0;
    for (const index of order) if (lookup(index) !== undefined) hits++;
    const seconds = (performance.now() - started) / 1000;
    if (hits !== order.length) throw new Error(`cache bench: ${hits} hits of ${order.length}`);
    return order.length / seconds;
  };
  const viaScope = (index: number) => {
    const probe = probes[index] as (typeof probes)[number];
    return scope.get(probe.reference, probe.prediction);
  };
  const viaMap = (index: number) => map.get(mapProbes[index] as string);
  const rounds = {
    hotScope: [] as number[],
    hotMap: [] as number[],
    groupedScope: [] as number[],
    groupedMap: [] as number[],
    scatteredScope: [] as number[],
    scatteredMap: [] as number[],
  };
  for (let round = 0; round < ROUNDS + 1; round++) {
    const hotMap = time(hot, viaMap);
    const hotScope = time(hot, viaScope);
    const groupedMap = time(grouped, viaMap);
    const groupedScope = time(grouped, viaScope);
    const scatteredMap = time(scattered, viaMap);
    const scatteredScope = time(scattered, viaScope);
    if (round === 0) continue; // warm-up
    rounds.hotMap.push(hotMap);
    rounds.hotScope.push(hotScope);
    rounds.groupedMap.push(groupedMap);
    rounds.groupedScope.push(groupedScope);
    rounds.scatteredMap.push(scatteredMap);
    rounds.scatteredScope.push(scatteredScope);
  }
  return {
    hot: { scope: median(rounds.hotScope), map: median(rounds.hotMap) },
    grouped: { scope: median(rounds.groupedScope), map: median(rounds.groupedMap) },
    scattered: { scope: median(rounds.scatteredScope), map: median(rounds.scatteredMap) },
  };
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const role = process.argv[2];
  if (role === '--serve-judge') return serveJudge();
  if (role === '--serve-reward') return serveReward();

  console.log(
    `bench/reward: node ${process.version}, ${ITEMS} judge calls per round, ${IN_FLIGHT} in flight`,
  );

  // 1.
  let pipelineRatio = Number.NaN;
  const judgeChild = await startChild('--serve-judge');
  const [baseURL] = judgeChild.urls as [string];
  try {
    await rawFetch(baseURL, makeItems(-1).slice(0, 1000));
    await backendOnly(baseURL, makeItems(-3).slice(0, 1000));
    await pipeline(baseURL, makeItems(-2).slice(0, 1000));
    const raw: Measured[] = [];
    const viaBackend: Measured[] = [];
    const piped: Measured[] = [];
    for (let round = 0; round < PIPELINE_ROUNDS; round++) {
      raw.push(await rawFetch(baseURL, makeItems(round)));
      viaBackend.push(await backendOnly(baseURL, makeItems(round + 1000)));
      piped.push(await pipeline(baseURL, makeItems(round + 2000)));
      const show = (measured: Measured | undefined) =>
        `${measured?.itemsPerSecond.toFixed(0)} items/s (${measured?.cpuMicrosPerItem.toFixed(0)} µs CPU/item)`;
      console.log(
        `  round ${round + 1}: raw fetch ${show(raw.at(-1))}, backend alone ${show(viaBackend.at(-1))}, judge pipeline ${show(piped.at(-1))}`,
      );
    }
    const rate = (list: Measured[]) => median(list.map((entry) => entry.itemsPerSecond));
    const cpu = (list: Measured[]) => median(list.map((entry) => entry.cpuMicrosPerItem));
    pipelineRatio = rate(piped) / rate(raw);
    console.log(
      `1. judge pipeline ${rate(piped).toFixed(0)} items/s vs raw fetch ${rate(raw).toFixed(0)} items/s (medians of ${PIPELINE_ROUNDS}): ${pipelineRatio.toFixed(2)}x (goal ≥ 0.9x)`,
    );
    console.log(
      `   client CPU per item: raw fetch ${cpu(raw).toFixed(0)} µs, backend alone (same batching) ${cpu(viaBackend).toFixed(0)} µs, judge pipeline ${cpu(piped).toFixed(0)} µs → CPU-efficiency ${(cpu(raw) / cpu(piped)).toFixed(2)}x of raw fetch; the judge itself adds ${(cpu(piped) - cpu(viaBackend)).toFixed(0)} µs/item (hardening, prompts, batching, parsing)`,
    );
  } finally {
    judgeChild.stop();
  }

  // 2.
  const rewardChild = await startChild('--serve-reward');
  const [rewardURL, bareURL] = rewardChild.urls as [string, string];
  try {
    const prompt =
      'Complete the text provided under ### Context by predicting the next most probable sentence.\n\n### Context\n\nThe river rose over the old stone bridge.';
    const reference = `${sentence(3, 25)}. ${sentence(4, 20)}. ${sentence(5, 20)}.`;
    const body = JSON.stringify({
      query: [`${prompt}\nReasoning... <|startofprediction|>${reference.split('. ')[0]}.<|endofprediction|>`],
      prompts: [prompt],
      labels: [JSON.stringify({ reference, target: reference.split('. ')[0], task: 'asr' })],
    });
    const check = await (await fetch(`${rewardURL}/get_reward`, { method: 'POST', body })).json();
    if ((check as { rewards: number[] }).rewards[0] !== 1)
      throw new Error(`reward server check failed: ${JSON.stringify(check)}`);
    await load(`${rewardURL}/get_reward`, body); // warm-up (also fills the JIT)
    const before = await serverMemory(rewardURL);
    const server = await load(`${rewardURL}/get_reward`, body);
    const after = await serverMemory(rewardURL);
    const bare = await load(`${bareURL}/`, body);
    if (server.errors > 0 || bare.errors > 0)
      throw new Error(`load: ${server.errors} reward server errors, ${bare.errors} bare errors`);
    console.log(
      `2. reward server (lexical judge, POST /get_reward, ${LOAD_CONNECTIONS} connections, ${LOAD_SECONDS}s): ${server.requestsPerSecond.toFixed(0)} req/s, p50 ${server.p50.toFixed(2)} ms, p99 ${server.p99.toFixed(2)} ms, ${server.errors} errors of ${server.requests}`,
    );
    console.log(
      `   bare node:http, same load: ${bare.requestsPerSecond.toFixed(0)} req/s, p50 ${bare.p50.toFixed(2)} ms, p99 ${bare.p99.toFixed(2)} ms → reward server at ${(server.requestsPerSecond / bare.requestsPerSecond).toFixed(2)}x of bare`,
    );
    console.log(
      `   server memory before/after the measured phase: RSS ${mb(before.rss)} → ${mb(after.rss)}, heap ${mb(before.heap)} → ${mb(after.heap)}`,
    );
  } finally {
    rewardChild.stop();
  }

  // 3.
  const cache = cacheBench();
  const rate = (value: number) => `${(value / 1e6).toFixed(2)} M/s`;
  const line = (label: string, entry: { scope: number; map: number }) =>
    `${label} ${rate(entry.scope)} vs Map.get ${rate(entry.map)} (${(entry.scope / entry.map).toFixed(2)}x)`;
  console.log(
    `3. cache hits (${CACHE_ENTRIES} entries, probes are equal but distinct strings): ${line('hot (one 4096-item batch)', cache.hot)}; ${line('GRPO-grouped over the whole cache', cache.grouped)}; ${line('scattered', cache.scattered)} (goal ≥ 1 M hits/s)`,
  );

  console.log(`reward: ${pipelineRatio.toFixed(2)}x judge pipeline vs raw fetch at ${IN_FLIGHT} in flight`);
}

await main();
