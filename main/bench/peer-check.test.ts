// The bench's PyTorch peer on a machine without it: one line naming the cause and what to install,
// where the bench printed `ratio: null` beside Python's "No module named 'numpy'".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PEER_INSTALL, torchPeerMissing } from './peer-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-peer-'));

/** A python at `dir/name` running `body` (a shell script). */
function fakePython(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const install = PEER_INSTALL.replace(/[.()]/g, '\\$&');
const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;

test(
  'a python without numpy: one line saying what to install',
  hasPython || process.env['CI'] ? {} : { skip: 'no python3 on PATH' },
  () => {
    // Python in isolated mode without site-packages: the system python as a fresh machine has it.
    const bare = fakePython('bare-python', 'exec python3 -I -S "$@"');
    const line = torchPeerMissing(bare)!;
    assert.equal(line.includes('\n'), false);
    assert.match(
      line,
      new RegExp(
        `^the PyTorch peer cannot run: ModuleNotFoundError: No module named 'numpy'\\. Install it \\(${install}\\) or pass --python PATH to a python with numpy and torch$`,
      ),
    );
  },
);

test('a python path that is not there, one that fails, and one that imports both', () => {
  assert.match(
    torchPeerMissing(join(dir, 'nowhere', 'python3'))!,
    new RegExp(`^the PyTorch peer cannot run: .*/nowhere/python3 not found\\. Install it \\(${install}\\)`),
  );
  assert.match(
    torchPeerMissing(fakePython('silent', 'exit 3'))!,
    /^the PyTorch peer cannot run: .*silent exited 3\. Install it/,
  );
  assert.equal(torchPeerMissing(fakePython('imports', 'exit 0')), null);
});
