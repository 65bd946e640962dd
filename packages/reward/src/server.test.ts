import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTaskPrompt, wrapPrediction } from '@rlpt/prompts';
import type { JudgeV1, RlptEvent } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { backendFor } from '../test/helpers.js';
import { createGenerativeJudge } from './generative.js';
import { formatRewardLabel } from './label.js';
import { createLexicalJudge } from './lexical.js';
import {
  type RewardServer,
  type RewardServerOptions,
  TimeSlicer,
  createRewardServer,
  parseJsonSliced,
  stringifySliced,
} from './server.js';
import { type ScriptedJudgeServer, startScriptedJudgeServer } from './testing/index.js';

const context = 'The lighthouse stood on a rock far from the shore. Storms often cut it off for days.';
const reference =
  'The lighthouse keeper climbed the spiral stairs at dusk. He lit the great lamp and watched the ships. By midnight the fog had rolled in from the sea.';
const target = 'The lighthouse keeper climbed the spiral stairs at dusk.';
const label = formatRewardLabel({ reference, target, task: 'asr', id: 'doc-1:2' });
const prompt = renderTaskPrompt('asr', { context });
const response = (prediction: string) => `Let me think step by step. ${wrapPrediction(prediction)}<|im_end|>`;

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((entry) => entry.close()));
});

async function start(options: Partial<RewardServerOptions> = {}): Promise<RewardServer & { url: string }> {
  const server = createRewardServer({ judge: createLexicalJudge(), ...options });
  await server.listen({ port: 0 });
  running.push(server);
  return server as RewardServer & { url: string };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? JSON.parse(text) : undefined,
  };
}

/**
 * Opens `count` raw sockets that send a POST's headers (announcing a 1 MB body) and then one byte every
 * `intervalMs`. Resolves, per socket, what the server answered and when the socket closed.
 */
function trickleClients(url: string, path: string, count: number, intervalMs: number) {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  const sockets: ReturnType<typeof connect>[] = [];
  const outcomes = Array.from({ length: count }, () => {
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      received += text;
    });
    socket.on('error', () => {});
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{`,
    );
    const timer = setInterval(() => {
      if (socket.writable) socket.write(' ');
    }, intervalMs);
    return new Promise<{ status: number | undefined; closedAfterMs: number }>((resolve) => {
      socket.on('close', () => {
        clearInterval(timer);
        const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
        resolve({ status: match ? Number(match[1]) : undefined, closedAfterMs: performance.now() - started });
      });
    });
  });
  return {
    outcomes: Promise.all(outcomes),
    destroy: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe('POST /get_reward (OpenRLHF remote reward protocol)', () => {
  it('answers {query, prompts, labels} with {rewards, scores, extra_logs}', async () => {
    const server = await start();
    const queries = [
      prompt + response(target),
      prompt + response('A ship sank far out at sea last winter.'),
      `${prompt}I am not sure what comes next.`,
      `<s>${prompt}${response(target)}`,
    ];
    const { status, json } = await post(`${server.url}/get_reward`, {
      query: queries,
      prompts: queries.map(() => prompt),
      labels: queries.map(() => label),
    });
    expect(status).toBe(200);
    expect(json).toEqual({
      rewards: [1, 0, 0, 1],
      scores: [1, 0, 0, 1],
      extra_logs: {
        judged: [1, 1, 0, 1],
        skipped: [0, 0, 1, 0],
        judge_failed: [0, 0, 0, 0],
        cached: [0, 0, 0, 0],
      },
    });
  });

  it('does not take the tag pair in the prompt’s own instructions for a prediction', async () => {
    const server = await start();
    // The ASR prompt mentions "<|startofprediction|> and <|endofprediction|>": a complete pair around " and ".
    const { json } = await post(`${server.url}/get_reward`, {
      query: [`${prompt} no tags in this response at all`],
      prompts: [prompt],
      labels: [label],
    });
    expect(json.rewards).toEqual([0]);
    expect(json.extra_logs.skipped).toEqual([1]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(
      'rlpt_reward_judge_failures_total{reason="prediction-missing",status="skipped"} 1',
    );
  });

  it('accepts plain-text labels and strict mode from the label', async () => {
    const server = await start();
    const { json } = await post(`${server.url}/get_reward`, {
      query: [prompt + response(target), prompt + response(target)],
      prompts: [prompt, prompt],
      labels: [
        reference,
        JSON.stringify({ reference, target: 'Something else entirely happened here.', mode: 'strict' }),
      ],
    });
    expect(json.rewards).toEqual([1, 0]);
  });

  it("scores a fragment of the target 0, as `rlpt train` does (the label's target reaches the judge)", async () => {
    const server = await start();
    const fragment = 'The lighthouse keeper climbed';
    const local = await createLexicalJudge().judge([
      { prediction: fragment, reference, target, mode: 'prefix' },
    ]);
    expect(local[0]).toMatchObject({ score: 0, reason: 'partial-target' });
    const { json } = await post(`${server.url}/get_reward`, {
      query: [prompt + response(fragment), prompt + response(target), prompt + response(fragment)],
      prompts: [prompt, prompt, prompt],
      // A plain-text label is the whole reference: no target to cover, so a prefix still scores.
      labels: [label, label, reference],
    });
    expect(json.rewards).toEqual([0, 1, 1]);
    const batch = await post(`${server.url}/v1/reward`, {
      items: [
        { prediction: fragment, label },
        { prediction: fragment, label: JSON.parse(label) },
        { prediction: fragment, reference, target },
        { prediction: target, label },
      ],
    });
    expect(batch.json.verdicts.map((verdict: { score: number }) => verdict.score)).toEqual([0, 0, 0, 1]);
    expect(batch.json.verdicts[0].reason).toBe('partial-target');
  });

  it('scores a bad label 0 as a judge failure, reports it by index, and judges the rest', async () => {
    const events: RlptEvent[] = [];
    const server = await start({ onEvent: (event) => events.push(event) });
    const { status, json } = await post(`${server.url}/get_reward`, {
      query: [prompt + response(target), prompt + response(target), prompt + response(target)],
      prompts: [prompt, prompt, prompt],
      labels: ['{"reference": ', '', label],
    });
    expect(status).toBe(200);
    expect(json.rewards).toEqual([0, 0, 1]);
    expect(json.extra_logs.judge_failed).toEqual([1, 1, 0]);
    expect(events).toEqual([
      {
        type: 'judge-error',
        reason: 'invalid-label',
        message: expect.stringMatching(/^labels\[0\]: the label starts with "\{" but is not valid JSON/),
      },
      {
        type: 'judge-error',
        reason: 'invalid-label',
        message: expect.stringMatching(/^labels\[1\]: the label is empty: pass the label column/),
      },
    ]);
  });

  it.each([
    ['not JSON', '{"query": [', 400, 'invalid-json'],
    ['an array', '[]', 400, 'invalid-request'],
    ['missing labels', JSON.stringify({ query: ['a'], prompts: ['a'] }), 400, 'invalid-request'],
    [
      'length mismatch',
      JSON.stringify({ query: ['a', 'b'], prompts: ['a'], labels: ['x'] }),
      400,
      'invalid-request',
    ],
    [
      'non-string query',
      JSON.stringify({ query: [1], prompts: ['a'], labels: ['x'] }),
      400,
      'invalid-request',
    ],
  ])('answers %s with %i and a reason, and keeps serving', async (_name, body, status, code) => {
    const server = await start();
    const result = await post(`${server.url}/get_reward`, body);
    expect(result.status).toBe(status);
    expect(result.json.error.code).toBe(code);
    expect(result.json.error.message.length).toBeGreaterThan(10);
    const again = await post(`${server.url}/get_reward`, {
      query: [prompt + response(target)],
      prompts: [prompt],
      labels: [label],
    });
    expect(again.json.rewards).toEqual([1]);
  });

  it('names the problem in the 400 message', async () => {
    const server = await start();
    const result = await post(`${server.url}/get_reward`, {
      query: ['a', 'b'],
      prompts: ['a', 'b'],
      labels: ['x'],
    });
    expect(result.json.error.message).toBe(
      '"query", "prompts" and "labels" must have the same length; got 2, 2 and 1.',
    );
    const invalid = await post(`${server.url}/get_reward`, '{"query": [');
    expect(invalid.json.error.message).toMatch(/^The request body is not valid JSON: /);
  });
});

describe('POST /v1/reward (batch endpoint)', () => {
  it('judges predictions or raw responses against references or labels', async () => {
    const server = await start();
    const { status, json } = await post(`${server.url}/v1/reward`, {
      items: [
        { id: 'a', prediction: target, reference },
        { id: 'b', response: response(target), label },
        {
          id: 'c',
          response: response(target),
          label: { reference, target: 'Nothing like it.' },
          mode: 'strict',
        },
        { id: 'd', response: 'no tags', label },
        { id: 'e', prediction: target },
        { id: 'f', prediction: 'The', reference },
      ],
    });
    expect(status).toBe(200);
    expect(json.verdicts).toEqual([
      { id: 'a', score: 1, status: 'ok', raw: expect.any(String) },
      { id: 'b', score: 1, status: 'ok', raw: expect.any(String) },
      { id: 'c', score: 0, status: 'ok', raw: expect.any(String) },
      { id: 'd', score: 0, status: 'skipped', reason: 'prediction-missing' },
      { id: 'e', score: 0, status: 'failed', reason: 'invalid-item' },
      { id: 'f', score: 0, status: 'skipped', reason: 'too-short' },
    ]);
    expect(json.summary).toEqual({ items: 6, ok: 3, skipped: 2, failed: 1, meanScore: 2 / 6 });
  });

  it('rejects a body without items', async () => {
    const server = await start();
    const { status, json } = await post(`${server.url}/v1/reward`, { predictions: [] });
    expect(status).toBe(400);
    expect(json.error.message).toBe('"items" must be an array (missing).');
  });
});

describe('server operation', () => {
  it('serves /health and Prometheus /metrics', async () => {
    const server = await start();
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({
      status: 'ok',
      judge: 'lexical',
      inFlight: 0,
    });
    await post(`${server.url}/v1/reward`, {
      items: [
        { prediction: target, reference },
        { prediction: target, reference },
      ],
    });
    await post(`${server.url}/v1/reward`, 'oops');
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('# TYPE rlpt_reward_http_requests_total counter');
    expect(text).toContain('rlpt_reward_http_requests_total{code="200",route="/v1/reward"} 1');
    expect(text).toContain('rlpt_reward_http_requests_total{code="400",route="/v1/reward"} 1');
    expect(text).toContain('rlpt_reward_http_request_duration_seconds_count{route="/v1/reward"} 2');
    expect(text).toMatch(
      /rlpt_reward_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/reward"\} 2/,
    );
    expect(text).toContain('rlpt_reward_items_total{status="ok"} 2');
    expect(text).toContain('rlpt_judge_stats{counter="items",judge="lexical"} 2');
  });

  it('counts cache hits and judge failures in /metrics', async () => {
    const judgeServer: ScriptedJudgeServer = await startScriptedJudgeServer({
      model: (text) => (text.includes('zebra') ? 'no idea' : 'Score: 1'),
    });
    running.push(judgeServer);
    const judge = createGenerativeJudge({ backend: backendFor(judgeServer) });
    const server = await start({ judge });
    const items = [
      { prediction: target, reference },
      { prediction: target, reference },
      { prediction: 'The keeper fed a zebra.', reference },
    ];
    await post(`${server.url}/v1/reward`, { items });
    const second = await post(`${server.url}/v1/reward`, { items: items.slice(0, 1) });
    expect(second.json.verdicts[0].cached).toBe(true);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('rlpt_reward_cache_hits_total 1');
    expect(text).toContain('rlpt_reward_judge_failures_total{reason="unparseable",status="failed"} 1');
    expect(text).toMatch(
      /rlpt_judge_stats\{counter="deduplicated",judge="generative:openai:scripted-judge"\} 1/,
    );
  });

  it('exposes the recent judge failure rate by reason and warns once when it crosses maxJudgeFailureRate', async () => {
    // Fails predictions mentioning "garbled" (unparseable), and "slow" as a zeroed failure (onFailure: 'zero').
    const flaky: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'flaky',
      async judge(items) {
        return items.map((item) =>
          item.prediction.includes('garbled')
            ? { score: 0, status: 'failed' as const, reason: 'unparseable' }
            : item.prediction.includes('slow')
              ? { score: 0, status: 'ok' as const, reason: 'judge-failure:timeout' }
              : { score: 1, status: 'ok' as const },
        );
      },
    };
    const warnings: string[] = [];
    const events: RlptEvent[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (message: string) => warnings.push(message) };
    const server = await start({ judge: flaky, logger, onEvent: (event) => events.push(event) });
    const items = (good: number, garbled: number, slow: number) => ({
      items: [
        ...Array.from({ length: good }, () => ({ prediction: target, reference })),
        ...Array.from({ length: garbled }, () => ({ prediction: 'garbled words here', reference })),
        ...Array.from({ length: slow }, () => ({ prediction: 'slow words here', reference })),
      ],
    });
    // 3 of 30 failed (10%): below the default 20%.
    await post(`${server.url}/v1/reward`, items(27, 2, 1));
    expect(warnings).toEqual([]);
    let metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('rlpt_reward_judge_failure_rate 0.1\n');
    expect(metrics).toContain('rlpt_reward_judge_failure_rate_threshold 0.2\n');
    // 3 + 12 of 30 + 20 failed (30%): one warning, naming the rate and the reasons.
    await post(`${server.url}/v1/reward`, items(8, 8, 4));
    await post(`${server.url}/v1/reward`, items(0, 1, 0));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /judge failure rate 30\.0% \(15 of 50 samples .*above 20\.0%.*unparseable 10, timeout 5/,
    );
    expect(events.filter((event) => event.type === 'warning')).toHaveLength(1);
    metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('rlpt_reward_window_samples 51\n');
    expect(metrics).toContain(`rlpt_reward_judge_failure_rate ${16 / 51}\n`);
    expect(metrics).toContain(`rlpt_reward_judge_failure_rate_by_reason{reason="unparseable"} ${11 / 51}\n`);
    expect(metrics).toContain(`rlpt_reward_judge_failure_rate_by_reason{reason="timeout"} ${5 / 51}\n`);
    expect(metrics).toContain('rlpt_reward_window_judge_failures{reason="unparseable"} 11\n');
    // Back below the threshold re-arms the warning; crossing again warns again.
    await post(`${server.url}/get_reward`, {
      query: Array.from({ length: 40 }, () => prompt + response(target)),
      prompts: Array.from({ length: 40 }, () => prompt),
      labels: Array.from({ length: 40 }, () => label),
    });
    await post(`${server.url}/v1/reward`, items(0, 30, 0));
    expect(warnings).toHaveLength(2);
  });

  it('takes the failure threshold and window as options', async () => {
    expect(() => createRewardServer({ judge: createLexicalJudge(), maxJudgeFailureRate: 1.5 })).toThrow(
      /maxJudgeFailureRate must be a number in \[0, 1\]/,
    );
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (message: string) => warnings.push(message) };
    const server = await start({ maxJudgeFailureRate: 0.5, failureWindowMs: 200, logger });
    const bad = { items: Array.from({ length: 30 }, () => ({ prediction: target, label: '{"reference":' })) };
    const good = { items: Array.from({ length: 30 }, () => ({ prediction: target, reference })) };
    await post(`${server.url}/v1/reward`, good);
    await post(`${server.url}/v1/reward`, { items: [...good.items, ...bad.items.slice(0, 20)] });
    expect(warnings.filter((message) => message.includes('failure rate'))).toEqual([]); // 20 of 80
    // After the window has passed, only the new samples count: 30 of 30 failed.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await post(`${server.url}/v1/reward`, bad);
    expect(warnings.filter((message) => message.includes('failure rate'))).toEqual([
      expect.stringMatching(/judge failure rate 100\.0% \(30 of 30 samples.*invalid-label 30/),
    ]);
  });

  it('requires the bearer token when one is set (except /health)', async () => {
    const server = await start({ token: 's3cret' });
    const body = { items: [{ prediction: target, reference }] };
    expect((await post(`${server.url}/v1/reward`, body)).status).toBe(401);
    const wrong = await post(`${server.url}/v1/reward`, body, { authorization: 'Bearer s3cre' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(`${server.url}/v1/reward`, body, { authorization: 'Bearer s3cret' })).status).toBe(
      200,
    );
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('limits the body size with 413', async () => {
    const server = await start({ maxBodyBytes: 1024 });
    const big = { items: [{ prediction: 'x '.repeat(1000), reference }] };
    const result = await post(`${server.url}/v1/reward`, big);
    expect(result.status).toBe(413);
    expect(result.json.error.message).toMatch(/limit is 1024/);
    // Chunked upload without content-length is cut off too.
    const chunked = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${server.url}/v1/reward`, { method: 'POST' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      for (let index = 0; index < 10; index++) request.write('x'.repeat(200));
      request.end();
    });
    expect(chunked).toBe(413);
  });

  it('answers 429 with Retry-After when all request slots are busy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'slow',
      async judge(items) {
        await gate;
        return items.map(() => ({ score: 1, status: 'ok' as const }));
      },
    };
    const server = await start({ judge: slow, maxConcurrentRequests: 2, retryAfterSeconds: 3 });
    const body = { items: [{ prediction: target, reference }] };
    const first = post(`${server.url}/v1/reward`, body);
    const second = post(`${server.url}/v1/reward`, body);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await post(`${server.url}/v1/reward`, body);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('3');
    expect(third.json.error.code).toBe('busy');
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect((await post(`${server.url}/v1/reward`, body)).status).toBe(200);
  });

  it('keeps serving while 256 clients trickle their bodies; they get 408 after bodyTimeoutMs', {
    timeout: 20_000,
  }, async () => {
    const bodyTimeoutMs = 1_500;
    const server = await start({ maxConcurrentRequests: 8, bodyTimeoutMs });
    const slow = trickleClients(server.url, '/get_reward', 256, 100);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const body = { query: [prompt + response(target)], prompts: [prompt], labels: [label] };
      const statuses: number[] = [];
      for (let round = 0; round < 5; round++) {
        statuses.push((await post(`${server.url}/get_reward`, body)).status);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Every normal request is scored while the slow ones are still connected.
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const outcomes = await slow.outcomes;
      expect(outcomes.filter((outcome) => outcome.status === 408).length).toBeGreaterThan(200);
      expect(outcomes.every((outcome) => outcome.status === 408 || outcome.status === undefined)).toBe(true);
      const last = Math.max(...outcomes.map((outcome) => outcome.closedAfterMs));
      expect(last).toBeGreaterThan(bodyTimeoutMs - 100);
      expect(last).toBeLessThan(bodyTimeoutMs + 5_000);
      expect(server.metrics()).toContain('rlpt_reward_http_requests_total{code="408",route="/get_reward"}');
    } finally {
      slow.destroy();
    }
  });

  it.each([
    ['/get_reward', 40_000],
    ['/v1/reward', 40_000],
  ])(
    'keeps /health responsive while it scores a %s request of %i samples',
    // Timed on shared CPUs: a stray preemption can hit one attempt, while a server that blocks fails every one.
    { timeout: 90_000, retry: 2 },
    async (route, count) => {
      const server = await start({ maxBodyBytes: 256 * 1024 * 1024 });
      const sentence = (index: number) => `The keeper lit lamp number ${index} and watched the ships pass.`;
      const body =
        route === '/get_reward'
          ? JSON.stringify({
              query: Array.from({ length: count }, (_, index) => `Continue: ${response(sentence(index))}`),
              prompts: Array.from({ length: count }, () => 'Continue: '),
              labels: Array.from({ length: count }, (_, index) =>
                formatRewardLabel({
                  reference: `${sentence(index)} Then fog came.`,
                  target: sentence(index),
                }),
              ),
            })
          : JSON.stringify({
              items: Array.from({ length: count }, (_, index) => ({
                response: response(sentence(index)),
                label: { reference: `${sentence(index)} Then fog came.`, target: sentence(index) },
              })),
            });
      // The big request comes from another process, so only the server's work is timed here.
      const dir = await mkdtemp(join(tmpdir(), 'rlpt-reward-big-'));
      const file = join(dir, 'body.json');
      await writeFile(file, body);
      const client = execFile(process.execPath, [
        '-e',
        `const http = require('node:http'); const body = require('node:fs').readFileSync(process.argv[1]);
         const request = http.request(process.argv[2], { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
           const chunks = []; response.on('data', (chunk) => chunks.push(chunk));
           response.on('end', () => {
             const body = JSON.parse(Buffer.concat(chunks).toString());
             const ok = body.rewards ? body.rewards.filter((reward) => reward === 1).length : body.summary?.ok;
             process.stdout.write(JSON.stringify({ status: response.statusCode, ok }));
           });
         });
         request.end(body);`,
        file,
        `${server.url}${route}`,
      ]);
      let output = '';
      client.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      let done = false;
      const exited = new Promise<void>((resolve) => client.on('close', () => resolve())).finally(() => {
        done = true;
      });
      const latencies: number[] = [];
      try {
        while (!done) {
          const started = performance.now();
          const health = await fetch(`${server.url}/health`);
          await health.text();
          latencies.push(performance.now() - started);
        }
        await exited;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      expect(JSON.parse(output)).toEqual({ status: 200, ok: count });
      // Timed on a shared machine, so the bound is loose; a server that parses, prepares or answers the whole
      // request in one go stalls /health for 0.2–0.6 s here and fails it.
      expect(latencies.length).toBeGreaterThan(5);
      expect(Math.max(...latencies), `slowest /health of ${latencies.length}`).toBeLessThan(150);
    },
  );

  it('answers 504 when the judge exceeds the request timeout, even a judge that ignores abort', async () => {
    const never: JudgeV1 = { specificationVersion: 'v1', name: 'never', judge: () => new Promise(() => {}) };
    const server = await start({ judge: never, requestTimeoutMs: 100 });
    const result = await post(`${server.url}/v1/reward`, { items: [{ prediction: target, reference }] });
    expect(result.status).toBe(504);
    expect(result.json.error.code).toBe('timeout');
  });

  it('answers 404 and 405 with the allowed routes and methods', async () => {
    const server = await start();
    const missing = await fetch(`${server.url}/reward`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      'POST /get_reward',
    );
    const wrongMethod = await fetch(`${server.url}/get_reward`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('a judge that throws costs one 500, not the server', async () => {
    const throwing: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'throwing',
      async judge() {
        throw new Error('model exploded');
      },
    };
    const server = await start({ judge: throwing });
    const result = await post(`${server.url}/v1/reward`, { items: [{ prediction: target, reference }] });
    expect(result.status).toBe(500);
    expect(result.json.error.message).toBe('The judge failed: model exploded');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('shuts down gracefully: in-flight requests finish, new ones are refused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: JudgeV1 = {
      specificationVersion: 'v1',
      name: 'slow',
      async judge(items) {
        await gate;
        return items.map(() => ({ score: 1, status: 'ok' as const }));
      },
    };
    const server = createRewardServer({ judge: slow });
    const { url } = await server.listen({ port: 0 });
    const inFlight = post(`${url}/v1/reward`, { items: [{ prediction: target, reference }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close({ timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    release();
    const result = await inFlight;
    expect(result.status).toBe(200);
    expect(result.json.verdicts[0].score).toBe(1);
    await closing;
  });

  it('reports a busy port clearly', async () => {
    const first = await start();
    const port = Number(new URL(first.url).port);
    const second = createRewardServer({ judge: createLexicalJudge() });
    await expect(second.listen({ port })).rejects.toThrow(`Port ${port} on 127.0.0.1 is already in use`);
  });

  it('works without HTTP too (getReward, batchReward)', async () => {
    const server = createRewardServer({ judge: createLexicalJudge() });
    await expect(
      server.getReward({ query: [prompt + response(target)], prompts: [prompt], labels: [label] }),
    ).resolves.toMatchObject({
      rewards: [1],
    });
    await expect(server.batchReward({ items: [{ prediction: target, reference }] })).resolves.toMatchObject({
      summary: { ok: 1 },
    });
  });
});

describe('sliced JSON (big bodies without blocking the event loop)', () => {
  const tricky = [
    'plain',
    'with "quotes" and \\ backslash \\"',
    'brackets ] [ } { , inside',
    'unicode é 漢字 🙂 \u2028',
    '',
  ];
  const element = (index: number): unknown => {
    switch (index % 7) {
      case 0:
        return tricky[index % tricky.length];
      case 1:
        return { a: [1, [2, { b: tricky[(index + 1) % tricky.length] }]], c: null };
      case 2:
        return index * 1.5;
      case 3:
        return [];
      case 4:
        return { '0': 'integer-like key', x: { '[': ']' } };
      case 5:
        return true;
      default:
        return null;
    }
  };
  const big = (count: number) => Array.from({ length: count }, (_, index) => element(index));

  it('parses exactly what JSON.parse parses, whatever the layout', async () => {
    const cases = [
      JSON.stringify({ items: big(20_000), mode: 'prefix' }),
      JSON.stringify({ query: big(9000), prompts: big(9000), labels: big(9000) }),
      JSON.stringify({ '1': big(9000), a: 'x', '0': big(9000), nested: { deep: big(3000) } }),
      JSON.stringify({ items: big(20_000) }, null, 2),
      ` \n ${JSON.stringify({ empty: [], items: big(20_000), n: 1 })} \n`,
      JSON.stringify(big(20_000)),
    ];
    for (const text of cases) {
      expect(text.length).toBeGreaterThan(256 * 1024);
      expect(await parseJsonSliced(text)).toEqual(JSON.parse(text));
    }
  });

  it('throws JSON.parse’s own error for invalid bodies', async () => {
    const good = JSON.stringify({ items: big(20_000) });
    const bad = [
      `${good.slice(0, -2)},]}`,
      good.replace('[', '[,'),
      `${good.slice(0, 200_000)}}`,
      good.replace('"plain"', '"plain" "again"'),
      `${good}x`,
      good.replace('{', '{"items": 1, '),
    ];
    for (const text of bad) {
      let expected: unknown;
      try {
        JSON.parse(text);
      } catch (error) {
        expected = error;
      }
      if (expected === undefined) {
        // A duplicate key is valid JSON: the last value wins, as in JSON.parse.
        expect(await parseJsonSliced(text)).toEqual(JSON.parse(text));
        continue;
      }
      await expect(parseJsonSliced(text)).rejects.toThrow((expected as Error).message);
    }
  });

  it('stringifies exactly like JSON.stringify', async () => {
    const value = {
      verdicts: big(5000).map((entry, index) => ({ id: `x${index}`, entry, skip: undefined })),
      summary: { items: 5000, meanScore: 0.25 },
      extra_logs: { judged: Array.from({ length: 3000 }, (_, index) => index % 2) },
      undefinedValue: undefined,
    };
    expect(await stringifySliced(value, new TimeSlicer())).toBe(JSON.stringify(value));
  });
});
