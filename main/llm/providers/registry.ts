// The provider registry: a spec names one of LLM_PROVIDERS; the local settings say where it is and
// which environment variable holds its key.
import type { LlmProviderName } from '../../../app/spec/llm.ts';
import { commandProvider } from './command.ts';
import { openaiProvider } from './openai.ts';
import { togetherProvider } from './together.ts';
import { ProviderError, type LlmProvider, type ProviderDeps, type ProviderSettings } from './types.ts';

const ADAPTERS: Partial<Record<LlmProviderName, (s: ProviderSettings, d: ProviderDeps) => LlmProvider>> = {
  openai: openaiProvider,
  together: togetherProvider,
  command: commandProvider,
};

export function createProvider(settings: ProviderSettings, deps: ProviderDeps): LlmProvider {
  const make = ADAPTERS[settings.name];
  if (!make) throw new ProviderError(`no adapter for the ${settings.name} provider`);
  return make(settings, deps);
}
