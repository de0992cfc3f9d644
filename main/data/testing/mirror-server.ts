// A dataset mirror on 127.0.0.1 for tests: serves the files it is given, and misbehaves on request
// the ways real mirrors do. No test touches the internet; they point the downloader here.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type MirrorMode =
  /** Serves the file, honouring Range requests (206). */
  | 'ok'
  /** 404 for every file. */
  | 'not-found'
  /** Sends the headers and the first half, then nothing more (the connection stays open). */
  | 'stall'
  /** Sends the headers (the full length) and the first half, then closes the connection. */
  | 'drop'
  /** Serves the file with some bytes changed (same length). */
  | 'wrong-bytes'
  /** Ignores Range: always 200 with the whole file. */
  | 'no-range'
  /** Serves the file like 'ok', in eight pieces 100 ms apart, so that two clients overlap. */
  | 'slow';

export interface MirrorRequest {
  path: string;
  range: string | null;
}

export interface TestMirror {
  /** Base URL, ending in '/'. */
  url: string;
  mode: MirrorMode;
  requests: MirrorRequest[];
  close(): Promise<void>;
}

/** The first byte a `bytes=N-` Range asks for, or null without one. */
function rangeOf(header: string | undefined): number | null {
  const match = /^bytes=(\d+)-$/.exec(header ?? '');
  return match ? Number(match[1]) : null;
}

function serve(
  mirror: TestMirror,
  files: ReadonlyMap<string, Uint8Array>,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
  mirror.requests.push({ path: name, range: req.headers.range ?? null });
  const file = files.get(name);
  if (!file || mirror.mode === 'not-found') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  const half = Math.floor(file.length / 2);
  if (mirror.mode === 'stall' || mirror.mode === 'drop') {
    res.writeHead(200, { 'Content-Length': file.length });
    res.write(file.subarray(0, half), () => {
      // A web stream that errors drops the chunks its reader has not taken yet, so a drop right after
      // the write could reach fetch's reader before the bytes do on a loaded machine: give it time to
      // read them first, as a real connection that dies mid-file has sent its bytes well before.
      if (mirror.mode === 'drop') setTimeout(() => res.socket?.destroy(), 300);
    });
    return;
  }
  let body = file;
  if (mirror.mode === 'wrong-bytes') {
    body = Uint8Array.from(file);
    for (let i = 100; i < body.length; i += 997) body[i] = body[i]! ^ 0xff;
  }
  const start = mirror.mode === 'no-range' ? null : rangeOf(req.headers.range);
  if (start !== null && start >= body.length) {
    res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
    return;
  }
  if (start === null) {
    res.writeHead(200, {
      'Content-Length': body.length,
      'Accept-Ranges': mirror.mode === 'no-range' ? 'none' : 'bytes',
    });
    send(mirror.mode, res, body);
    return;
  }
  res.writeHead(206, {
    'Content-Length': body.length - start,
    'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
  });
  send(mirror.mode, res, body.subarray(start));
}

function send(mode: MirrorMode, res: ServerResponse, body: Uint8Array) {
  if (mode !== 'slow') return void res.end(body);
  const piece = Math.ceil(body.length / 8);
  const next = (at: number) => {
    if (at >= body.length || res.destroyed) return void res.end();
    res.write(body.subarray(at, at + piece));
    setTimeout(() => next(at + piece), 100);
  };
  next(0);
}

/** Starts a mirror serving `files` (name -> bytes) in mode 'ok'; set `mode` to make it misbehave. */
export async function startTestMirror(files: ReadonlyMap<string, Uint8Array>): Promise<TestMirror> {
  const mirror: TestMirror = { url: '', mode: 'ok', requests: [], close: () => Promise.resolve() };
  const server = createServer((req, res) => serve(mirror, files, req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  mirror.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return mirror;
}
