// Progress bars with ETA, on stderr so stdout stays clean for results: one teacher bar per group of
// cells sharing a teacher (it trains once for all of them), then a students bar per cell.
import cliProgress from 'cli-progress';
import { formatDuration } from '../../app/estimate.ts';
import type { Phase } from '../../app/protocol.ts';
import { cellsLabel, rowCells, rowKey } from '../../app/progress-rows.ts';
import type { RunEvent } from '../jobs/run-experiment.ts';

/** The bar a cell's phase moves: its group's teacher bar or its own students bar; none for data. */
export function barOf(
  groups: readonly (readonly number[])[],
  cellCount: number,
  cell: number,
  phase: Phase,
): { key: string; label: string } | null {
  if (phase === 'data') return null;
  const cells = rowCells(groups, cell, phase);
  const label =
    phase === 'teacher'
      ? `teacher of ${cellsLabel(cells)}${cells.length > 1 ? ' (shared)' : ''}`
      : `students of cell ${cell + 1}/${cellCount}`;
  return { key: rowKey({ cells, phase }), label };
}

/** Every bar label of a run, for padding them to one width. */
function labelWidth(groups: readonly (readonly number[])[], cellCount: number): number {
  const labels = groups.flatMap((g) =>
    g.flatMap((cell) =>
      (['teacher', 'students'] as const).map((p) => barOf(groups, cellCount, cell, p)!.label),
    ),
  );
  return Math.max(0, ...labels.map((l) => l.length));
}

export function progressReporter(stream: NodeJS.WritableStream = process.stderr): {
  onEvent: (event: RunEvent) => void;
  stop: () => void;
} {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      format: ' {label} |{bar}| {percentage}% | {value}/{total} steps | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      // cli-progress pads its "NULL" (no rate yet) to "LLs"; say so in words, and in the app's units.
      formatTime: (t: unknown) => (typeof t !== 'number' ? 'estimating' : t <= 0 ? '0 s' : formatDuration(t)),
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let groups: number[][] = [];
  let cellCount = 1;
  let width = 0;
  let stopped = false;
  return {
    onEvent: (event) => {
      if (event.type === 'experiment') {
        cellCount = event.cells.length;
        groups = event.groups;
        width = labelWidth(groups, cellCount);
        multibar.log(
          `experiment ${event.experimentId}: ${event.cells.length} cell(s) in ${groups.length} teacher group(s), ${event.workers} trainer process(es) per group\n`,
        );
      } else if (event.type === 'backend' && event.cell.index === groups[0]?.[0]) {
        multibar.log(
          `backend: ${event.backend} (${Object.entries(event.versions)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})\n`,
        );
      } else if (event.type === 'phase') {
        // Every cell of a group reports its teacher: the bar is made once.
        const bar = barOf(groups, cellCount, event.cell.index, event.phase);
        if (bar && !bars.has(bar.key))
          bars.set(bar.key, multibar.create(event.totalSteps, 0, { label: bar.label.padEnd(width) }));
      } else if (event.type === 'progress') {
        const bar = barOf(groups, cellCount, event.cell.index, event.phase);
        if (bar) bars.get(bar.key)?.update(event.step);
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
