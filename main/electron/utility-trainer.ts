// Trainers in the desktop app run in Electron utilityProcesses (the same protocol as the CLI's forked
// children): a crash there (GPU driver, out of memory) fails its job and leaves the app running.
import { utilityProcess } from 'electron';
import type { FromTrainer } from '../../app/protocol.ts';
import type { TrainerSpawner } from '../trainer/spawn.ts';

export function utilityTrainer(workerPath: string): TrainerSpawner {
  return () => {
    const child = utilityProcess.fork(workerPath, [], {
      serviceName: 'Subliminal Lab trainer',
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      tail = (tail + chunk).split('\n').slice(-20).join('\n');
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => child.postMessage(message),
      onMessage: (listener) => child.on('message', (message: FromTrainer) => listener(message)),
      onExit: (listener) => child.on('exit', (code) => listener(code, null, tail)),
      kill: () => void child.kill(),
    };
  };
}
