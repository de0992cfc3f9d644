// The two ends of a worker process, whatever started it: the CLI and browser mode fork plain Node
// children (`process.send`); the desktop app starts Electron utilityProcesses (`process.parentPort`).
// The classifier's trainers and the language family's units speak through the same two shapes.
import { fork } from 'node:child_process';
import type { NodeEntry } from './node-entry.ts';

/** The parent's handle on one child process speaking `To` and `From` messages. */
export interface ChildHandle<To, From> {
  readonly pid: number | undefined;
  send(message: To): void;
  onMessage(listener: (message: From) => void): void;
  /** Called once when the process has ended; `stderrTail` holds its last lines of output. */
  onExit(listener: (code: number | null, signal: string | null, stderrTail: string) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export type ChildSpawner<To, From> = () => ChildHandle<To, From>;

/** The last lines of a child's stderr; lines over 400 characters (wasm's minified source on a crash) are cut. */
export function stderrTail(previous: string, chunk: string): string {
  return (previous + chunk)
    .split('\n')
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)}...` : line))
    .slice(-20)
    .join('\n');
}

/** Forks `entry` as a plain Node child with an IPC channel. */
export function forkChild<To, From>(entry: NodeEntry): ChildHandle<To, From> {
  const child = fork(entry.file, [], {
    execArgv: entry.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (tail = stderrTail(tail, chunk)));
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      // A child just killed may still look connected: the write then fails with EPIPE. Its end is
      // reported through onExit, so the failed send is dropped rather than crash this process.
      if (child.connected) child.send(message as object, () => {});
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as From)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal, tail)),
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
}

/** Electron's utilityProcess gives its child `process.parentPort`; a forked Node child has `process.send`. */
interface ParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

/** The child's end: send to the parent, hear from it, and exit once queued messages are out. */
export interface ParentChannel<To, From> {
  send(message: From): Promise<void>;
  onMessage(listener: (message: To) => void): void;
  exit(code: number): void;
}

export function parentChannel<To, From>(): ParentChannel<To, From> {
  const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
  return {
    send: (message) => {
      if (port) {
        port.postMessage(message);
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        if (!process.send || !process.connected) return resolve();
        process.send(message, undefined, {}, () => resolve());
      });
    },
    onMessage: (listener) => {
      if (port) port.on('message', (event) => listener(event.data as To));
      else process.on('message', (m) => listener(m as To));
    },
    // utilityProcess's postMessage has no completion callback: give the queue a moment.
    exit: (code) => {
      if (port) setTimeout(() => process.exit(code), 100);
      else process.exit(code);
    },
  };
}
