// The one small interface every llm provider adapter implements (main/llm/providers/*.ts), and the
// local settings that pick and configure one. Settings live on this machine, never in a spec: the key
// is read from the environment variable they name, at the moment a client is made, and kept nowhere.
import type { LlmProviderName } from '../../../app/spec/llm.ts';
import type { Clock } from '../clock.ts';

export interface ProviderSettings {
  name: LlmProviderName;
  /** An OpenAI-compatible endpoint (Azure OpenAI, vLLM, Ollama, a fake); default the provider's own. */
  baseURL?: string;
  /** The environment variable that holds the key, e.g. OPENAI_API_KEY. */
  keyEnv: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Retries of a retryable failure (429, 408, 409, 5xx, a dropped connection); default 5. */
  maxRetries?: number;
  /** One request's time limit in milliseconds (default 10 minutes). */
  timeoutMs?: number;
}

export interface ProviderDeps {
  clock: Clock;
  /** Where the key is read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** One line per retry and job event; never holds the key. */
  log?: (line: string) => void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  n: number;
  temperature: number;
  seed: number;
  maxTokens: number;
  /** Ask for the first tokens' top logprobs (where the provider returns them). */
  topLogprobs?: number;
}

export interface ChatAnswer {
  texts: string[];
  /** Per choice, the first token's top alternatives (token, log probability), when asked for. */
  firstTokenTop: { token: string; logprob: number }[][] | null;
  usage: { prompt: number; completion: number };
}

export interface FineTuneRequest {
  /** The lab's tag for this student (experiment, cell, arm, replicate): looked up before any create. */
  runTag: string;
  baseModel: string;
  fileId: string;
  epochs: number;
  seed: number;
  batchSize: number | 'auto';
  learningRateMultiplier?: number;
  learningRate?: number;
  warmupRatio?: number;
  lora?: { rank: number; alpha: number; dropout: number; targetModules: string[] };
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobState {
  id: string;
  status: JobStatus;
  /** The fine-tuned model's name once succeeded. */
  model: string | null;
  /** The provider's own words when failed. */
  error: string | null;
}

export interface JobEvent {
  at: number;
  level: string;
  message: string;
}

export interface LlmProvider {
  readonly name: LlmProviderName;
  generate(req: ChatRequest, signal?: AbortSignal): Promise<ChatAnswer>;
  /** Uploads a chat JSONL training file; returns the provider's file id. */
  upload(file: { name: string; jsonl: string }, signal?: AbortSignal): Promise<{ fileId: string }>;
  /** The job tagged `runTag` if one exists, else a new one: `created` says which. */
  startFineTune(req: FineTuneRequest, signal?: AbortSignal): Promise<{ jobId: string; created: boolean }>;
  job(jobId: string, signal?: AbortSignal): Promise<JobState>;
  events(jobId: string, signal?: AbortSignal): Promise<JobEvent[]>;
  cancel(jobId: string, signal?: AbortSignal): Promise<void>;
}

/** A provider refused or failed in a way the lab reports as it is (no retry helps). */
export class ProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderError';
  }
}
