// TinkerClient against a small scripted HTTP server on 127.0.0.1 that answers the way SkyRL does where
// it differs from the hosted service: HTTP 408 while a future is pending, HTTP 400 {detail} on failure.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiCallError } from '@rlpt/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { TinkerClient } from './client.js';

type Route = (body: Record<string, unknown>, request: IncomingMessage, response: ServerResponse) => void;
let server: Server | undefined;
const seen: { path: string; headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];

async function serve(routes: Record<string, Route>): Promise<string> {
  seen.length = 0;
  const created = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += String(chunk);
    });
    request.on('end', () => {
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      seen.push({ path: request.url ?? '', headers: request.headers, body });
      const route = routes[request.url ?? ''];
      if (!route) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ detail: 'Not Found' }));
        return;
      }
      route(body, request, response);
    });
  });
  server = created;
  await new Promise<void>((done) => created.listen(0, '127.0.0.1', () => done()));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = undefined;
});

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};

describe('TinkerClient futures and retries', () => {
  it('treats HTTP 408 and try_again as pending, sends allow_metadata_only on the first poll only', async () => {
    let polls = 0;
    const url = await serve({
      '/api/v1/retrieve_future': (_body, _request, response) => {
        polls++;
        if (polls === 1) return json(response, 408, { detail: 'still running' });
        if (polls === 2)
          return json(response, 200, { type: 'try_again', request_id: 'r1', queue_state: 'active' });
        json(response, 200, { model_id: 'm1' });
      },
    });
    const client = new TinkerClient({ baseURL: url, apiKey: 'k' });
    expect(await client.result('r1', 'other')).toEqual({ model_id: 'm1' });
    expect(seen.map((request) => request.body.allow_metadata_only)).toEqual([true, false, false]);
    expect(seen[0]?.headers['x-api-key']).toBe('k');
  });

  it("reads both failure shapes: 200 {error, category} and SkyRL's 400 {detail}", async () => {
    const url = await serve({
      '/api/v1/retrieve_future': (body, _request, response) => {
        if (body.request_id === 'sdk') return json(response, 200, { error: 'bad tokens', category: 'user' });
        json(response, 400, { detail: 'model not found' });
      },
    });
    const client = new TinkerClient({ baseURL: url, maxRetries: 0 });
    await expect(client.result('sdk', 'other')).rejects.toThrow(/request sdk failed \(user\): bad tokens/);
    await expect(client.result('skyrl', 'other')).rejects.toThrow(/HTTP 400: model not found.*not retryable/);
  });

  it('retries 429 and 5xx with backoff, never retries 409, and never puts the API key in an error', async () => {
    let calls = 0;
    const url = await serve({
      '/api/v1/optim_step': (_body, _request, response) => {
        calls++;
        if (calls === 1) return json(response, 429, { detail: 'slow down' });
        if (calls === 2) return json(response, 503, { detail: 'busy' });
        json(response, 200, { request_id: 'r7' });
      },
      '/api/v1/forward_backward': (_body, _request, response) =>
        json(response, 409, { detail: 'seq_id 3 used with another body; key secret-abc' }),
    });
    const client = new TinkerClient({
      baseURL: url,
      apiKey: 'secret-abc',
      retryInitialDelayMs: 1,
      retryMaxDelayMs: 2,
    });
    expect(await client.submit('/api/v1/optim_step', {})).toBe('r7');
    expect(calls).toBe(3);
    const error = await client.submit('/api/v1/forward_backward', {}).catch((caught: unknown) => caught);
    expect(ApiCallError.isInstance(error)).toBe(true);
    expect((error as ApiCallError).statusCode).toBe(409);
    expect((error as Error).message).not.toContain('secret-abc');
    expect((error as Error).message).toContain('[redacted]');
    expect(seen.filter((request) => request.path === '/api/v1/forward_backward')).toHaveLength(1);
  });

  it('rejects a numeric request_id: the SDK requires strings', async () => {
    const url = await serve({
      '/api/v1/asample': (_body, _request, response) => json(response, 200, { request_id: 42 }),
    });
    const client = new TinkerClient({ baseURL: url });
    await expect(client.submit('/api/v1/asample', {})).rejects.toThrow(/without a string request_id/);
  });

  it('takes the API key from TINKER_API_KEY by default', async () => {
    const url = await serve({
      '/api/v1/healthz': (_body, _request, response) => json(response, 200, { status: 'ok' }),
    });
    const previous = process.env.TINKER_API_KEY;
    process.env.TINKER_API_KEY = 'from-env';
    try {
      await new TinkerClient({ baseURL: url }).get('/api/v1/healthz');
      expect(seen[0]?.headers['x-api-key']).toBe('from-env');
    } finally {
      if (previous === undefined) delete process.env.TINKER_API_KEY;
      else process.env.TINKER_API_KEY = previous;
    }
  });
});
