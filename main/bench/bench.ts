// `npm run bench`: training throughput (model-samples/s) of the teacher and student phases at the
// paper's shapes (MLP 784-256-256-13, batch 1024, Adam), per available TF.js backend, against the
// same procedure in PyTorch on the same machine, measured in the same run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import Table from 'cli-table3';
import { BACKENDS, type BackendChoice } from '../../app/protocol.ts';
import { fullBench } from './full.ts';
import { matmulBench } from './matmul.ts';
import { splitReplicates } from '../jobs/run-experiment.ts';
import { loadMnistSplit } from '../data/mnist-offline.ts';
import { defaultCacheDir } from '../cli/paths.ts';
import { nodeEntry } from '../node-entry.ts';
import { coreNote, peerEnv } from './peer-env.ts';
import { torchPeerMissing } from './peer-check.ts';

interface PhaseResult {
  seconds: number;
  modelSamples: number;
}
interface Measured {
  name: string;
  ok: boolean;
  error?: string;
  teacher?: PhaseResult;
  students?: PhaseResult;
  accuracy?: Record<string, number>;
  detail?: string;
}

function integerAtLeast(min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

const opts = new Command()
  .option(
    '--backends <list>',
    `comma-separated TF.js backends to measure (default: every one that starts: ${BACKENDS.join(', ')})`,
  )
  .option(
    '--replicates <n>',
    'stacked models per phase, at least 2 (--full: N, default 100 on a GPU, 8 on a CPU)',
    integerAtLeast(2),
  )
  .option('--noise <n>', 'noise images per student epoch', integerAtLeast(1), 4096)
  .option('--python <path>', 'python with torch', '/usr/bin/python3')
  .option('--full', "the paper's whole experiment, ours vs PyTorch: wall times and the ratio")
  .option('--matmul', "GFLOP/s of the wasm backend's matmuls at the paper's shapes: native BLAS vs XNNPACK")
  .option('--json', 'print JSON only')
  .parse()
  .opts<{
    backends?: string;
    replicates?: number;
    noise: number;
    python: string;
    full?: boolean;
    matmul?: boolean;
    json?: boolean;
  }>();

const here = fileURLToPath(new URL('.', import.meta.url));
const ENGINE_RUN = nodeEntry(new URL('./engine-run.ts', import.meta.url));
/** Stacked models per phase in the throughput bench. */
const R = opts.replicates ?? 4;
const cacheDir = defaultCacheDir();
mkdirSync(cacheDir, { recursive: true });
const log = (line: string) => {
  if (!opts.json) process.stderr.write(`${line}\n`);
};

function specFor(backend: string) {
  // The pure-JS cpu backend is ~30x slower: it gets fewer models and steps, same shapes.
  const small = backend === 'cpu';
  return {
    version: 1,
    name: 'bench',
    dataset: { name: 'mnist', trainSize: 8000 },
    teacher: { epochs: 1, batchSize: 1024, learningRate: 3e-4 },
    student: {
      epochs: 1,
      batchSize: 1024,
      learningRate: 3e-4,
      inputs: { kind: 'uniform', count: small ? 2048 : opts.noise },
    },
    replicates: small ? 2 : R,
    seed: 0,
    lossEvery: 1000,
  };
}

interface EngineOut {
  ok: boolean;
  error?: string;
  timings?: (PhaseResult & { phase: string })[];
  accuracy?: Record<string, number>;
  versions?: Record<string, string>;
}

/** How the WebGPU step runs: written out (fused) with our tiled matmul or TF.js's, or TF.js autodiff. */
type Variant = 'fused' | 'fused-tfjs-matmul' | 'autodiff';
const VARIANT_ENV: Record<Variant, Record<string, string>> = {
  fused: {},
  'fused-tfjs-matmul': { SUBLAB_MATMUL: 'tfjs' },
  autodiff: { SUBLAB_FUSED: '0' },
};
const VARIANT_NAME: Record<Variant, string> = {
  fused: '',
  'fused-tfjs-matmul': ", TF.js's matmul",
  autodiff: ', autodiff + host noise',
};

function engineProcess(
  backend: string,
  shard: number[] | null,
  variant: Variant = 'fused',
): Promise<EngineOut> {
  const args = [...ENGINE_RUN.execArgv, ENGINE_RUN.file, backend, JSON.stringify(specFor(backend)), cacheDir];
  if (shard) args.push(JSON.stringify(shard));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...VARIANT_ENV[variant] },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      try {
        resolve(JSON.parse(out) as EngineOut);
      } catch {
        const tail = err.split('\n').slice(-3).join(' ').slice(0, 300);
        resolve({ ok: false, error: `exited ${code ?? signal}: ${tail}` });
      }
    });
  });
}

/**
 * Our engine as `sublab run` uses it: on the CPU backends one trainer process per core, each with a
 * shard of the replicates, running side by side; a phase's throughput is all models' samples over
 * the slowest shard's time.
 */
async function runOurs(backend: string, variant: Variant = 'fused'): Promise<Measured> {
  const name = `tfjs-${backend}${VARIANT_NAME[variant]}`;
  const replicates = specFor(backend).replicates;
  const probe = await engineProcess(backend, [0]);
  if (!probe.ok)
    return {
      name,
      ok: false,
      error: (probe.error ?? 'failed').replace(/^backend "[a-z]+" is not available: /, ''),
    };
  const cpuBound = backend === 'wasm' || backend === 'cpu';
  const shards = cpuBound ? splitReplicates(replicates, availableParallelism()) : [null];
  const outs = await Promise.all(shards.map((shard) => engineProcess(backend, shard, variant)));
  const failed = outs.find((o) => !o.ok);
  if (failed) return { name, ok: false, error: failed.error ?? 'failed' };
  const phase = (p: string): PhaseResult => ({
    seconds: Math.max(...outs.map((o) => o.timings!.find((t) => t.phase === p)!.seconds)),
    modelSamples: outs.reduce((n, o) => n + o.timings!.find((t) => t.phase === p)!.modelSamples, 0),
  });
  return {
    name,
    ok: true,
    teacher: phase('teacher'),
    students: phase('students'),
    detail: `${shards.length} process(es)${outs[0]!.versions?.adapter ? `, ${outs[0]!.versions.adapter}` : ''}`,
  };
}

function runTorch(dataDir: string): Measured {
  if (peerMissing) return { name: 'pytorch', ok: false, error: peerMissing };
  const r = spawnSync(
    opts.python,
    [
      join(here, 'torch_paper.py'),
      '--data',
      dataDir,
      '--replicates',
      String(R),
      '--noise',
      String(opts.noise),
      // The peer gets every core (intra-op threads and OpenBLAS), as a researcher would run it.
      '--threads',
      String(availableParallelism()),
    ],
    {
      encoding: 'utf8',
      timeout: 1_800_000,
      env: peerEnv(),
    },
  );
  if (r.status !== 0)
    return { name: 'pytorch', ok: false, error: (r.stderr || 'failed').trim().split('\n').slice(-1)[0]! };
  const out = JSON.parse(r.stdout) as {
    teacher: PhaseResult;
    students: PhaseResult;
    accuracy: Record<string, number>;
    threads: number;
    torch: string;
    device?: string;
  };
  return {
    name: 'pytorch',
    ok: true,
    teacher: out.teacher,
    students: out.students,
    accuracy: out.accuracy,
    detail: `torch ${out.torch}, ${out.device ?? 'cpu'}, ${out.threads} threads${coreNote()}`,
  };
}

const rate = (p?: PhaseResult) => (p ? p.modelSamples / p.seconds : NaN);

/**
 * Matmul FLOPs per model-sample at the bench's shapes (MLP 784-256-256-13): a training step runs
 * each layer's forward, its weight gradient and (past the first layer) its input gradient; a
 * student's also shares its teacher's forward pass with the teacher's 3 other students. The same
 * count for both engines, so GFLOP/s per core compares how well each uses a core.
 */
const LAYERS = [
  [784, 256],
  [256, 256],
  [256, 13],
] as const;
const FORWARD = LAYERS.reduce((sum, [fanIn, fanOut]) => sum + 2 * fanIn * fanOut, 0);
const TRAIN = LAYERS.reduce((sum, [fanIn, fanOut], l) => sum + 2 * fanIn * fanOut * (l === 0 ? 2 : 3), 0);
const FLOPS_PER_SAMPLE = { teacher: TRAIN, students: TRAIN + FORWARD / 4 };
const gflopsPerCore = (r: number, phase: keyof typeof FLOPS_PER_SAMPLE) =>
  (r * FLOPS_PER_SAMPLE[phase]) / 1e9 / availableParallelism();

if (opts.matmul) {
  const r = await matmulBench();
  if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    const g = (x: number | null) => (x === null ? '-' : x.toFixed(1));
    const table = new Table({
      head: ['matmul', 'm x k x n', 'native BLAS', 'XNNPACK', 'XNNPACK + transposes', 'BLAS / XNNPACK'],
      style: { head: [], border: [] },
    });
    for (const row of r.rows)
      table.push([
        row.what,
        `${row.m} x ${row.k} x ${row.n}`,
        g(row.blasGflops),
        g(row.xnnpackGflops),
        g(row.xnnpackWithTransposesGflops),
        row.blasGflops === null ? '-' : `${(row.blasGflops / row.xnnpackGflops).toFixed(2)}x`,
      ]);
    process.stdout.write(`GFLOP/s in one process; native BLAS: ${r.matmul}\n${table.toString()}\n`);
  }
  process.exit(0);
}

// Said at once, not after our engine's minutes: the comparison needs numpy and torch.
const peerMissing = torchPeerMissing(opts.python);
if (peerMissing) log(peerMissing);

// Data for the PyTorch side: the same split, as raw bytes.
const data = loadMnistSplit(cacheDir, 8000, 0);
const dataDir = mkdtempSync(join(tmpdir(), 'sublab-bench-'));
writeFileSync(join(dataDir, 'train-images.bin'), data.train.images);
writeFileSync(join(dataDir, 'train-labels.bin'), data.train.labels);
writeFileSync(join(dataDir, 'test-images.bin'), data.test.images);
writeFileSync(join(dataDir, 'test-labels.bin'), data.test.labels);
writeFileSync(join(dataDir, 'meta.json'), JSON.stringify({ train: data.train.count, test: data.test.count }));

if (opts.full) {
  const choice =
    opts.backends && !opts.backends.includes(',') ? (opts.backends.trim() as BackendChoice) : 'auto';
  const r = await fullBench({
    backend: choice,
    ...(opts.replicates ? { replicates: opts.replicates } : {}),
    cacheDir,
    python: opts.python,
    peerMissing,
    torchScript: join(here, 'torch_paper.py'),
    torchData: dataDir,
    log,
  });
  if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    const acc = (a: Record<string, number>) =>
      ['teacher', 'student', 'cross_init'].map((c) => `${c} ${a[c]?.toFixed(3) ?? '-'}`).join(', ');
    process.stdout.write(`paper-mnist.json, N=${r.replicates}, backend ${r.backend}\n`);
    process.stdout.write(`ours:    ${r.ours.wallSeconds.toFixed(1)} s (${acc(r.ours.accuracy)})\n`);
    process.stdout.write(
      'wallSeconds' in r.pytorch
        ? `pytorch: ${r.pytorch.wallSeconds.toFixed(1)} s (${acc(r.pytorch.accuracy)})\nratio ours / pytorch: ${r.ratio!.toFixed(2)}\n`
        : `pytorch: not available (${r.pytorch.error})\n`,
    );
  }
  process.exit(0);
}

const backends = opts.backends ? opts.backends.split(',').map((b) => b.trim()) : [...BACKENDS];
const measured: Measured[] = [];
for (const b of backends) {
  log(`measuring tfjs-${b}...`);
  measured.push(await runOurs(b));
  // The fused path's peers in the same run, on the same device: with TF.js's matmul in place of our
  // tiled one, and TF.js autodiff with host-made noise.
  if (b === 'webgpu' && measured.at(-1)!.ok) {
    for (const variant of ['fused-tfjs-matmul', 'autodiff'] as const) {
      log(`measuring tfjs-webgpu${VARIANT_NAME[variant]}...`);
      measured.push(await runOurs(b, variant));
    }
  }
}
log('measuring pytorch...');
const torch = runTorch(dataDir);

const rows = measured.map((m) => ({
  engine: m.name,
  ok: m.ok,
  error: m.error,
  detail: m.detail,
  teacherRate: rate(m.teacher),
  studentRate: rate(m.students),
  teacherRatio: rate(m.teacher) / rate(torch.teacher),
  studentRatio: rate(m.students) / rate(torch.students),
  teacherGflopsPerCore: gflopsPerCore(rate(m.teacher), 'teacher'),
  studentGflopsPerCore: gflopsPerCore(rate(m.students), 'students'),
}));

if (opts.json) {
  const clean = (x: number) => (Number.isFinite(x) ? x : null);
  process.stdout.write(
    `${JSON.stringify(
      {
        replicates: R,
        pytorch: torch.ok
          ? {
              teacherRate: rate(torch.teacher),
              studentRate: rate(torch.students),
              teacherGflopsPerCore: gflopsPerCore(rate(torch.teacher), 'teacher'),
              studentGflopsPerCore: gflopsPerCore(rate(torch.students), 'students'),
              detail: torch.detail,
            }
          : { error: torch.error },
        engines: rows.map((r) => ({
          ...r,
          teacherRate: clean(r.teacherRate),
          studentRate: clean(r.studentRate),
          teacherRatio: clean(r.teacherRatio),
          studentRatio: clean(r.studentRatio),
          teacherGflopsPerCore: clean(r.teacherGflopsPerCore),
          studentGflopsPerCore: clean(r.studentGflopsPerCore),
        })),
      },
      null,
      2,
    )}\n`,
  );
} else {
  const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');
  const gf = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const table = new Table({
    head: [
      'engine',
      'teacher model-samples/s',
      'GFLOP/s per core',
      'vs pytorch',
      'student model-samples/s',
      'GFLOP/s per core',
      'vs pytorch',
      'note',
    ],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    if (!r.ok) table.push([r.engine, '-', '-', '-', '-', '-', '-', `not available: ${r.error}`.slice(0, 90)]);
    else
      table.push([
        r.engine,
        fmt(r.teacherRate),
        gf(r.teacherGflopsPerCore),
        ratio(r.teacherRatio),
        fmt(r.studentRate),
        gf(r.studentGflopsPerCore),
        ratio(r.studentRatio),
        r.detail ?? '',
      ]);
  }
  table.push(
    torch.ok
      ? [
          'pytorch (peer)',
          fmt(rate(torch.teacher)),
          gf(gflopsPerCore(rate(torch.teacher), 'teacher')),
          '1.00x',
          fmt(rate(torch.students)),
          gf(gflopsPerCore(rate(torch.students), 'students')),
          '1.00x',
          torch.detail ?? '',
        ]
      : ['pytorch (peer)', '-', '', '', '-', '', '', torch.error ?? ''],
  );
  process.stdout.write(
    `MLP 784-256-256-13, batch 1024, Adam; ${R} stacked teachers and ${4 * R} stacked students (tfjs-cpu: 2 and 8)\n${table.toString()}\n`,
  );
}
