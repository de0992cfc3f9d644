// The Designer's price table as rows of text (one per model, USD per million tokens): the models a
// spec uses first, then the rest of the table, and the rows read back into a table or an error per
// cell. A model with no price at all stays out of the table (its stages show as unpriced).
import { parseNumberText } from '../spec/sweepable.ts';
import type { PriceTable } from './projection.ts';

export interface PriceRow {
  model: string;
  input: string;
  output: string;
  training: string;
}

export const PRICE_COLUMNS = ['input', 'output', 'training'] as const;

const text = (n: number | undefined) => (n === undefined ? '' : String(n));

/** A row per model the spec uses (in order, once each), then one per other model in the table. */
export function priceRows(models: readonly string[], prices: PriceTable): PriceRow[] {
  const names = [...new Set([...models.filter((m) => m.trim() !== ''), ...Object.keys(prices)])];
  return names.map((model) => {
    const p = prices[model];
    return { model, input: text(p?.input), output: text(p?.output), training: text(p?.training) };
  });
}

export type ReadPrices =
  | { ok: true; prices: PriceTable }
  | { ok: false; errors: { row: number; column: keyof PriceRow; message: string }[] };

/** The rows as a price table: input and output needed where any price is typed; training optional. */
export function readPriceRows(rows: readonly PriceRow[]): ReadPrices {
  const prices: PriceTable = {};
  const errors: { row: number; column: keyof PriceRow; message: string }[] = [];
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    const model = row.model.trim();
    const typed = PRICE_COLUMNS.filter((c) => row[c].trim() !== '');
    if (typed.length === 0) return;
    if (!model) errors.push({ row: index, column: 'model', message: 'name the model these prices are for' });
    else if (seen.has(model))
      errors.push({ row: index, column: 'model', message: `${model} is priced twice` });
    seen.add(model);
    const values: Partial<Record<(typeof PRICE_COLUMNS)[number], number>> = {};
    for (const column of PRICE_COLUMNS) {
      const cell = row[column].trim();
      if (cell === '') {
        if (column !== 'training')
          errors.push({ row: index, column, message: `enter the ${column} price (0 if free)` });
        continue;
      }
      try {
        const value = parseNumberText(cell, false);
        if (value < 0) throw new Error(`a price cannot be negative: ${cell}`);
        values[column] = value;
      } catch (error) {
        errors.push({ row: index, column, message: (error as Error).message });
      }
    }
    if (model && values.input !== undefined && values.output !== undefined)
      prices[model] = {
        input: values.input,
        output: values.output,
        ...(values.training !== undefined ? { training: values.training } : {}),
      };
  });
  return errors.length ? { ok: false, errors } : { ok: true, prices };
}
