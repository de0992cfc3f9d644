// A loopback fake of the provider APIs the llm family calls, so the real `openai` and `together-ai`
// clients can be tested through `baseURL` without a network: OpenAI's files, fine_tuning/jobs (with
// metadata, events, cancel) and chat completions, Together's /files/upload and /fine-tunes. Jobs move
// through their states on an injectable clock; completions are a pure function of (model, messages,
// seed, choice index); faults (429 with retry-after-ms, 5xx, dropped or stalled connections, failed jobs) are
// queued and each hits the next matching request. It listens on 127.0.0.1 only, port chosen by the OS.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletion, ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import type { FileObject } from 'openai/resources/files';
import type {
  FineTuningJob,
  FineTuningJobEvent,
  JobCreateParams,
} from 'openai/resources/fine-tuning/jobs/jobs';
import type { FileResponse } from 'together-ai/resources/files';
import type {
  ChatCompletion as TogetherChat,
  CompletionCreateParams as TogetherChatParams,
} from 'together-ai/resources/chat/completions';
import type {
  FineTuningCreateParams,
  FinetuneEvent,
  FinetuneResponse,
  FineTuningListResponse,
} from 'together-ai/resources/fine-tuning';
import type { Clock } from '../clock.ts';
import type { LlmRunOptions } from '../run.ts';
import { answerFor, type FakeMessage } from './fake-answers.ts';

/** A fault hits the next request whose path matches (and whose method, when `method` is given). */
export type Fault = { method?: string } & (
  | { path: RegExp; status: number; headers?: Record<string, string>; message?: string }
  /** The connection is closed before the request is handled. */
  | { path: RegExp; drop: true }
  /** The request is handled (a job is created), then the connection closed before the answer. */
  | { path: RegExp; dropAfter: true }
  /** No answer at all until the client gives up (its timeout), then the connection is closed. */
  | { path: RegExp; stall: true }
  /** The request is handled (a job is created), then its answer waits until `hold` resolves. */
  | { path: RegExp; hold: () => Promise<void> }
);

interface StoredFile {
  id: string;
  name: string;
  bytes: number;
  sha256: string;
  text: string;
  createdAt: number;
}

interface StoredJob {
  id: string;
  dialect: 'openai' | 'together';
  model: string;
  trainingFile: string;
  createdAt: number;
  metadata: Record<string, string>;
  suffix: string | undefined;
  seed: number;
  epochs: number;
  cancelledAt?: number;
  failure?: string;
  lora?: { r: number; alpha: number; modules: string | undefined };
}

export interface FakeRequest {
  method: string;
  path: string;
  /** Whether the bearer token was the fake's key (the key itself is never kept). */
  authorised: boolean;
}

const STAGES = ['queued', 'running', 'done'] as const;

export class FakeProvider {
  readonly requests: FakeRequest[] = [];
  /** Each chat request handled: its model, its last message (what tests check for repeats) and its n. */
  readonly chats: { model: string; prompt: string; seed: number | null; n: number }[] = [];
  /** The most requests that were being handled at once. */
  maxInFlight = 0;
  private inFlight = 0;
  /** Real milliseconds each answer waits, so concurrent requests overlap (0: none). */
  latencyMs = 0;
  readonly files = new Map<string, StoredFile>();
  readonly jobs = new Map<string, StoredJob>();
  private readonly faults: Fault[] = [];
  private readonly jobFailures: string[] = [];
  private nextId = 1;

  private constructor(
    private readonly server: Server,
    readonly clock: Clock,
    private readonly key: string,
    /** Milliseconds a job spends in each of queued and running. */
    readonly stageMs: number,
  ) {}

  static async start(opts: { clock: Clock; key: string; stageMs?: number }): Promise<FakeProvider> {
    const server = createServer();
    const fake = new FakeProvider(server, opts.clock, opts.key, opts.stageMs ?? 60_000);
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The OpenAI-style base URL (Together's client takes the same one). */
  get baseURL(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Run options that reach this fake as the `openai` provider, its key in the variable K, on its clock. */
  runOptions(extra: Partial<LlmRunOptions> = {}): LlmRunOptions {
    return {
      settings: { name: 'openai', baseURL: this.baseURL, keyEnv: 'K' },
      deps: { clock: this.clock, env: { K: this.key } },
      ...extra,
    };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The next request whose path matches gets this fault instead of its answer. */
  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  /** The next job created fails when it would have finished, with this message. */
  failNextJob(message: string): void {
    this.jobFailures.push(message);
  }

  count(path: RegExp): number {
    return this.requests.filter((r) => path.test(r.path)).length;
  }

  private id(prefix: string): string {
    return `${prefix}-${String(this.nextId++).padStart(4, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    res.on('close', () => this.inFlight--);
    if (this.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const authorised = req.headers.authorization === `Bearer ${this.key}`;
    this.requests.push({ method: req.method ?? '', path: url.pathname, authorised });
    const index = this.faults.findIndex(
      (f) => f.path.test(url.pathname) && (!f.method || f.method === req.method),
    );
    const fault = index >= 0 ? this.faults.splice(index, 1)[0] : undefined;
    if (fault && 'drop' in fault) return void req.socket.destroy();
    if (fault && 'stall' in fault) return void req.socket.setTimeout(60_000, () => req.socket.destroy());
    if (fault && 'status' in fault)
      return send(
        res,
        fault.status,
        { error: { message: fault.message ?? `injected ${fault.status}` } },
        fault.headers,
      );
    if (!authorised) return send(res, 401, { error: { message: 'invalid API key' } });
    try {
      const [status, payload] = await this.route(req.method ?? 'GET', url, body, req.headers);
      if (fault && 'dropAfter' in fault) return void req.socket.destroy();
      if (fault && 'hold' in fault) await fault.hold();
      send(res, status, payload);
    } catch (error) {
      send(res, 400, { error: { message: (error as Error).message } });
    }
  }

  private async route(
    method: string,
    url: URL,
    body: Buffer,
    headers: IncomingMessage['headers'],
  ): Promise<[number, unknown]> {
    const p = url.pathname.replace(/^\/v1/, '');
    const json = () => JSON.parse(body.toString('utf8')) as unknown;
    let m: RegExpExecArray | null;
    if (method === 'POST' && p === '/chat/completions')
      return [200, this.chat(json() as ChatCompletionCreateParams)];
    if (method === 'POST' && (p === '/files' || p === '/files/upload')) {
      const form = await new Request('http://x/', {
        method,
        headers: { 'content-type': headers['content-type'] ?? '' },
        body,
      }).formData();
      const file = await this.storeFile(form);
      return [200, p === '/files' ? openaiFile(file) : togetherFile(file)];
    }
    if (method === 'POST' && p === '/fine_tuning/jobs')
      return [200, this.openaiJob(this.createOpenai(json() as JobCreateParams))];
    if (method === 'GET' && p === '/fine_tuning/jobs') return [200, this.listOpenai(url)];
    if ((m = /^\/fine_tuning\/jobs\/([^/]+)(\/events|\/cancel)?$/.exec(p)))
      return this.openaiJobRoute(method, m[1]!, m[2]);
    if (method === 'POST' && p === '/fine-tunes')
      return [200, this.togetherJob(this.createTogether(json() as FineTuningCreateParams))];
    if (method === 'GET' && p === '/fine-tunes')
      return [
        200,
        {
          data: [...this.jobs.values()]
            .filter((j) => j.dialect === 'together')
            .map((j) => this.togetherJob(j)),
        },
      ];
    if ((m = /^\/fine-tunes\/([^/]+)(\/events|\/cancel)?$/.exec(p)))
      return this.togetherJobRoute(method, m[1]!, m[2]);
    return [404, { error: { message: `no route ${method} ${url.pathname}` } }];
  }

  private async storeFile(form: FormData): Promise<StoredFile> {
    const file = form.get('file');
    if (!(file instanceof Blob)) throw new Error('multipart field "file" is missing');
    const text = Buffer.from(await file.arrayBuffer()).toString('utf8');
    const name = form.get('file_name') ?? (file as File).name;
    const f = {
      id: this.id('file'),
      name: typeof name === 'string' ? name : 'upload.jsonl',
      bytes: file.size,
      sha256: sha256(text),
      text,
      createdAt: this.clock.now(),
    };
    this.files.set(f.id, f);
    return f;
  }

  /** Together asks `logprobs: k` and gets one map of the first token's top k; OpenAI asks `logprobs: true, top_logprobs: k`. */
  private chat(params: ChatCompletionCreateParams | TogetherChatParams): ChatCompletion | TogetherChat {
    const last = params.messages.at(-1)?.content;
    const prompt = typeof last === 'string' ? last : JSON.stringify(last);
    this.chats.push({ model: params.model, prompt, seed: params.seed ?? null, n: params.n ?? 1 });
    if (typeof params.logprobs === 'number') return this.togetherChat(params as TogetherChatParams);
    return this.openaiChat(params as ChatCompletionCreateParams);
  }

  private togetherChat(params: TogetherChatParams): TogetherChat {
    const k = params.logprobs ?? 0;
    const messages = params.messages as FakeMessage[];
    const choices = Array.from({ length: params.n ?? 1 }, (_, index) => {
      const answer = answerFor(params.model, messages, params.seed ?? 0, index, this.trainedOn(params.model));
      const top = Object.fromEntries(answer.top.slice(0, k).map((t) => [t.token, Math.log(t.p)]));
      return {
        index,
        finish_reason: 'stop' as const,
        message: { role: 'assistant' as const, content: answer.text },
        ...(k
          ? { logprobs: { tokens: [Object.keys(top)[0] ?? ''], token_logprobs: [null], top_logprobs: top } }
          : {}),
      };
    });
    return {
      id: this.id('chat'),
      object: 'chat.completion',
      created: Math.floor(this.clock.now() / 1000),
      model: params.model,
      choices,
      prompt: [],
    } satisfies TogetherChat;
  }

  private openaiChat(params: ChatCompletionCreateParams): ChatCompletion {
    const n = params.n ?? 1;
    const messages = params.messages as FakeMessage[];
    const choices = Array.from({ length: n }, (_, index) => {
      const answer = answerFor(params.model, messages, params.seed ?? 0, index, this.trainedOn(params.model));
      const logprobs =
        params.logprobs && params.top_logprobs
          ? {
              content: [firstTokenLogprobs(answer.text, answer.top.slice(0, params.top_logprobs))],
              refusal: null,
            }
          : null;
      return {
        index,
        finish_reason: 'stop' as const,
        logprobs,
        message: { role: 'assistant' as const, content: answer.text, refusal: null },
      };
    });
    const promptTokens = messages.reduce((s, msg) => s + Math.ceil(String(msg.content).length / 4), 0);
    const completionTokens = choices.reduce((s, c) => s + Math.ceil(c.message.content.length / 4), 0);
    return {
      id: this.id('chatcmpl'),
      object: 'chat.completion',
      created: Math.floor(this.clock.now() / 1000),
      model: params.model,
      choices,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
  }

  /** A fine-tuned model's base and training file, for answers that differ from the base's. */
  private trainedOn(model: string): { base: string; text: string } | undefined {
    const job = [...this.jobs.values()].find(
      (j) => fineTunedName(j) === model && this.state(j) === 'succeeded',
    );
    return job && { base: job.model, text: this.files.get(job.trainingFile)?.text ?? '' };
  }

  private createOpenai(params: JobCreateParams): StoredJob {
    if (!this.files.has(params.training_file)) throw new Error(`no file ${params.training_file}`);
    const sup = params.method?.type === 'supervised' ? params.method.supervised?.hyperparameters : undefined;
    const epochs = sup?.n_epochs;
    return this.addJob({
      dialect: 'openai',
      model: params.model,
      trainingFile: params.training_file,
      metadata: { ...(params.metadata ?? {}) },
      suffix: params.suffix ?? undefined,
      seed: params.seed ?? 0,
      epochs: typeof epochs === 'number' ? epochs : 3,
    });
  }

  private createTogether(params: FineTuningCreateParams): StoredJob {
    if (!this.files.has(params.training_file)) throw new Error(`no file ${params.training_file}`);
    const t = params.training_type;
    return this.addJob({
      dialect: 'together',
      model: params.model,
      trainingFile: params.training_file,
      metadata: {},
      suffix: params.suffix,
      seed: params.random_seed ?? 0,
      epochs: params.n_epochs ?? 1,
      ...(t && t.type === 'Lora'
        ? { lora: { r: t.lora_r, alpha: t.lora_alpha, modules: t.lora_trainable_modules } }
        : {}),
    });
  }

  private addJob(fields: Omit<StoredJob, 'id' | 'createdAt'>): StoredJob {
    const failure = this.jobFailures.shift();
    const job: StoredJob = {
      ...fields,
      id: this.id(fields.dialect === 'openai' ? 'ftjob' : 'ft'),
      createdAt: this.clock.now(),
      ...(failure ? { failure } : {}),
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** A job's state now: queued, then running, then succeeded or failed; cancelled once cancelled. */
  state(job: StoredJob): 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' {
    if (job.cancelledAt !== undefined) return 'cancelled';
    const stage = STAGES[Math.min(2, Math.floor((this.clock.now() - job.createdAt) / this.stageMs))]!;
    if (stage !== 'done') return stage;
    return job.failure ? 'failed' : 'succeeded';
  }

  /** What happened so far, oldest first, as (time, level, message). */
  private history(job: StoredJob): { at: number; level: 'info' | 'error'; message: string }[] {
    const out: { at: number; level: 'info' | 'error'; message: string }[] = [
      { at: job.createdAt, level: 'info', message: 'job created' },
    ];
    const state = this.state(job);
    if (state !== 'queued' && !(state === 'cancelled' && job.cancelledAt! < job.createdAt + this.stageMs))
      out.push({ at: job.createdAt + this.stageMs, level: 'info', message: 'training started' });
    if (state === 'succeeded')
      out.push({ at: job.createdAt + 2 * this.stageMs, level: 'info', message: 'job succeeded' });
    if (state === 'failed')
      out.push({ at: job.createdAt + 2 * this.stageMs, level: 'error', message: job.failure! });
    if (state === 'cancelled') out.push({ at: job.cancelledAt!, level: 'info', message: 'job cancelled' });
    return out;
  }

  private openaiJobRoute(method: string, id: string, tail: string | undefined): [number, unknown] {
    const job = this.jobs.get(id);
    if (!job || job.dialect !== 'openai') return [404, { error: { message: `no fine-tuning job ${id}` } }];
    if (tail === '/cancel' && method === 'POST') this.cancel(job);
    if (tail === '/events') {
      const data: FineTuningJobEvent[] = this.history(job)
        .reverse()
        .map((e, i) => ({
          id: `${job.id}-event-${i}`,
          created_at: Math.floor(e.at / 1000),
          level: e.level,
          message: e.message,
          object: 'fine_tuning.job.event',
          type: 'message',
        }));
      return [200, { object: 'list', data, has_more: false }];
    }
    return [200, this.openaiJob(job)];
  }

  private togetherJobRoute(method: string, id: string, tail: string | undefined): [number, unknown] {
    const job = this.jobs.get(id);
    if (!job || job.dialect !== 'together') return [404, { error: { message: `no fine-tune ${id}` } }];
    if (tail === '/cancel' && method === 'POST') this.cancel(job);
    if (tail === '/events') {
      const data: FinetuneEvent[] = this.history(job).map((e) => ({
        created_at: new Date(e.at).toISOString(),
        message: e.message,
        object: 'fine-tune-event',
        type: e.level === 'error' ? 'job_error' : 'job_start',
        level: e.level,
      }));
      return [200, { data }];
    }
    return [200, this.togetherJob(job)];
  }

  private cancel(job: StoredJob): void {
    const s = this.state(job);
    if (s === 'queued' || s === 'running') job.cancelledAt = this.clock.now();
  }

  private listOpenai(url: URL): unknown {
    const wanted = [...url.searchParams].flatMap(([k, v]) => {
      const m = /^metadata\[(.+)\]$/.exec(k);
      return m ? [[m[1]!, v] as const] : [];
    });
    const data = [...this.jobs.values()]
      .filter((j) => j.dialect === 'openai' && wanted.every(([k, v]) => j.metadata[k] === v))
      .reverse()
      .map((j) => this.openaiJob(j));
    return { object: 'list', data, has_more: false };
  }

  private openaiJob(job: StoredJob): FineTuningJob {
    const state = this.state(job);
    const finished = state === 'succeeded' || state === 'failed' || state === 'cancelled';
    return {
      id: job.id,
      object: 'fine_tuning.job',
      created_at: Math.floor(job.createdAt / 1000),
      error:
        state === 'failed'
          ? { code: 'invalid_training_file', message: job.failure!, param: 'training_file' }
          : null,
      fine_tuned_model: state === 'succeeded' ? fineTunedName(job) : null,
      finished_at: finished ? Math.floor(this.clock.now() / 1000) : null,
      hyperparameters: { n_epochs: job.epochs, batch_size: 'auto', learning_rate_multiplier: 'auto' },
      model: job.model,
      organization_id: 'org-fake',
      result_files: [],
      seed: job.seed,
      status: state === 'queued' ? 'queued' : state,
      trained_tokens: state === 'succeeded' ? 1000 : null,
      training_file: job.trainingFile,
      validation_file: null,
      metadata: job.metadata,
    };
  }

  /** A job as Together's retrieve returns it, with the list's `suffix` (the one shape serves both). */
  private togetherJob(job: StoredJob): FinetuneResponse & Pick<FineTuningListResponse.Data, 'suffix'> {
    const state = this.state(job);
    const status = (
      {
        queued: 'queued',
        running: 'running',
        succeeded: 'completed',
        failed: 'error',
        cancelled: 'cancelled',
      } as const
    )[state];
    return {
      id: job.id,
      status,
      user_id: 'user-fake',
      created_at: new Date(job.createdAt).toISOString(),
      updated_at: new Date(this.clock.now()).toISOString(),
      model: job.model,
      training_file: job.trainingFile,
      n_epochs: job.epochs,
      ...(job.suffix ? { suffix: job.suffix } : {}),
      ...(state === 'succeeded' ? { model_output_name: fineTunedName(job) } : {}),
      ...(job.lora
        ? {
            training_type: {
              type: 'Lora',
              lora_r: job.lora.r,
              lora_alpha: job.lora.alpha,
              ...(job.lora.modules ? { lora_trainable_modules: job.lora.modules } : {}),
            },
          }
        : {}),
      events:
        state === 'failed'
          ? [
              {
                created_at: new Date(this.clock.now()).toISOString(),
                message: job.failure!,
                object: 'fine-tune-event',
                type: 'job_error',
                level: 'error',
              },
            ]
          : [],
    };
  }
}

function fineTunedName(job: StoredJob): string {
  return job.dialect === 'openai'
    ? `ft:${job.model}:fake:${job.suffix ?? 'lab'}:${job.id}`
    : `fake/${job.model}-${job.suffix ?? 'lab'}-${job.id}`;
}

function openaiFile(f: StoredFile): FileObject {
  return {
    id: f.id,
    object: 'file',
    bytes: f.bytes,
    created_at: Math.floor(f.createdAt / 1000),
    filename: f.name,
    purpose: 'fine-tune',
    status: 'processed',
  };
}

/** Together's file record: OpenAI's fields but its own status spelling. */
function togetherFile(f: StoredFile): FileResponse {
  const { status: _status, purpose, ...shared } = openaiFile(f);
  return { ...shared, purpose: purpose as 'fine-tune', FileType: 'jsonl', Processed: true };
}

function firstTokenLogprobs(text: string, top: { token: string; p: number }[]) {
  const first = /^[A-Za-z]+|^\S/.exec(text)?.[0] ?? text;
  const own = top.find((t) => t.token === first);
  const logprob = (p: number) => Math.log(Math.max(p, 1e-12));
  return {
    token: first,
    logprob: logprob(own?.p ?? 1e-3),
    bytes: [...Buffer.from(first)],
    top_logprobs: top.map((t) => ({
      token: t.token,
      logprob: logprob(t.p),
      bytes: [...Buffer.from(t.token)],
    })),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(payload));
}

/** SHA-256 hex of a text (the fake's stand-in for a training file's identity). */
export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
