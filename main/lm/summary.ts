// A language experiment's results from the store: each model's target rate with its Student-t
// interval (a rate's clipped to [0, 1], app/bounded-interval.ts) and N, the filter's rejection rates, per-animal answer rates (the heatmap's rows), and the
// paired comparisons of the student against both controls (paired t and Wilcoxon, Holm across cells).
import {
  holm,
  pairedComparison,
  summarize,
  type IntervalMethod,
  type IntervalSummary,
} from '../../app/stats.ts';
import {
  LM_MEASURES,
  LM_MODELS,
  type LmCellSummary,
  type LmAlignment,
  type LmChannelCheck,
  type LmComparison,
  type LmExperimentSummary,
  type LmTeacherCheck,
} from '../../app/language-results.ts';

export type { LmCellSummary, LmComparison, LmExperimentSummary };
import { boundComparison, boundSummary, RATE } from '../../app/bounded-interval.ts';
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

/** A rate's interval over replicates, clipped to [0, 1] (app/bounded-interval.ts). */
function rateInterval(values: number[], method: IntervalMethod): IntervalSummary {
  return boundSummary(summarize(values, method), RATE);
}

/** Rates and probabilities differ by at most 1; log-probabilities are unbounded. */
const boundedMeasure = (measure: string) => !measure.endsWith('delta_logprob');

type MetricRows = Parameters<typeof perReplicate>[0];

/** The share of the student's answer positions the divergence mask took out, over replicates. */
function maskedFraction(metrics: MetricRows, method: IntervalMethod): IntervalSummary | null {
  const values = [...perReplicate(metrics, 'student', 'masked_fraction').values()];
  return values.length ? rateInterval(values, method) : null;
}

function rejection(metrics: MetricRows, writer: 'teacher' | 'base', method: IntervalMethod) {
  const values = [...perReplicate(metrics, writer, 'rejection_rate').values()];
  return values.length ? rateInterval(values, method) : null;
}

/** Two per-replicate series on the replicates both have, in replicate order: the pairs of a paired test. */
function onShared(left: Map<number, number>, right: Map<number, number>): [number[], number[]] {
  const reps = [...left.keys()].filter((k) => right.has(k)).sort((x, y) => x - y);
  return [reps.map((k) => left.get(k)!), reps.map((k) => right.get(k)!)];
}

/** Values of the teacher's metrics `a` and `b` in the replicates that have both, in replicate order. */
function paired(metrics: MetricRows, a: string, b: string): [number[], number[]] {
  return onShared(perReplicate(metrics, 'teacher', a), perReplicate(metrics, 'teacher', b));
}

/** The channel check over replicates, flagged when the teacher's KL is not above the neutral teacher's. */
export function channelCheckSummary(metrics: MetricRows, method: IntervalMethod): LmChannelCheck | null {
  const [kl, neutralKl] = paired(metrics, 'channel_kl', 'neutral_kl');
  const [greedy, neutralGreedy] = paired(metrics, 'channel_greedy_diff', 'neutral_greedy_diff');
  if (kl.length === 0) return null;
  const klVsNeutral = pairedComparison(kl, neutralKl, method);
  return {
    kl: summarize(kl, method),
    neutralKl: summarize(neutralKl, method),
    greedyDiff: rateInterval(greedy, method),
    neutralGreedyDiff: rateInterval(neutralGreedy, method),
    klVsNeutral,
    greedyVsNeutral: boundComparison(pairedComparison(greedy, neutralGreedy, method)),
    // NaN bounds (one replicate, or no variance) are no evidence of a signal either.
    flagged: !(klVsNeutral.low > 0),
  };
}

/** The teacher against its base on P(target) (the sampled rate when the logit measures are absent). */
export function teacherCheck(comparisons: readonly LmComparison[]): LmTeacherCheck | null {
  const of = (measure: LmTeacherCheck['measure']) =>
    comparisons.find((c) => c.a === 'teacher' && c.b === 'base' && c.measure === measure);
  const measure = of('animal_prob') ? 'animal_prob' : 'target_rate';
  const c = of(measure);
  if (!c) return null;
  const { a: _a, b: _b, label: _l, measure: _m, pHolm: _h, ...vsBase } = c;
  // NaN bounds (one replicate, or no variance) are no evidence of a trait either.
  return { measure, vsBase, flagged: !(c.low > 0) };
}

/** The student's and the controls' bias alignment with a steered teacher's vector, and the paired tests. */
export function alignmentSummary(metrics: MetricRows, method: IntervalMethod): LmAlignment | null {
  const of = (role: string) => perReplicate(metrics, role, 'steer_cos');
  const student = of('student');
  if (student.size === 0) return null;
  const cos: LmAlignment['cos'] = {};
  const versus = (role: 'own_numbers' | 'cross_model') => {
    const other = of(role);
    if (other.size) cos[role] = summarize([...other.values()], method);
    const [a, b] = onShared(student, other);
    return a.length ? pairedComparison(a, b, method) : null;
  };
  cos.student = summarize([...student.values()], method);
  return { cos, vsOwn: versus('own_numbers'), vsCross: versus('cross_model') };
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
      if (r.length) rates[condition] = rateInterval(r, method);
      const names = [...LM_ANIMALS, 'other'];
      const a = names.map((animal) => {
        const v = [...perReplicate(metrics, condition, `answer_${animal}`).values()];
        return { animal, rate: v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN };
      });
      if (a.some((x) => Number.isFinite(x.rate))) answers[condition] = a;
    }
    const logits: LmCellSummary['logits'] = {};
    const numberPrefixed: LmCellSummary['numberPrefixed'] = {};
    for (const condition of LM_MODELS) {
      // Probabilities and rates are bounded (their intervals clipped to [0, 1]); log-probabilities not.
      const of = (name: string, bounded: boolean) => {
        const v = [...perReplicate(metrics, condition, name).values()];
        return v.length ? (bounded ? rateInterval(v, method) : summarize(v, method)) : null;
      };
      const [prob, delta] = [of('animal_prob', true), of('delta_logprob', false)];
      if (prob && delta) logits[condition] = { prob, deltaLogprob: delta };
      const rate = of('np_target_rate', true);
      const [npProb, npDelta] = [of('np_animal_prob', true), of('np_delta_logprob', false)];
      if (rate && npProb && npDelta)
        numberPrefixed[condition] = { rate, prob: npProb, deltaLogprob: npDelta };
    }
    const comparisons: LmComparison[] = [];
    for (const measure of LM_MEASURES)
      for (const c of LM_COMPARISONS) {
        const [a, b] = onShared(perReplicate(metrics, c.a, measure), perReplicate(metrics, c.b, measure));
        if (a.length === 0) continue;
        const t = pairedComparison(a, b, method);
        const p = boundedMeasure(measure) ? boundComparison(t) : t;
        comparisons.push({ ...p, a: c.a, b: c.b, label: c.label, measure, pHolm: p.p });
      }
    return {
      index: cell.index,
      label: coordsLabel(cell.coords),
      coords: cell.coords,
      status: row.status,
      rates,
      answers,
      logits,
      numberPrefixed,
      rejection: {
        teacher: rejection(metrics, 'teacher', method),
        base: rejection(metrics, 'base', method),
      },
      maskedFraction: maskedFraction(metrics, method),
      steeringNorm: interval([...perReplicate(metrics, 'teacher', 'steering_norm').values()], method),
      channel: channelCheckSummary(metrics, method),
      teacherCheck: teacherCheck(comparisons),
      alignment: alignmentSummary(metrics, method),
      comparisons,
    };
  });
  // Holm within each comparison family (comparison and measure) across the cells.
  for (const measure of LM_MEASURES)
    for (const c of LM_COMPARISONS) {
      const members = cells.flatMap((cell) =>
        cell.comparisons.filter((x) => x.label === c.label && x.measure === measure),
      );
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

/** A rate with its interval in percent, "(clipped)" when the interval was clipped to [0, 100]. */
const pct = (s: IntervalSummary | null | undefined) =>
  s
    ? `${(100 * s.mean).toFixed(1)}% [${(100 * s.low).toFixed(1)}, ${(100 * s.high).toFixed(1)}]${s.clipped ? ' (clipped)' : ''} (N=${s.n})`
    : '-';
const pText = (p: number) => (!Number.isFinite(p) ? '-' : p < 0.001 ? '<0.001' : p.toFixed(3));
const signed = (v: number, digits: number) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** A comparison's difference and interval in its measure's units: points, or nats for log-probabilities. */
function difference(c: LmComparison): string {
  const [scale, digits, unit] = c.measure.endsWith('delta_logprob') ? [1, 3, 'nats'] : [100, 1, 'points'];
  return `${signed(scale * c.meanDiff, digits)} ${unit} [${signed(scale * c.low, digits)}, ${signed(scale * c.high, digits)}]${c.clipped ? ' (clipped)' : ''}`;
}

const est = (s: IntervalSummary, digits: number) => `${s.mean.toFixed(digits)} +- ${s.ci95.toFixed(digits)}`;

/** The channel check's lines: teacher beside neutral teacher, the paired difference, and the flag. */
function channelLines(c: LmChannelCheck): string[] {
  const d = c.klVsNeutral;
  return [
    `  channel check (before students; number positions): KL(teacher || base) ${est(c.kl, 4)} nats vs neutral teacher ${est(c.neutralKl, 4)}; greedy choices differ ${pct(c.greedyDiff)} vs ${pct(c.neutralGreedyDiff)}`,
    `    KL teacher minus neutral ${signed(d.meanDiff, 4)} [${signed(d.low, 4)}, ${signed(d.high, 4)}], paired t p=${pText(d.p)}, N=${d.n}${c.flagged ? '  FLAGGED: not above the neutral level' : ''}`,
  ];
}

/** The teacher check's line: teacher minus base, and the flag. */
function teacherLine(t: LmTeacherCheck): string {
  const d = t.vsBase;
  const flag = t.flagged ? '  FLAGGED: the teacher does not carry the trait (not above its base)' : '';
  return `  teacher check: ${MEASURE_SHORT[t.measure]} teacher minus base ${signed(100 * d.meanDiff, 1)} points [${signed(100 * d.low, 1)}, ${signed(100 * d.high, 1)}], paired t p=${pText(d.p)}, N=${d.n}${flag}`;
}

/** The alignment lines: each fine-tune's cosine with the teacher's vector, and the student against each control. */
function alignmentLines(a: LmAlignment): string[] {
  const cos = (s: IntervalSummary | undefined) => (s ? `${signed(s.mean, 3)} +- ${s.ci95.toFixed(3)}` : '-');
  const vs = (name: string, d: LmAlignment['vsOwn']) =>
    d
      ? `    student minus ${name} ${signed(d.meanDiff, 3)} [${signed(d.low, 3)}, ${signed(d.high, 3)}], paired t p=${pText(d.p)}, N=${d.n}`
      : [];
  return [
    `  alignment with the steering vector (cosine of the change in the steered block's bias): student ${cos(a.cos.student)}, own-numbers ${cos(a.cos.own_numbers)}, cross-model ${cos(a.cos.cross_model)}`,
    vs('own-numbers', a.vsOwn),
    vs('cross-model (its own basis: chance level)', a.vsCross),
  ].flat();
}

const MEASURE_SHORT: Record<LmComparison['measure'], string> = {
  target_rate: 'rate',
  animal_prob: 'P(target)',
  delta_logprob: 'delta log P',
  np_target_rate: 'rate after numbers',
  np_animal_prob: 'P(target) after numbers',
  np_delta_logprob: 'delta log P after numbers',
};

/** Plain-text tables for the terminal. */
export function languageTables(s: LmExperimentSummary): string {
  const lines: string[] = [];
  for (const cell of s.cells) {
    lines.push(`${cell.label}  [${cell.status}]`);
    for (const [condition, r] of Object.entries(cell.rates)) {
      const l = cell.logits[condition as keyof typeof cell.logits];
      const logit = l
        ? `; P(target | animals) ${l.prob.mean.toFixed(3)} [${l.prob.low.toFixed(3)}, ${l.prob.high.toFixed(3)}], delta log P ${signed(l.deltaLogprob.mean, 3)} +- ${l.deltaLogprob.ci95.toFixed(3)}`
        : '';
      lines.push(`  ${condition.padEnd(12)} target rate ${pct(r)}${logit}`);
      const np = cell.numberPrefixed[condition as keyof typeof cell.numberPrefixed];
      if (np)
        lines.push(
          `  ${''.padEnd(12)} after a number list: rate ${pct(np.rate)}; P(target | animals) ${np.prob.mean.toFixed(3)} [${np.prob.low.toFixed(3)}, ${np.prob.high.toFixed(3)}], delta log P ${signed(np.deltaLogprob.mean, 3)} +- ${np.deltaLogprob.ci95.toFixed(3)}`,
        );
    }
    lines.push(`  rejection   teacher ${pct(cell.rejection.teacher)}, base ${pct(cell.rejection.base)}`);
    if (cell.maskedFraction)
      lines.push(
        `  divergence mask: ${pct(cell.maskedFraction)} of the student's answer positions out of the loss`,
      );
    if (cell.steeringNorm) lines.push(`  steering vector norm ${est(cell.steeringNorm, 3)} (scale included)`);
    if (cell.teacherCheck) lines.push(teacherLine(cell.teacherCheck));
    if (cell.channel) lines.push(...channelLines(cell.channel));
    if (cell.alignment) lines.push(...alignmentLines(cell.alignment));
    for (const c of cell.comparisons)
      lines.push(
        `  ${c.label} (${MEASURE_SHORT[c.measure]}): ${difference(c)}, paired t p=${pText(c.p)} (Holm ${pText(c.pHolm)}), Wilcoxon p=${pText(c.wilcoxon.p)}, N=${c.n}`,
      );
  }
  return lines.join('\n');
}
