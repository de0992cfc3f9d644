// What the Designer says of short training phases: the presets it offers carry no warning of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fewStepsWarning, phaseSteps } from './estimate.ts';
import { validateSpec } from './spec/validate.ts';

function preset(name: string) {
  const r = validateSpec(
    JSON.parse(readFileSync(new URL(`../experiments/${name}`, import.meta.url), 'utf8')),
  );
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.errors)}`);
  return r.spec;
}

test("the Designer's presets carry no warning: the quick demo has enough steps, the paper's teacher a note", () => {
  const quick = phaseSteps(preset('quick.json'));
  assert.equal(fewStepsWarning('teacher', quick.teacher), null);
  assert.equal(fewStepsWarning('student', quick.student), null);
  const paper = phaseSteps(preset('paper-mnist.json'));
  assert.deepEqual(paper.teacher, { perEpoch: 8, total: 40 });
  assert.equal(fewStepsWarning('teacher', paper.teacher)?.level, 'note');
  assert.equal(fewStepsWarning('student', paper.student), null);
});

test('a phase under 20 steps is a warning naming its count; 50 or more says nothing', () => {
  const few = fewStepsWarning('student', { perEpoch: 3, total: 9 });
  assert.equal(few?.level, 'warning');
  assert.match(few!.text, /^only 9 student steps in all \(3 per epoch\)/);
  assert.equal(fewStepsWarning('student', { perEpoch: 10, total: 50 }), null);
  assert.equal(
    fewStepsWarning('teacher', { perEpoch: 1, total: 1 })?.text.startsWith('only 1 teacher step in all'),
    true,
  );
});
