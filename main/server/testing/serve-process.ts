// Test helpers: `sublab serve` as a real child process, and a WebSocket client of its API that
// matches replies to calls by id (a socket that closes fails the calls still waiting).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';

const root = new URL('../../../', import.meta.url).pathname;

type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

export class SocketClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private constructor(
    readonly ws: WebSocket,
    onMessage?: (text: string) => void,
  ) {
    ws.on('message', (data) => {
      const text = String(data);
      onMessage?.(text);
      const message = JSON.parse(text) as Reply | { event: unknown };
      if ('event' in message) return;
      this.waiting.get(message.id)?.resolve(message);
      this.waiting.delete(message.id);
    });
    ws.on('close', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the socket closed (${code})`));
      this.waiting.clear();
    });
  }

  /** `onMessage` hears every frame's text, replies and events alike. */
  static open(port: number, token: string, onMessage?: (text: string) => void): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${encodeURIComponent(token)}`);
      ws.once('open', () => resolve(new SocketClient(ws, onMessage)));
      ws.once('error', reject);
    });
  }

  async call<T>(method: string, input: unknown): Promise<T> {
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, input }));
    });
    if (!reply.ok) throw new Error(`${method}: ${reply.error}`);
    return reply.result as T;
  }
}

/**
 * `sublab serve --db DB --port 0 ...args` with `env`; resolves once it prints its URL. Its stderr is
 * collected in `stderr()` (or passed through with `inheritStderr`).
 */
export async function startServe(
  db: string,
  env: NodeJS.ProcessEnv,
  args: readonly string[] = [],
  inheritStderr = false,
) {
  const child = spawn(
    process.execPath,
    [join(root, 'bin/sublab.js'), 'serve', '--db', db, '--port', '0', ...args],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', inheritStderr ? 'inherit' : 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (match) resolve(new URL(match[1]!));
    });
    child.once('exit', (code) => reject(new Error(`sublab serve exited with ${code}: ${out}${err}`)));
  });
  return { child, port: Number(url.port), token: url.searchParams.get('token')!, stderr: () => err };
}
