// What the adapters share: reading the key, the retry-and-limit wrapper around each call, and reading
// an OpenAI-compatible chat completion into the lab's shape (Together's chat API is the same shape).
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { Limiter, withRetries } from './retry.ts';
import {
  ProviderError,
  type ChatAnswer,
  type ChatRequest,
  type FineTuneRequest,
  type JobEvent,
  type JobState,
  type LlmProvider,
  type ProviderDeps,
  type ProviderSettings,
} from './types.ts';

/** What an adapter does with its client, one request each; `adapter` adds the limit and retries. */
export interface ProviderCalls {
  chat(req: ChatRequest, signal?: AbortSignal): Promise<ChatAnswer>;
  upload(file: { name: string; jsonl: string }, signal?: AbortSignal): Promise<string>;
  /** The id of the job carrying this run tag, if any. */
  findTagged(runTag: string, signal?: AbortSignal): Promise<string | undefined>;
  create(req: FineTuneRequest, signal?: AbortSignal): Promise<string>;
  job(id: string, signal?: AbortSignal): Promise<JobState>;
  events(id: string, signal?: AbortSignal): Promise<JobEvent[]>;
  cancel(id: string, signal?: AbortSignal): Promise<void>;
}

/** The fields every chat request shares; adapters add their token cap and logprobs spelling. */
export function chatBase(req: ChatRequest) {
  return { model: req.model, messages: req.messages, n: req.n, temperature: req.temperature, seed: req.seed };
}

/** An LlmProvider from an adapter's calls: each call limited and retried. */
export function adapter(settings: ProviderSettings, deps: ProviderDeps, calls: ProviderCalls): LlmProvider {
  const call = caller(settings, deps);
  return {
    name: settings.name,
    generate: (req, signal) => call(`chat ${req.model}`, () => calls.chat(req, signal), signal),
    upload: (file, signal) =>
      call(`upload ${file.name}`, async () => ({ fileId: await calls.upload(file, signal) }), signal),
    // Every attempt looks the tag up first: a create whose answer was lost (a dropped connection, a
    // crash before the id was stored) is found instead of started again.
    startFineTune: (req, signal) =>
      call(
        `fine-tune ${req.runTag}`,
        async () => {
          const found = await calls.findTagged(req.runTag, signal);
          if (found) return { jobId: found, created: false };
          return { jobId: await calls.create(req, signal), created: true };
        },
        signal,
      ),
    job: (id, signal) => call(`job ${id}`, () => calls.job(id, signal), signal),
    events: (id, signal) => call(`events ${id}`, () => calls.events(id, signal), signal),
    cancel: (id, signal) => call(`cancel ${id}`, () => calls.cancel(id, signal), signal),
  };
}

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
function caller(settings: ProviderSettings, deps: ProviderDeps) {
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
