import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { extractPrediction } from '@rlpt/prompts';
import type { EventHandler, JudgeItem, JudgeMode, JudgeV1, JudgeVerdict, Logger } from '@rlpt/spec';
import { AbortError, InvalidArgumentError, silentLogger } from '@rlpt/spec';
import { assertInteger, assertMode } from './common.js';
import { judgeFieldsFor, parseRewardLabel, responseFromQuery, validateRewardLabel } from './label.js';
import { Counter, Histogram, renderMetrics } from './metrics.js';
import type { JudgeStats } from './stats.js';

export interface RewardServerOptions {
  /** The judge every request goes to (`createGenerativeJudge`, `createLexicalJudge`, or any `JudgeV1`). */
  judge: JudgeV1;
  /** Default judge mode; a label's `mode` or a batch item's `mode` overrides it. Default `prefix`. */
  mode?: JudgeMode;
  /** Require `Authorization: Bearer <token>` on every route except `/health` (constant-time comparison). */
  token?: string;
  /** Largest request body in bytes; larger ones get 413. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Time limit of one request's scoring, from its complete body to the response; then 504 and the judge call is aborted. Default 300 000 ms. */
  requestTimeoutMs?: number;
  /** Time limit for a client to send the request line and headers; then the connection is closed (Node's `headersTimeout`). Default 20 000 ms. */
  headersTimeoutMs?: number;
  /**
   * Time limit for a client to send the whole body, from its headers on; then 408 and the connection is
   * closed. A slow body never holds a scoring slot: a slot is taken only once the body is complete.
   * Default 30 000 ms.
   */
  bodyTimeoutMs?: number;
  /** Scoring requests handled at once (counted once their body is complete); more get 429 with `Retry-After`. Default 256. */
  maxConcurrentRequests?: number;
  /** `Retry-After` (seconds) sent with 429 and 503. Default 1. */
  retryAfterSeconds?: number;
  /**
   * Judge failure rate (failed samples / samples scored, over `failureWindowMs`) above which the server
   * logs a warning (once per crossing; again after the rate fell back below it). In [0, 1]. Default 0.2.
   */
  maxJudgeFailureRate?: number;
  /** The recent window the failure rate of `/metrics` and the warning are computed over. Default 300 000 ms. */
  failureWindowMs?: number;
  /** Samples the window needs before the warning can fire (so 1 failure of 2 samples is not an alarm). Default 20. */
  failureWarningMinSamples?: number;
  logger?: Logger;
  onEvent?: EventHandler;
}

/** OpenRLHF's remote reward request (`--reward.remote_url http://host:port/get_reward`). */
export interface OpenRlhfRewardRequest {
  /** Prompt + response, decoded with special tokens. */
  query: string[];
  /** The prompts, so the response can be cut out of `query`. */
  prompts: string[];
  /** Label column values: {@link RewardLabel} JSON strings (or plain reference text). */
  labels: string[];
}

/** OpenRLHF's remote reward response. */
export interface OpenRlhfRewardResponse {
  rewards: number[];
  scores: number[];
  /** Per-sample 0/1 flags (logged by OpenRLHF): judged, skipped by hardening/extraction, judge failure, cache hit. */
  extra_logs: Record<string, number[]>;
}

/** One item of the batch endpoint `POST /v1/reward`. */
export interface BatchRewardItem {
  id?: string;
  /** The extracted prediction. Give this or `response`. */
  prediction?: string;
  /** The policy's raw output; the prediction is extracted from its last tag pair. */
  response?: string;
  /** Reference text for the item's mode. Give this or `label`. */
  reference?: string;
  /** The target s_i: a prefix judge requires the prediction to cover it. A JSON `label` carries it too. */
  target?: string;
  /** A {@link RewardLabel} (object or JSON string) or plain reference text. */
  label?: string | Record<string, unknown>;
  /** Context s_<i (or the prompt), for hardening against copying it. */
  context?: string;
  mode?: JudgeMode;
}

export interface BatchRewardRequest {
  items: BatchRewardItem[];
  /** Mode for items without their own. Default: the server's. */
  mode?: JudgeMode;
}

export interface BatchRewardResponse {
  verdicts: (JudgeVerdict & { id?: string })[];
  summary: { items: number; ok: number; skipped: number; failed: number; meanScore: number };
}

export interface RewardServer {
  /** Starts listening. Default port 5000, host 127.0.0.1 (use `0.0.0.0` to accept remote trainers). */
  listen(options?: { port?: number; host?: string }): Promise<{ url: string; host: string; port: number }>;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /**
   * Graceful shutdown: stops accepting connections, answers new requests on open connections with 503,
   * waits for requests in flight up to `timeoutMs` (default 10 000), then closes every socket.
   * The judge is not closed (the caller owns it).
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Scores an OpenRLHF request without HTTP (what `POST /get_reward` does). */
  getReward(body: unknown, options?: { signal?: AbortSignal }): Promise<OpenRlhfRewardResponse>;
  /** Scores a batch request without HTTP (what `POST /v1/reward` does). */
  batchReward(body: unknown, options?: { signal?: AbortSignal }): Promise<BatchRewardResponse>;
  /** The Prometheus exposition served at `/metrics`. */
  metrics(): string;
  /** The underlying Node server. */
  readonly httpServer: Server;
}

/** A request body that cannot be scored at all (wrong shape): answered with 400 and this message. */
class BadRequest extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const scoringRoutes = new Set(['/get_reward', '/v1/reward']);
/** Items per `judge()` call; a request with more is judged in concurrent slices of this size. */
const judgeSliceItems = 128;
const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface PreparedItem {
  /** Index in the request. */
  index: number;
  item: JudgeItem;
}

/**
 * Creates the reward HTTP server over a judge:
 * - `POST /get_reward` — OpenRLHF's remote reward protocol: `{query, prompts, labels}` →
 *   `{rewards, scores, extra_logs}`;
 * - `POST /v1/reward` — batch endpoint: `{items: [{prediction|response, reference|label, …}]}` →
 *   `{verdicts, summary}`;
 * - `GET /health` — `{"status":"ok"}` (503 `draining` during shutdown);
 * - `GET /metrics` — Prometheus text: requests, latency histogram, verdicts, judge failures, cache hits.
 */
export function createRewardServer(options: RewardServerOptions): RewardServer {
  const { judge } = options;
  if (!judge || typeof judge.judge !== 'function') {
    throw new InvalidArgumentError({
      argument: 'judge',
      message:
        'createRewardServer needs `judge`: a JudgeV1 such as createLexicalJudge() or createGenerativeJudge(…).',
    });
  }
  const defaultMode = assertMode(options.mode ?? 'prefix', 'mode');
  const maxBodyBytes = assertInteger(options.maxBodyBytes ?? 16 * 1024 * 1024, 'maxBodyBytes', 1);
  const requestTimeoutMs = assertInteger(options.requestTimeoutMs ?? 300_000, 'requestTimeoutMs', 1);
  const headersTimeoutMs = assertInteger(options.headersTimeoutMs ?? 20_000, 'headersTimeoutMs', 1);
  const bodyTimeoutMs = assertInteger(options.bodyTimeoutMs ?? 30_000, 'bodyTimeoutMs', 1);
  const maxConcurrent = assertInteger(options.maxConcurrentRequests ?? 256, 'maxConcurrentRequests', 1);
  const retryAfterSeconds = assertInteger(options.retryAfterSeconds ?? 1, 'retryAfterSeconds', 0);
  const maxFailureRate = options.maxJudgeFailureRate ?? 0.2;
  if (typeof maxFailureRate !== 'number' || !(maxFailureRate >= 0 && maxFailureRate <= 1)) {
    throw new InvalidArgumentError({
      argument: 'maxJudgeFailureRate',
      message: `maxJudgeFailureRate must be a number in [0, 1]; got ${JSON.stringify(maxFailureRate)}.`,
    });
  }
  const failureWindow = new FailureWindow(
    assertInteger(options.failureWindowMs ?? 300_000, 'failureWindowMs', 1),
  );
  const minWarningSamples = assertInteger(
    options.failureWarningMinSamples ?? 20,
    'failureWarningMinSamples',
    1,
  );
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) {
    throw new InvalidArgumentError({
      argument: 'token',
      message: 'token must be a non-empty string when given.',
    });
  }
  const tokenDigest = options.token === undefined ? undefined : sha256(`Bearer ${options.token}`);
  const logger = options.logger ?? silentLogger;

  const requestsTotal = new Counter(
    'rlpt_reward_http_requests_total',
    'HTTP requests by route and status code.',
  );
  const duration = new Histogram(
    'rlpt_reward_http_request_duration_seconds',
    'Time from request start to response, by route.',
    latencyBuckets,
  );
  const inFlightGauge = new Counter('rlpt_reward_http_in_flight', 'Scoring requests being handled.', 'gauge');
  const itemsTotal = new Counter('rlpt_reward_items_total', 'Scored samples by verdict status.');
  const reasonsTotal = new Counter(
    'rlpt_reward_judge_failures_total',
    'Samples not judged normally, by status (failed: judge failure; skipped: hardening or extraction) and reason.',
  );
  const cacheHits = new Counter('rlpt_reward_cache_hits_total', 'Samples answered from the judge cache.');
  const scoreSum = new Counter(
    'rlpt_reward_score_sum',
    'Sum of rewards returned (divide by items for the mean).',
  );
  const promptMismatch = new Counter(
    'rlpt_reward_prompt_not_found_total',
    'OpenRLHF samples whose prompt was not found in the query (prediction extracted from the whole query).',
  );
  const judgeCounters = new Counter(
    'rlpt_judge_stats',
    'The judge’s own counters (stats()), by counter name.',
    'gauge',
  );
  const residentMemory = new Counter(
    'process_resident_memory_bytes',
    'Resident set size of the server process.',
    'gauge',
  );
  const heapUsed = new Counter('nodejs_heap_used_bytes', 'V8 heap in use.', 'gauge');
  const windowSamples = new Counter(
    'rlpt_reward_window_samples',
    'Samples scored in the recent window (failureWindowMs).',
    'gauge',
  );
  const windowFailures = new Counter(
    'rlpt_reward_window_judge_failures',
    'Samples the judge could not decide (status failed, or a judge failure scored 0) in the recent window, by reason.',
    'gauge',
  );
  const failureRate = new Counter(
    'rlpt_reward_judge_failure_rate',
    'Judge failures / samples scored in the recent window (failureWindowMs); 0 when the window is empty.',
    'gauge',
  );
  const failureRateByReason = new Counter(
    'rlpt_reward_judge_failure_rate_by_reason',
    'Judge failures with this reason / samples scored in the recent window.',
    'gauge',
  );
  const failureRateThreshold = new Counter(
    'rlpt_reward_judge_failure_rate_threshold',
    'The failure rate above which the server warns (maxJudgeFailureRate).',
    'gauge',
  );
  let failureAlarm = false;

  let inFlight = 0;
  let draining = false;
  let listening: { url: string; host: string; port: number } | undefined;
  const sockets = new Set<Socket>();
  const active = new Set<Promise<void>>();

  const judgeItems = async (prepared: PreparedItem[], count: number, signal: AbortSignal | undefined) => {
    const verdicts: (JudgeVerdict | undefined)[] = new Array(count);
    if (prepared.length > 0) {
      // Big requests go to the judge in concurrent slices, started one event-loop turn apart: a judge that
      // works synchronously (the lexical one) then never holds the loop for a whole request, and a
      // generative one still sees every slice at once (it groups concurrent calls into batches).
      const slices: Promise<JudgeVerdict[]>[] = [];
      for (let start = 0; start < prepared.length; start += judgeSliceItems) {
        if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) break;
        slices.push(
          judge.judge(
            prepared.slice(start, start + judgeSliceItems).map((entry) => entry.item),
            signal ? { signal } : undefined,
          ),
        );
      }
      // Raced with the signal too, so a judge that ignores abort cannot hold a request past its timeout.
      const judged = (await raceAbort(Promise.all(slices), signal)).flat();
      prepared.forEach((entry, position) => {
        verdicts[entry.index] = judged[position] ?? {
          score: 0,
          status: 'failed',
          reason: 'missing-verdict',
        };
      });
    }
    return verdicts;
  };

  const record = (verdict: JudgeVerdict) => {
    failureWindow.add(judgeFailureReason(verdict));
    itemsTotal.inc({ status: verdict.status });
    if (verdict.status !== 'ok' || verdict.reason !== undefined) {
      reasonsTotal.inc({ status: verdict.status, reason: verdict.reason ?? 'unknown' });
    }
    if (verdict.cached) cacheHits.inc();
    scoreSum.inc({}, verdict.score);
  };

  const itemFailure = (
    index: number,
    id: string | undefined,
    reason: string,
    message: string,
  ): JudgeVerdict => {
    // `message` already names the field (`labels[3]: …`, `items[3]: …`).
    logger.warn(`${message}${id ? ` (id ${id})` : ''}`, { reason, index });
    options.onEvent?.({
      type: 'judge-error',
      ...(id ? { id } : {}),
      reason,
      message,
    });
    return { score: 0, status: 'failed', reason };
  };

  const getReward: RewardServer['getReward'] = async (body, callOptions) => {
    const request = checkOpenRlhfRequest(body);
    const count = request.query.length;
    const verdicts: (JudgeVerdict | undefined)[] = new Array(count);
    const prepared: PreparedItem[] = [];
    const slicer = new TimeSlicer();
    for (let index = 0; index < count; index++) {
      await slicer.tick();
      const query = request.query[index] as string;
      const prompt = request.prompts[index] as string;
      const parsed = parseRewardLabel(request.labels[index]);
      if (!parsed.ok) {
        verdicts[index] = itemFailure(
          index,
          undefined,
          'invalid-label',
          `labels[${index}]: ${parsed.message}`,
        );
        continue;
      }
      const { label } = parsed;
      const mode = label.mode ?? defaultMode;
      const reference = judgeFieldsFor(parsed, mode);
      if (!reference.ok) {
        verdicts[index] = itemFailure(
          index,
          label.id,
          'invalid-label',
          `labels[${index}]: ${reference.message}`,
        );
        continue;
      }
      const { response, found } = responseFromQuery(query, prompt);
      if (!found && prompt.length > 0) {
        promptMismatch.inc();
        logger.debug(`query[${index}] does not contain prompts[${index}]; extracting from the whole query`);
      }
      const extraction = extractPrediction(response);
      if (extraction.status !== 'ok') {
        verdicts[index] = { score: 0, status: 'skipped', reason: `prediction-${extraction.status}` };
        continue;
      }
      const item: JudgeItem = {
        prediction: extraction.text,
        reference: reference.reference,
        context: prompt,
        mode,
      };
      if (reference.target !== undefined) item.target = reference.target;
      if (label.id !== undefined) item.id = label.id;
      prepared.push({ index, item });
    }
    const judged = await judgeItems(prepared, count, callOptions?.signal);
    const rewards: number[] = [];
    const flags = {
      judged: [] as number[],
      skipped: [] as number[],
      judge_failed: [] as number[],
      cached: [] as number[],
    };
    for (let index = 0; index < count; index++) {
      await slicer.tick();
      const verdict = verdicts[index] ??
        judged[index] ?? { score: 0, status: 'failed', reason: 'missing-verdict' };
      record(verdict);
      rewards.push(verdict.score);
      flags.judged.push(verdict.status === 'ok' ? 1 : 0);
      flags.skipped.push(verdict.status === 'skipped' ? 1 : 0);
      flags.judge_failed.push(
        verdict.status === 'failed' || verdict.reason?.startsWith('judge-failure') ? 1 : 0,
      );
      flags.cached.push(verdict.cached ? 1 : 0);
    }
    checkFailureRate();
    return { rewards, scores: [...rewards], extra_logs: flags };
  };

  const batchReward: RewardServer['batchReward'] = async (body, callOptions) => {
    const request = checkBatchRequest(body);
    const requestMode = request.mode ?? defaultMode;
    const count = request.items.length;
    const verdicts: (JudgeVerdict | undefined)[] = new Array(count);
    const prepared: PreparedItem[] = [];
    const slicer = new TimeSlicer();
    for (let index = 0; index < count; index++) {
      await slicer.tick();
      const resolved = prepareRewardItem(request.items[index], index, requestMode);
      if ('failure' in resolved) {
        verdicts[index] =
          resolved.failure.status === 'skipped'
            ? resolved.failure
            : itemFailure(index, resolved.id, resolved.failure.reason ?? 'invalid-item', resolved.message);
        continue;
      }
      prepared.push({ index, item: resolved.item });
    }
    const judged = await judgeItems(prepared, count, callOptions?.signal);
    const out: BatchRewardResponse['verdicts'] = [];
    const summary = { items: count, ok: 0, skipped: 0, failed: 0, meanScore: 0 };
    for (let index = 0; index < count; index++) {
      await slicer.tick();
      const verdict = verdicts[index] ??
        judged[index] ?? { score: 0, status: 'failed', reason: 'missing-verdict' };
      record(verdict);
      summary[verdict.status]++;
      summary.meanScore += verdict.score;
      const id = request.items[index]?.id;
      out.push(typeof id === 'string' ? { id, ...verdict } : verdict);
    }
    summary.meanScore = count > 0 ? summary.meanScore / count : 0;
    checkFailureRate();
    return { verdicts: out, summary };
  };

  /** Warns once when the recent failure rate goes above the threshold; re-arms when it is back below. */
  const checkFailureRate = () => {
    const { samples, failures, reasons } = failureWindow.totals();
    const rate = samples > 0 ? failures / samples : 0;
    if (!failureAlarm && samples >= minWarningSamples && rate > maxFailureRate) {
      failureAlarm = true;
      const top = Object.entries(reasons)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([reason, count]) => `${reason} ${count}`)
        .join(', ');
      const message = `judge failure rate ${(rate * 100).toFixed(1)}% (${failures} of ${samples} samples in the last ${Math.round(failureWindow.windowMs / 1000)} s) is above ${(maxFailureRate * 100).toFixed(1)}% (maxJudgeFailureRate / --max-judge-failure-rate); reasons: ${top}. Failed samples get no reward: check the judge server, its model name and the label column.`;
      logger.warn(message, { judge: judge.name, rate, failures, samples, reasons });
      options.onEvent?.({ type: 'warning', message });
    } else if (failureAlarm && rate <= maxFailureRate) {
      failureAlarm = false;
      logger.info(
        `judge failure rate back to ${(rate * 100).toFixed(1)}% (${failures} of ${samples} samples), at or below ${(maxFailureRate * 100).toFixed(1)}%`,
      );
    }
  };

  const metrics = () => {
    const stats = (judge as { stats?: () => JudgeStats }).stats?.();
    if (stats) {
      for (const key of [
        'items',
        'ok',
        'skipped',
        'failed',
        'cacheHits',
        'deduplicated',
        'judgeCalls',
        'requests',
        'retries',
      ] as const) {
        judgeCounters.set({ judge: judge.name, counter: key }, stats[key]);
      }
    }
    inFlightGauge.set({}, inFlight);
    const window = failureWindow.totals();
    windowSamples.set({}, window.samples);
    failureRate.set({}, window.samples > 0 ? window.failures / window.samples : 0);
    failureRateThreshold.set({}, maxFailureRate);
    windowFailures.clear();
    failureRateByReason.clear();
    for (const [reason, count] of Object.entries(window.reasons)) {
      windowFailures.set({ reason }, count);
      failureRateByReason.set({ reason }, window.samples > 0 ? count / window.samples : 0);
    }
    const memory = process.memoryUsage();
    residentMemory.set({}, memory.rss);
    heapUsed.set({}, memory.heapUsed);
    return renderMetrics([
      requestsTotal,
      duration,
      inFlightGauge,
      itemsTotal,
      reasonsTotal,
      cacheHits,
      scoreSum,
      promptMismatch,
      judgeCounters,
      windowSamples,
      windowFailures,
      failureRate,
      failureRateByReason,
      failureRateThreshold,
      residentMemory,
      heapUsed,
    ]);
  };

  const authorized = (request: IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const header = request.headers.authorization;
    if (typeof header !== 'string') return false;
    return timingSafeEqual(sha256(header), tokenDigest);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = scoringRoutes.has(path) || path === '/health' || path === '/metrics' ? path : 'other';
    response.on('finish', () => {
      requestsTotal.inc({ route, code: String(response.statusCode) });
      duration.observe({ route }, (performance.now() - started) / 1000);
    });
    if (draining) response.setHeader('connection', 'close');

    if (path === '/health') {
      if (!allowMethod(request, response, ['GET', 'HEAD'])) return;
      return sendJson(response, draining ? 503 : 200, {
        status: draining ? 'draining' : 'ok',
        judge: judge.name,
        inFlight,
      });
    }
    if (route === 'other') {
      return sendError(
        response,
        404,
        'not-found',
        `No route ${request.method} ${path}. Routes: POST /get_reward, POST /v1/reward, GET /health, GET /metrics.`,
      );
    }
    if (!authorized(request)) {
      response.setHeader('www-authenticate', 'Bearer');
      return sendError(
        response,
        401,
        'unauthorized',
        'Missing or wrong bearer token (Authorization: Bearer <token>).',
      );
    }
    if (path === '/metrics') {
      if (!allowMethod(request, response, ['GET'])) return;
      const text = metrics();
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(text);
      return;
    }
    if (!allowMethod(request, response, ['POST'])) return;
    if (draining) {
      response.setHeader('retry-after', String(retryAfterSeconds));
      return sendError(
        response,
        503,
        'draining',
        'The reward server is shutting down; retry against another instance.',
      );
    }
    // The body first, under its own deadline: a client that trickles it holds a socket, never a slot.
    let text: string;
    try {
      text = await readBody(request, maxBodyBytes, bodyTimeoutMs);
    } catch (error) {
      if (error instanceof BadRequest) {
        const status = error.code === 'body-too-large' ? 413 : error.code === 'body-timeout' ? 408 : 400;
        if (status !== 400) response.setHeader('connection', 'close');
        if (status === 408) {
          logger.warn(`${path}: ${error.message}`);
          // The client is still sending: end the connection once the 408 is out.
          response.on('finish', () => request.socket.destroySoon());
        }
        return sendError(response, status, error.code, error.message);
      }
      // The client hung up mid-body: nobody to answer.
      if (!response.destroyed) response.destroy();
      return;
    }
    if (draining) {
      response.setHeader('retry-after', String(retryAfterSeconds));
      return sendError(
        response,
        503,
        'draining',
        'The reward server is shutting down; retry against another instance.',
      );
    }
    if (inFlight >= maxConcurrent) {
      response.setHeader('retry-after', String(retryAfterSeconds));
      return sendError(
        response,
        429,
        'busy',
        `The reward server is handling ${inFlight} requests (maxConcurrentRequests ${maxConcurrent}); retry after ${retryAfterSeconds} s.`,
      );
    }
    inFlight++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('request timeout')), requestTimeoutMs);
    // A client that hangs up no longer needs its verdicts: stop waiting for the judge.
    response.on('close', () => {
      if (!response.writableFinished) controller.abort(new Error('client closed the connection'));
    });
    try {
      let body: unknown;
      try {
        body = await parseJsonSliced(text);
      } catch (error) {
        throw new BadRequest(
          'invalid-json',
          `The request body is not valid JSON: ${(error as Error).message}.`,
        );
      }
      const result =
        path === '/get_reward'
          ? await getReward(body, { signal: controller.signal })
          : await batchReward(body, { signal: controller.signal });
      // Big answers are serialised in slices too, so /health keeps answering meanwhile.
      const json = await stringifySliced(result, new TimeSlicer());
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(json),
        });
        response.end(json);
      }
    } catch (error) {
      if (error instanceof BadRequest) {
        sendError(response, 400, error.code, error.message);
      } else if (controller.signal.aborted || AbortError.isInstance(error)) {
        if (!response.destroyed) {
          sendError(
            response,
            504,
            'timeout',
            `The judge did not finish within requestTimeoutMs (${requestTimeoutMs} ms).`,
          );
        }
      } else {
        const message = error instanceof Error ? error.message : String(error);
        logger.error(`reward request on ${path} failed: ${message}`);
        sendError(response, 500, 'internal', `The judge failed: ${message}`);
      }
    } finally {
      clearTimeout(timer);
      inFlight--;
    }
  };

  const httpServer = createServer(
    {
      // Node closes connections whose headers are late (and, as a backstop, whole requests that are late);
      // it checks every `connectionsCheckingInterval`, so keep that below the limit.
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + requestTimeoutMs + 5_000,
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeoutMs / 4))),
    },
    (request, response) => {
      const done = handle(request, response).catch((error: unknown) => {
        logger.error(`reward server error: ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent) sendError(response, 500, 'internal', 'Unexpected server error.');
        else response.destroy();
      });
      active.add(done);
      void done.finally(() => active.delete(done));
    },
  );
  httpServer.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  httpServer.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    async listen(listenOptions = {}) {
      const port = listenOptions.port ?? 5000;
      const host = listenOptions.host ?? '127.0.0.1';
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
          resolve();
        });
      }).catch((cause: NodeJS.ErrnoException) => {
        throw new InvalidArgumentError({
          argument: 'port',
          message:
            cause.code === 'EADDRINUSE'
              ? `Port ${port} on ${host} is already in use; pick another with --port.`
              : `Cannot listen on ${host}:${port}: ${cause.message}`,
          cause,
        });
      });
      const address = httpServer.address() as AddressInfo;
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      listening = { url: `http://${urlHost}:${address.port}`, host: address.address, port: address.port };
      return listening;
    },
    get url() {
      return listening?.url;
    },
    async close(closeOptions = {}) {
      if (draining && !httpServer.listening) return;
      draining = true;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const timeoutMs = closeOptions.timeoutMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...active]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    getReward,
    batchReward,
    metrics,
    httpServer,
  };
}

/** Result of {@link prepareRewardItem}: an item to judge, or the verdict it gets without judging. */
export type PreparedRewardItem =
  | { item: JudgeItem }
  | { failure: JudgeVerdict; message: string; id: string | undefined };

/**
 * Turns one loose reward record — `{id?, prediction | response, reference | label, target?, context?, mode?}`, as
 * `POST /v1/reward` items and `rlpt judge` JSONL lines have it — into a `JudgeItem`. A raw `response` goes
 * through `extractPrediction` (a missing, empty or unterminated prediction is `skipped`, reason
 * `prediction-<status>`); a bad record is `failed` with reason `invalid-item` or `invalid-label` and a
 * message naming `where` (default `items[index]`) and the field.
 */
export function prepareRewardItem(
  raw: unknown,
  index: number,
  requestMode: JudgeMode,
  where = `items[${index}]`,
): PreparedRewardItem {
  const fail = (reason: string, message: string, id?: string): PreparedRewardItem => ({
    failure: { score: 0, status: 'failed', reason },
    message: `${where}: ${message}`,
    id,
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return fail('invalid-item', 'must be an object');
  const item = raw as Record<string, unknown>;
  const id = typeof item.id === 'string' ? item.id : undefined;
  let mode: JudgeMode = requestMode;
  if (item.mode !== undefined) {
    if (item.mode !== 'prefix' && item.mode !== 'strict')
      return fail('invalid-item', '"mode" must be "prefix" or "strict"', id);
    mode = item.mode;
  }
  if (item.target !== undefined && typeof item.target !== 'string')
    return fail('invalid-item', '"target" must be a string (s_i)', id);
  let reference: string | undefined;
  let target = typeof item.target === 'string' && item.target.trim() ? item.target : undefined;
  if (typeof item.reference === 'string') reference = item.reference;
  else if (item.label !== undefined) {
    const parsed =
      typeof item.label === 'string' ? parseRewardLabel(item.label) : validateRewardLabel(item.label);
    if (!parsed.ok) return fail('invalid-label', parsed.message, id);
    if (item.mode === undefined && parsed.label.mode) mode = parsed.label.mode;
    const chosen = judgeFieldsFor(parsed, mode);
    if (!chosen.ok) return fail('invalid-label', chosen.message, id);
    reference = chosen.reference;
    target ??= chosen.target;
  } else {
    return fail('invalid-item', 'needs "reference" (string) or "label"', id);
  }
  let prediction: string;
  if (typeof item.prediction === 'string') prediction = item.prediction;
  else if (typeof item.response === 'string') {
    const extraction = extractPrediction(item.response);
    if (extraction.status !== 'ok') {
      return {
        failure: { score: 0, status: 'skipped', reason: `prediction-${extraction.status}` },
        message: '',
        id,
      };
    }
    prediction = extraction.text;
  } else {
    return fail('invalid-item', 'needs "prediction" or "response" (string)', id);
  }
  const judgeItem: JudgeItem = { prediction, reference, mode };
  // s_i, so a prefix judge requires the prediction to cover it (what `rlpt train` passes too).
  if (target !== undefined) judgeItem.target = target;
  if (id !== undefined) judgeItem.id = id;
  if (typeof item.context === 'string') judgeItem.context = item.context;
  return { item: judgeItem };
}

async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) throw new AbortError({ cause: signal.reason });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortError({ cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function allowMethod(request: IncomingMessage, response: ServerResponse, methods: string[]): boolean {
  if (methods.includes(request.method ?? '')) return true;
  response.setHeader('allow', methods.join(', '));
  request.resume();
  sendError(
    response,
    405,
    'method-not-allowed',
    `${request.method} is not allowed here; use ${methods.join(' or ')}.`,
  );
  return false;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  sendJson(response, status, { error: { code, message } });
}

/**
 * Reads the whole body within `timeoutMs` (else `body-timeout`, answered 408) and `limit` bytes (else
 * `body-too-large`, 413). Rejects with a plain Error when the client goes away first.
 */
function readBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    return Promise.reject(
      new BadRequest(
        'body-too-large',
        `The request body is ${declared} bytes; the limit is ${limit} (maxBodyBytes).`,
      ),
    );
  }
  return new Promise<string>((resolve, reject) => {
    // Decoded as it arrives, so a big body costs no single long decode at the end.
    const decoder = new StringDecoder('utf8');
    const chunks: string[] = [];
    let size = 0;
    const cleanup = () => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const fail = (error: Error) => {
      cleanup();
      chunks.length = 0;
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(new BadRequest('body-too-large', `The request body exceeds ${limit} bytes (maxBodyBytes).`));
        request.resume();
        return;
      }
      chunks.push(decoder.write(chunk));
    };
    const onEnd = () => {
      cleanup();
      chunks.push(decoder.end());
      resolve(chunks.join(''));
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => {
      if (!request.complete)
        fail(new Error('the client closed the connection before sending the whole body'));
    };
    const timer = setTimeout(() => {
      fail(
        new BadRequest(
          'body-timeout',
          `The request body did not arrive within ${timeoutMs} ms (bodyTimeoutMs / --body-timeout-ms; ${size} bytes received); send it at once.`,
        ),
      );
      request.pause();
    }, timeoutMs);
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

function checkOpenRlhfRequest(body: unknown): OpenRlhfRewardRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest(
      'invalid-request',
      'Expected a JSON object {"query": [...], "prompts": [...], "labels": [...]}.',
    );
  }
  const record = body as Record<string, unknown>;
  const query = stringArray(record, 'query', true);
  const count = query.length;
  const prompts =
    record.prompts === undefined ? new Array<string>(count).fill('') : stringArray(record, 'prompts', true);
  const labels = stringArray(record, 'labels', false);
  if (prompts.length !== count || labels.length !== count) {
    throw new BadRequest(
      'invalid-request',
      `"query", "prompts" and "labels" must have the same length; got ${count}, ${prompts.length} and ${labels.length}.`,
    );
  }
  return { query, prompts, labels: labels as string[] };
}

/** `strings`: every element must be a string (labels are checked per item instead, so one bad label costs one sample). */
function stringArray(record: Record<string, unknown>, key: string, strings: boolean): string[] {
  const value = record[key];
  if (!Array.isArray(value)) {
    throw new BadRequest(
      'invalid-request',
      `"${key}" must be an array${value === undefined ? ' (missing)' : ''}.`,
    );
  }
  if (strings) {
    const bad = value.findIndex((entry) => typeof entry !== 'string');
    if (bad >= 0) throw new BadRequest('invalid-request', `"${key}[${bad}]" must be a string.`);
  }
  return value as string[];
}

function checkBatchRequest(body: unknown): BatchRewardRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest(
      'invalid-request',
      'Expected a JSON object {"items": [{"prediction": "…", "reference": "…"}]}.',
    );
  }
  const record = body as Record<string, unknown>;
  if (!Array.isArray(record.items)) {
    throw new BadRequest(
      'invalid-request',
      `"items" must be an array${record.items === undefined ? ' (missing)' : ''}.`,
    );
  }
  if (record.mode !== undefined && record.mode !== 'prefix' && record.mode !== 'strict') {
    throw new BadRequest('invalid-request', '"mode" must be "prefix" or "strict".');
  }
  return record as unknown as BatchRewardRequest;
}

/**
 * Why a verdict is a judge failure, or undefined when it is not one: status `failed` (the judge, or the
 * server for a bad label, could not decide), or a failure the judge turned into a 0 (`onFailure: 'zero'`
 * gives status `ok` with reason `judge-failure:<reason>`).
 */
function judgeFailureReason(verdict: JudgeVerdict): string | undefined {
  if (verdict.reason?.startsWith('judge-failure')) {
    return verdict.reason.slice('judge-failure'.length).replace(/^:/, '') || 'unknown';
  }
  if (verdict.status === 'failed') return verdict.reason ?? 'unknown';
  return undefined;
}

/** Samples and judge failures (by reason) over the last `windowMs`, in 30 time buckets. */
class FailureWindow {
  private readonly bucketMs: number;
  private buckets: { start: number; samples: number; failures: number; reasons: Map<string, number> }[] = [];
  constructor(readonly windowMs: number) {
    this.bucketMs = Math.max(1, Math.ceil(windowMs / 30));
  }
  add(failureReason: string | undefined, now = Date.now()): void {
    const start = now - (now % this.bucketMs);
    let bucket = this.buckets[this.buckets.length - 1];
    if (!bucket || bucket.start !== start) {
      bucket = { start, samples: 0, failures: 0, reasons: new Map() };
      this.buckets.push(bucket);
      this.prune(now);
    }
    bucket.samples++;
    if (failureReason !== undefined) {
      bucket.failures++;
      bucket.reasons.set(failureReason, (bucket.reasons.get(failureReason) ?? 0) + 1);
    }
  }
  totals(now = Date.now()): { samples: number; failures: number; reasons: Record<string, number> } {
    this.prune(now);
    let samples = 0;
    let failures = 0;
    const reasons: Record<string, number> = {};
    for (const bucket of this.buckets) {
      samples += bucket.samples;
      failures += bucket.failures;
      for (const [reason, count] of bucket.reasons) reasons[reason] = (reasons[reason] ?? 0) + count;
    }
    return { samples, failures, reasons };
  }
  private prune(now: number): void {
    const oldest = now - this.windowMs;
    let drop = 0;
    while (drop < this.buckets.length && (this.buckets[drop]?.start ?? 0) + this.bucketMs <= oldest) drop++;
    if (drop > 0) this.buckets = this.buckets.slice(drop);
  }
}

/**
 * Yields to the event loop once `sliceMs` of synchronous work has passed since the last yield, so one big
 * request (tens of thousands of samples) cannot hold up `/health` or other requests.
 */
export class TimeSlicer {
  private last = performance.now();
  constructor(private readonly sliceMs = 5) {}
  /** Cheap when no yield is due (one clock read). */
  async tick(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/** Elements per `JSON.stringify` / `JSON.parse` call when (de)serialising big arrays in slices. */
const sliceElements = 512;

/**
 * `JSON.stringify` for answers whose bulk is in arrays (nested in plain objects), in slices of
 * {@link sliceElements} elements with yields in between. Same text as `JSON.stringify(value)`.
 */
export async function stringifySliced(value: unknown, slicer: TimeSlicer): Promise<string> {
  if (Array.isArray(value) && value.length > sliceElements) {
    const parts: string[] = [];
    for (let start = 0; start < value.length; start += sliceElements) {
      await slicer.tick();
      parts.push(JSON.stringify(value.slice(start, start + sliceElements)).slice(1, -1));
    }
    return `[${parts.join(',')}]`;
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const parts: string[] = [];
    for (const [key, entry] of Object.entries(value)) {
      if (entry === undefined || typeof entry === 'function' || typeof entry === 'symbol') continue;
      parts.push(`${JSON.stringify(key)}:${await stringifySliced(entry, slicer)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * `JSON.parse` for request bodies `{"key": [ …many elements… ], …}`, in slices with yields in between:
 * one scan finds the elements of the top-level arrays, then they are parsed {@link sliceElements} at a
 * time. Anything else (small bodies, other shapes, invalid JSON) goes to `JSON.parse` as is, so errors
 * read the same.
 */
export async function parseJsonSliced(text: string): Promise<unknown> {
  if (text.length < 256 * 1024) return JSON.parse(text);
  try {
    const parsed = await parseTopLevelArraysSliced(text);
    if (parsed !== undefined) return parsed;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  // Not the expected shape, or invalid somewhere: JSON.parse gives the exact error (and position).
  return JSON.parse(text);
}

/** The sliced parse of {@link parseJsonSliced}; undefined when `text` is not an object of that shape. */
async function parseTopLevelArraysSliced(text: string): Promise<Record<string, unknown> | undefined> {
  if (text.trimStart().charCodeAt(0) !== 123 /* { */) return undefined;
  const slicer = new TimeSlicer();
  // Each top-level array: its key, [start, end) of the value, and [start, end) of each element.
  type Found = { key: string; start: number; end: number; starts: number[]; ends: number[] };
  const arrays: Found[] = [];
  let depth = 0;
  let inString = false;
  let stringStart = -1;
  let lastKey: [number, number] | undefined;
  let current: Found | undefined;
  let expectElement = false;
  for (let index = 0; index < text.length; index++) {
    if ((index & 0x3fff) === 0) await slicer.tick();
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 92 /* \ */) index++;
      else if (code === 34 /* " */) {
        inString = false;
        // The last string at depth 1 before a value is its key.
        if (depth === 1) lastKey = [stringStart, index + 1];
      }
      continue;
    }
    if (code === 32 || code === 10 || code === 13 || code === 9) continue;
    if (current && depth === 2 && expectElement && code !== 93 /* ] */) {
      current.starts.push(index);
      expectElement = false;
    }
    if (code === 34) {
      inString = true;
      stringStart = index;
    } else if (code === 123 || code === 91 /* [ */) {
      if (depth === 1 && code === 91) {
        if (!lastKey) return undefined;
        const key = JSON.parse(text.slice(lastKey[0], lastKey[1])) as string;
        current = { key, start: index, end: -1, starts: [], ends: [] };
        expectElement = true;
      }
      depth++;
    } else if (code === 125 /* } */ || code === 93) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 1 && current && code === 93) {
        if (expectElement && current.starts.length > 0) return undefined; // `[1,]`
        current.ends.push(index);
        current.end = index + 1;
        arrays.push(current);
        current = undefined;
      }
    } else if (code === 44 /* , */ && current && depth === 2) {
      if (expectElement) return undefined; // `[,1]`, `[1,,2]`
      current.ends.push(index);
      expectElement = true;
    }
  }
  if (depth !== 0 || inString || new Set(arrays.map((array) => array.key)).size !== arrays.length) {
    return undefined;
  }
  // The object with every top-level array emptied, then the arrays filled slice by slice.
  let skeleton = '';
  let from = 0;
  for (const array of arrays) {
    skeleton += `${text.slice(from, array.start)}[]`;
    from = array.end;
  }
  skeleton += text.slice(from);
  const result = JSON.parse(skeleton) as unknown;
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined;
  const record = result as Record<string, unknown>;
  for (const array of arrays) {
    const target = record[array.key];
    if (!Array.isArray(target) || target.length > 0) return undefined;
    for (let first = 0; first < array.starts.length; first += sliceElements) {
      await slicer.tick();
      const last = Math.min(first + sliceElements, array.starts.length) - 1;
      const slice = text.slice(array.starts[first], array.ends[last]);
      for (const element of JSON.parse(`[${slice}]`) as unknown[]) target.push(element);
    }
  }
  return record;
}
