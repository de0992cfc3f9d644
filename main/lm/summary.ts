// A language experiment's results from the store: each model's target rate with its Student-t
// interval and N, the filter's rejection rates, per-animal answer rates (the heatmap's rows), and the
// paired comparisons of the student against both controls (paired t and Wilcoxon, Holm across cells).
import {
  holm,
  pairedComparison,
  summarize,
  type IntervalMethod,
  type IntervalSummary,
} from '../../app/stats.ts';
import {
  LM_MODELS,
  type LmCellSummary,
  type LmComparison,
  type LmExperimentSummary,
} from '../../app/language-results.ts';

export type { LmCellSummary, LmComparison, LmExperimentSummary };
import { coordsLabel } from '../../app/matrix.ts';
import { LM_ANIMALS, type LanguageCell } from '../../app/spec/language.ts';
import type { RunStore } from '../store/store.ts';

export const LM_COMPARISONS = [
  { a: 'student', b: 'own_numbers', label: 'student minus own-numbers control' },
  { a: 'student', b: 'cross_model', label: 'student minus cross-model control' },
  { a: 'teacher', b: 'base', label: 'teacher minus base' },
] as const;

function perReplicate(
  rows: { condition: string; replicate: number; name: string; value: number }[],
  condition: string,
  name: string,
): Map<number, number> {
  return new Map(
    rows.filter((r) => r.condition === condition && r.name === name).map((r) => [r.replicate, r.value]),
  );
}

function interval(values: number[], method: IntervalMethod): IntervalSummary | null {
  return values.length ? summarize(values, method) : null;
}

export function summarizeLanguage(
  store: RunStore,
  experimentId: number,
  method: IntervalMethod = 't',
): LmExperimentSummary {
  const exp = store.getExperiment(experimentId);
  if (!exp) throw new Error(`no experiment ${experimentId}`);
  const spec = exp.spec as unknown as { replicates: number; matrix: { traits: { animal: string }[] } };
  const cells = store.cells(experimentId).map((row) => {
    const cell = row.cell as unknown as LanguageCell;
    const metrics = store.metrics(row.id);
    const rates: LmCellSummary['rates'] = {};
    const answers: LmCellSummary['answers'] = {};
    for (const condition of LM_MODELS) {
      const r = [...perReplicate(metrics, condition, 'target_rate').values()];
      if (r.length) rates[condition] = summarize(r, method);
      const names = [...LM_ANIMALS, 'other'];
      const a = names.map((animal) => {
        const v = [...perReplicate(metrics, condition, `answer_${animal}`).values()];
        return { animal, rate: v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN };
      });
      if (a.some((x) => Number.isFinite(x.rate))) answers[condition] = a;
    }
    const comparisons: LmComparison[] = [];
    for (const c of LM_COMPARISONS) {
      const left = perReplicate(metrics, c.a, 'target_rate');
      const right = perReplicate(metrics, c.b, 'target_rate');
      const reps = [...left.keys()].filter((k) => right.has(k)).sort((x, y) => x - y);
      if (reps.length === 0) continue;
      const p = pairedComparison(
        reps.map((k) => left.get(k)!),
        reps.map((k) => right.get(k)!),
        method,
      );
      comparisons.push({ ...p, a: c.a, b: c.b, label: c.label, pHolm: p.p });
    }
    return {
      index: cell.index,
      label: coordsLabel(cell.coords),
      coords: cell.coords,
      status: row.status,
      rates,
      answers,
      rejection: {
        teacher: interval([...perReplicate(metrics, 'teacher', 'rejection_rate').values()], method),
        base: interval([...perReplicate(metrics, 'base', 'rejection_rate').values()], method),
      },
      comparisons,
    };
  });
  // Holm within each comparison family across the cells.
  for (const c of LM_COMPARISONS) {
    const members = cells.flatMap((cell) => cell.comparisons.filter((x) => x.label === c.label));
    const adjusted = holm(members.map((m) => m.p));
    members.forEach((m, i) => (m.pHolm = adjusted[i]!));
  }
  return {
    family: 'language',
    experimentId,
    name: exp.name,
    status: exp.status,
    backend: exp.backend,
    wallSeconds: exp.wallSeconds,
    replicates: spec.replicates,
    targetAnimals: spec.matrix.traits.map((t) => t.animal),
    cells,
  };
}

const pct = (s: IntervalSummary | null | undefined) =>
  s ? `${(100 * s.mean).toFixed(1)}% +- ${(100 * s.ci95).toFixed(1)} (N=${s.n})` : '-';
const pText = (p: number) => (!Number.isFinite(p) ? '-' : p < 0.001 ? '<0.001' : p.toFixed(3));

/** Plain-text tables for the terminal. */
export function languageTables(s: LmExperimentSummary): string {
  const lines: string[] = [];
  for (const cell of s.cells) {
    lines.push(`${cell.label}  [${cell.status}]`);
    for (const [condition, r] of Object.entries(cell.rates))
      lines.push(`  ${condition.padEnd(12)} target rate ${pct(r)}`);
    lines.push(`  rejection   teacher ${pct(cell.rejection.teacher)}, base ${pct(cell.rejection.base)}`);
    for (const c of cell.comparisons)
      lines.push(
        `  ${c.label}: ${(100 * c.meanDiff).toFixed(1)} points [${(100 * c.low).toFixed(1)}, ${(100 * c.high).toFixed(1)}], paired t p=${pText(c.p)} (Holm ${pText(c.pHolm)}), Wilcoxon p=${pText(c.wilcoxon.p)}, N=${c.n}`,
      );
  }
  return lines.join('\n');
}
