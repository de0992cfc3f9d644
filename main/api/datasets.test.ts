// The datasets calls of the API: validated payloads, a download from a loopback mirror with its
// progress pushed as `datasets` events, and runs refused until their dataset is downloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetInfo, JobState } from '../../app/api.ts';
import { REGISTRY, type Registry } from '../data/registry.ts';
import { startTestMirror, type TestMirror } from '../data/testing/mirror-server.ts';
import { RunStore } from '../store/store.ts';
import { LabService } from './service.ts';

const FASHION = '/usr/share/datasets/fashion-mnist';
const have = existsSync(join(FASHION, 'train-labels-idx1-ubyte.gz'));
const needFashion =
  have || process.env['CI'] ? {} : { skip: `Debian's dataset-fashion-mnist is not installed (${FASHION})` };
const dir = mkdtempSync(join(tmpdir(), 'sublab-api-datasets-'));
const names = REGISTRY['mnist-full'].files.map((f) => f.name);
const files = new Map(have ? names.map((n) => [n, readFileSync(join(FASHION, n))] as const) : []);
let mirror: TestMirror;
let registry: Registry;

before(async () => {
  mirror = await startTestMirror(files);
  // Full MNIST's entry with Debian's Fashion-MNIST files and their own digests.
  registry = {
    ...REGISTRY,
    'mnist-full': {
      ...REGISTRY['mnist-full'],
      files: REGISTRY['mnist-full'].files.map((f) => {
        const bytes = files.get(f.name) ?? new Uint8Array();
        return {
          name: f.name,
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          mirrors: [mirror.url],
        };
      }),
    },
  };
});
after(() => mirror.close());

function lab(name: string) {
  const store = new RunStore(join(dir, `${name}.sqlite`));
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    datasetDir: join(dir, `${name}-datasets`),
    registry,
    mode: 'browser',
    workers: 1,
    pushIntervalMs: 5,
  });
  return { store, service };
}

test('payloads are validated: only registry names, no other fields', async () => {
  const { service, store } = lab('invalid');
  await assert.rejects(
    service.call('datasets.download', { name: 'cifar' }),
    /invalid input for datasets\.download: name: .*"mnist-full"/,
  );
  await assert.rejects(
    service.call('datasets.download', { name: 'mnist-full', url: 'http://x/' }),
    /Unrecognized key.*url/i,
  );
  await assert.rejects(service.call('datasets.list', { all: true }), /invalid input for datasets\.list/);
  store.close();
});

test(
  'download: progress pushed as events, then the dataset is listed ready and a run trains on it',
  needFashion,
  async () => {
    const { service, store } = lab('download');
    const spec = { version: 1, name: 'on full mnist', dataset: { name: 'mnist-full' }, replicates: 2 };
    await assert.rejects(
      service.call('runs.start', { spec }),
      /dataset mnist-full is not downloaded .*sublab datasets download mnist-full/,
    );
    const before = (await service.call('datasets.list', null)) as DatasetInfo[];
    assert.deepEqual(
      before.map((d) => [d.name, d.ready, d.downloading]),
      [
        ['mnist-full', false, null],
        ['emnist-balanced', false, null],
        ['emnist-letters', false, null],
      ],
    );
    const seen: DatasetInfo[][] = [];
    service.onEvent((e) => e.type === 'datasets' && seen.push(e.datasets));
    const second = service.call('datasets.download', { name: 'mnist-full' });
    await assert.rejects(
      service.call('datasets.download', { name: 'mnist-full' }),
      /mnist-full is downloading already/,
    );
    const done = (await second) as DatasetInfo;
    assert.equal(done.ready, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const progress = seen.map((list) => list[0]!.downloading).filter((d) => d !== null);
    assert.ok(progress.length > 0, 'some progress was pushed');
    assert.ok(progress.some((p) => p.bytes > 0 && p.total !== null && p.total > 0));
    assert.equal(seen.at(-1)![0]!.downloading, null, 'the last event says the download is over');
    assert.equal(seen.at(-1)![0]!.ready, true);
    // The download check now passes: this spec is refused only by the memory check that follows it.
    const huge = { ...spec, model: { hidden: [65536, 65536, 65536] }, replicates: 10000 };
    await assert.rejects(service.call('runs.start', { spec: huge }), /RAM|memory|GiB/);
    // And a tiny run trains on it: the trainer reads the downloaded files from the lab's directory.
    const tiny = {
      ...spec,
      dataset: { name: 'mnist-full', trainLimit: 2000, testLimit: 500 },
      model: { hidden: [16] },
      teacher: { epochs: 2, batchSize: 100, learningRate: 0.003 },
      student: { epochs: 1, batchSize: 128, inputs: { kind: 'uniform', count: 256 } },
      probeEvery: 0,
    };
    const finished = new Promise<JobState>((resolve) =>
      service.onEvent((e) => {
        const job = e.type === 'jobs' ? e.jobs[0] : undefined;
        if (job && ['done', 'failed'].includes(job.status)) resolve(job);
      }),
    );
    await service.call('runs.start', { spec: tiny });
    const job = await finished;
    assert.equal(job.status, 'done', job.error ?? '');
    const detail = store.getExperiment(job.experimentId!)!;
    assert.equal(detail.spec.dataset.name, 'mnist-full');
    const teacher = store
      .results(store.cells(job.experimentId!)[0]!.id)
      .filter((r) => r.condition === 'teacher');
    assert.ok(
      teacher.every((r) => (r.accuracy ?? 0) > 0.4),
      JSON.stringify(teacher),
    );
    await service.close();
    store.close();
  },
);
