// What the budget guard (main/llm/budget.ts) projects for an llm run, in the shapes the API carries
// to the Designer: each stage's tokens, the local price table, and the projection with its refusal.
import { z } from 'zod';
import type { SpecError } from '../spec/validate.ts';

export interface StageProjection {
  stage: 'generate' | 'fine-tune' | 'evaluate' | 'judge';
  /** The model whose tokens these are (a student's base for its training and evaluation). */
  model: string;
  what: string;
  requests: number;
  input: number;
  output: number;
  training: number;
  method: string;
}

const usdPerMillion = z.number().min(0).max(1e6);

/** USD per million tokens, by model id; a fine-tuned model is priced as its base. */
export const PriceTableSchema = z.record(
  z.string().trim().min(1).max(300),
  z.strictObject({ input: usdPerMillion, output: usdPerMillion, training: usdPerMillion.optional() }),
);
export type PriceTable = z.output<typeof PriceTableSchema>;

/** The Designer's projection of a spec: per stage with its cost, and the guard's verdict. */
export type LlmProjection =
  | {
      ok: true;
      /** `usd`: the stage's cost at the price table; null where its model has no price. */
      stages: (StageProjection & { usd: number | null })[];
      totalTokens: number;
      /** The whole run's cost; null while any stage's model is unpriced (named in `unpriced`). */
      usd: number | null;
      unpriced: string[];
      /** The guard's refusal (main/llm/budget.ts checkBudget), word for word; null when the run fits. */
      refusal: string | null;
    }
  | { ok: false; errors: SpecError[] };

/** The local price table and which providers the local settings file sets up. */
export interface LlmLocalSettings {
  file: string;
  prices: PriceTable;
  /** Providers with an entry in the settings file (the others run with their defaults). */
  configured: string[];
}
