/** HTTP plumbing shared by the routes: JSON replies, errors in OpenAI's shape, SSE streams. */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { RlptError } from '@rlpt/spec';
import { HttpError } from './format.js';

export function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Sends SSE headers at once and keep-alive comments until the result is ready. */
export function beginStream(
  enabled: boolean,
  res: ServerResponse,
  keepAliveMs: number,
): { stop(): void } | undefined {
  if (!enabled) return undefined;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  const timer = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
  return { stop: () => clearInterval(timer) };
}

export function finishStream(res: ServerResponse, chunks: unknown[]): void {
  for (const chunk of chunks) writeEvent(res, chunk);
  res.end('data: [DONE]\n\n');
}

export function requireMethod(method: string, allowed: string[], path: string): void {
  if (!allowed.includes(method)) {
    throw new HttpError({
      status: 405,
      message: `${method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
      code: 'method_not_allowed',
      headers: { allow: allowed.join(', ') },
    });
  }
}

export function notFound(method: string, path: string): HttpError {
  return new HttpError({
    status: 404,
    message: `No route ${method} ${path}. Routes: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions, POST /tokenize, POST /detokenize, POST /update_weights_from_disk, GET /get_weight_version.`,
    code: 'not_found',
  });
}

export function backendError(error: unknown): HttpError {
  if (RlptError.isInstance(error) && (error.code === 'invalid-argument' || error.code === 'unsupported')) {
    return new HttpError({ status: 400, message: error.message, code: error.code });
  }
  return internalError(error);
}

export function internalError(error: unknown): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError({
    status: 500,
    message: `The model backend failed: ${message}`,
    code: 'internal_error',
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  sendJson(res, error.status, error.toJSON());
}

export function writeEvent(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}
