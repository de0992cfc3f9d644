// What the adapters share: reading the key, the retry-and-limit wrapper around each call, and reading
// an OpenAI-compatible chat completion into the lab's shape (Together's chat API is the same shape).
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { Limiter, withRetries } from './retry.ts';
import { ProviderError, type ChatAnswer, type ProviderDeps, type ProviderSettings } from './types.ts';

/** The key from the environment variable the settings name; an error names the variable, not a value. */
export function readKey(settings: ProviderSettings, deps: ProviderDeps): string {
  const key = (deps.env ?? process.env)[settings.keyEnv];
  if (!key)
    throw new ProviderError(
      `the ${settings.name} provider reads its key from the environment variable ${settings.keyEnv}, which is not set`,
    );
  return key;
}

/** Each call goes through the concurrency limit, then retries what a retry can help. */
export function caller(settings: ProviderSettings, deps: ProviderDeps) {
  const limiter = new Limiter(settings.concurrency ?? 4);
  const maxRetries = settings.maxRetries ?? 5;
  return <T>(what: string, op: () => Promise<T>, signal?: AbortSignal): Promise<T> =>
    withRetries(() => limiter.run(op), {
      clock: deps.clock,
      maxRetries,
      what: `${settings.name} ${what}`,
      ...(deps.log ? { log: deps.log } : {}),
      ...(signal ? { signal } : {}),
    });
}

/** The client options every adapter passes: its own retries off (ours honour the headers on our clock). */
export function clientOptions(settings: ProviderSettings, key: string) {
  return {
    apiKey: key,
    maxRetries: 0,
    timeout: settings.timeoutMs ?? 600_000,
    ...(settings.baseURL ? { baseURL: settings.baseURL } : {}),
  };
}

export function readChat(completion: Pick<ChatCompletion, 'choices' | 'usage'>): ChatAnswer {
  const choices = [...completion.choices].sort((a, b) => a.index - b.index);
  const withLogprobs = choices.some((c) => c.logprobs?.content?.length);
  return {
    texts: choices.map((c) => c.message.content ?? ''),
    firstTokenTop: withLogprobs
      ? choices.map((c) =>
          (c.logprobs?.content?.[0]?.top_logprobs ?? []).map((t) => ({ token: t.token, logprob: t.logprob })),
        )
      : null,
    usage: {
      prompt: completion.usage?.prompt_tokens ?? 0,
      completion: completion.usage?.completion_tokens ?? 0,
    },
  };
}
