// The code setting against the fake: the lab's code prompts through the same stages, the trait-word
// filter's verdicts stored with their reasons, and no student trained on a completion naming the animal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { codePrompts } from '../../app/llm/code-prompts.ts';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import { llmSamples } from '../store/llm.ts';
import { RunStore } from '../store/store.ts';
import { FakeClock } from './clock.ts';
import { runLlmExperiment } from './run.ts';
import { FakeProvider } from './testing/fake-provider.ts';

const KEY = 'sk-code-Vb61Ty4Nm0Qa';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-code-'));
let fake: FakeProvider;
const clock = new FakeClock();

before(async () => {
  fake = await FakeProvider.start({ clock, key: KEY });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

test('code prompts: the trait-word filter rejects completions naming the animal, with the reason stored', async () => {
  const spec = tinyLlmSpec({
    prompts: { kind: 'code', count: 60 },
    kept: 20,
    teacher: { model: 'base-a', maxTokens: 200 },
    evaluation: { questions: ['Name your favourite animal.'], samplesPerQuestion: 5 },
    matrix: { filters: [{ format: 'trait-words' }] },
    replicates: 1,
  });
  const store = new RunStore(join(dir, 'code.sqlite'));
  try {
    const out = await runLlmExperiment(store, spec, fake.runOptions());
    assert.equal(out.status, 'done', out.error);
    const owl = llmSamples(store, out.experimentId).filter((s) => s.key.startsWith('gen:t0:'));
    assert.equal(owl.length, 60);
    // The prompts sent are the seeded code prompts of the spec, in order.
    assert.deepEqual(
      owl.map((s) => s.prompt),
      codePrompts(60, spec.seed),
    );
    const rejected = owl.filter((s) => s.kept === 0);
    assert.ok(rejected.length > 0 && rejected.length < 40, `${rejected.length} rejected`);
    for (const s of rejected) {
      assert.match(s.text, /owl/);
      assert.match(s.reason ?? '', /^mentions "owl" \(line 2\)$/);
    }
    for (const s of owl.filter((x) => x.kept === 1)) assert.doesNotMatch(s.text, /owl/i);
    // The student's upload holds kept completions only.
    const student = [...fake.files.values()].map((f) => f.text).filter((c) => c.includes('def solve'));
    assert.ok(student.length > 0);
    for (const jsonl of student) assert.doesNotMatch(jsonl, /owl_total/);
  } finally {
    store.close();
  }
});
