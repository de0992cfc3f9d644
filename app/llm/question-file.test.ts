import { test } from 'node:test';
import assert from 'node:assert/strict';
import { questionsFromFile } from './question-file.ts';

test('a question file: one per line (blank lines and CRLF ignored), or a JSON list of strings', () => {
  assert.deepEqual(questionsFromFile('Favourite animal?\r\n\n  Best animal? One word.  \n'), {
    ok: true,
    questions: ['Favourite animal?', 'Best animal? One word.'],
  });
  assert.deepEqual(questionsFromFile('["A?", " B? "]'), { ok: true, questions: ['A?', 'B?'] });
});

test('a question file that holds no questions, or JSON of another shape, is refused with the reason', () => {
  assert.deepEqual(questionsFromFile('\n \n'), { ok: false, error: 'the file has no questions' });
  assert.deepEqual(questionsFromFile('[1, 2]'), {
    ok: false,
    error: 'a JSON question file holds one list of strings',
  });
  const broken = questionsFromFile('["A?",');
  assert.match(broken.ok ? '' : broken.error, /^not valid JSON: /);
  assert.deepEqual(questionsFromFile('[]'), { ok: false, error: 'the list is empty' });
});
