/**
 * `createModelServer`: the HTTP server, its routing, its lifecycle (listen, drain, close) and its stats.
 * The routes live in `backend-routes.ts` (micro-batched backend), `engine-requests.ts` (decode engine)
 * and `admin-routes.ts`; request checks in `request-checks.ts`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError } from '@rlpt/spec';
import { type BatcherStats, MicroBatcher } from './batcher.js';
import type { EngineStats } from './engine/engine.js';
import { HttpError } from './format.js';
import {
  chatRequestSchema,
  completionsRequestSchema,
  detokenizeRequestSchema,
  tokenizeRequestSchema,
} from './schemas.js';
import { internalError, notFound, requireMethod, sendError, sendJson, writeEvent } from './http.js';
import {
  type ModelServer,
  type ModelServerOptions,
  resolveServerOptions,
  type RouteContext,
} from './server-options.js';
import { createRequestChecks, isEchoOnly } from './request-checks.js';
import { createBackendRoutes } from './backend-routes.js';
import { createEngineRoutes } from './engine-requests.js';
import { createAdminRoutes } from './admin-routes.js';

export type { ModelServer, ModelServerOptions, TokenizeInput } from './server-options.js';

/**
 * Creates an OpenAI-compatible HTTP server over any `InferenceBackendV1`: `GET /health`,
 * `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (streaming and not), with
 * micro-batching of concurrent requests into one `generate` call.
 *
 * @example
 * const server = createModelServer({ backend: createOnnxBackend({ modelDir: 'models/tiny' }) });
 * const { url } = await server.listen({ port: 8000 });
 * process.once('SIGTERM', () => server.close());
 */
export function createModelServer(options: ModelServerOptions): ModelServer {
  const { resolved, batcherLimits, headersTimeoutMs } = resolveServerOptions(options);
  const logger = resolved.logger;
  const batcher = new MicroBatcher(options.backend, batcherLimits);
  const created = Math.floor(Date.now() / 1000);
  let inFlightRequests = 0;
  let draining = false;
  let closePromise: Promise<void> | undefined;
  let requestIdleWaiters: (() => void)[] = [];
  const checks = createRequestChecks(resolved);
  const { authorize, readJson, parse, unknownModel } = checks;
  const context: RouteContext = { resolved, checks, batcher, maxQueued: batcherLimits.maxQueued };
  const backendRoutes = createBackendRoutes(context);
  const engineRoutes = createEngineRoutes(context);
  const adminRoutes = createAdminRoutes(context);

  const httpServer = createServer(
    {
      // Node closes connections whose headers are late (and, as a backstop, whole requests that are late);
      // it checks every `connectionsCheckingInterval`, so keep that below the limit.
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + resolved.bodyTimeoutMs + 5_000,
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeoutMs / 4))),
    },
    (req, res) => {
      inFlightRequests++;
      res.on('close', () => {
        inFlightRequests--;
        if (inFlightRequests === 0) {
          for (const resolve of requestIdleWaiters) resolve();
          requestIdleWaiters = [];
        }
      });
      handle(req, res).catch((error: unknown) => {
        logger.error('unexpected error while handling a request', { error: String(error) });
        if (!res.headersSent) sendError(res, internalError(error));
        else res.end();
      });
    },
  );
  httpServer.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    res.on('finish', () => {
      logger.debug(`${method} ${path} ${res.statusCode} ${(performance.now() - started).toFixed(1)} ms`);
    });
    if (draining) {
      res.setHeader('connection', 'close');
      sendError(
        res,
        new HttpError({ status: 503, message: 'The server is shutting down.', code: 'shutting_down' }),
      );
      req.resume();
      return;
    }
    try {
      if (path === '/health') {
        requireMethod(method, ['GET', 'HEAD'], path);
        sendJson(res, 200, {
          status: 'ok',
          model: resolved.modelName,
          ...stats(),
        });
        return;
      }
      if (path === '/detokenize') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        const body = parse(detokenizeRequestSchema, await readJson(req), false);
        if (!resolved.detokenize) {
          throw new HttpError({
            status: 404,
            message: 'This server has no detokenizer (createModelServer({ detokenize })).',
            code: 'not_found',
          });
        }
        sendJson(res, 200, { prompt: resolved.detokenize(body.tokens) });
        return;
      }
      if (path === '/update_weights_from_disk') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        await adminRoutes.updateWeights(await readJson(req), res);
        return;
      }
      if (path === '/get_weight_version') {
        authorize(req);
        requireMethod(method, ['GET'], path);
        sendJson(res, 200, { weight_version: adminRoutes.weightVersion() });
        return;
      }
      if (path === '/tokenize') {
        authorize(req);
        requireMethod(method, ['POST'], path);
        await adminRoutes.tokenize(parse(tokenizeRequestSchema, await readJson(req), false), res);
        return;
      }
      if (!path.startsWith('/v1/') && path !== '/v1') throw notFound(method, path);
      authorize(req);
      if (path === '/v1/models') {
        requireMethod(method, ['GET'], path);
        sendJson(res, 200, { object: 'list', data: [modelCard()] });
        return;
      }
      if (path.startsWith('/v1/models/')) {
        requireMethod(method, ['GET'], path);
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (id !== resolved.modelName) throw unknownModel(id);
        sendJson(res, 200, modelCard());
        return;
      }
      if (path === '/v1/completions') {
        requireMethod(method, ['POST'], path);
        const raw = await readJson(req);
        // vLLM's scoring call: echo with max_tokens 0 returns the prompt and its logprobs only.
        const echoOnly = isEchoOnly(raw) && resolved.engine !== undefined;
        if (echoOnly) delete (raw as Record<string, unknown>).max_tokens;
        const body = parse(completionsRequestSchema, raw);
        if (resolved.engine) await engineRoutes.completions(resolved.engine, body, res, echoOnly);
        else await backendRoutes.completions(body, res);
        return;
      }
      if (path === '/v1/chat/completions') {
        requireMethod(method, ['POST'], path);
        const body = parse(chatRequestSchema, await readJson(req));
        if (resolved.engine) await engineRoutes.chat(resolved.engine, body, res);
        else await backendRoutes.chat(body, res);
        return;
      }
      throw notFound(method, path);
    } catch (error) {
      const httpError = error instanceof HttpError ? error : internalError(error);
      if (httpError.status >= 500) {
        logger.error(`${method} ${path} failed: ${httpError.message}`, { status: httpError.status });
      }
      if (res.headersSent) {
        // Mid-stream: report in-band like vLLM, then end the stream.
        writeEvent(res, httpError.toJSON());
        res.end('data: [DONE]\n\n');
        return;
      }
      if (res.destroyed) return;
      sendError(res, httpError);
      if (httpError.status === 408) {
        // The client is still sending: end the connection once the 408 is out.
        res.on('finish', () => req.socket.destroySoon());
      } else if (!req.complete) req.resume();
    }
  }

  function modelCard() {
    return {
      id: resolved.modelName,
      object: 'model',
      created,
      owned_by: 'rlpt',
      root: resolved.backend.modelId,
      // As vLLM and SGLang report it: clients (rlpt eval) fit max_tokens to it.
      ...(resolved.maxModelLength !== undefined ? { max_model_len: resolved.maxModelLength } : {}),
    };
  }

  /** Batching counters: the engine's when there is one (queued = waiting sequences). */
  function stats(): BatcherStats & { engine?: EngineStats } {
    if (!resolved.engine) return batcher.stats();
    const engine = resolved.engine.stats();
    return {
      queued: engine.waiting,
      runningBatches: engine.batches,
      batches: engine.prefills,
      requests: engine.requests,
      largestBatch: engine.largestBatch,
      engine,
    };
  }

  async function close(closeOptions: { timeoutMs?: number } = {}): Promise<void> {
    closePromise ??= (async () => {
      draining = true;
      const timeoutMs = closeOptions.timeoutMs ?? 30_000;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const requestsDone = new Promise<void>((resolve) => {
        if (inFlightRequests === 0) resolve();
        else requestIdleWaiters.push(resolve);
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([
        Promise.all([batcher.whenIdle(), requestsDone]).then(() => 'done' as const),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn(`shutdown: requests still running after ${timeoutMs} ms; closing their connections`);
      }
      httpServer.closeAllConnections();
      if (httpServer.listening) await closed;
      logger.info('server closed');
    })();
    return closePromise;
  }

  return {
    httpServer,
    modelName: resolved.modelName,
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      const port = listenOptions.port ?? 8000;
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          reject(
            new InvalidArgumentError({
              argument: 'port',
              cause: error,
              message:
                error.code === 'EADDRINUSE'
                  ? `Cannot listen on ${host}:${port}: the port is in use. Pick another with --port (0 picks a free one).`
                  : `Cannot listen on ${host}:${port}: ${error.message}`,
            }),
          );
        };
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shownHost}:${address.port}`;
      logger.debug(`serving ${resolved.modelName} at ${url}/v1`);
      return { url, host: address.address, port: address.port };
    },
    close,
    stats: () => ({ ...stats(), inFlightRequests, draining }),
  };
}
