// The read side of an llm experiment for the app: where its stages stand (teachers' requests and
// verdicts, uploads, each provider job with its state and latest events, evaluation answers), and
// a page of its stored samples. Every reply is bounded: counts come from SQL aggregates, lists are
// capped, texts cut; the key is never in the store, so it cannot be in a reply.
import { evaluationQuestions } from '../../app/llm/spec-text.ts';
import {
  LLM_EVALUATIONS_SHOWN,
  LLM_JOB_EVENTS,
  LLM_JOBS_SHOWN,
  LLM_SAMPLE_CHARS,
  type LlmEvaluationProgress,
  type LlmJobProgress,
  type LlmProgress,
  type LlmSamplesPage,
  type LlmStageCount,
  type LlmTeacherProgress,
} from '../../app/llm/results.ts';
import { isLlmInput, llmTeachers, type LlmCell, type LlmSpec } from '../../app/spec/llm.ts';
import type { RunStore } from '../store/store.ts';
import { evaluationKey, type LlmCondition } from './cell-work.ts';

const KEY_GROUP = `substr(r.request_key, instr(r.request_key, ':') + 1,
  instr(substr(r.request_key, instr(r.request_key, ':') + 1), ':') - 1)`;

/**
 * A request key's group: "t0" of "gen:t0:0000012", "c0-student-r1" of "eval:c0-student-r1:0003:0000",
 * and "judge:c0-student-r1" for the judge's requests on that model's answers (stage evaluate too).
 */
export const GROUP_SQL = `(CASE WHEN substr(r.request_key, 1, 6) = 'judge:' THEN 'judge:' ELSE '' END || ${KEY_GROUP})`;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function cellsLabel(cells: readonly number[]): string {
  return cells.length === 1 ? `cell ${cells[0]! + 1}` : `cells ${cells.map((c) => c + 1).join(', ')}`;
}

function teacherProgress(store: RunStore, id: number, spec: LlmSpec, cells: LlmCell[]): LlmTeacherProgress[] {
  const rows = store.db
    .prepare(
      `SELECT ${GROUP_SQL} AS grp, count(DISTINCT r.id) AS requests, sum(a.kept = 1) AS kept,
         sum(a.kept = 0) AS rejected, sum(a.kept IS NULL) AS unjudged
       FROM llm_requests r LEFT JOIN llm_answers a ON a.request_id = r.id
       WHERE r.experiment_id = ? AND r.stage = 'generate' GROUP BY grp`,
    )
    .all(id) as { grp: string; requests: number; kept: number; rejected: number; unjudged: number }[];
  const by = new Map(rows.map((r) => [r.grp, r]));
  return llmTeachers(spec, cells).map((t) => {
    const s = t.cell?.settings ?? spec;
    const r = by.get(t.key);
    return {
      key: t.key,
      label: t.cell
        ? `${t.cell.trait.animal} teacher of ${cellsLabel(t.cells)}`
        : 'neutral teacher (no trait)',
      model: s.teacher.model,
      answered: { done: r?.requests ?? 0, planned: s.prompts.count },
      kept: r?.kept ?? 0,
      rejected: r?.rejected ?? 0,
      unjudged: r?.unjudged ?? 0,
    };
  });
}

/**
 * What a run tag trains (main/llm/cell-work.ts): sl-<run>-c<cell>[x]-r<replicate>, or
 * sl-<run>-n<cell>-r<replicate> for the own-numbers student of the cells screened like that cell
 * (ownNumbersGroup); v<hash> before the cell for training settings other than the spec's; ~N a retry.
 */
export function jobLabel(runTag: string): string {
  const m = /-(?:(v[0-9a-f]{8})-)?(?:c(\d+)(x?)|n(\d+))-r(\d+)(?:~(\d+))?$/.exec(runTag);
  if (!m) return runTag;
  const [, variant, cell, cross, group, replicate, retry] = m;
  const what =
    cell === undefined
      ? `own_numbers shared with cell ${Number(group) + 1}${variant ? ` (settings ${variant})` : ''}`
      : `${cross ? 'cross_model' : 'student'} of cell ${Number(cell) + 1}`;
  return `${what}, replicate ${Number(replicate) + 1}${retry ? ` (retry ${retry})` : ''}`;
}

interface RawJob {
  run_tag: string;
  provider: string;
  job_id: string;
  base_model: string;
  status: string;
  model: string | null;
  error: string | null;
  events_json: string;
}

function jobProgress(store: RunStore, id: number): { jobs: LlmJobProgress[]; left: number } {
  const rows = store.db
    .prepare(
      `SELECT run_tag, provider, job_id, base_model, status, model, error, events_json
       FROM llm_jobs WHERE experiment_id = ? ORDER BY updated_at DESC, run_tag LIMIT ?`,
    )
    .all(id, LLM_JOBS_SHOWN) as RawJob[];
  const total = (
    store.db.prepare('SELECT count(*) AS n FROM llm_jobs WHERE experiment_id = ?').get(id) as { n: number }
  ).n;
  const jobs = rows
    .sort((a, b) => a.run_tag.localeCompare(b.run_tag, undefined, { numeric: true }))
    .map((r) => {
      const events = JSON.parse(r.events_json) as LlmJobProgress['events'];
      return {
        runTag: r.run_tag,
        label: jobLabel(r.run_tag),
        provider: r.provider,
        jobId: r.job_id,
        baseModel: r.base_model,
        status: r.status,
        model: r.model,
        error: r.error === null ? null : cut(r.error, 1000),
        events: events.slice(-LLM_JOB_EVENTS).map((e) => ({ ...e, message: cut(e.message, 300) })),
        eventCount: events.length,
      };
    });
  return { jobs, left: total - jobs.length };
}

/** Every planned evaluation (cell x replicate x condition) with the answers stored of those asked for. */
function evaluationProgress(store: RunStore, id: number, spec: LlmSpec, cells: LlmCell[]) {
  const rows = store.db
    .prepare(
      `SELECT ${GROUP_SQL} AS grp, min(r.model) AS model, count(*) AS answers
       FROM llm_requests r JOIN llm_answers a ON a.request_id = r.id
       WHERE r.experiment_id = ? AND r.stage = 'evaluate' GROUP BY grp`,
    )
    .all(id) as { grp: string; model: string; answers: number }[];
  const by = new Map(rows.map((r) => [r.grp, r]));
  const conditions: LlmCondition[] = [
    ...(spec.controls.base ? (['base'] as const) : []),
    'student',
    ...(spec.controls.crossModel ? (['cross_model'] as const) : []),
    ...(spec.controls.neutralTeacher ? (['own_numbers'] as const) : []),
  ];
  const all: LlmEvaluationProgress[] = cells.flatMap((c) =>
    Array.from({ length: spec.replicates }, (_, replicate) =>
      conditions.map((condition) => {
        // Each cell is asked with its own settings (main/llm/run.ts), under its own key.
        const { evaluation, seed } = c.settings;
        const planned = evaluationQuestions(evaluation, seed).length * evaluation.samplesPerQuestion;
        const key = evaluationKey(spec, c, condition, replicate);
        const r = by.get(key);
        return {
          key,
          cell: c.index,
          condition,
          replicate,
          model: r?.model ?? '',
          answers: { done: r?.answers ?? 0, planned },
        };
      }),
    ).flat(),
  );
  return {
    evaluations: all.slice(0, LLM_EVALUATIONS_SHOWN),
    left: Math.max(0, all.length - LLM_EVALUATIONS_SHOWN),
    judge: judgeProgress(store, id, cells, all),
  };
}

/**
 * The judge's requests answered (main/llm/judge-stage.ts: one per evaluation answer, under "judge:"
 * keys in stage evaluate), of the answers planned by the evaluations whose cell has a judge.
 */
function judgeProgress(
  store: RunStore,
  id: number,
  cells: LlmCell[],
  evaluations: LlmEvaluationProgress[],
): LlmStageCount | null {
  const judged = new Set(cells.filter((c) => c.settings.evaluation.judge).map((c) => c.index));
  if (judged.size === 0) return null;
  const planned = evaluations
    .filter((e) => judged.has(e.cell))
    .reduce((s, e) => s + (e.answers.planned ?? 0), 0);
  const { done } = store.db
    .prepare(
      `SELECT count(DISTINCT r.id) AS done FROM llm_requests r JOIN llm_answers a ON a.request_id = r.id
       WHERE r.experiment_id = ? AND r.stage = 'evaluate' AND r.request_key >= 'judge:' AND r.request_key < 'judge;'`,
    )
    .get(id) as { done: number };
  return { done, planned };
}

export function llmProgress(store: RunStore, experimentId: number): LlmProgress {
  const row = store.getExperiment(experimentId);
  if (!row) throw new Error(`no experiment with id ${experimentId}`);
  const spec = row.spec as unknown as LlmSpec;
  if (!isLlmInput(row.spec)) throw new Error(`experiment #${experimentId} is not an llm experiment`);
  const cells = store.cells(experimentId).map((c) => c.cell as unknown as LlmCell);
  const units = store.units(experimentId);
  const uploads = store.db
    .prepare('SELECT count(*) AS n, coalesce(sum(rows), 0) AS rows FROM llm_uploads WHERE experiment_id = ?')
    .get(experimentId) as { n: number; rows: number };
  const { jobs, left } = jobProgress(store, experimentId);
  const evaluation = evaluationProgress(store, experimentId, spec, cells);
  return {
    experimentId,
    status: row.status,
    error: row.error,
    units: { done: units.filter((u) => u.status === 'done').length, total: units.length },
    teachers: teacherProgress(store, experimentId, spec, cells),
    uploads: { done: uploads.n, rows: uploads.rows },
    jobs,
    jobsLeftOut: left,
    evaluations: evaluation.evaluations,
    evaluationsLeftOut: evaluation.left,
    judge: evaluation.judge,
  };
}

export interface LlmSamplesQuery {
  stage: 'generate' | 'evaluate';
  group?: string | undefined;
  verdict?: 'kept' | 'rejected' | undefined;
  reason?: string | undefined;
  offset: number;
  limit: number;
}

/** One page of stored answers, filtered by group (teacher or evaluated model), verdict and reason. */
export function llmSamplesPage(store: RunStore, experimentId: number, q: LlmSamplesQuery): LlmSamplesPage {
  const where = ['r.experiment_id = ?', 'r.stage = ?'];
  const args: (string | number)[] = [experimentId, q.stage];
  if (q.group !== undefined) {
    where.push(`${GROUP_SQL} = ?`);
    args.push(q.group);
  }
  const groupWhere = where.join(' AND ');
  const groupArgs = [...args];
  if (q.verdict) where.push(`a.kept = ${q.verdict === 'kept' ? 1 : 0}`);
  if (q.reason !== undefined) {
    where.push('a.reason = ?');
    args.push(q.reason);
  }
  const from = `FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id WHERE ${where.join(' AND ')}`;
  const total = (store.db.prepare(`SELECT count(*) AS n ${from}`).get(...args) as { n: number }).n;
  const raw = store.db
    .prepare(
      `SELECT r.request_key AS key, ${GROUP_SQL} AS grp, r.model, r.request_json, a.choice, a.text, a.kept,
         a.reason, a.target_probability AS targetProbability ${from} ORDER BY r.id, a.choice LIMIT ? OFFSET ?`,
    )
    .all(...args, q.limit, q.offset) as {
    key: string;
    grp: string;
    model: string;
    request_json: string;
    choice: number;
    text: string;
    kept: number | null;
    reason: string | null;
    targetProbability: number | null;
  }[];
  const groups = store.db
    .prepare(
      `SELECT ${GROUP_SQL} AS grp, min(r.model) AS model, count(*) AS count
       FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id
       WHERE r.experiment_id = ? AND r.stage = ? GROUP BY grp ORDER BY min(r.id)`,
    )
    .all(experimentId, q.stage) as { grp: string; model: string; count: number }[];
  const reasons = store.db
    .prepare(
      `SELECT a.reason, count(*) AS count FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id
       WHERE ${groupWhere} AND a.kept = 0 AND a.reason IS NOT NULL GROUP BY a.reason ORDER BY count DESC, a.reason LIMIT 50`,
    )
    .all(...groupArgs) as { reason: string; count: number }[];
  return {
    total,
    offset: q.offset,
    rows: raw.map((r) => {
      const messages = (JSON.parse(r.request_json) as { messages?: { content: string }[] }).messages ?? [];
      return {
        key: r.key,
        group: r.grp,
        model: r.model,
        prompt: cut(messages.at(-1)?.content ?? '', LLM_SAMPLE_CHARS),
        choice: r.choice,
        text: cut(r.text, LLM_SAMPLE_CHARS),
        kept: r.kept === null ? null : r.kept === 1,
        reason: r.reason,
        targetProbability: r.targetProbability,
      };
    }),
    groups: groups.map((g) => ({ group: g.grp, model: g.model, count: g.count })),
    reasons,
  };
}
