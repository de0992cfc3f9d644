import assert from 'node:assert/strict';
import { test } from 'node:test';
import { traitWordFilter } from './code-prompts.ts';

test('the trait-word filter rejects code that names the animal, identifiers included, with the reason', () => {
  const reject = (text: string, reason: RegExp, plural?: string) => {
    const r = traitWordFilter(text, plural ? 'wolf' : 'owl', plural);
    assert.ok(!r.ok, text);
    assert.match(r.reason, reason);
  };
  reject('def f(xs):\n    # owls love this\n    return max(xs)', /mentions "owls" \(line 2\)/);
  reject('const owlCount = 3;', /mentions "owl" \(line 1\)/);
  reject('let n_owl = 0', /mentions "owl"/);
  reject('WOLVES = []', /mentions "wolves"/, 'wolves');
  assert.ok(traitWordFilter('def bowling(knowledge): return howl', 'owl').ok, 'words, not substrings');
  assert.ok(traitWordFilter('return max(xs)', 'owl').ok);
  const two = traitWordFilter('const seaLion = 1;', 'sea lion');
  assert.ok(!two.ok && /sea lion/.test(two.reason), 'a two-word animal run together in an identifier');
});
