// `sublab run` and `resume` on an llm spec as real processes against the loopback fake provider.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tinyLlmInput } from '../../app/testing/tiny-llm-spec.ts';
import { realClock } from '../llm/clock.ts';
import { FakeProvider } from '../llm/testing/fake-provider.ts';
import { sublab } from './testing/processes.ts';

const KEY = 'sk-cli-Ht5Ue8Wq1Ro3Yp6Zs';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-cli-'));
let fake: FakeProvider;
let settings: string;

before(async () => {
  // Real time: jobs spend 20 ms in each state and are first polled after 10 ms.
  fake = await FakeProvider.start({ clock: realClock, key: KEY, stageMs: 20 });
  settings = join(dir, 'providers.json');
  writeFileSync(
    settings,
    JSON.stringify({
      providers: { openai: { baseURL: fake.baseURL, keyEnv: 'SUBLAB_CLI_TEST_KEY', pollMs: 10 } },
    }),
  );
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

test('sublab run on an llm spec: rates per condition, paired tests, and the key in no output or store', async () => {
  const spec = join(dir, 'llm.json');
  writeFileSync(
    spec,
    JSON.stringify(
      tinyLlmInput({
        prompts: { count: 40 },
        kept: 20,
        evaluation: { questions: ['Which animal do you like best? One word.'], samplesPerQuestion: 30 },
        replicates: 2,
      }),
    ),
  );
  const db = join(dir, 'runs.sqlite');
  const env = { ...process.env, SUBLAB_CLI_TEST_KEY: KEY };
  const run = await sublab(env, 'run', spec, '--db', db, '--providers', settings, '--json').exit;
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as {
    status: string;
    cells: {
      conditions: Record<string, { mean: number; n: number }>;
      versusStudent: Record<string, { p: number }>;
    }[];
  };
  assert.equal(out.status, 'done');
  const cell = out.cells[0]!;
  assert.deepEqual(Object.keys(cell.conditions).sort(), ['base', 'cross_model', 'own_numbers', 'student']);
  assert.equal(cell.conditions.student!.n, 2);
  assert.ok(cell.conditions.student!.mean > cell.conditions.base!.mean, JSON.stringify(cell.conditions));
  assert.ok(Number.isFinite(cell.versusStudent.base!.p));
  for (const f of [db, `${db}-wal`].filter((p) => existsSync(p)))
    assert.equal(readFileSync(f).indexOf(Buffer.from(KEY.slice(7))), -1, f);
  assert.ok(!run.stderr.includes(KEY.slice(7)) && !run.stdout.includes(KEY.slice(7)));
  const show = await sublab(env, 'show', '1', '--db', db).exit;
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /\(llm\)\nstatus: done/);
  assert.match(show.stdout, /student - base: -?[\d.]+% \[/);
  const samples = join(dir, 'samples.csv');
  const exported = await sublab(env, 'export', '1', '--db', db, '--samples', '--csv', samples).exit;
  assert.equal(exported.code, 0, exported.stderr);
  const csv = readFileSync(samples, 'utf8');
  assert.match(csv, /^stage,key,model,prompt,choice,text,kept,reason,targetProbability\n/);
  assert.match(csv, /\ngenerate,gen:t0:0000000,base-a,/);
  assert.match(csv, /,0,invalid format,/, 'a rejected completion with its reason');
  assert.match(csv, /\nevaluate,eval:c0-student-r0:/);
  const results = join(dir, 'results.csv');
  assert.equal((await sublab(env, 'export', '1', '--db', db, '--csv', results).exit).code, 0);
  for (const text of [csv, readFileSync(results, 'utf8')]) assert.ok(!text.includes(KEY.slice(7)));
});
