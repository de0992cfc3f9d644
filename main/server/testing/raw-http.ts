// A raw TCP client for the server's tests: sends bytes no HTTP library would (bad request lines,
// encodings, methods, header floods) and reports what came back, including "nothing".
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status of the first response line, or null when the connection ended without one. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** How the connection ended: closed by the server, reset, or still open at the deadline. */
  ending: 'closed' | 'reset' | 'timeout';
}

function parse(text: string): Pick<RawAnswer, 'status' | 'headers' | 'body'> {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!match) return { status: null, headers: {}, body: text };
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, body: split === -1 ? '' : text.slice(split + 4) };
}

/**
 * Writes `bytes` to 127.0.0.1:port and reads until the server closes the connection or `timeoutMs`
 * passes. Requests should say "Connection: close" so a well-behaved answer ends with a close.
 */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ending: RawAnswer['ending']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(Buffer.concat(chunks).toString('latin1')), ending });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    // The server may close while we are still writing (a refused header flood): what it answered
    // before that is still the answer.
    socket.on('error', () => finish(chunks.length ? 'closed' : 'reset'));
    socket.write(bytes);
  });
}

/** A request with the given request line and headers; without a Connection header, "Connection: close". */
export function requestBytes(line: string, headers: Record<string, string>): string {
  const all = Object.keys(headers).some((k) => k.toLowerCase() === 'connection')
    ? headers
    : { ...headers, Connection: 'close' };
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`);
  return `${line}\r\n${lines.join('')}\r\n`;
}
