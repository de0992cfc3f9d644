// Evaluation and collection: metric rows per cell, test accuracy and trait rate of a stack, and the
// result rows (none of a model's numbers when it diverged).
import { STUDENT_CONDITIONS, type Condition } from '../../../app/conditions.ts';
import type { MetricRow, ResultRow } from '../../../app/protocol.ts';
import type { DivergenceMarks } from '../divergence.ts';
import { checkParameters } from '../divergence.ts';
import type { StackedModel } from '../stacked-model.ts';
import type { GroupContext } from './context.ts';
import type { Stack } from './stacks.ts';

export interface Measured {
  accuracy: Float32Array;
  rate: Float32Array | null;
}

/**
 * Rows for models offset..offset+n of a stack; model offset+r is replicate shard[r]. Models that
 * `marks` says diverged emit nothing: their numbers are not results; nor does a non-finite value
 * of a model not (yet) marked, which measures nothing.
 */
export function rows(
  condition: Condition,
  name: string,
  values: ArrayLike<number>,
  step: number,
  shard: readonly number[],
  offset: number,
  marks: DivergenceMarks,
): MetricRow[] {
  return shard.flatMap((replicate, r) =>
    marks.alive(offset + r) && Number.isFinite(values[offset + r])
      ? [{ condition, replicate, step, name, value: values[offset + r]! }]
      : [],
  );
}

/** Accuracy and trait rate of every model of a stack, after checking its parameters. */
export async function measureModel(
  ctx: GroupContext,
  model: StackedModel,
  marks: DivergenceMarks,
  phase: 'teacher' | 'students',
  step: number,
): Promise<Measured> {
  await checkParameters(model, marks, phase, step);
  const accuracy = await ctx.test.accuracy(model);
  const rate = ctx.probeSet && ctx.target !== null ? await ctx.probeSet.targetRate(model, ctx.target) : null;
  return { accuracy, rate };
}

/** Model i's result row: no numbers when it diverged. */
export function resultRow(
  ctx: GroupContext,
  condition: Condition,
  r: number,
  i: number,
  m: Measured,
  marks: DivergenceMarks | null,
): ResultRow {
  const diverged = marks?.get(i) ?? null;
  return {
    condition,
    replicate: ctx.shard[r]!,
    seed: ctx.seeds[r]!,
    accuracy: diverged ? null : m.accuracy[i]!,
    traitScore: diverged || !m.rate ? null : m.rate[i]!,
    diverged,
  };
}

/** Result rows of teacher-stack conditions (one block of S models each) for every cell. */
export function recordAll(
  ctx: GroupContext,
  conditions: readonly Condition[],
  m: Measured,
  marks: DivergenceMarks | null,
): void {
  conditions.forEach((condition, block) => {
    ctx.shard.forEach((_, r) => {
      for (const cell of ctx.cells)
        ctx.results.get(cell.index)!.push(resultRow(ctx, condition, r, block * ctx.S + r, m, marks));
    });
  });
}

/** Emits a stack's per-model values as rows of each of its cells' four student conditions. */
export function stackRows(
  ctx: GroupContext,
  st: Stack,
  name: string,
  values: ArrayLike<number>,
  step: number,
): void {
  st.plans.forEach((p, c) =>
    STUDENT_CONDITIONS.forEach((condition, block) =>
      ctx.hooks.metrics(
        p.cell.index,
        rows(condition, name, values, step, ctx.shard, (c * 4 + block) * ctx.S, st.marks),
      ),
    ),
  );
}

/** Measures a student stack and emits its test_accuracy (and trait_rate) rows. */
export async function measureStack(ctx: GroupContext, st: Stack, step: number): Promise<Measured> {
  const m = await measureModel(ctx, st.model, st.marks, 'students', step);
  stackRows(ctx, st, 'test_accuracy', m.accuracy, step);
  if (m.rate) stackRows(ctx, st, 'trait_rate', m.rate, step);
  return m;
}

/** The result rows of a stack's cells from its final measurement. */
export function recordStack(ctx: GroupContext, st: Stack, final: Measured): void {
  st.plans.forEach((p, c) => {
    STUDENT_CONDITIONS.forEach((condition, block) =>
      ctx.shard.forEach((_, r) =>
        ctx.results
          .get(p.cell.index)!
          .push(resultRow(ctx, condition, r, (c * 4 + block) * ctx.S + r, final, st.marks)),
      ),
    );
  });
}
