// Starting a trainer process. The CLI and browser mode fork a plain Node child; the Electron app
// supplies a utilityProcess-based spawner with the same shape.
import type { BackendChoice, BackendName, DeviceLimits, FromTrainer, ToTrainer } from '../../app/protocol.ts';
import { forkChild, type ChildHandle, type ChildSpawner } from '../child.ts';
import { nodeEntry } from '../node-entry.ts';

export type TrainerHandle = ChildHandle<ToTrainer, FromTrainer>;
export type TrainerSpawner = ChildSpawner<ToTrainer, FromTrainer>;

// Resolved per call: bundles that never fork from here (Electron's main) hold no worker beside them.
export const forkTrainer: TrainerSpawner = () =>
  forkChild(nodeEntry(new URL('./worker.ts', import.meta.url)));

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
