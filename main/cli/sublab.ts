// `sublab`: run experiment specs headless into a SQLite run store, and inspect what is stored.
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { existsSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateSpec } from '../../app/spec/validate.ts';
import { sweepValueLabel } from '../../app/spec/sweeps.ts';
import { specSize } from '../../app/estimate.ts';
import { BACKENDS } from '../../app/protocol.ts';
import { resolveChoice } from '../engine/backend.ts';
import { resumeExperiment, runExperiment, type RunOptions, type RunOutcome } from '../jobs/run-experiment.ts';
import { formatBytes } from '../../app/memory.ts';
import type { BackendChoice, DeviceLimits } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { checkFit, defaultWorkers, probeLimits, staticLimits, withDeviceLimits } from '../engine/limits.ts';
import { summarizeExperiment } from '../jobs/summary.ts';
import { INTERVAL_METHODS, type IntervalMethod } from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';
import { LabService } from '../api/service.ts';
import { startLabServer } from '../server/serve.ts';
import {
  backendOption,
  CliError,
  collect,
  dbOption,
  experimentId,
  openStore,
  positiveInt,
  readSpec,
  specErrors,
} from './common.ts';
import { addClusterCommands } from './cluster.ts';
import {
  isLanguageExperiment,
  languageInput,
  readLanguageSpec,
  resumeLanguage,
  runLanguage,
  showLanguage,
} from './language.ts';
import {
  exportLlmSamples,
  isLlmExperiment,
  llmInput,
  llmValidLines,
  readLlmSpec,
  resumeLlm,
  runLlm,
  showLlm,
} from './llm.ts';
import { addDatasetCommands } from './datasets.ts';
import { missingDownload } from '../data/downloaded.ts';
import { jsonSummary, resultTables } from './format.ts';
import { defaultCacheDir, defaultDatasetDir, defaultProvidersFile } from './paths.ts';
import { progressReporter } from './progress.ts';

/** The memory check: the shards' estimate on success, a CliError naming needed and available sizes. */
function mustFit(
  spec: ExperimentSpec,
  backend: BackendChoice,
  { workers, maxShard, device }: { workers?: number; maxShard?: number; device?: DeviceLimits },
) {
  const limits = withDeviceLimits(staticLimits(backend), device);
  const fit = checkFit(spec, limits, workers ?? defaultWorkers(backend), maxShard);
  if (!fit.ok) throw new CliError(fit.error);
  return fit;
}

/** The user's cap on a trainer's replicates, for when a trainer ran out of memory all the same. */
const maxShardOption = () =>
  new Option(
    '--max-shard <n>',
    'at most n replicates per trainer process (more, smaller shards; a resume splits unfinished units)',
  ).argParser(positiveInt('--max-shard'));

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** After a second signal, how long the runner gets to store the cancel before the process exits anyway. */
const FORCE_EXIT_MS = 5_000;

/**
 * Runs (or resumes) with progress bars and the final table. The first SIGINT/SIGTERM/SIGHUP cancels
 * (trainers get a cancel, then are killed after a grace period); a second kills the trainers at once.
 * Either way the run is stored as cancelled before the process exits with 128 + the signal's number.
 */
async function runAndReport(
  store: RunStore,
  { json, interval }: { json: boolean; interval: IntervalMethod },
  start: (control: Pick<RunOptions, 'signal' | 'kill' | 'onEvent'>) => Promise<RunOutcome>,
): Promise<void> {
  const cancel = new AbortController();
  const kill = new AbortController();
  let received: NodeJS.Signals | undefined;
  let runningId: number | undefined;
  const exitCode = () => 128 + (received ? osConstants.signals[received] : osConstants.signals.SIGINT);
  const onSignal = (signal: NodeJS.Signals) => {
    const first = received === undefined;
    received = signal;
    if (first) {
      process.stderr.write(`\n${signal}: cancelling (send it again to stop at once)...\n`);
      cancel.abort();
      return;
    }
    process.stderr.write(`\n${signal}: stopping the trainers now...\n`);
    kill.abort();
    // The runner stores the cancel as soon as its trainers are gone; should it not, do it here.
    setTimeout(() => {
      if (runningId !== undefined) store.abandon(runningId);
      process.exit(exitCode());
    }, FORCE_EXIT_MS).unref();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const progress = json ? null : progressReporter();
  try {
    const outcome = await start({
      signal: cancel.signal,
      kill: kill.signal,
      onEvent: (event) => {
        if (event.type === 'experiment') runningId = event.experimentId;
        progress?.onEvent(event);
      },
    });
    progress?.stop();
    // Taken over by another process: what the store holds now is that process's to report.
    if (outcome.status === 'interrupted') throw new CliError(outcome.error ?? 'the run was taken over');
    const summary = summarizeExperiment(store, outcome.experimentId, interval);
    if (json) process.stdout.write(`${jsonSummary(summary)}\n`);
    else {
      process.stdout.write(`\n${resultTables(summary)}\n`);
      process.stdout.write(
        `\nexperiment ${outcome.experimentId} ${outcome.status} on ${outcome.backend ?? '?'} in ${outcome.wallSeconds.toFixed(1)} s; stored in ${store.path}\n`,
      );
    }
    if (outcome.status === 'cancelled') throw new CliError('cancelled', exitCode());
    if (outcome.status !== 'done')
      throw new CliError(
        `experiment ${outcome.experimentId} ${outcome.status}: ${outcome.error ?? 'unknown error'}`,
      );
  } finally {
    progress?.stop();
    for (const s of SIGNALS) process.off(s, onSignal);
    store.close();
  }
}

const program = new Command()
  .name('sublab')
  .description('Subliminal Lab: run subliminal-learning experiments and inspect stored runs')
  .showHelpAfterError();

const intervalOption = () =>
  new Option(
    '--interval <method>',
    'how 95% intervals are made: t (Student-t, df = N-1) or bootstrap (percentile, 10,000 resamples)',
  )
    .choices(INTERVAL_METHODS)
    .default('t');

program
  .command('run')
  .description('run an experiment spec and store every result')
  .argument('<spec>', 'experiment spec (JSON)')
  .addOption(dbOption())
  .addOption(backendOption())
  .option('--replicates <n>', "override the spec's number of replicates", positiveInt('--replicates'))
  .option('--json', 'print only a JSON summary on stdout')
  .addOption(intervalOption())
  .option(
    '--set <path=value>',
    'override a spec field, e.g. --set teacher.epochs=1 --set matrix.filters.0.keep=all (repeatable)',
    collect,
    [],
  )
  .option(
    '--workers <n>',
    'trainer processes per cell (default: one per core on CPU backends, one on a GPU)',
    positiveInt('--workers'),
  )
  .addOption(maxShardOption())
  .option(
    '--providers <file>',
    'llm specs: the local provider settings (base URL, key variable, prices; default providers.json in the user config directory, or $SUBLAB_PROVIDERS)',
  )
  .option(
    '--cache-dir <dir>',
    'dataset cache directory (default: the user cache directory, or $SUBLAB_CACHE_DIR)',
  )
  .action(
    async (
      file: string,
      opts: {
        db?: string;
        backend?: string;
        replicates?: number;
        json?: boolean;
        cacheDir?: string;
        workers?: number;
        maxShard?: number;
        set: string[];
        interval: IntervalMethod;
        providers?: string;
      },
    ) => {
      const llm = llmInput(file);
      if (llm) {
        const spec = readLlmSpec(file, llm, opts.set);
        const replicated =
          opts.replicates === undefined
            ? spec
            : readLlmSpec(file, { ...spec, replicates: opts.replicates }, []);
        await runLlm(
          replicated,
          opts.providers ?? defaultProvidersFile(),
          () => openStore(opts.db),
          opts.json ?? false,
        );
        return;
      }
      const language = languageInput(file);
      if (language) {
        const lmSpec = readLanguageSpec(file, language, opts.set, opts.replicates);
        const choice = resolveChoice(opts.backend);
        // The language family runs on the CPU backends (wasm by default: its matmuls are the fast path).
        const lmBackend = choice === 'auto' ? 'wasm' : choice;
        await runLanguage(
          openStore(opts.db),
          lmSpec,
          lmBackend,
          opts.workers,
          opts.cacheDir ?? defaultCacheDir(),
          { json: opts.json ?? false, interval: opts.interval },
        );
        return;
      }
      const parsed = readSpec(file, opts.set);
      if (!parsed.ok) throw new CliError(specErrors(opts.set.length ? `${file} with --set` : file, parsed));
      let spec = parsed.spec;
      if (opts.replicates !== undefined) {
        const overridden = validateSpec({ ...spec, replicates: opts.replicates });
        if (!overridden.ok)
          throw new CliError(specErrors(`${file} with --replicates ${opts.replicates}`, overridden));
        spec = overridden.spec;
      }
      // A dataset to download is asked for now, not after the experiment is stored and a trainer started.
      const missing = missingDownload(spec, defaultDatasetDir());
      if (missing) throw new CliError(missing.message);
      // The memory check comes before the experiment is stored, so `auto` is resolved (and a WebGPU
      // adapter's buffer limits read) by a probe here; the run then starts on that backend.
      const probed = await probeLimits(resolveChoice(opts.backend));
      const backend = probed.backend;
      mustFit(spec, backend, { workers: opts.workers, maxShard: opts.maxShard, device: probed.device });
      const store = openStore(opts.db);
      await runAndReport(store, { json: opts.json ?? false, interval: opts.interval }, (control) =>
        runExperiment(store, spec, {
          backend,
          cacheDir: opts.cacheDir ?? defaultCacheDir(),
          ...(opts.workers ? { workers: opts.workers } : {}),
          ...(opts.maxShard ? { maxShard: opts.maxShard } : {}),
          ...control,
        }),
      );
    },
  );

program
  .command('resume')
  .description('finish an interrupted, cancelled or failed experiment: run only its unfinished units')
  .argument('<id>', 'experiment id', experimentId)
  .addOption(dbOption())
  .addOption(
    new Option('--backend <name>', 'TF.js backend (default: the one the experiment ran on)').choices([
      'auto',
      ...BACKENDS,
    ]),
  )
  .option(
    '--workers <n>',
    'trainer processes at a time (default: one per core on CPU backends)',
    positiveInt('--workers'),
  )
  .addOption(maxShardOption())
  .option('--json', 'print only a JSON summary on stdout')
  .addOption(intervalOption())
  .option(
    '--providers <file>',
    'llm specs: the local provider settings (base URL, key variable, prices; default providers.json in the user config directory, or $SUBLAB_PROVIDERS)',
  )
  .option(
    '--cache-dir <dir>',
    'dataset cache directory (default: the user cache directory, or $SUBLAB_CACHE_DIR)',
  )
  .action(
    async (
      id: number,
      opts: {
        db?: string;
        backend?: string;
        workers?: number;
        maxShard?: number;
        json?: boolean;
        cacheDir?: string;
        interval: IntervalMethod;
        providers?: string;
      },
    ) => {
      const store = openStore(opts.db);
      if (isLlmExperiment(store, id)) {
        await resumeLlm(store, id, opts.providers ?? defaultProvidersFile(), opts.json ?? false);
        return;
      }
      if (isLanguageExperiment(store, id)) {
        const stored = store.getExperiment(id)?.backend;
        const backend = opts.backend ? resolveChoice(opts.backend) : stored === 'cpu' ? 'cpu' : 'wasm';
        await resumeLanguage(
          store,
          id,
          backend === 'auto' ? 'wasm' : backend,
          opts.workers,
          opts.cacheDir ?? defaultCacheDir(),
          { json: opts.json ?? false, interval: opts.interval },
        );
        return;
      }
      await runAndReport(store, { json: opts.json ?? false, interval: opts.interval }, (control) =>
        resumeExperiment(store, id, {
          cacheDir: opts.cacheDir ?? defaultCacheDir(),
          ...(opts.backend ? { backend: resolveChoice(opts.backend) } : {}),
          ...(opts.workers ? { workers: opts.workers } : {}),
          ...(opts.maxShard ? { maxShard: opts.maxShard } : {}),
          ...control,
        }),
      );
    },
  );

program
  .command('validate')
  .description('check an experiment spec; exit 1 with every error, each naming its field')
  .argument('<spec>', 'experiment spec (JSON)')
  .addOption(backendOption())
  .option('--workers <n>', 'trainer processes side by side (default: as `run`)', positiveInt('--workers'))
  .addOption(maxShardOption())
  .action(async (file: string, opts: { backend?: string; workers?: number; maxShard?: number }) => {
    const llm = llmInput(file);
    if (llm) {
      process.stdout.write(await llmValidLines(file, readLlmSpec(file, llm, [])));
      return;
    }
    const language = languageInput(file);
    if (language) {
      const spec = readLanguageSpec(file, language, []);
      const cells = spec.matrix.traits.length * spec.matrix.filters.length * spec.matrix.relations.length;
      process.stdout.write(
        `${file}: valid language spec (${cells} cell(s) before sweeps x ${spec.replicates} replicates)\n`,
      );
      return;
    }
    const result = readSpec(file);
    if (!result.ok) throw new CliError(specErrors(file, result));
    // The backend `run` would get: `auto` resolved (and a GPU's buffer limits read) by the same probe.
    const choice = resolveChoice(opts.backend);
    const probed = await probeLimits(choice);
    const workers = opts.workers ?? defaultWorkers(probed.backend);
    const fit = mustFit(result.spec, probed.backend, {
      workers,
      maxShard: opts.maxShard,
      device: probed.device,
    });
    const largest = Math.max(...fit.shards.map((s) => s.length));
    const assumed = choice === 'auto' ? `${probed.backend} (auto on this machine)` : probed.backend;
    process.stdout.write(
      `${file}: valid (${specSize(result.spec).cells} cell(s) x ${result.spec.replicates} replicates; ` +
        `on ${assumed}, ${workers} trainer(s) side by side: ${fit.shards.length} shard(s) of at most ${largest} ` +
        `replicates, ~${formatBytes(fit.estimate.total)} per trainer` +
        `${probed.backend === 'wasm' ? `, ~${formatBytes(fit.estimate.tensors)} of it in the wasm heap` : ''})\n`,
    );
  });

program
  .command('list')
  .description('list stored experiments')
  .addOption(dbOption())
  .option('--json', 'print JSON')
  .action((opts: { db?: string; json?: boolean }) => {
    const store = openStore(opts.db);
    try {
      const rows = store.listExperiments().map((e) => ({
        id: e.id,
        name: e.name,
        status: e.status,
        created: e.createdAt,
        backend: e.backend,
        wallSeconds: e.wallSeconds,
        specHash: e.specHash.slice(0, 12),
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(
          `no experiments in ${store.path} yet; run one with: sublab run experiments/quick.json\n`,
        );
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${String(r.id).padStart(4)}  ${r.status.padEnd(11)} ${r.created.slice(0, 19).replace('T', ' ')}  ${(r.backend ?? '-').padEnd(10)} ${r.wallSeconds === null ? '      -' : `${r.wallSeconds.toFixed(1).padStart(6)}s`}  ${r.specHash}  ${r.name}\n`,
        );
      }
    } finally {
      store.close();
    }
  });

program
  .command('show')
  .description('show one experiment: spec, cells and results')
  .argument('<id>', 'experiment id', experimentId)
  .addOption(dbOption())
  .option('--json', 'print JSON')
  .addOption(intervalOption())
  .action((id: number, opts: { db?: string; json?: boolean; interval: IntervalMethod }) => {
    const store = openStore(opts.db);
    try {
      const experiment = store.getExperiment(id);
      if (!experiment) throw new CliError(`no experiment with id ${id} in ${store.path}`);
      if (isLanguageExperiment(store, id)) {
        process.stdout.write(showLanguage(store, id, opts.json ?? false, opts.interval));
        return;
      }
      if (isLlmExperiment(store, id)) {
        process.stdout.write(showLlm(store, id, opts.json ?? false));
        return;
      }
      const summary = summarizeExperiment(store, id, opts.interval);
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ...JSON.parse(jsonSummary(summary)), spec: experiment.spec, specHash: experiment.specHash, versions: experiment.versions, error: experiment.error }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(
        `experiment ${id}: ${experiment.name}\nstatus: ${experiment.status}${experiment.error ? ` (${experiment.error})` : ''}\ncreated: ${experiment.createdAt}\nspec hash: ${experiment.specHash}\nbackend: ${experiment.backend ?? '-'}\nwall time: ${experiment.wallSeconds?.toFixed(1) ?? '-'} s\nreplicates: ${experiment.spec.replicates}, seed ${experiment.spec.seed}\n\n${resultTables(summary)}\n`,
      );
    } finally {
      store.close();
    }
  });

program
  .command('export')
  .description("export an experiment's per-replicate results (or metric series) as CSV")
  .argument('<id>', 'experiment id', experimentId)
  .requiredOption('--csv <file>', 'CSV file to write')
  .option('--metrics', 'export the metric series (loss, test accuracy per step) instead of final results')
  .option('--samples', 'llm experiments: every request and answer, with the filter verdict and its reason')
  .addOption(dbOption())
  .action((id: number, opts: { csv: string; metrics?: boolean; samples?: boolean; db?: string }) => {
    const store = openStore(opts.db);
    try {
      if (!store.getExperiment(id)) throw new CliError(`no experiment with id ${id} in ${store.path}`);
      if (opts.samples) {
        if (!isLlmExperiment(store, id))
          throw new CliError(`--samples is for llm experiments; ${id} is not one`);
        const rows = exportLlmSamples(store, id, opts.csv);
        process.stdout.write(`wrote ${rows} rows to ${opts.csv}\n`);
        return;
      }
      const records: (string | number)[][] = [];
      const cells = store.cells(id);
      // One column per sweep axis, holding each cell's value (JSON for arrays).
      const sweepPaths = Object.keys(cells[0]?.cell.coords.sweep ?? {});
      for (const row of cells) {
        const { trait, filter, architecture, sweep } = row.cell.coords;
        const swept = sweepPaths.map((p) => sweepValueLabel(sweep?.[p]));
        const prefix = [id, row.index, trait, filter, architecture, ...swept];
        if (opts.metrics) {
          for (const m of store.metrics(row.id))
            records.push([...prefix, m.condition, m.replicate, m.step, m.name, m.value]);
        } else {
          for (const r of store.results(row.id))
            // A diverged model: no accuracy (an empty field), and where it diverged.
            records.push([
              ...prefix,
              r.condition,
              r.replicate,
              r.seed,
              r.accuracy ?? '',
              r.diverged?.phase ?? '',
              r.diverged?.step ?? '',
              r.diverged?.reason ?? '',
            ]);
        }
      }
      const cellColumns = [
        'experiment',
        'cell',
        'trait',
        'filter',
        'architecture',
        ...sweepPaths,
        'condition',
        'replicate',
      ];
      const header = [
        ...cellColumns,
        ...(opts.metrics
          ? ['step', 'metric', 'value']
          : ['seed', 'accuracy', 'diverged_phase', 'diverged_step', 'diverged_reason']),
      ];
      writeFileSync(opts.csv, stringify(records, { header: true, columns: header }));
      process.stdout.write(`wrote ${records.length} rows to ${opts.csv}\n`);
    } finally {
      store.close();
    }
  });

program
  .command('serve')
  .description('serve the app in a browser on 127.0.0.1, with a session token in the printed URL')
  .option('--port <n>', 'port (default: a free one)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0-65535');
    return n;
  })
  .addOption(dbOption())
  .addOption(backendOption())
  .option('--workers <n>', 'trainer processes per cell', positiveInt('--workers'))
  .option('--cache-dir <dir>', 'dataset cache directory')
  .option(
    '--providers <file>',
    'llm specs: the provider settings the Settings screen edits (default providers.json in the user config directory, or $SUBLAB_PROVIDERS); keys come from the environment variables they name',
  )
  .action(
    async (opts: {
      port?: number;
      db?: string;
      backend?: string;
      workers?: number;
      cacheDir?: string;
      providers?: string;
    }) => {
      const staticDir = fileURLToPath(new URL('../../out/renderer', import.meta.url));
      if (!existsSync(join(staticDir, 'index.html')))
        throw new CliError(`the UI is not built (${staticDir} is missing); run: npm run build:renderer`);
      const store = openStore(opts.db);
      const service = new LabService({
        store,
        backend: resolveChoice(opts.backend),
        cacheDir: opts.cacheDir ?? defaultCacheDir(),
        mode: 'browser',
        ...(opts.workers ? { workers: opts.workers } : {}),
        ...(opts.providers ? { llm: { providersFile: opts.providers } } : {}),
      });
      const server = await startLabServer({
        service,
        staticDir,
        ...(opts.port !== undefined ? { port: opts.port } : {}),
      });
      process.stdout.write(`Subliminal Lab is serving ${store.path}\nopen: ${server.url}\n`);
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stderr.write('stopping: cancelling running jobs...\n');
      await service.close();
      await server.close();
      store.close();
    },
  );

addClusterCommands(program);
addDatasetCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CliError) {
    process.stderr.write(`sublab: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`sublab: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
