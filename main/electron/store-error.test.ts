// The desktop app's answer to a run store that cannot open: a window with the reason and what to do.
// Electron cannot launch here, so this checks everything up to BrowserWindow.loadURL: the real store on
// a corrupt and on a locked file, and the page that the window shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../store/store.ts';
import { openStoreForApp, storeErrorPage, storeErrorUrl } from './store-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-store-error-'));

test('a corrupt database gives an error page naming the file and the cause, and is left untouched', () => {
  const path = join(dir, 'corrupt.sqlite');
  const garbage = Buffer.from('not SQLite at all <script>alert(1)</script>'.repeat(200));
  writeFileSync(path, garbage);
  const opening = openStoreForApp(path);
  assert.equal(opening.ok, false);
  if (opening.ok) return;
  assert.match(opening.message, /file is not a database/);
  const page = storeErrorPage(opening);
  assert.ok(page.includes(path), 'the page names the file');
  assert.match(page, /file is not a database/);
  assert.match(page, /damaged\. Move it aside/);
  assert.doesNotMatch(page, /<script/i, 'no scripts in the page');
  assert.match(page, /Content-Security-Policy" content="default-src 'none'/);
  assert.deepEqual(readFileSync(path), garbage, 'the file is not modified');
  assert.ok(
    decodeURIComponent(storeErrorUrl(opening).replace(/^data:text\/html;charset=utf-8,/, '')) === page,
  );
});

test('a database locked by another process gives the lock advice; it opens once released', () => {
  const path = join(dir, 'locked.sqlite');
  new RunStore(path).close();
  const holder = new Database(path);
  holder.pragma('locking_mode = EXCLUSIVE');
  holder.exec('BEGIN EXCLUSIVE; COMMIT;');
  const opening = openStoreForApp(path);
  assert.equal(opening.ok, false);
  if (!opening.ok) {
    assert.match(opening.message, /database is locked/);
    assert.match(storeErrorPage(opening), /Another program .* holds this database/);
  }
  holder.close();
  const again = openStoreForApp(path);
  assert.equal(again.ok, true);
  if (again.ok) again.store.close();
});

test('messages are escaped, so a path or error text cannot inject markup', () => {
  const page = storeErrorPage({ path: '/tmp/<img src=x onerror=alert(1)>.sqlite', message: 'x & "y" <b>' });
  assert.ok(!page.includes('<img'));
  assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(page.includes('x &amp; &quot;y&quot; &lt;b&gt;'));
});
