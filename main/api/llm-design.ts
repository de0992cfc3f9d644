// The Designer's view of an llm spec before it runs: the projection the runner's budget guard makes
// (main/llm/budget.ts, the same functions, so the two never disagree), priced with this machine's
// price table, and that table read and saved in the local settings file (never in a spec).
import type { LlmLocalSettings, LlmProjection, PriceTable } from '../../app/llm/projection.ts';
import { validateLlmSpec } from '../../app/spec/llm.ts';
import { readSettingsFile, writePrices } from '../llm/settings.ts';

export function llmLocalSettings(file: string): LlmLocalSettings {
  const content = readSettingsFile(file);
  return { file, prices: content.prices, configured: Object.keys(content.providers) };
}

export function saveLlmPrices(file: string, prices: PriceTable): LlmLocalSettings {
  writePrices(file, prices);
  return llmLocalSettings(file);
}

/** The spec's errors (the app's validator, per field), or its stages, costs and the guard's verdict. */
export async function projectLlmSpec(input: unknown, file: string): Promise<LlmProjection> {
  const r = validateLlmSpec(input);
  if (!r.ok) return { ok: false, errors: r.errors };
  // The tokenizer and the provider clients load with the first projection, not with the lab.
  const { BudgetError, checkBudget, projectedCost, projectLlmRun, totalTokens } =
    await import('../llm/budget.ts');
  const { prices } = readSettingsFile(file);
  const stages = await projectLlmRun(r.spec);
  const cost = projectedCost(stages, prices);
  let refusal: string | null = null;
  try {
    checkBudget(r.spec, stages, prices);
  } catch (error) {
    if (!(error instanceof BudgetError)) throw error;
    refusal = error.message;
  }
  return {
    ok: true,
    stages: stages.map((s) => {
      const one = projectedCost([s], prices);
      return { ...s, usd: one.unpriced.length ? null : one.usd };
    }),
    totalTokens: totalTokens(stages),
    usd: cost.unpriced.length ? null : cost.usd,
    unpriced: cost.unpriced,
    refusal,
  };
}
