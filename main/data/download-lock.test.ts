// The download lock against real lock files and real processes: a PID that now names another
// process (a reboot, PID reuse) does not keep a lock forever; a live holder keeps it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockPath, withFileLock, type LockHolder } from './download-lock.ts';
import { processStart } from '../store/owner.ts';

// In CI a missing start time is a failure of the test, not a reason to skip it.
const onLinux =
  processStart(process.pid) || process.env['CI']
    ? {}
    : { skip: 'the system does not tell process start times' };

/** A live process, killed when the test ends whatever it asserted. */
async function liveProcess(t: TestContext): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

function lockedFile(holder: LockHolder): string {
  const dest = join(mkdtempSync(join(tmpdir(), 'sublab-lock-')), 'data.gz');
  writeFileSync(lockPath(dest), JSON.stringify(holder));
  return dest;
}

/** Whether withFileLock on `dest` ran its work (true) or waited for the holder (false). */
async function takesLock(dest: string): Promise<boolean> {
  const controller = new AbortController();
  return withFileLock(
    dest,
    { signal: controller.signal, whenAborted: () => new Error('waited'), onWait: () => controller.abort() },
    async () => true,
  ).catch((error: Error) => {
    assert.equal(error.message, 'waited');
    return false;
  });
}

test('a lock whose live PID has another start time (reused PID) is taken over', onLinux, async (t) => {
  const other = await liveProcess(t);
  const started = processStart(other.pid!)!;
  // The holder recorded its start at boot or tick 1: the process now under its PID started later.
  const stale = started.replace(/\/\d+$/, '/1');
  assert.notEqual(stale, started);
  const dest = lockedFile({ pid: other.pid!, host: hostname(), since: '', started: stale });
  assert.equal(await takesLock(dest), true);
  assert.equal(existsSync(lockPath(dest)), false, 'the lock is released after the work');
});

test('a lock of its live holder is not taken over, with or without a start time', onLinux, async (t) => {
  const holder = await liveProcess(t);
  const lock = { pid: holder.pid!, host: hostname(), since: '' };
  const recorded = lockedFile({ ...lock, started: processStart(holder.pid!) });
  assert.equal(await takesLock(recorded), false);
  assert.equal(existsSync(lockPath(recorded)), true, 'the lock is left to its holder');
  // A lock written before start times were recorded falls back to the PID alone.
  assert.equal(await takesLock(lockedFile(lock)), false);
});

test('a lock of ours records our start, which the next waiter compares', onLinux, async () => {
  const dest = join(mkdtempSync(join(tmpdir(), 'sublab-lock-')), 'data.gz');
  const held = await withFileLock(dest, { whenAborted: () => new Error('waited') }, async () =>
    readFileSync(lockPath(dest), 'utf8'),
  );
  assert.equal((JSON.parse(held) as LockHolder).started, processStart(process.pid));
});
