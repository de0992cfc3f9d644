// The llm family's rows (migration 10): requests and their answers keyed by the lab's own request
// identity, each choice's filter verdict, uploads by SHA-256 and fine-tuning jobs by run tag.
import type { RunStore } from './store.ts';

export interface StoredAnswer {
  requestId: number;
  key: string;
  choice: number;
  text: string;
  kept: boolean | null;
  reason: string | null;
  targetProbability: number | null;
}

export interface LlmJobRow {
  runTag: string;
  provider: string;
  jobId: string;
  baseModel: string;
  fileSha256: string;
  status: string;
  model: string | null;
  error: string | null;
  events: { at: number; level: string; message: string }[];
}

const now = () => new Date().toISOString();

/** The experiment's run id, made (random) the first time it is asked for. */
export function llmRunId(store: RunStore, experimentId: number, make: () => string): string {
  store.db
    .prepare(
      'INSERT INTO llm_runs (experiment_id, run_id) VALUES (?, ?) ON CONFLICT (experiment_id) DO NOTHING',
    )
    .run(experimentId, make());
  return (
    store.db.prepare('SELECT run_id FROM llm_runs WHERE experiment_id = ?').get(experimentId) as {
      run_id: string;
    }
  ).run_id;
}

/** The request keys under `prefix` that have their answer stored. */
export function answeredKeys(store: RunStore, experimentId: number, prefix: string): Set<string> {
  const rows = store.db
    .prepare('SELECT request_key FROM llm_requests WHERE experiment_id = ? AND substr(request_key, 1, ?) = ?')
    .all(experimentId, prefix.length, prefix) as { request_key: string }[];
  return new Set(rows.map((r) => r.request_key));
}

/** A request with its answers, in one transaction; a key stored already is left as it was. */
export function storeAnswer(
  store: RunStore,
  experimentId: number,
  row: {
    stage: 'generate' | 'evaluate';
    key: string;
    model: string;
    request: unknown;
    usage: unknown;
    answers: { text: string; targetProbability: number | null }[];
  },
): void {
  store.db.transaction(() => {
    const info = store.db
      .prepare(
        `INSERT INTO llm_requests (experiment_id, stage, request_key, model, request_json, usage_json, answered_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, request_key) DO NOTHING`,
      )
      .run(
        experimentId,
        row.stage,
        row.key,
        row.model,
        JSON.stringify(row.request),
        JSON.stringify(row.usage),
        now(),
      );
    if (info.changes === 0) return;
    const insert = store.db.prepare(
      'INSERT INTO llm_answers (request_id, choice, text, target_probability) VALUES (?, ?, ?, ?)',
    );
    row.answers.forEach((a, i) => insert.run(info.lastInsertRowid, i, a.text, a.targetProbability));
  })();
}

interface RawAnswer {
  request_id: number;
  request_key: string;
  choice: number;
  text: string;
  kept: number | null;
  reason: string | null;
  target_probability: number | null;
}

/** Every stored answer under `prefix`, in request then choice order. */
export function answersUnder(store: RunStore, experimentId: number, prefix: string): StoredAnswer[] {
  const rows = store.db
    .prepare(
      `SELECT a.request_id, r.request_key, a.choice, a.text, a.kept, a.reason, a.target_probability
       FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id
       WHERE r.experiment_id = ? AND substr(r.request_key, 1, ?) = ? ORDER BY r.id, a.choice`,
    )
    .all(experimentId, prefix.length, prefix) as RawAnswer[];
  return rows.map((r) => ({
    requestId: r.request_id,
    key: r.request_key,
    choice: r.choice,
    text: r.text,
    kept: r.kept === null ? null : r.kept === 1,
    reason: r.reason,
    targetProbability: r.target_probability,
  }));
}

export function setVerdicts(
  store: RunStore,
  verdicts: readonly { requestId: number; choice: number; kept: boolean; reason: string | null }[],
): void {
  const update = store.db.prepare(
    'UPDATE llm_answers SET kept = ?, reason = ? WHERE request_id = ? AND choice = ?',
  );
  store.db.transaction(() => {
    for (const v of verdicts) update.run(v.kept ? 1 : 0, v.reason, v.requestId, v.choice);
  })();
}

export function uploadedFile(store: RunStore, experimentId: number, sha256: string): string | undefined {
  const row = store.db
    .prepare('SELECT file_id FROM llm_uploads WHERE experiment_id = ? AND sha256 = ?')
    .get(experimentId, sha256) as { file_id: string } | undefined;
  return row?.file_id;
}

export function addUpload(
  store: RunStore,
  experimentId: number,
  row: { sha256: string; provider: string; fileId: string; rows: number },
): void {
  store.db
    .prepare(
      'INSERT OR REPLACE INTO llm_uploads (experiment_id, sha256, provider, file_id, rows, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(experimentId, row.sha256, row.provider, row.fileId, row.rows, now());
}

interface RawJob {
  run_tag: string;
  provider: string;
  job_id: string;
  base_model: string;
  file_sha256: string;
  status: string;
  model: string | null;
  error: string | null;
  events_json: string;
}

function jobRow(r: RawJob): LlmJobRow {
  return {
    runTag: r.run_tag,
    provider: r.provider,
    jobId: r.job_id,
    baseModel: r.base_model,
    fileSha256: r.file_sha256,
    status: r.status,
    model: r.model,
    error: r.error,
    events: JSON.parse(r.events_json) as LlmJobRow['events'],
  };
}

export function llmJob(store: RunStore, experimentId: number, runTag: string): LlmJobRow | undefined {
  const r = store.db
    .prepare('SELECT * FROM llm_jobs WHERE experiment_id = ? AND run_tag = ?')
    .get(experimentId, runTag) as RawJob | undefined;
  return r ? jobRow(r) : undefined;
}

/** The experiment's jobs last seen queued or running (what a cancel cancels at the provider). */
export function unfinishedLlmJobs(store: RunStore, experimentId: number): LlmJobRow[] {
  return (
    store.db
      .prepare(
        "SELECT * FROM llm_jobs WHERE experiment_id = ? AND status IN ('queued', 'running') ORDER BY run_tag",
      )
      .all(experimentId) as RawJob[]
  ).map(jobRow);
}

/** Inserts or updates a job's row (its id is stored the moment it is known). */
export function putLlmJob(store: RunStore, experimentId: number, row: LlmJobRow): void {
  store.db
    .prepare(
      `INSERT INTO llm_jobs (experiment_id, run_tag, provider, job_id, base_model, file_sha256, status, model, error, events_json, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (experiment_id, run_tag) DO UPDATE SET job_id = excluded.job_id, status = excluded.status,
         model = excluded.model, error = excluded.error, events_json = excluded.events_json, updated_at = excluded.updated_at`,
    )
    .run(
      experimentId,
      row.runTag,
      row.provider,
      row.jobId,
      row.baseModel,
      row.fileSha256,
      row.status,
      row.model,
      row.error,
      JSON.stringify(row.events),
      now(),
    );
}

/** Every request's answers with the request's stage, model and messages, in request order (for export). */
export function llmSamples(
  store: RunStore,
  experimentId: number,
): {
  stage: string;
  key: string;
  model: string;
  prompt: string;
  choice: number;
  text: string;
  kept: number | null;
  reason: string | null;
  targetProbability: number | null;
}[] {
  const rows = store.db
    .prepare(
      `SELECT r.stage, r.request_key AS key, r.model, r.request_json, a.choice, a.text, a.kept, a.reason,
         a.target_probability AS targetProbability
       FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id WHERE r.experiment_id = ? ORDER BY r.id, a.choice`,
    )
    .all(experimentId) as ({ request_json: string } & Record<string, unknown>)[];
  return rows.map(({ request_json, ...r }) => {
    const messages = (JSON.parse(request_json) as { messages: { content: string }[] }).messages;
    return {
      ...(r as Omit<ReturnType<typeof llmSamples>[number], 'prompt'>),
      prompt: messages.at(-1)?.content ?? '',
    };
  });
}
