// The local provider settings of this machine: a JSON file (default providers.json in the user config
// directory, or $SUBLAB_PROVIDERS) naming, per provider, its base URL, the environment variable that
// holds its key, its limits, and a price table. Never read from a spec, never holding a key itself.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { LLM_PROVIDERS, type LlmProviderName } from '../../app/spec/llm.ts';
import type { PriceTable } from './budget.ts';
import type { ProviderSettings } from './providers/types.ts';

/** Where a provider's key is read from when the settings file says nothing. */
export const DEFAULT_KEY_ENV: Record<LlmProviderName, string> = {
  openai: 'OPENAI_API_KEY',
  together: 'TOGETHER_API_KEY',
  command: 'SUBLAB_TRAINER_KEY',
};

const Entry = z.strictObject({
  baseURL: z.url().optional(),
  keyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  maxRetries: z.number().int().min(0).max(20).optional(),
  timeoutMs: z.number().int().min(1000).optional(),
  /** The first wait between polls of a job (it grows 1.5x up to 5 min). */
  pollMs: z.number().int().min(1).optional(),
  /** The command provider's trainer: its argv, run without a shell (main/llm/providers/command.ts). */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** Where the command provider keeps its training files and job directories. */
  jobsDir: z.string().min(1).optional(),
});

const SettingsFile = z.strictObject({
  providers: z.partialRecord(z.enum(LLM_PROVIDERS), Entry).default({}),
  prices: z
    .record(
      z.string(),
      z.strictObject({
        input: z.number().min(0),
        output: z.number().min(0),
        training: z.number().min(0).optional(),
      }),
    )
    .default({}),
});

export interface LocalSettings {
  provider: ProviderSettings & { pollMs?: number; command?: string[]; jobsDir?: string };
  prices: PriceTable;
}

/** `name`'s settings from `file` (absent: the defaults); a malformed file is an error naming the field. */
export function readLocalSettings(
  name: LlmProviderName,
  file: string,
  defaults: { jobsDir: string },
): LocalSettings {
  let raw: unknown = {};
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const r = SettingsFile.safeParse(raw);
  if (!r.success)
    throw new Error(
      `${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  const entry = r.data.providers[name] ?? {};
  return {
    provider: { name, jobsDir: defaults.jobsDir, ...entry, keyEnv: entry.keyEnv ?? DEFAULT_KEY_ENV[name] },
    prices: r.data.prices,
  };
}
