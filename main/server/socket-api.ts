// The API protocol on one WebSocket: each text frame is a JSON request {id, method, input}; each gets
// exactly one reply {id, ok, result | error}. Whatever a frame holds, the socket gets a reply (or, for
// frames the protocol layer itself refuses, a close with its code) and the server keeps going.
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import type { LabService } from '../api/service.ts';

/**
 * The largest frame we accept. The largest legitimate request is experiments.update with notes of
 * 100,000 characters: JSON-escaped, a character takes at most 6 bytes ("\u001f"), so 600 kB, plus a
 * name of 200 and 32 tags of 64. A spec is a few kB (even a large matrix is tens). 1 MiB covers both
 * with room and keeps what one frame can make main allocate 16 times smaller than ws's default 100 MiB.
 * A larger frame closes the socket with 1009 (message too big), by ws.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** A spec nests about 6 levels; anything far deeper is not a request and would only cost stack. */
export const MAX_JSON_DEPTH = 64;

/** Calls a socket may have running at once; the app's page keeps a handful, a flood gets refused. */
export const MAX_IN_FLIGHT = 64;

/** Replies queued to a page that stopped reading; past this it is dropped rather than grow main. */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

const Id = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Request = z.strictObject({ id: Id, method: z.string().max(64), input: z.unknown() });
type Request = z.infer<typeof Request>;

export type Reply =
  { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: string };

/** The deepest bracket nesting in a JSON text, counted outside strings; stops early past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      deepest = Math.max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ');
}

/** A request, or the error reply for a frame that is not one (with its id when that much parsed). */
export function parseRequest(data: RawData, isBinary: boolean): Request | Reply {
  if (isBinary) return { id: null, ok: false, error: 'malformed request: binary frame; send JSON text' };
  const text = (
    Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
  ).toString();
  if (jsonDepth(text) > MAX_JSON_DEPTH)
    return { id: null, ok: false, error: `malformed request: nested deeper than ${MAX_JSON_DEPTH} levels` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { id: null, ok: false, error: 'malformed request: not JSON' };
  }
  const parsed = Request.safeParse(value);
  if (parsed.success) return parsed.data;
  const rawId = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  const id = Id.safeParse(rawId);
  return {
    id: id.success ? id.data : null,
    ok: false,
    error: `malformed request: expected {id, method, input}: ${issues(parsed.error)}`,
  };
}

function encode(reply: Reply): string {
  try {
    return JSON.stringify(reply);
  } catch (error) {
    return JSON.stringify({ id: reply.id, ok: false, error: `reply not encodable: ${String(error)}` });
  }
}

/** Sends if the socket is still open; a socket closing under us is not an error of the server's. */
export function send(ws: WebSocket, message: Reply | string): void {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
    ws.terminate();
    return;
  }
  ws.send(typeof message === 'string' ? message : encode(message), () => {
    // The callback takes the error of a send that raced a close; there is nobody left to tell.
  });
}

/** Serves the API on one authenticated socket. */
export function serveSocket(ws: WebSocket, service: LabService): void {
  let inFlight = 0;
  // Protocol errors (bad UTF-8, oversized or malformed frames) make ws close the socket with the
  // right code (1007, 1009, 1002) and then emit 'error'; unheard, that event would be thrown in main.
  // ws finishes the closing handshake itself, so there is nothing more to do here.
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    try {
      handleFrame(data, isBinary);
    } catch (error) {
      // A bug in reading a frame costs that frame an error reply, never the process.
      send(ws, { id: null, ok: false, error: `internal error: ${(error as Error).message}` });
    }
  });
  const handleFrame = (data: RawData, isBinary: boolean) => {
    const request = parseRequest(data, isBinary);
    if ('ok' in request) return send(ws, request);
    const { id, method, input } = request;
    if (inFlight >= MAX_IN_FLIGHT)
      return send(ws, { id, ok: false, error: `too many calls in flight (at most ${MAX_IN_FLIGHT})` });
    inFlight++;
    Promise.resolve()
      .then(() => service.call(method, input))
      .then(
        (result) => send(ws, { id, ok: true, result }),
        (error: unknown) =>
          send(ws, { id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => inFlight--);
  };
}
