// Worker processes in the desktop app are Electron utilityProcesses (the same protocols as the CLI's
// forked children, main/child.ts): a crash there (GPU driver, out of memory) fails its job and leaves
// the app running. The classifier's trainers and the language family's units both start here.
import { utilityProcess } from 'electron';
import { stderrTail, type ChildSpawner } from '../child.ts';

export function utilityChild<To, From>(workerPath: string, serviceName: string): ChildSpawner<To, From> {
  return () => {
    const child = utilityProcess.fork(workerPath, [], {
      serviceName,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (tail = stderrTail(tail, chunk)));
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => child.postMessage(message),
      onMessage: (listener) => child.on('message', (message: From) => listener(message)),
      onExit: (listener) => child.on('exit', (code) => listener(code, null, tail)),
      kill: () => void child.kill(),
    };
  };
}
