// Throughput and latency of `rlpt serve model` on a tiny model under a bounded loopback load, with
// batching (the decode engine's continuous batching, up to --max-batch sequences) vs with batching off,
// measured in the same run.
//
// Server: the real CLI (`packages/cli/src/bin.ts serve model --model DIR --port 0 --max-batch N`, run
// through tsx) in a child process, so the load generator and the server do not share an event loop.
// Load: LOAD_CONNECTIONS keep-alive connections to 127.0.0.1, each sending POST /v1/completions one after
// the other (closed loop) for LOAD_SECONDS, at most MAX_REQUESTS per phase. Each request: a short prompt
// from a fixed list, max_tokens 16, temperature 1. Phases: warm-up, then ROUNDS pairs of (batching off =
// --max-batch 1, one sequence batch at a time; batching = --max-batch 64). Headline = median over
// pairs of (batching req/s ÷ batching-off req/s): pairing cancels the drift of a shared machine.
// Any non-200 reply or socket error counts as an error and fails the bench.
//
// Then the client overhead of @rlpt/backend-openai: requests/s of CLIENT_WORKERS concurrent
// backend.generate() loops vs the same number of raw fetch() + res.json() loops sending the same body to
// the same server (batching on), at max_tokens 1 (the client's share as large as it gets) and 16;
// short slices in ABBA order, medians of the per-pair ratios. Two views: the requests/s ratio (what the issue
// asks; on a shared 2-core machine it swings with other load, since client and server compete for the
// cores) and the ratio of this process's CPU time per request (the client's own cost; the server runs in
// another process, so this is the steadier measure). Goal ≥ 0.9×.
//
// Then streaming on the decode engine: STREAMS concurrent requests of STREAM_TOKENS tokens (ignore_eos,
// so every reply has the same length), streamed (time to first token, per-stream and aggregate
// tokens/s) vs not streamed (the first token arrives with the whole reply), in ABBA order, medians.
//
// Run alone: `pnpm bench:serve` (RLPT_BENCH_SECONDS changes the phase length; default 6).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOpenAIBackend } from '@rlpt/backend-openai';
import { createTinyModel } from '@rlpt/model';

const LOAD_CONNECTIONS = 64;
const LOAD_SECONDS = Number(process.env.RLPT_BENCH_SECONDS ?? 6);
const ROUNDS = 3;
const MAX_REQUESTS = 200_000;
const CLIENT_WORKERS = 16;
const CLIENT_PAIRS = 6;
const CLIENT_SLICE_SECONDS = 1.5;
const STREAMS = 8;
const STREAM_TOKENS = 64;
const STREAM_PAIRS = 4;
const MODEL = 'tiny';
const PROMPTS = [
  'The capital of France is',
  'Once upon a time',
  'In 1905, Albert Einstein published',
  'The quick brown fox',
  'Water boils at',
  'A sentence about trains:',
  'def fibonacci(n):',
  'The mitochondria is',
];
const cliRoot = fileURLToPath(new URL('../packages/cli/', import.meta.url));

interface Server {
  port: number;
  health(): Promise<{ batches: number; requests: number }>;
  stop(): Promise<void>;
}

/** Starts `rlpt serve model` in a child process and waits for its URL. */
async function startServer(modelDir: string, maxBatch: number): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@rlpt/source',
      'src/bin.ts',
      'serve',
      'model',
      '--model',
      modelDir,
      '--served-model-name',
      MODEL,
      '--port',
      '0',
      '--max-batch',
      String(maxBatch),
    ],
    { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /at http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(stdout);
      if (match?.[1]) {
        clearInterval(timer);
        resolve(Number(match[1]));
      }
    }, 20);
    exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`rlpt serve model exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    async health() {
      return (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        batches: number;
        requests: number;
      };
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`rlpt serve model exited with ${code} on SIGTERM: ${stderr}`);
    },
  };
}

interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
  firstError?: string;
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Closed-loop load: `connections` workers on keep-alive sockets, bounded by time and request count. */
async function runLoad(
  port: number,
  connections: number,
  seconds: number,
  maxTokens: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const deadline = performance.now() + seconds * 1000;
  const result: LoadResult = { requests: 0, errors: 0, seconds, latenciesMs: [] };
  let issued = 0;
  const send = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/completions',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      while (performance.now() < deadline && issued < MAX_REQUESTS) {
        issued++;
        const body = JSON.stringify({
          model: MODEL,
          prompt: PROMPTS[(worker + issued) % PROMPTS.length],
          max_tokens: maxTokens,
          temperature: 1,
        });
        const sent = performance.now();
        try {
          const status = await send(body);
          if (status !== 200) {
            result.errors++;
            result.firstError ??= `HTTP ${status}`;
          }
        } catch (error) {
          result.errors++;
          result.firstError ??= String(error);
        }
        result.requests++;
        result.latenciesMs.push(performance.now() - sent);
      }
    }),
  );
  result.seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return result;
}

interface Phase {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function phase(modelDir: string, maxBatch: number, label: string): Promise<Phase> {
  const server = await startServer(modelDir, maxBatch);
  try {
    const before = await server.health();
    const load = await runLoad(server.port, LOAD_CONNECTIONS, LOAD_SECONDS, 16);
    const after = await server.health();
    const sorted = [...load.latenciesMs].sort((a, b) => a - b);
    const result: Phase = {
      rps: load.requests / load.seconds,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      errors: load.errors,
    };
    const perCall = (after.requests - before.requests) / Math.max(1, after.batches - before.batches);
    console.log(
      `${label.padEnd(40)} ${String(load.requests).padStart(6)} requests in ${load.seconds.toFixed(1)} s: ${result.rps.toFixed(1).padStart(7)} req/s, p50 ${result.p50.toFixed(0).padStart(5)} ms, p99 ${result.p99.toFixed(0).padStart(5)} ms, ${perCall.toFixed(1)} requests/generate call, ${load.errors} errors${load.firstError ? ` (first: ${load.firstError})` : ''}`,
    );
    return result;
  } finally {
    await server.stop();
  }
}

/** Closed-loop rate of `workers` concurrent calls to `call` for `seconds`, and this process's CPU per call. */
async function loopRate(
  workers: number,
  seconds: number,
  call: (index: number) => Promise<void>,
): Promise<{ rps: number; cpuMicrosPerCall: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline && done < MAX_REQUESTS) {
        await call(done);
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return {
    rps: done / ((performance.now() - started) / 1000),
    cpuMicrosPerCall: (used.user + used.system) / done,
  };
}

async function clientOverhead(modelDir: string, maxTokens: number): Promise<number> {
  const server = await startServer(modelDir, 64);
  try {
    const baseURL = `http://127.0.0.1:${server.port}/v1`;
    const client = createOpenAIBackend({
      baseURL,
      model: MODEL,
      server: 'vllm',
      concurrency: CLIENT_WORKERS,
    });
    const viaBackend = async (index: number) => {
      const result = await client.generate({ prompts: [PROMPTS[index % PROMPTS.length]!], maxTokens });
      if (result.results[0]?.completions.length !== 1)
        throw new Error('backend-openai returned no completion');
    };
    const viaFetch = async (index: number) => {
      // The body backend-openai sends for server: 'vllm', so both ask the server for the same work.
      const response = await fetch(`${baseURL}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          n: 1,
          max_tokens: maxTokens,
          temperature: 1,
          top_p: 1,
          top_k: -1,
          min_p: 0,
          prompt: PROMPTS[index % PROMPTS.length],
          return_token_ids: true,
        }),
      });
      const json = (await response.json()) as { choices?: unknown[] };
      if (response.status !== 200 || json.choices?.length !== 1)
        throw new Error(`raw fetch got HTTP ${response.status}`);
    };
    await loopRate(CLIENT_WORKERS, 1, viaFetch);
    await loopRate(CLIENT_WORKERS, 1, viaBackend);
    const rateRatios: number[] = [];
    const cpuRatios: number[] = [];
    const fetchCpu: number[] = [];
    const backendCpu: number[] = [];
    for (let pair = 0; pair < CLIENT_PAIRS; pair++) {
      // ABBA: alternate which goes first so a drifting machine load favours neither.
      const fetchFirst = pair % 2 === 0;
      const first = await loopRate(CLIENT_WORKERS, CLIENT_SLICE_SECONDS, fetchFirst ? viaFetch : viaBackend);
      const second = await loopRate(CLIENT_WORKERS, CLIENT_SLICE_SECONDS, fetchFirst ? viaBackend : viaFetch);
      const [raw, backend] = fetchFirst ? [first, second] : [second, first];
      rateRatios.push(backend.rps / raw.rps);
      cpuRatios.push(raw.cpuMicrosPerCall / backend.cpuMicrosPerCall);
      fetchCpu.push(raw.cpuMicrosPerCall);
      backendCpu.push(backend.cpuMicrosPerCall);
    }
    const ratio = median(cpuRatios);
    console.log(
      `client requests/s, @rlpt/backend-openai ÷ raw fetch (${CLIENT_WORKERS} workers, max_tokens ${maxTokens}, ${CLIENT_PAIRS} ABBA pairs of ${CLIENT_SLICE_SECONDS} s): ${rateRatios.map((value) => value.toFixed(2)).join(' ')} → median ${median(rateRatios).toFixed(2)}x`,
    );
    console.log(
      `client CPU per request, max_tokens ${maxTokens} (this process; the server is another): raw fetch ${median(fetchCpu).toFixed(0)} µs, @rlpt/backend-openai ${median(backendCpu).toFixed(0)} µs → ${ratio.toFixed(2)}x the requests/s one core sustains (goal ≥ 0.9x)`,
    );
    return ratio;
  } finally {
    await server.stop();
  }
}

interface StreamRound {
  /** Median time to the first token over the requests, ms. */
  ttftMs: number;
  /** Median tokens/s of one request after its first token. */
  perStreamTokensPerSecond: number;
  /** Tokens of all requests ÷ wall time. */
  aggregateTokensPerSecond: number;
}

/** STREAMS concurrent completions of STREAM_TOKENS tokens, streamed or not. */
async function streamRound(port: number, stream: boolean): Promise<StreamRound> {
  const started = performance.now();
  const rounds = await Promise.all(
    Array.from({ length: STREAMS }, async (_, index) => {
      const sent = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          prompt: PROMPTS[index % PROMPTS.length],
          max_tokens: STREAM_TOKENS,
          temperature: 1,
          ignore_eos: true,
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        }),
      });
      if (response.status !== 200 || !response.body)
        throw new Error(`streaming bench: HTTP ${response.status}`);
      let first: number | undefined;
      let tokens = 0;
      if (!stream) {
        const json = (await response.json()) as { usage: { completion_tokens: number } };
        first = performance.now();
        tokens = json.usage.completion_tokens;
      } else {
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
            const data = JSON.parse(event.slice(6)) as {
              choices: { text: string }[];
              usage?: { completion_tokens: number };
            };
            if (data.choices.length > 0) first ??= performance.now();
            if (data.usage) tokens = data.usage.completion_tokens;
          }
        }
      }
      const done = performance.now();
      if (tokens !== STREAM_TOKENS)
        throw new Error(`streaming bench: ${tokens} tokens, not ${STREAM_TOKENS}`);
      const ttft = (first ?? done) - sent;
      return {
        ttft,
        perStream: done > (first ?? done) ? (tokens - 1) / ((done - (first ?? done)) / 1000) : Number.NaN,
      };
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    ttftMs: median(rounds.map((round) => round.ttft)),
    perStreamTokensPerSecond: median(rounds.map((round) => round.perStream)),
    aggregateTokensPerSecond: (STREAMS * STREAM_TOKENS) / seconds,
  };
}

async function streaming(modelDir: string): Promise<void> {
  const server = await startServer(modelDir, 64);
  try {
    await streamRound(server.port, true);
    const streamed: StreamRound[] = [];
    const whole: StreamRound[] = [];
    for (let pair = 0; pair < STREAM_PAIRS; pair++) {
      const streamFirst = pair % 2 === 0;
      const first = await streamRound(server.port, streamFirst);
      const second = await streamRound(server.port, !streamFirst);
      streamed.push(streamFirst ? first : second);
      whole.push(streamFirst ? second : first);
    }
    const ttftStreamed = median(streamed.map((round) => round.ttftMs));
    const ttftWhole = median(whole.map((round) => round.ttftMs));
    console.log(
      `streaming (${STREAMS} concurrent × ${STREAM_TOKENS} tokens, ${STREAM_PAIRS} ABBA pairs): time to first token ${ttftStreamed.toFixed(0)} ms streamed vs ${ttftWhole.toFixed(0)} ms for the whole non-streamed reply (${(ttftWhole / ttftStreamed).toFixed(1)}x sooner); ${median(streamed.map((round) => round.perStreamTokensPerSecond)).toFixed(0)} tokens/s per stream, ${median(streamed.map((round) => round.aggregateTokensPerSecond)).toFixed(0)} tokens/s aggregate streamed vs ${median(whole.map((round) => round.aggregateTokensPerSecond)).toFixed(0)} not streamed`,
    );
  } finally {
    await server.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'rlpt-bench-serve-'));
try {
  const model = await createTinyModel({ dir: join(dir, 'tiny') });
  console.log(
    `serve bench: rlpt serve model (decode engine, continuous batching) on a tiny model (${model.dir}), ${LOAD_CONNECTIONS} connections × ${LOAD_SECONDS} s per phase, max_tokens 16, loopback`,
  );
  await phase(model.dir, 64, 'warm-up (continuous batching)');
  const off: Phase[] = [];
  const on: Phase[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    off.push(await phase(model.dir, 1, `batching off (--max-batch 1), round ${round + 1}`));
    on.push(await phase(model.dir, 64, `continuous batching (--max-batch 64), round ${round + 1}`));
    ratios.push(on[round]!.rps / off[round]!.rps);
  }
  const errors = [...off, ...on].reduce((sum, result) => sum + result.errors, 0);
  const summary = (name: string, phases: Phase[]) =>
    `${name}: median ${median(phases.map((result) => result.rps)).toFixed(1)} req/s, p50 ${median(phases.map((result) => result.p50)).toFixed(0)} ms, p99 ${median(phases.map((result) => result.p99)).toFixed(0)} ms`;
  console.log(summary('batching off  ', off));
  console.log(summary('batching      ', on));
  console.log(`per-round throughput ratios: ${ratios.map((value) => value.toFixed(2)).join(' ')}`);
  // 1 token: the client's largest share of the work (worst case); 16 tokens: a server doing some work.
  await clientOverhead(model.dir, 1);
  await clientOverhead(model.dir, 16);
  await streaming(model.dir);
  if (errors > 0) {
    console.error(`serve bench: ${errors} requests failed; the numbers above are not valid`);
    process.exitCode = 1;
  }
  console.log(
    `serve: ${median(ratios).toFixed(2)}x requests/s with continuous batching vs batching off (rlpt serve model, tiny model, ${LOAD_CONNECTIONS} connections, ${errors} errors)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
