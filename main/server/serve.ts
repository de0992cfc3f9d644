// Browser mode: the built renderer and the lab API over one HTTP server on 127.0.0.1 only. The API is a
// WebSocket that opens only with the session token (printed as a ready-to-open URL) and only from this
// server's own origin; other hosts in the Host header are refused (DNS rebinding). No request, frame or
// client misbehaviour may end the process: it would take every running job with it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, realpathSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { extname, resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LabService } from '../api/service.ts';
import { isRefusal, parseTarget, staticFile } from './request-target.ts';
import { MAX_MESSAGE_BYTES, send, serveSocket } from './socket-api.ts';

export interface LabServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

const ALLOW = 'GET, HEAD';

/**
 * Time limits for a client on localhost: a real browser sends its headers at once, so 10 s for them
 * and 30 s for a whole request only ever cut off a stuck or hostile client. Node checks them every
 * `connectionsCheckingInterval`, 30 s by default, too coarse for these limits.
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const CHECK_INTERVAL_MS = 1_000;
/** Node's default, written out: the URL (at most 8 KiB) and the headers must fit in it together. */
const MAX_HEADER_BYTES = 16 * 1024;

/** The page's CSP: scripts only from this origin, the API socket only to it, no plugins or frames. */
export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Observable Plot puts a <style> element in each figure; styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function sameToken(given: string | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${text}\n`);
}

/** A bare HTTP response on a socket the HTTP layer has let go of (upgrade, CONNECT, client errors). */
function rawRefusal(socket: Duplex, status: number, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}Connection: close\r\nContent-Length: 0\r\n\r\n`,
  );
  // end() flushes the answer; destroy after that, so a client that does not close cannot hold the socket.
  socket.once('finish', () => socket.destroy());
}

/** The HTTP parser's verdict on a request it could not read: the status Node would send, then close. */
function onClientError(error: Error & { code?: string }, socket: Duplex): void {
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  if (error.code === 'ECONNRESET' || (socket as Socket).bytesWritten > 0) socket.destroy();
  else rawRefusal(socket, status);
}

function serveStatic(root: string, port: number, path: string, res: ServerResponse): void {
  const found = staticFile(root, path);
  if (isRefusal(found)) return plain(res, found.status, found.reason);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(found.file)] ?? 'application/octet-stream',
    'content-length': found.size,
    'content-security-policy': contentSecurityPolicy(port),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  // pipeline, not pipe: a read error (file replaced mid-read) ends this response, not the process.
  pipeline(createReadStream(found.file), res, (error) => {
    if (error) res.destroy();
  });
}

function realRoot(staticDir: string): string {
  try {
    return realpathSync(staticDir);
  } catch {
    return resolve(staticDir); // not built yet: every file is then a 404
  }
}

export async function startLabServer(options: {
  service: LabService;
  staticDir: string;
  port?: number;
  token?: string;
}): Promise<LabServer> {
  const root = realRoot(options.staticDir);
  const token = options.token ?? randomBytes(24).toString('base64url');
  let port = options.port ?? 0;
  const allowedHost = (host: string | undefined) =>
    host === `127.0.0.1:${port}` || host === `localhost:${port}`;
  const allowedOrigin = (origin: string | undefined) =>
    origin === undefined || (origin.startsWith('http://') && allowedHost(origin.slice('http://'.length)));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = parseTarget(req.url);
    if (isRefusal(target) && target.status === 414) return plain(res, 414, target.reason);
    if (!allowedHost(req.headers.host)) return plain(res, 403, 'forbidden host');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'method not allowed', { allow: ALLOW });
    if (isRefusal(target)) return plain(res, target.status, target.reason);
    // The page names its icon (index.html); browsers and tools that ask for the old path get it too.
    serveStatic(root, port, target.path === '/favicon.ico' ? '/favicon.svg' : target.path, res);
  };

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
    },
    (req, res) => {
      // A request body is never read; a client aborting one is not the server's error.
      req.on('error', () => res.destroy());
      res.on('error', () => res.destroy());
      try {
        handle(req, res);
      } catch (error) {
        // A bug in a handler costs this response a 500, never the process (and its jobs).
        plain(res, 500, `internal error: ${(error as Error).message}`);
      }
    },
  );
  server.on('clientError', onClientError);
  // CONNECT is for proxies; unheard, Node would drop the socket without an answer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    rawRefusal(socket, 405, { Allow: ALLOW });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const sockets = new Set<WebSocket>();

  /** The status that refuses this upgrade, or null to let it through to the API. */
  const upgradeRefusal = (req: IncomingMessage): number | null => {
    const target = parseTarget(req.url);
    if (isRefusal(target)) return target.status;
    if (!allowedHost(req.headers.host) || !allowedOrigin(req.headers.origin)) return 403;
    if (target.path !== '/api') return 404;
    if (!sameToken(target.query.get('token'), token)) return 401;
    return null;
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands an upgrading socket over without an error listener; a reset would be thrown.
    socket.on('error', () => socket.destroy());
    try {
      const status = upgradeRefusal(req);
      if (status !== null) return rawRefusal(socket, status);
      // ws answers a bad handshake (not GET, no or bad key, wrong version) with its own 4xx.
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch {
      rawRefusal(socket, 500);
    }
  });

  const unsubscribe = options.service.onEvent((event) => {
    const text = JSON.stringify({ event });
    for (const ws of sockets) send(ws, text);
  });

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    serveSocket(ws, options.service);
  });

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  // After listening, a server error (e.g. out of file descriptors on accept) is reported, not thrown.
  server.on('error', (error) => process.stderr.write(`sublab serve: ${error.message}\n`));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
