// Starting a trainer process. The CLI and browser mode fork a plain Node child; the Electron app
// supplies a utilityProcess-based spawner with the same shape.
import { fork } from 'node:child_process';
import type { BackendChoice, BackendName, DeviceLimits, FromTrainer, ToTrainer } from '../../app/protocol.ts';
import { nodeEntry } from '../node-entry.ts';

export interface TrainerHandle {
  readonly pid: number | undefined;
  send(message: ToTrainer): void;
  onMessage(listener: (message: FromTrainer) => void): void;
  /** Called once when the process has ended; `stderrTail` holds its last lines of output. */
  onExit(listener: (code: number | null, signal: string | null, stderrTail: string) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export type TrainerSpawner = () => TrainerHandle;

export const forkTrainer: TrainerSpawner = () => {
  // Resolved per call: bundles that never fork from here (Electron's main) hold no worker beside them.
  const worker = nodeEntry(new URL('./worker.ts', import.meta.url));
  const child = fork(worker.file, [], {
    execArgv: worker.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Keep the end only; lines longer than 400 characters (wasm's minified source on a crash) are cut.
    tail = (tail + chunk)
      .split('\n')
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)}...` : line))
      .slice(-20)
      .join('\n');
  });
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as FromTrainer)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal, tail)),
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
};

/** What a trainer's probe learnt: the backend it started, and a GPU adapter's buffer limits. */
export interface ProbeAnswer {
  backend: BackendName;
  device?: DeviceLimits;
}

/** Starts `choice` in a short-lived trainer: resolves to what it got, rejects with why not. */
export function probeTrainer(
  choice: BackendChoice,
  spawn: TrainerSpawner = forkTrainer,
): Promise<ProbeAnswer> {
  const trainer = spawn();
  return new Promise((resolve, reject) => {
    let answer: ProbeAnswer | undefined;
    let error = 'the backend probe ended without an answer';
    trainer.onMessage((m) => {
      if (m.type === 'ready') answer = { backend: m.backend, ...(m.limits ? { device: m.limits } : {}) };
      if (m.type === 'error') error = m.message;
    });
    trainer.onExit(() => (answer ? resolve(answer) : reject(new Error(error))));
    trainer.send({ type: 'probe', backend: choice });
  });
}
