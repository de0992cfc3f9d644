// One provider's local settings (providers.json on this machine, main/llm/settings.ts), shared by main
// and the Settings screen so both check an entry the same way. Never a key: an entry names the
// environment variable a key is read from, and the desktop app keeps keys in the OS keychain.
import { z } from 'zod';
import { LLM_PROVIDERS, type LlmProviderName } from '../spec/llm.ts';

/** Where a provider's key is read from when its settings name no variable. */
export const DEFAULT_KEY_ENV: Record<LlmProviderName, string> = {
  openai: 'OPENAI_API_KEY',
  together: 'TOGETHER_API_KEY',
  command: 'SUBLAB_TRAINER_KEY',
};

export const ProviderEntry = z.strictObject({
  baseURL: z
    .url({
      protocol: /^https?$/,
      error: (issue) => (issue.code === 'invalid_format' ? 'expected an http(s) URL' : undefined),
    })
    .optional(),
  keyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name (letters, digits, _)')
    .optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  maxRetries: z.number().int().min(0).max(20).optional(),
  timeoutMs: z.number().int().min(1000).optional(),
  /** The first wait between polls of a job (it grows 1.5x up to 5 min). */
  pollMs: z.number().int().min(1).optional(),
  /** The command provider's trainer: its argv, run without a shell (main/llm/providers/command.ts). */
  command: z.array(z.string().min(1, 'an empty argument')).min(1, 'give the program at least').optional(),
  /** Where the command provider keeps its training files and job directories. */
  jobsDir: z.string().min(1).optional(),
});
export type ProviderEntry = z.infer<typeof ProviderEntry>;

export const ProviderName = z.enum(LLM_PROVIDERS);

/** What the Settings screen shows of one provider: its entry and where its key comes from, never the key. */
export interface ProviderView {
  name: LlmProviderName;
  /** Whether providers.json has an entry for it (else the defaults apply). */
  configured: boolean;
  entry: ProviderEntry;
  /** The variable its key is read from (the entry's, else the default). */
  keyEnv: string;
  /** Whether that variable is set in the lab's own process (serve's, or the desktop app's). */
  envSet: boolean;
  /** Desktop only: whether the OS keychain holds a key for it (null in browser mode: no key store). */
  stored: boolean | null;
}

export interface ProviderSettingsView {
  /** The settings file (providers.json) these come from. */
  file: string;
  providers: ProviderView[];
}
