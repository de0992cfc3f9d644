// The `command` adapter: the researcher's own trainer (e.g. a PEFT script) run as a local process,
// with inference on their OpenAI-compatible server (vLLM, llama.cpp, Ollama) at `baseURL`. The
// command is a local setting (providers.json), never part of a spec.
//
// Protocol: for each fine-tune the lab starts `command` once, in its own process group, with the job
// directory as its working directory, and writes one JSON line to its stdin:
//   {"type":"train","runTag","baseModel","trainingFile","epochs","seed","batchSize","learningRate"?,
//    "warmupRatio"?,"lora"?:{"rank","alpha","dropout","targetModules"}}
// (trainingFile: an absolute path to the chat JSONL), then closes stdin. The trainer writes JSON lines
// to stdout, kept in the job directory's out.jsonl: {"type":"event","message"} as often as it likes,
// then {"type":"done","model":"NAME"} (a name its inference server serves) or
// {"type":"error","message"}. A trainer that exits without either has failed. Job directories are
// named by the run tag, so a lab that restarts finds a job (running or finished) instead of starting
// it again; cancel sends SIGTERM to the trainer's process group.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { processAlive } from '../../process-alive.ts';
import { adapter, clientOptions } from './common.ts';
import { openaiChat } from './openai.ts';
import {
  ProviderError,
  type FineTuneRequest,
  type JobEvent,
  type JobState,
  type LlmProvider,
  type ProviderDeps,
  type ProviderSettings,
} from './types.ts';

export interface CommandSettings extends ProviderSettings {
  /** The trainer's argv (no shell). */
  command?: string[];
  /** Where uploads and job directories live. */
  jobsDir?: string;
}

interface OutLine {
  type: 'event' | 'done' | 'error';
  message?: string;
  model?: string;
  at: number;
}

const jobName = (runTag: string) => runTag.replace(/[^A-Za-z0-9._-]+/g, '-');

function readOut(dir: string): OutLine[] {
  const file = join(dir, 'out.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as OutLine];
      } catch {
        return [{ type: 'event' as const, message: l, at: 0 }];
      }
    });
}

function lastLine(file: string): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '';
}

function state(id: string, dir: string): JobState {
  const lines = readOut(dir);
  const done = lines.find((l) => l.type === 'done');
  if (done?.model) return { id, status: 'succeeded', model: done.model, error: null };
  const error = lines.find((l) => l.type === 'error');
  if (error)
    return { id, status: 'failed', model: null, error: error.message ?? 'the trainer reported an error' };
  if (existsSync(join(dir, 'cancelled'))) return { id, status: 'cancelled', model: null, error: null };
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  if (processAlive(pid)) return { id, status: 'running', model: null, error: null };
  const stderr = lastLine(join(dir, 'err.log'));
  return {
    id,
    status: 'failed',
    model: null,
    error: `the trainer exited without a done line${stderr ? ` (its last error output: ${stderr})` : ''}`,
  };
}

function start(command: string[], dir: string, req: FineTuneRequest, trainingFile: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'request.json'), JSON.stringify(req));
  const out = openSync(join(dir, 'out.jsonl'), 'a');
  const err = openSync(join(dir, 'err.log'), 'a');
  const child = spawn(command[0]!, command.slice(1), { cwd: dir, detached: true, stdio: ['pipe', out, err] });
  closeSync(out);
  closeSync(err);
  writeFileSync(join(dir, 'pid'), String(child.pid));
  child.on('error', (e) =>
    writeFileSync(
      join(dir, 'out.jsonl'),
      `${JSON.stringify({ type: 'error', message: `cannot start the trainer: ${e.message}` })}\n`,
      { flag: 'a' },
    ),
  );
  child.stdin!.end(`${JSON.stringify({ type: 'train', ...req, trainingFile })}\n`);
  child.unref();
}

export function commandProvider(settings: CommandSettings, deps: ProviderDeps): LlmProvider {
  const { command, jobsDir } = settings;
  if (!command?.length)
    throw new ProviderError('the command provider needs "command" (its argv) in providers.json');
  if (!jobsDir) throw new ProviderError('the command provider needs a jobsDir');
  if (!settings.baseURL)
    throw new ProviderError(
      'the command provider needs "baseURL": the inference server that serves its models',
    );
  // The inference server may want no key: then none is sent that means anything.
  const key = (deps.env ?? process.env)[settings.keyEnv] ?? 'no-key';
  const client = new OpenAI(clientOptions(settings, key));
  const jobDir = (id: string) => join(jobsDir, 'jobs', id);
  return adapter(settings, deps, {
    chat: openaiChat(client),
    upload: async (file) => {
      const sha = createHash('sha256').update(file.jsonl).digest('hex');
      const path = join(jobsDir, 'files', `${sha}.jsonl`);
      mkdirSync(join(jobsDir, 'files'), { recursive: true });
      if (!existsSync(path)) writeFileSync(path, file.jsonl);
      return path;
    },
    findTagged: async (runTag) =>
      existsSync(join(jobDir(jobName(runTag)), 'pid')) ? jobName(runTag) : undefined,
    create: async (req) => {
      const id = jobName(req.runTag);
      start(command, jobDir(id), req, req.fileId);
      return id;
    },
    job: async (id) => state(id, jobDir(id)),
    events: async (id): Promise<JobEvent[]> =>
      readOut(jobDir(id)).map((l) => ({
        at: l.at ?? 0,
        level: l.type === 'error' ? 'error' : 'info',
        message: l.type === 'done' ? `done: ${l.model}` : (l.message ?? ''),
      })),
    cancel: async (id) => {
      const dir = jobDir(id);
      writeFileSync(join(dir, 'cancelled'), '');
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      if (processAlive(pid)) process.kill(-pid, 'SIGTERM');
    },
  });
}
