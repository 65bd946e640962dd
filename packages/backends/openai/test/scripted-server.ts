/**
 * A real HTTP server on 127.0.0.1 that answers each request by a script: a status with a body, a hang,
 * or a connection reset. It records every request it saw, so tests can check what the client sent.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  receivedAt: number;
  /** Resolves when the client closed the connection before the server replied. */
  closedEarly: Promise<void>;
}

export type ScriptStep =
  | { status?: number; json?: unknown; body?: string; headers?: Record<string, string>; delayMs?: number }
  | 'hang'
  | 'reset';

export type Script = (request: RecordedRequest, index: number) => ScriptStep | Promise<ScriptStep>;

export interface ScriptedServer {
  url: string;
  /** `${url}/v1` */
  baseURL: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const fixturesDir = new URL('../src/__fixtures__/', import.meta.url);

/** Reads a JSON fixture from `src/__fixtures__/`. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, fixturesDir), 'utf8')) as T;
}

export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep raw text
    }
    let markClosed: () => void = () => {};
    const closedEarly = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    res.on('close', () => {
      if (!res.writableFinished) markClosed();
    });
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      receivedAt: performance.now(),
      closedEarly,
    };
    requests.push(recorded);
    const step = await script(recorded, requests.length - 1);
    respond(res, step);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function respond(res: ServerResponse, step: ScriptStep): void {
  if (step === 'hang') return;
  if (step === 'reset') {
    res.socket?.resetAndDestroy();
    return;
  }
  const send = () => {
    const body = step.body ?? (step.json === undefined ? '' : JSON.stringify(step.json));
    res.writeHead(step.status ?? 200, {
      'content-type': step.body !== undefined ? 'text/plain' : 'application/json',
      ...step.headers,
    });
    res.end(body);
  };
  if (step.delayMs) setTimeout(send, step.delayMs);
  else send();
}
