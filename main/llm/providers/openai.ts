// The `openai` adapter: OpenAI, Azure OpenAI or any OpenAI-compatible server through the official
// client. Inference everywhere; fine-tuning jobs where the server offers them (OpenAI's supervised
// method). A job carries the lab's run tag in its metadata and is looked up by it before any create.
import OpenAI from 'openai';
import type { FineTuningJob, JobCreateParams } from 'openai/resources/fine-tuning/jobs/jobs';
import { adapter, chatBase, clientOptions, readChat, readKey, type ProviderCalls } from './common.ts';
import type { FineTuneRequest, JobState, LlmProvider, ProviderDeps, ProviderSettings } from './types.ts';

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

/** Chat through an OpenAI client (also the command provider's inference server). */
export function openaiChat(client: OpenAI): ProviderCalls['chat'] {
  return async (req, signal) =>
    readChat(
      await client.chat.completions.create(
        {
          ...chatBase(req),
          max_completion_tokens: req.maxTokens,
          ...(req.topLogprobs ? { logprobs: true, top_logprobs: req.topLogprobs } : {}),
        },
        { signal },
      ),
    );
}

export function openaiProvider(settings: ProviderSettings, deps: ProviderDeps): LlmProvider {
  const client = new OpenAI(clientOptions(settings, readKey(settings, deps)));
  return adapter(settings, deps, {
    chat: openaiChat(client),
    upload: async (file, signal) => {
      const uploadable = await OpenAI.toFile(Buffer.from(file.jsonl, 'utf8'), file.name);
      return (await client.files.create({ file: uploadable, purpose: 'fine-tune' }, { signal })).id;
    },
    findTagged: async (runTag, signal) => {
      const page = await client.fineTuning.jobs.list(
        { metadata: { [RUN_TAG_KEY]: runTag }, limit: 10 },
        { signal },
      );
      return page.data.find((j) => j.metadata?.[RUN_TAG_KEY] === runTag)?.id;
    },
    create: async (req, signal) =>
      (await client.fineTuning.jobs.create(createOpenaiParams(req), { signal })).id,
    job: async (id, signal) => jobState(await client.fineTuning.jobs.retrieve(id, { signal })),
    events: async (id, signal) => {
      const page = await client.fineTuning.jobs.listEvents(id, { limit: 100 }, { signal });
      return page.data
        .map((e) => ({ at: e.created_at * 1000, level: e.level, message: e.message }))
        .sort((a, b) => a.at - b.at);
    },
    cancel: async (id, signal) => {
      await client.fineTuning.jobs.cancel(id, { signal });
    },
  });
}
