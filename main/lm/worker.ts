// A language unit's process: one replicate of one cell (main/lm/pipeline.ts), started by the runner
// (run.ts) so that units run side by side on the cores and a crash fails only its unit: a forked Node
// child from the CLI and browser mode, an Electron utilityProcess in the desktop app (main/child.ts).
import type { BackendChoice } from '../../app/protocol.ts';
import { parentChannel } from '../child.ts';
import { initBackend } from '../engine/backend.ts';
import { directoryCache } from './model-cache.ts';
import { runReplicate, type LanguageOptions, type ReplicateResult } from './pipeline.ts';

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
  | { type: 'result'; result: ReplicateResult }
  | { type: 'error'; message: string };

const parent = parentChannel<ToLmWorker, FromLmWorker>();

parent.onMessage((m) => {
  if (m.type !== 'run') return;
  void (async () => {
    let code = 0;
    try {
      const info = await initBackend(m.backend);
      await parent.send({ type: 'ready', backend: info.name, versions: info.versions });
      const result = runReplicate(m.options, m.seed, {
        progress: (stage) => void parent.send({ type: 'stage', stage }),
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
