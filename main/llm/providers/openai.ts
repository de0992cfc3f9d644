// The `openai` adapter: OpenAI, Azure OpenAI or any OpenAI-compatible server through the official
// client. Inference everywhere; fine-tuning jobs where the server offers them (OpenAI's supervised
// method). A job carries the lab's run tag in its metadata and is looked up by it before any create.
import OpenAI from 'openai';
import type { FineTuningJob, JobCreateParams } from 'openai/resources/fine-tuning/jobs/jobs';
import { caller, clientOptions, readChat, readKey } from './common.ts';
import type {
  ChatRequest,
  FineTuneRequest,
  JobState,
  LlmProvider,
  ProviderDeps,
  ProviderSettings,
} from './types.ts';

/** The metadata key that holds the lab's run tag on a job. */
export const RUN_TAG_KEY = 'sublab_run';

function jobState(job: FineTuningJob): JobState {
  const status = job.status === 'validating_files' ? 'queued' : job.status;
  return {
    id: job.id,
    status,
    model: job.fine_tuned_model,
    error: job.error ? `${job.error.message}${job.error.code ? ` (${job.error.code})` : ''}` : null,
  };
}

export function createOpenaiParams(req: FineTuneRequest): JobCreateParams {
  return {
    model: req.baseModel,
    training_file: req.fileId,
    seed: req.seed,
    suffix: 'sublab',
    metadata: { [RUN_TAG_KEY]: req.runTag },
    method: {
      type: 'supervised',
      supervised: {
        hyperparameters: {
          n_epochs: req.epochs,
          batch_size: req.batchSize,
          learning_rate_multiplier: req.learningRateMultiplier ?? 'auto',
        },
      },
    },
  };
}

export function openaiProvider(settings: ProviderSettings, deps: ProviderDeps): LlmProvider {
  const client = new OpenAI(clientOptions(settings, readKey(settings, deps)));
  const call = caller(settings, deps);
  const tagged = async (runTag: string, signal?: AbortSignal) => {
    const page = await client.fineTuning.jobs.list(
      { metadata: { [RUN_TAG_KEY]: runTag }, limit: 10 },
      { signal },
    );
    return page.data.find((j) => j.metadata?.[RUN_TAG_KEY] === runTag);
  };
  return {
    name: 'openai',
    generate: (req: ChatRequest, signal?: AbortSignal) =>
      call(
        `chat ${req.model}`,
        async () =>
          readChat(
            await client.chat.completions.create(
              {
                model: req.model,
                messages: req.messages,
                n: req.n,
                temperature: req.temperature,
                seed: req.seed,
                max_completion_tokens: req.maxTokens,
                ...(req.topLogprobs ? { logprobs: true, top_logprobs: req.topLogprobs } : {}),
              },
              { signal },
            ),
          ),
        signal,
      ),
    upload: (file, signal) =>
      call(
        `upload ${file.name}`,
        async () => {
          const uploadable = await OpenAI.toFile(Buffer.from(file.jsonl, 'utf8'), file.name);
          const created = await client.files.create({ file: uploadable, purpose: 'fine-tune' }, { signal });
          return { fileId: created.id };
        },
        signal,
      ),
    // Every attempt looks the tag up first: a create whose answer was lost (a dropped connection, a
    // crash before the id was stored) is found instead of started again.
    startFineTune: (req, signal) =>
      call(
        `fine-tune ${req.runTag}`,
        async () => {
          const found = await tagged(req.runTag, signal);
          if (found) return { jobId: found.id, created: false };
          const job = await client.fineTuning.jobs.create(createOpenaiParams(req), { signal });
          return { jobId: job.id, created: true };
        },
        signal,
      ),
    job: (id, signal) =>
      call(`job ${id}`, async () => jobState(await client.fineTuning.jobs.retrieve(id, { signal })), signal),
    events: (id, signal) =>
      call(
        `events ${id}`,
        async () => {
          const page = await client.fineTuning.jobs.listEvents(id, { limit: 100 }, { signal });
          return page.data
            .map((e) => ({ at: e.created_at * 1000, level: e.level, message: e.message }))
            .sort((a, b) => a.at - b.at);
        },
        signal,
      ),
    cancel: (id, signal) =>
      call(
        `cancel ${id}`,
        async () => {
          await client.fineTuning.jobs.cancel(id, { signal });
        },
        signal,
      ),
  };
}
