// `sublab datasets` as a researcher runs it, pointed at a loopback mirror by SUBLAB_DATASET_MIRROR and
// at a temporary data directory: the real registry's checksums refuse files that are not MNIST's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTRY } from '../data/registry.ts';
import { startTestMirror, type TestMirror } from '../data/testing/mirror-server.ts';

const root = new URL('../../', import.meta.url).pathname;
const FASHION = '/usr/share/datasets/fashion-mnist';
const have = existsSync(join(FASHION, 't10k-labels-idx1-ubyte.gz'));
const needFashion =
  have || process.env['CI'] ? {} : { skip: `Debian's dataset-fashion-mnist is not installed (${FASHION})` };
const dir = mkdtempSync(join(tmpdir(), 'sublab-datasets-cli-'));
const datasets = join(dir, 'datasets');
// Not MNIST's train images: a Fashion-MNIST label file under that name.
const impostor = have ? readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz')) : new Uint8Array();
let mirror: TestMirror;

before(async () => {
  mirror = await startTestMirror(new Map([['train-images-idx3-ubyte.gz', impostor]]));
});
after(() => mirror.close());

/** Runs the CLI without blocking this process's event loop (the mirror answers from it). */
function sublab(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    SUBLAB_DATASETS_DIR: datasets,
    SUBLAB_DATASET_MIRROR: mirror.url,
    SUBLAB_DB: join(dir, 'runs.sqlite'),
  };
  const child = spawn(process.execPath, [join(root, 'bin/sublab.js'), ...args], { cwd: root, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('datasets list --json: every registry dataset, its files and sizes, none downloaded yet', async () => {
  const r = await sublab('datasets', 'list', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as {
    name: string;
    ready: boolean;
    classes: number;
    missingBytes: number;
    files: { name: string; cached: boolean }[];
  }[];
  assert.deepEqual(
    rows.map((d) => [d.name, d.classes, d.ready]),
    [
      ['mnist-full', 10, false],
      ['emnist-balanced', 47, false],
      ['emnist-letters', 26, false],
    ],
  );
  assert.equal(rows[0]!.missingBytes, 9912422 + 28881 + 1648877 + 4542);
  assert.deepEqual(
    rows[1]!.files.map((f) => f.name),
    ['gzip.zip'],
  );
});

test(
  'datasets download: a wrong file is refused naming it and both digests, and nothing is cached',
  needFashion,
  async () => {
    const r = await sublab('datasets', 'download', 'mnist-full');
    assert.equal(r.code, 1);
    const expected = REGISTRY['mnist-full'].files[0]!;
    const got = createHash('sha256').update(impostor).digest('hex');
    assert.match(
      r.stderr,
      new RegExp(
        `sublab: train-images-idx3-ubyte\\.gz: checksum mismatch for the copy from ${mirror.url.replaceAll('.', '\\.')}train-images-idx3-ubyte\\.gz: expected sha256 ${expected.sha256} \\(or ${expected.contentSha256} for its uncompressed content\\), got ${got}`,
      ),
    );
    assert.deepEqual(readdirSync(join(datasets, 'mnist-full')), [], 'no file and no partial left');
    assert.equal(mirror.requests.at(-1)?.path, 'train-images-idx3-ubyte.gz');
  },
);

test('datasets download: a mirror without the file is a 404 naming the URL', async () => {
  mirror.mode = 'not-found';
  const r = await sublab('datasets', 'download', 'emnist-letters', '--json');
  mirror.mode = 'ok';
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^sublab: gzip\.zip: http:\/\/127\.0\.0\.1:\d+\/gzip\.zip answered HTTP 404 Not Found\n$/,
  );
});

test('run: a spec on a dataset not downloaded stops at once with the command that fetches it', async () => {
  const r = await sublab('run', 'experiments/paper-mnist-full.json', '--replicates', '2');
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /sublab: dataset mnist-full is not downloaded \(looked in .*mnist-full\): run `sublab datasets download mnist-full`/,
  );
  assert.equal(existsSync(join(dir, 'runs.sqlite')), false, 'nothing stored');
});
