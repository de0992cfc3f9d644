// The Settings form's text fields to a providers.save entry and back, and main's refusal per field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProviderEntry } from './provider-settings.ts';
import { entryOf, fieldErrors, formOf } from './provider-form.ts';

test('a form reads back into the entry it came from; blanks are left out so the defaults apply', () => {
  const entry = {
    baseURL: 'http://127.0.0.1:8000/v1',
    concurrency: 8,
    command: ['python3', 'train.py', '--lora'],
  };
  const form = formOf(entry);
  assert.equal(form.command, 'python3\ntrain.py\n--lora');
  assert.equal(form.keyEnv, '');
  assert.deepEqual(entryOf(form), entry);
  assert.deepEqual(entryOf({ ...form, command: '\n  \n', baseURL: '  ' }), { concurrency: 8 });
  // A number that does not parse goes as typed, for main to refuse by name.
  const typo = entryOf({ ...form, concurrency: '8x' });
  assert.equal(typo['concurrency'], '8x');
  const r = ProviderEntry.safeParse(typo);
  assert.equal(r.success, false);
  assert.deepEqual(
    r.error!.issues.map((i) => i.path.join('.')),
    ['concurrency'],
  );
});

test("main's refusal is split into the fields it names", () => {
  const { fields, other } = fieldErrors(
    'invalid input for providers.save: entry.baseURL: expected an http(s) URL; entry.command.0: an empty argument; entry.command.2: an empty argument; entry.concurrency: Too small: expected number to be >=1',
  );
  assert.deepEqual(fields, {
    baseURL: 'expected an http(s) URL',
    command: 'an empty argument; an empty argument',
    concurrency: 'Too small: expected number to be >=1',
  });
  assert.equal(other, null);
  assert.deepEqual(fieldErrors('not connected to the lab'), {
    fields: {},
    other: 'not connected to the lab',
  });
});
