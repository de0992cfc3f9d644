// Progress bars per (cell, phase) with ETA, on stderr so stdout stays clean for results.
import cliProgress from 'cli-progress';
import type { RunEvent } from '../jobs/run-experiment.ts';

export function progressReporter(): { onEvent: (event: RunEvent) => void; stop: () => void } {
  const multibar = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: ' {label} |{bar}| {percentage}% | {value}/{total} steps | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let cellCount = 1;
  let stopped = false;
  return {
    onEvent: (event) => {
      if (event.type === 'experiment') {
        cellCount = event.cells.length;
        multibar.log(
          `experiment ${event.experimentId}: ${event.cells.length} cell(s), ${event.workers} trainer process(es) per cell\n`,
        );
      } else if (event.type === 'backend' && event.cell.index === 0) {
        multibar.log(
          `backend: ${event.backend} (${Object.entries(event.versions)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})\n`,
        );
      } else if (event.type === 'phase' && event.phase !== 'data') {
        const label = `cell ${event.cell.index + 1}/${cellCount} ${event.phase.padEnd(8)}`;
        bars.set(`${event.cell.index}:${event.phase}`, multibar.create(event.totalSteps, 0, { label }));
      } else if (event.type === 'progress') {
        bars.get(`${event.cell.index}:${event.phase}`)?.update(event.step);
      } else if (event.type === 'cell-end' && event.error) {
        multibar.log(`cell ${event.cell.index + 1} ${event.status}: ${event.error}\n`);
      }
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}
