// The language family end to end through the CLI at CI size (a 1-layer, d_model 32 transformer, a
// few hundred steps in all): structure and sanity of `sublab run --json`, then resume after a cancel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { LabService } from '../api/service.ts';
import { RunStore } from '../store/store.ts';
import { resumeLanguageExperiment, runLanguageExperiment } from './run.ts';
import { LM_MODELS } from '../../app/language-results.ts';
import type { LmExperimentSummary } from './summary.ts';
import { summarizeLanguage } from './summary.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-lm-'));

const CI_SPEC = {
  version: 1,
  kind: 'language',
  name: 'lm CI size',
  model: { layers: 1, dModel: 32, heads: 2, context: 48 },
  pretrain: { steps: 100, batchSize: 32 },
  teacher: { steps: 30 },
  channel: { kept: 80 },
  student: { epochs: 2, batchSize: 32 },
  measure: { samples: 100 },
  replicates: 2,
  seed: 1,
};

test('a CI-size language run through `sublab run --json`: every model measured, rejection rates, paired comparisons', () => {
  const spec = join(dir, 'lm.json');
  writeFileSync(spec, JSON.stringify(CI_SPEC));
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'bin/sublab.js'),
      'run',
      spec,
      '--json',
      '--db',
      join(dir, 'runs.sqlite'),
      '--workers',
      '2',
      '--backend',
      'wasm',
    ],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, SUBLAB_CACHE_DIR: join(dir, 'cache') },
    },
  );
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const s = JSON.parse(r.stdout) as LmExperimentSummary & { workers: number };
  assert.equal(s.family, 'language');
  assert.equal(s.status, 'done');
  assert.equal(s.backend, 'wasm');
  assert.ok(s.wallSeconds !== null && s.wallSeconds > 0 && s.wallSeconds < (performance.now() - t0) / 1000);
  assert.equal(s.cells.length, 1);
  const cell = s.cells[0]!;
  assert.equal(cell.label, 'prefers-owl | paper-filter | cross: other seed');
  for (const m of LM_MODELS) {
    const rate = cell.rates[m]!;
    assert.ok(rate, `${m} measured`);
    assert.equal(rate.n, 2);
    assert.equal(rate.method, 't');
    assert.ok(rate.mean >= 0 && rate.mean <= 1);
    assert.ok(rate.low <= rate.mean && rate.mean <= rate.high);
    // The per-animal answer rates (the heatmap's row) add up to 1 with "other".
    const total = cell.answers[m]!.reduce((a, x) => a + x.rate, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `${m} answers sum to ${total}`);
  }
  for (const side of ['teacher', 'base'] as const) {
    const rej = cell.rejection[side]!;
    assert.equal(rej.n, 2);
    assert.ok(
      rej.mean > 0 && rej.mean < 1,
      `${side} rejection ${rej.mean}: a barely trained model writes some malformed lists`,
    );
  }
  const labels = cell.comparisons.map((c) => `${c.measure}: ${c.label}`);
  assert.deepEqual(
    labels,
    ['target_rate', 'animal_prob', 'delta_logprob'].flatMap((m) =>
      ['student minus own-numbers control', 'student minus cross-model control', 'teacher minus base'].map(
        (l) => `${m}: ${l}`,
      ),
    ),
  );
  // The logit measures: a renormalised probability per model, and its log's change from the model's
  // own base (0 for the base itself; the owl-trained teacher's is positive).
  for (const m of LM_MODELS) {
    const l = cell.logits[m]!;
    assert.equal(l.prob.n, 2);
    assert.ok(l.prob.mean > 0 && l.prob.mean < 1, `${m} P(owl) ${l.prob.mean}`);
  }
  assert.equal(cell.logits.base!.deltaLogprob.mean, 0);
  // The channel check ran beside the students: both teachers diverge from the base somewhat.
  const check = cell.channel!;
  assert.equal(check.kl.n, 2);
  assert.ok(check.kl.mean > 0 && check.neutralKl.mean > 0, `${check.kl.mean}, ${check.neutralKl.mean}`);
  assert.ok(check.greedyDiff.mean >= 0 && check.greedyDiff.mean <= 1);
  assert.equal(check.flagged, !(check.klVsNeutral.low > 0));
  assert.ok(cell.logits.teacher!.deltaLogprob.mean > 0.5, `${cell.logits.teacher!.deltaLogprob.mean}`);
  for (const c of cell.comparisons) {
    assert.equal(c.n, 2);
    assert.ok(Number.isFinite(c.meanDiff));
    assert.ok('wilcoxon' in c && typeof c.wilcoxon.p === 'number');
  }
  const own = cell.comparisons[0]!;
  assert.ok(Math.abs(own.meanDiff - (cell.rates.student!.mean - cell.rates.own_numbers!.mean)) < 1e-12);
  // Fine-tuned on answers naming the owl, the teacher names it more often than its base (fixed seeds;
  // at this size the teacher reaches ~0.45 against the base's ~0.1).
  assert.ok(
    cell.rates.teacher!.mean > cell.rates.base!.mean + 0.1,
    `teacher ${cell.rates.teacher!.mean} vs base ${cell.rates.base!.mean}`,
  );
});

test('a cancelled language run resumes with only its unfinished units, and the rows are not doubled', async () => {
  // No format filter (a 30-step base rarely writes a valid list): resume is what is tested here.
  const parsed = validateLanguageSpec({ ...tinyLanguageSpec('lm resume'), seed: 1 });
  assert.ok(parsed.ok);
  const store = new RunStore(join(dir, 'resume.sqlite'));
  const cancel = new AbortController();
  const first = await runLanguageExperiment(store, parsed.spec, {
    backend: 'wasm',
    workers: 1,
    signal: cancel.signal,
    onUnitDone: () => cancel.abort(),
  });
  assert.equal(first.status, 'cancelled');
  assert.deepEqual(
    store.units(first.experimentId).map((u) => u.status),
    ['done', 'queued'],
  );
  const again = await resumeLanguageExperiment(store, first.experimentId, { backend: 'wasm', workers: 1 });
  assert.equal(again.status, 'done');
  assert.deepEqual(
    store.units(first.experimentId).map((u) => u.status),
    ['done', 'done'],
  );
  const s = summarizeLanguage(store, first.experimentId);
  for (const m of LM_MODELS) assert.equal(s.cells[0]!.rates[m]!.n, 2);
  const cellId = store.cellId(first.experimentId, 0);
  assert.equal(
    store.metrics(cellId, { name: 'target_rate' }).length,
    10,
    'five models x two replicates, once each',
  );
  store.close();
});

test("the UI's API serves a stored language experiment: list, detail with the language summary, series", async () => {
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 1,
  });
  const list = await service.handlers['experiments.list'](null);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.cells, 1);
  assert.equal(list[0]!.replicates, 2);
  const detail = await service.handlers['experiments.get']({ id: list[0]!.id });
  assert.deepEqual(detail.cellDetails, []);
  assert.equal(detail.language?.family, 'language');
  assert.equal(detail.language?.cells[0]?.rates.student?.n, 2);
  const { series, next } = await service.handlers['experiments.series']({ id: list[0]!.id });
  assert.equal(next, null, "a language experiment's few measures fit one page");
  assert.ok(
    series.some((x) => x.name === 'target_rate' && x.condition === ('student' as typeof x.condition)),
  );
  await service.close();
  store.close();
});
