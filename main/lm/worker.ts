// A language unit's process: one replicate of one cell (main/lm/pipeline.ts), started by the runner
// (run.ts) so that units run side by side on the cores and a crash fails only its unit.
import type { BackendChoice } from '../../app/protocol.ts';
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

const send = (m: FromLmWorker) => process.send?.(m);

process.on('message', (m: ToLmWorker) => {
  if (m.type !== 'run') return;
  void (async () => {
    try {
      const info = await initBackend(m.backend);
      send({ type: 'ready', backend: info.name, versions: info.versions });
      const result = runReplicate(m.options, m.seed, {
        progress: (stage) => send({ type: 'stage', stage }),
        backend: info.name,
        ...(m.cacheDir ? { cache: directoryCache(m.cacheDir) } : {}),
      });
      send({ type: 'result', result });
    } catch (error) {
      send({ type: 'error', message: (error as Error).message });
    } finally {
      process.disconnect?.();
    }
  })();
});
