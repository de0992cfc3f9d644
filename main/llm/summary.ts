// An llm experiment's results: per cell, each condition's rate of naming the animal over replicates
// (mean with its Student-t interval) and each control compared with the student, paired by replicate.
import type { LlmCellSummary } from '../../app/llm/results.ts';
import { pairedComparison, summarize, type PairedComparison } from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';

export function summarizeLlm(store: RunStore, experimentId: number): LlmCellSummary[] {
  return store.cells(experimentId).map((cell) => {
    const rows = store.db
      .prepare(
        'SELECT condition, replicate, trait_score AS rate FROM results WHERE cell_id = ? ORDER BY replicate',
      )
      .all(cell.id) as { condition: string; replicate: number; rate: number }[];
    const by = new Map<string, Map<number, number>>();
    for (const r of rows) by.set(r.condition, (by.get(r.condition) ?? new Map()).set(r.replicate, r.rate));
    const conditions = Object.fromEntries([...by].map(([c, m]) => [c, summarize([...m.values()])]));
    const student = by.get('student') ?? new Map<number, number>();
    const versusStudent: Record<string, PairedComparison> = {};
    for (const [c, m] of by) {
      if (c === 'student') continue;
      const paired = [...student.keys()].filter((r) => m.has(r));
      versusStudent[c] = pairedComparison(
        paired.map((r) => student.get(r)!),
        paired.map((r) => m.get(r)!),
      );
    }
    const coords = (cell.cell as unknown as { coords: { trait: string; filter: string } }).coords;
    return { index: cell.index, trait: coords.trait, filter: coords.filter, conditions, versusStudent };
  });
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-');

/** Plain-text lines: one per condition, then student minus each control with its p-value. */
export function llmTable(cells: readonly LlmCellSummary[]): string {
  return cells
    .map((c) => {
      const lines = [`cell ${c.index}: ${c.trait}, ${c.filter}`];
      for (const [name, s] of Object.entries(c.conditions))
        lines.push(`  ${name.padEnd(12)} ${pct(s.mean)} [${pct(s.low)}, ${pct(s.high)}] n=${s.n}`);
      for (const [name, d] of Object.entries(c.versusStudent))
        lines.push(
          `  student - ${name}: ${pct(d.meanDiff)} [${pct(d.low)}, ${pct(d.high)}] p=${Number.isFinite(d.p) ? d.p.toPrecision(2) : '-'}`,
        );
      return lines.join('\n');
    })
    .join('\n\n');
}
