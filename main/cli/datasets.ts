// `sublab datasets list` and `sublab datasets download NAME`: the registry's datasets, what of them is
// in the user's data directory, and fetching one (verified, resumable) with a progress bar.
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Argument, type Command } from 'commander';
import { formatBytes } from '../../app/memory.ts';
import { DOWNLOADABLE_DATASETS, type DownloadableDataset } from '../../app/spec/datasets.ts';
import { DownloadError } from '../data/download.ts';
import {
  datasetStatus,
  downloadDataset,
  type DatasetProgress,
  type DatasetStatus,
} from '../data/downloaded.ts';
import { checkMirror, mirrorFromEnv, REGISTRY } from '../data/registry.ts';
import { CliError } from './common.ts';
import { defaultDatasetDir } from './paths.ts';

interface DirOpts {
  dir?: string;
  json?: boolean;
}

function datasetDir(opts: DirOpts): string {
  return opts.dir ?? defaultDatasetDir();
}

function listTable(rows: DatasetStatus[]): string {
  const table = new Table({
    head: ['dataset', 'classes', 'train / test', 'files', 'size', 'state'],
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  for (const s of rows) {
    const size = s.files.reduce((n, f) => n + f.size, 0);
    const partial = s.files.reduce((n, f) => n + f.partialBytes, 0);
    const state = s.ready
      ? 'downloaded'
      : s.missingBytes === 0
        ? 'to extract (run download)'
        : `not downloaded${partial > 0 ? ` (${formatBytes(partial)} to resume)` : ''}`;
    table.push([
      s.name,
      s.classes,
      `${s.train.toLocaleString('en')} / ${s.test.toLocaleString('en')}`,
      s.files.map((f) => f.name).join('\n'),
      formatBytes(size),
      state,
    ]);
  }
  return table.toString();
}

/** A bar per file on stderr (stdout stays for --json); extraction is a line of its own. */
function progressBars() {
  const multibar = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: ' {file} |{bar}| {percentage}% | {done} of {size} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress(p: DatasetProgress) {
      if (p.phase === 'extract') return void multibar.log(`extracting ${p.dataset} from ${p.file}\n`);
      const total = p.total ?? p.bytes;
      const payload = { file: p.file, done: formatBytes(p.bytes), size: formatBytes(total) };
      const bar = bars.get(p.file);
      if (!bar) bars.set(p.file, multibar.create(total, p.bytes, payload));
      else {
        bar.setTotal(total);
        bar.update(p.bytes, payload);
      }
    },
    /** A line above the bars (they redraw over plain writes). */
    log: (line: string) => multibar.log(line),
    stop: () => multibar.stop(),
  };
}

async function download(name: DownloadableDataset, opts: DirOpts & { mirror?: string }) {
  const dir = datasetDir(opts);
  const mirror = opts.mirror !== undefined ? checkMirror(opts.mirror, '--mirror') : mirrorFromEnv();
  const bars = opts.json ? null : progressBars();
  let status: DatasetStatus;
  try {
    status = await downloadDataset(REGISTRY[name], dir, {
      ...(mirror ? { mirror } : {}),
      ...(bars ? { onProgress: bars.onProgress } : {}),
      onWait: (file, holder) => {
        const line = `${file}: process ${holder.pid} on ${holder.host} is downloading it into ${dir}; waiting for it to finish\n`;
        if (bars) bars.log(line);
        else process.stderr.write(line);
      },
    });
  } catch (error) {
    bars?.stop();
    if (error instanceof DownloadError) throw new CliError(error.message);
    throw error;
  }
  bars?.stop();
  if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  else process.stdout.write(`${name}: downloaded and verified, in ${status.dir}\n`);
}

export function addDatasetCommands(program: Command): void {
  const datasets = program
    .command('datasets')
    .description('datasets to download (full MNIST, EMNIST): list them, fetch one into the data directory');
  const dirHelp = 'datasets directory (default: the user data directory, or $SUBLAB_DATASETS_DIR)';
  datasets
    .command('list')
    .description('the downloadable datasets: files, size, and whether they are downloaded')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print JSON')
    .action((opts: DirOpts) => {
      const rows = DOWNLOADABLE_DATASETS.map((name) => datasetStatus(REGISTRY[name], datasetDir(opts)));
      process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${listTable(rows)}\n`);
    });
  datasets
    .command('download')
    .description('download a dataset, verify every file by SHA-256, keep it for offline use')
    .addArgument(new Argument('<name>', 'dataset').choices(DOWNLOADABLE_DATASETS))
    .option(
      '--mirror <url>',
      "a folder URL holding the files, instead of the registry's mirrors (or $SUBLAB_DATASET_MIRROR)",
    )
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print the dataset status as JSON when done (no progress bar)')
    .action((name: DownloadableDataset, opts: DirOpts & { mirror?: string }) => download(name, opts));
}
