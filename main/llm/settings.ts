// The local provider settings of this machine: a JSON file (default providers.json in the user config
// directory, or $SUBLAB_PROVIDERS) naming, per provider, its base URL, the environment variable that
// holds its key, its limits, and a price table. Never read from a spec, never holding a key itself.
// The Settings screen edits the providers through `saveProvider` and `removeProvider`, the Designer
// the prices through `writePrices`; each rewrites the file whole (a temporary file renamed over it)
// and keeps everything else in it as it was.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { DEFAULT_KEY_ENV, ProviderEntry, type ProviderView } from '../../app/llm/provider-settings.ts';
import { LLM_PROVIDERS, type LlmProviderName } from '../../app/spec/llm.ts';
import { PriceTableSchema, type PriceTable } from '../../app/llm/projection.ts';
import type { ProviderSettings } from './providers/types.ts';

export { DEFAULT_KEY_ENV };

const SettingsFile = z.strictObject({
  providers: z.partialRecord(z.enum(LLM_PROVIDERS), ProviderEntry).default({}),
  prices: PriceTableSchema.default({}),
});
type SettingsFile = z.output<typeof SettingsFile>;

export interface LocalSettings {
  provider: ProviderSettings & { pollMs?: number; command?: string[]; jobsDir?: string };
  prices: PriceTable;
}

/** The file as written (for a rewrite that keeps it) and as checked; a malformed one names the field. */
function readFile(file: string): { raw: Record<string, unknown>; settings: SettingsFile } {
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
  return { raw: raw as Record<string, unknown>, settings: r.data };
}

/** The whole settings file as checked (absent: empty); a malformed file is an error naming the field. */
export function readSettingsFile(file: string): SettingsFile {
  return readFile(file).settings;
}

/** `name`'s settings from `file` (absent: the defaults); a malformed file is an error naming the field. */
export function readLocalSettings(
  name: LlmProviderName,
  file: string,
  defaults: { jobsDir: string },
): LocalSettings {
  const { settings } = readFile(file);
  const entry = settings.providers[name] ?? {};
  return {
    provider: { name, jobsDir: defaults.jobsDir, ...entry, keyEnv: entry.keyEnv ?? DEFAULT_KEY_ENV[name] },
    prices: settings.prices,
  };
}

/** Where a provider's key comes from, as the Settings screen shows it (never the key itself). */
export interface KeyPresence {
  env: Readonly<Record<string, string | undefined>>;
  /** Whether the desktop app's key store holds a key for the provider; absent in browser mode. */
  stored?: (name: LlmProviderName) => boolean;
}

/** Every provider the lab knows, with its entry in `file` (or none) and where its key comes from. */
export function providerViews(file: string, keys: KeyPresence): ProviderView[] {
  const { settings } = readFile(file);
  return LLM_PROVIDERS.map((name) => {
    const entry = settings.providers[name];
    const keyEnv = entry?.keyEnv ?? DEFAULT_KEY_ENV[name];
    return {
      name,
      configured: entry !== undefined,
      entry: entry ?? {},
      keyEnv,
      envSet: Boolean(keys.env[keyEnv]),
      stored: keys.stored ? keys.stored(name) : null,
    };
  });
}

/** Writes the whole file through a temporary file renamed over it: the old file or the new, never half. */
function writeWhole(file: string, content: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Rewrites the file with `providers` changed; the rest (prices, other entries) stays as written. */
function rewrite(file: string, change: (providers: Record<string, unknown>) => void): void {
  const { raw } = readFile(file);
  const providers = { ...((raw['providers'] as Record<string, unknown> | undefined) ?? {}) };
  change(providers);
  writeWhole(file, { ...raw, providers });
}

/**
 * Replaces the price table in `file`, the providers kept as written (the file is checked first, so a
 * malformed one is reported, not overwritten).
 */
export function writePrices(file: string, prices: PriceTable): PriceTable {
  const { raw } = readFile(file);
  const checked = PriceTableSchema.parse(prices);
  writeWhole(file, { ...raw, prices: checked });
  return checked;
}

/** Stores `entry` as `name`'s settings; `entry` is checked first (an error names each bad field). */
export function saveProvider(file: string, name: LlmProviderName, entry: unknown): void {
  const r = ProviderEntry.safeParse(entry);
  if (!r.success)
    throw new Error(
      `the ${name} provider's settings: ${r.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`).join('; ')}`,
    );
  rewrite(file, (providers) => (providers[name] = r.data));
}

/** Drops `name`'s entry (it then runs on the defaults). */
export function removeProvider(file: string, name: LlmProviderName): void {
  rewrite(file, (providers) => delete providers[name]);
}
