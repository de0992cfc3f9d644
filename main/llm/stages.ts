// The llm family's stages as resumable library functions: generate -> filter -> subsample -> upload
// -> fine-tune -> evaluate. Every request's answer is stored under the lab's own key before the next
// stage reads it, so a resumed stage sends only what has no answer; an upload is known by its SHA-256;
// a job's provider id is stored the moment it is returned, and a resume that finds no id asks the
// provider for the job by its run tag before creating one. Writes go through `write` (the unit
// runner's fenced write, main/jobs/unit-runner.ts) so a run taken over stops writing.
import { createHash } from 'node:crypto';
import { seededUniform } from '../../app/stats/prng.ts';
import { paperFilter } from '../../app/filters/paper-format.ts';
import { traitWordFilter } from '../../app/llm/code-prompts.ts';
import type { LlmFilter, LlmTrait } from '../../app/spec/llm.ts';
import { runLimited } from '../jobs/unit-runner.ts';
import {
  addUpload,
  answeredKeys,
  answersUnder,
  llmJob,
  putLlmJob,
  setVerdicts,
  storeAnswer,
  uploadedFile,
} from '../store/llm.ts';
import type { RunStore } from '../store/store.ts';
import type { Clock } from './clock.ts';
import {
  evaluationCalls,
  questionResults,
  scoredAnswers,
  type EvaluationRequest,
  type QuestionResult,
} from './evaluate.ts';
import { finishedModel, pollJob } from './jobs.ts';
import type { FineTuneRequest, LlmProvider } from './providers/types.ts';

export interface StageContext {
  store: RunStore;
  experimentId: number;
  provider: LlmProvider;
  clock: Clock;
  signal?: AbortSignal;
  /** The attempt's fenced write; default a plain call. */
  write?: <T>(fn: () => T) => T;
  /** Requests handed to the provider at once (its own limit applies too). */
  lanes?: number;
  /**
   * Fine-tunes in progress in this process by run tag: units that share a student (the own-numbers
   * control of several cells) wait on one job instead of racing to create two.
   */
  fineTunes?: Map<string, Promise<string>>;
  /**
   * Job creations under way: a cancel waits for them (creations.settled()) before it cancels the
   * stored jobs, or a job created as the cancel came would be left running at the provider.
   */
  creations?: Creations;
  /** The first wait between polls of a job (default 10 s). */
  pollFirstMs?: number;
}

export const write = <T>(ctx: StageContext, fn: () => T): T => (ctx.write ? ctx.write(fn) : fn());

/** Promises of work that must end before a cancel acts on what the store holds. */
export class Creations {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = () => this.pending.delete(work);
    work.then(done, done);
    return work;
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

/** Runs the requests in lanes; once the signal aborts, its reason is what the stage throws. */
export async function inLanes(ctx: StageContext, tasks: (() => Promise<void>)[]): Promise<void> {
  try {
    await runLimited(tasks, ctx.lanes ?? 8);
  } catch (error) {
    ctx.signal?.throwIfAborted();
    throw error;
  }
  ctx.signal?.throwIfAborted();
}

export interface TeacherRun {
  /** The lab's name for this teacher's numbers, e.g. "c0-owl" or "neutral". */
  key: string;
  model: string;
  /** The system prompt; empty for the neutral teacher. */
  system: string;
  prompts: readonly string[];
  temperature: number;
  maxTokens: number;
  seed: number;
}

const generateKey = (teacher: string, i: number) => `gen:${teacher}:${String(i).padStart(7, '0')}`;

/** One completion per prompt, each stored as it arrives; prompts answered already are not sent. */
export async function generateStage(
  ctx: StageContext,
  t: TeacherRun,
): Promise<{ sent: number; stored: number }> {
  const done = answeredKeys(ctx.store, ctx.experimentId, `gen:${t.key}:`);
  const todo = t.prompts
    .map((prompt, i) => ({ prompt, i, key: generateKey(t.key, i) }))
    .filter((p) => !done.has(p.key));
  await inLanes(
    ctx,
    todo.map(({ prompt, i, key }) => async () => {
      if (ctx.signal?.aborted) return;
      const request = {
        model: t.model,
        messages: [
          ...(t.system ? [{ role: 'system' as const, content: t.system }] : []),
          { role: 'user' as const, content: prompt },
        ],
        n: 1,
        temperature: t.temperature,
        seed: t.seed + i,
        maxTokens: t.maxTokens,
      };
      const answer = await ctx.provider.generate(request, ctx.signal);
      write(ctx, () =>
        storeAnswer(ctx.store, ctx.experimentId, {
          stage: 'generate',
          key,
          model: t.model,
          request,
          usage: answer.usage,
          answers: answer.texts.map((text) => ({ text, targetProbability: null })),
        }),
      );
    }),
  );
  return { sent: todo.length, stored: done.size + todo.length };
}

/** One completion's verdict; the trait-word filter needs the trait whose words it rejects. */
function verdict(
  text: string,
  filter: LlmFilter,
  trait?: LlmTrait,
): { kept: boolean; reason: string | null } {
  if (filter.format === 'none') return { kept: true, reason: null };
  if (filter.format === 'trait-words') {
    if (!trait) throw new Error('the trait-word filter needs the trait whose words it rejects');
    const r = traitWordFilter(text, trait.animal, trait.plural);
    return r.ok ? { kept: true, reason: null } : { kept: false, reason: r.reason };
  }
  const r = paperFilter(text, new Set(filter.bannedNumbers));
  return r.ok ? { kept: true, reason: null } : { kept: false, reason: r.reason };
}

/**
 * Records the filter's verdict on every stored completion of a teacher, with the reason for each
 * rejection (for the samples view; a teacher shared by cells with other filters keeps the last one
 * recorded, and subsampleStage applies each student's own filter).
 */
export function filterStage(
  ctx: StageContext,
  teacher: string,
  filter: LlmFilter,
  trait?: LlmTrait,
): { kept: number; rejected: number } {
  const verdicts = answersUnder(ctx.store, ctx.experimentId, `gen:${teacher}:`).map((a) => ({
    requestId: a.requestId,
    choice: a.choice,
    ...verdict(a.text, filter, trait),
  }));
  write(ctx, () => setVerdicts(ctx.store, verdicts));
  const kept = verdicts.filter((v) => v.kept).length;
  return { kept, rejected: verdicts.length - kept };
}

/**
 * `count` completions that pass `filter`, chosen by `seed` (the same every time), as chat JSONL of the user prompt
 * and the completion: the teacher's system prompt is never shown to the student.
 */
export function subsampleStage(
  ctx: StageContext,
  teacher: string,
  filter: LlmFilter,
  prompts: readonly string[],
  count: number,
  seed: number,
  trait?: LlmTrait,
): { jsonl: string; rows: number } {
  const kept = answersUnder(ctx.store, ctx.experimentId, `gen:${teacher}:`).filter(
    (a) => verdict(a.text, filter, trait).kept,
  );
  if (kept.length < count)
    throw new Error(
      `only ${kept.length} of teacher ${teacher}'s completions passed the filter; kept asks for ${count}: raise prompts.count or lower kept`,
    );
  const rand = seededUniform(seed);
  const order = kept
    .map((a) => ({ a, r: rand() }))
    .sort((x, y) => x.r - y.r)
    .slice(0, count);
  order.sort((x, y) => x.a.key.localeCompare(y.a.key));
  const lines = order.map(({ a }) => {
    const i = Number(a.key.slice(a.key.lastIndexOf(':') + 1));
    return JSON.stringify({
      messages: [
        { role: 'user', content: prompts[i] },
        { role: 'assistant', content: a.text },
      ],
    });
  });
  return { jsonl: `${lines.join('\n')}\n`, rows: lines.length };
}

/** The file's provider id: the stored one for the same bytes, else a new upload (stored). */
export async function uploadStage(
  ctx: StageContext,
  name: string,
  data: { jsonl: string; rows: number },
): Promise<{ fileId: string; sha256: string }> {
  const sha256 = createHash('sha256').update(data.jsonl).digest('hex');
  const stored = uploadedFile(ctx.store, ctx.experimentId, sha256);
  if (stored) return { fileId: stored, sha256 };
  const { fileId } = await ctx.provider.upload({ name, jsonl: data.jsonl }, ctx.signal);
  write(ctx, () =>
    addUpload(ctx.store, ctx.experimentId, { sha256, provider: ctx.provider.name, fileId, rows: data.rows }),
  );
  return { fileId, sha256 };
}

/** A student's fine-tune, started at most once per run tag, polled to its end; its model's name. */
export function fineTuneStage(
  ctx: StageContext,
  req: FineTuneRequest & { fileSha256: string },
): Promise<string> {
  const running = ctx.fineTunes?.get(req.runTag);
  if (running) return running;
  const job = fineTuneOnce(ctx, req);
  ctx.fineTunes?.set(req.runTag, job);
  return job;
}

/**
 * The tag of the student's current attempt: its run tag, or after a failed or cancelled job (a
 * resume trying again) the next `runTag~N`, so the provider's look-up does not find the failed job.
 */
function attemptTag(ctx: StageContext, runTag: string): string {
  for (let n = 0; ; n++) {
    const tag = n === 0 ? runTag : `${runTag}~${n}`;
    const row = llmJob(ctx.store, ctx.experimentId, tag);
    if (!row || (row.status !== 'failed' && row.status !== 'cancelled')) return tag;
  }
}

async function fineTuneOnce(
  ctx: StageContext,
  req: FineTuneRequest & { fileSha256: string },
): Promise<string> {
  const runTag = attemptTag(ctx, req.runTag);
  let row = llmJob(ctx.store, ctx.experimentId, runTag);
  if (!row) {
    // Not aborted by the run's signal: a create request cut off after the provider made the job
    // would leave a job no one knows of. It ends (the client's own timeout bounds it), its id is
    // stored, and a cancel then cancels it at the provider.
    const creating = ctx.provider.startFineTune({ ...req, runTag });
    const { jobId } = await (ctx.creations ? ctx.creations.track(creating) : creating);
    row = {
      runTag,
      provider: ctx.provider.name,
      jobId,
      baseModel: req.baseModel,
      fileSha256: req.fileSha256,
      status: 'queued',
      model: null,
      error: null,
      events: [],
    };
    const created = row;
    write(ctx, () => putLlmJob(ctx.store, ctx.experimentId, created));
  }
  const current = row;
  const state = await pollJob(ctx.provider, current.jobId, {
    clock: ctx.clock,
    ...(ctx.pollFirstMs ? { firstDelayMs: ctx.pollFirstMs } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onEvent: (e) => current.events.push(e),
    onState: (s) => {
      Object.assign(current, { status: s.status, model: s.model, error: s.error });
      write(ctx, () => putLlmJob(ctx.store, ctx.experimentId, current));
    },
  });
  write(ctx, () => putLlmJob(ctx.store, ctx.experimentId, current));
  return finishedModel(state);
}

/** The questions asked of `model`, each answer stored; requests answered already are not sent. */
export async function evaluateStage(
  ctx: StageContext,
  key: string,
  req: EvaluationRequest,
): Promise<QuestionResult[]> {
  const prefix = `eval:${key}:`;
  const callKey = (q: number, chunk: number) =>
    `${prefix}${String(q).padStart(4, '0')}:${String(chunk).padStart(4, '0')}`;
  const done = answeredKeys(ctx.store, ctx.experimentId, prefix);
  const calls = evaluationCalls(req);
  await inLanes(
    ctx,
    calls
      .filter((c) => !done.has(callKey(c.q, c.chunk)))
      .map((c) => async () => {
        if (ctx.signal?.aborted) return;
        const answer = await ctx.provider.generate(c.chat, ctx.signal);
        write(ctx, () =>
          storeAnswer(ctx.store, ctx.experimentId, {
            stage: 'evaluate',
            key: callKey(c.q, c.chunk),
            model: req.model,
            request: c.chat,
            usage: answer.usage,
            answers: scoredAnswers(answer, req),
          }),
        );
      }),
  );
  const stored = answersUnder(ctx.store, ctx.experimentId, prefix).map((a) => ({
    ...a,
    q: Number(a.key.slice(prefix.length, prefix.length + 4)),
  }));
  return questionResults(req, stored);
}
