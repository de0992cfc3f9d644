// A language unit's process: one replicate of one cell (main/lm/pipeline.ts), started by the runner
// (run.ts) so that units run side by side on the cores and a crash fails only its unit: a forked Node
// child from the CLI and browser mode, an Electron utilityProcess in the desktop app (main/child.ts).
import type { BackendChoice } from '../../app/protocol.ts';
import { parentChannel } from '../child.ts';
import { initBackend } from '../engine/backend.ts';
import { LANGUAGE_SKIPS } from './backend-choice.ts';
import { directoryCache } from './model-cache.ts';
import { runReplicate, type LanguageOptions, type ReplicateResult } from './pipeline.ts';
import type { StepListener } from './train.ts';

/** `cacheDir`: where pretrained bases and teachers are kept (model-cache.ts); absent = no cache. */
export type ToLmWorker = {
  type: 'run';
  options: LanguageOptions;
  seed: number;
  backend: BackendChoice;
  cacheDir?: string;
};
export type FromLmWorker =
  | { type: 'ready'; backend: string; versions: Record<string, string> }
  | { type: 'stage'; stage: string }
  /**
   * A step of the current stage (training steps, or completions kept), with its loss now and then;
   * `part`: the stage whose model the loss is of, where one stage trains several (the stacked "students").
   */
  | { type: 'step'; step: number; total: number; loss?: number; part?: string }
  | { type: 'result'; result: ReplicateResult }
  | { type: 'error'; message: string };

const parent = parentChannel<ToLmWorker, FromLmWorker>();

/**
 * Steps sent at most every STEP_MS (a stage's first and last always, so a short stage still draws a
 * point), each with its loss when the stage trains. `newStage` starts the next stage's clock.
 */
const STEP_MS = 250;
function throttledSteps(
  send: (m: Extract<FromLmWorker, { type: 'step' }>) => void,
): StepListener & { newStage(): void } {
  let last = 0;
  return {
    newStage: () => (last = 0),
    wantsLoss: () => performance.now() - last >= STEP_MS,
    step(step, total, loss, part) {
      if (loss === undefined && step < total && performance.now() - last < STEP_MS) return;
      last = performance.now();
      const shown = loss === undefined || !Number.isFinite(loss) ? {} : { loss, ...(part ? { part } : {}) };
      send({ type: 'step', step, total, ...shown });
    },
  };
}

parent.onMessage((m) => {
  if (m.type !== 'run') return;
  void (async () => {
    let code = 0;
    try {
      const info = await initBackend(m.backend, LANGUAGE_SKIPS);
      await parent.send({ type: 'ready', backend: info.name, versions: info.versions });
      const steps = throttledSteps((message) => void parent.send(message));
      const result = runReplicate(m.options, m.seed, {
        progress: (stage) => {
          steps.newStage();
          void parent.send({ type: 'stage', stage });
        },
        steps,
        backend: info.name,
        ...(m.cacheDir ? { cache: directoryCache(m.cacheDir) } : {}),
      });
      await parent.send({ type: 'result', result });
    } catch (error) {
      code = 1;
      await parent.send({ type: 'error', message: (error as Error).message });
    }
    parent.exit(code);
  })();
});

// A parent that goes away (a killed CLI) takes its units with it.
process.on('disconnect', () => parent.exit(2));
