// The `together` adapter: LoRA (or full) fine-tunes of open models at Together through its official
// client, and inference on its OpenAI-shaped chat API. Together's jobs carry no metadata, so the lab's
// run tag is the job's model suffix, and the jobs list is searched for it before any create.
import Together from 'together-ai';
import type { ChatCompletion } from 'together-ai/resources/chat/completions';
import type { FileResponse } from 'together-ai/resources/files';
import type { FineTuningCreateParams, FinetuneResponse } from 'together-ai/resources/fine-tuning';
import { adapter, chatBase, clientOptions, readKey } from './common.ts';
import type {
  ChatAnswer,
  FineTuneRequest,
  JobState,
  JobStatus,
  LlmProvider,
  ProviderDeps,
  ProviderSettings,
} from './types.ts';

const STATUS: Record<FinetuneResponse['status'], JobStatus> = {
  pending: 'queued',
  queued: 'queued',
  running: 'running',
  compressing: 'running',
  uploading: 'running',
  cancel_requested: 'running',
  cancelled: 'cancelled',
  error: 'failed',
  completed: 'succeeded',
};

/** Together's suffix is part of the model's name: letters, digits and dashes, at most 40 here. */
export function suffixFor(runTag: string): string {
  const clean = runTag.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  if (clean.length > 40) throw new Error(`run tag ${runTag} is longer than Together's suffix allows`);
  return clean;
}

function jobState(job: FinetuneResponse): JobState {
  const status = STATUS[job.status];
  const failure = job.events?.filter((e) => e.level === 'error' || e.type === 'job_error').at(-1)?.message;
  return {
    id: job.id,
    status,
    model: status === 'succeeded' ? (job.model_output_name ?? null) : null,
    error: status === 'failed' ? (failure ?? 'the job ended in error (Together gave no message)') : null,
  };
}

export function createTogetherParams(req: FineTuneRequest): FineTuningCreateParams {
  return {
    model: req.baseModel,
    training_file: req.fileId,
    n_epochs: req.epochs,
    random_seed: req.seed,
    suffix: suffixFor(req.runTag),
    ...(req.batchSize === 'auto' ? {} : { batch_size: req.batchSize }),
    ...(req.learningRate === undefined ? {} : { learning_rate: req.learningRate }),
    ...(req.warmupRatio === undefined ? {} : { warmup_ratio: req.warmupRatio }),
    training_type: req.lora
      ? {
          type: 'Lora',
          lora_r: req.lora.rank,
          lora_alpha: req.lora.alpha,
          lora_dropout: req.lora.dropout,
          lora_trainable_modules: req.lora.targetModules.join(','),
        }
      : { type: 'Full' },
  };
}

function readTogetherChat(completion: ChatCompletion): ChatAnswer {
  const choices = [...completion.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const tops = choices.map((c) => {
    const top: unknown = c.logprobs?.top_logprobs;
    // Typed as one map; some servers send one map per token: the first is the answer's first token.
    const first = (Array.isArray(top) ? top[0] : top) as Record<string, number> | undefined;
    return Object.entries(first ?? {}).map(([token, logprob]) => ({ token, logprob }));
  });
  return {
    texts: choices.map((c) => c.message?.content ?? ''),
    firstTokenTop: tops.some((t) => t.length) ? tops : null,
    usage: {
      prompt: completion.usage?.prompt_tokens ?? 0,
      completion: completion.usage?.completion_tokens ?? 0,
    },
  };
}

export function togetherProvider(settings: ProviderSettings, deps: ProviderDeps): LlmProvider {
  const client = new Together(clientOptions(settings, readKey(settings, deps)));
  return adapter(settings, deps, {
    chat: async (req, signal) =>
      readTogetherChat(
        await client.chat.completions.create(
          {
            ...chatBase(req),
            max_tokens: req.maxTokens,
            ...(req.topLogprobs ? { logprobs: req.topLogprobs } : {}),
          },
          { signal },
        ),
      ),
    // Together's multipart upload endpoint, through the client (its own `files.upload` reads a path
    // and a base URL fixed at import, so it could not be pointed at another server).
    upload: async (file, signal) => {
      const form = new FormData();
      form.set('purpose', 'fine-tune');
      form.set('file_name', file.name);
      form.set('file_type', 'jsonl');
      form.set('file', new Blob([file.jsonl], { type: 'application/jsonl' }), file.name);
      return (await client.post<FileResponse>('/files/upload', { body: form, signal })).id;
    },
    findTagged: async (runTag, signal) => {
      const suffix = suffixFor(runTag);
      return (await client.fineTuning.list({ signal })).data.find((j) => j.suffix === suffix)?.id;
    },
    create: async (req, signal) => (await client.fineTuning.create(createTogetherParams(req), { signal })).id,
    job: async (id, signal) => jobState(await client.fineTuning.retrieve(id, { signal })),
    events: async (id, signal) =>
      (await client.fineTuning.listEvents(id, { signal })).data.map((e) => ({
        at: Date.parse(e.created_at),
        level: e.level ?? 'info',
        message: e.message,
      })),
    cancel: async (id, signal) => {
      await client.fineTuning.cancel(id, { signal });
    },
  });
}
