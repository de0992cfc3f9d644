// The llm providers' local settings as main reports them (providers.json, never a key), and the
// desktop app's write-only keychain: a key goes in, and only whether one is kept comes back.
import type { Host } from '../../../app/api.ts';
import { entryOf, type ProviderForm } from '../../../app/llm/provider-form.ts';
import type { ProviderEntry, ProviderSettingsView } from '../../../app/llm/provider-settings.ts';
import type { LlmProviderName } from '../../../app/spec/llm.ts';

export class SettingsState {
  view = $state<ProviderSettingsView | null>(null);

  constructor(private readonly host: Host) {}

  /** Whether keys are kept in the OS keychain (the desktop app) rather than read from serve's environment. */
  get keychain(): boolean {
    return this.host.keys !== undefined;
  }

  async load(): Promise<void> {
    this.view = await this.host.call('providers.list', null);
  }

  /** Main checks the entry field by field; a refusal is thrown with its message. */
  async save(name: LlmProviderName, form: ProviderForm): Promise<void> {
    // Sent as typed: what does not fit an entry is main's to refuse, field by field.
    const entry = entryOf(form) as ProviderEntry;
    this.view = await this.host.call('providers.save', { name, entry });
  }

  async remove(name: LlmProviderName): Promise<void> {
    this.view = await this.host.call('providers.remove', { name });
  }

  async setKey(name: LlmProviderName, key: string): Promise<void> {
    if (!this.host.keys) throw new Error('keys are read from the environment in browser mode');
    await this.host.keys.set(name, key);
    await this.load();
  }

  async clearKey(name: LlmProviderName): Promise<void> {
    if (!this.host.keys) throw new Error('keys are read from the environment in browser mode');
    await this.host.keys.clear(name);
    await this.load();
  }
}
