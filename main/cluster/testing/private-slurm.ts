// Test helper: a real single-node SLURM of our own on this machine (Debian's slurm-wlm and munge),
// private in every way that could meet another one: its own munge key and socket, its own
// slurm.conf (found by clients through $SLURM_CONF), free ports, spool, state and log directories.
// The daemons run in the foreground as our children, so stop() ends exactly what start made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const DAEMONS = ['/usr/sbin/munged', '/usr/sbin/slurmctld', '/usr/sbin/slurmd'];
const CLIENTS = [
  '/usr/bin/sbatch',
  '/usr/bin/squeue',
  '/usr/bin/scontrol',
  '/usr/bin/scancel',
  '/usr/bin/sinfo',
];

/** Why a private SLURM cannot start here, or null when it can. */
export function slurmMissing(): string | null {
  const absent = [...DAEMONS, ...CLIENTS, '/usr/sbin/mungekey'].filter((f) => !existsSync(f));
  if (absent.length)
    return `SLURM or munge is not installed (${absent.join(', ')} missing; apt-get install slurm-wlm munge, which npm test's pretest does as root)`;
  if (process.getuid?.() !== 0) return 'starting slurmd and munged (as the munge user) needs root';
  if (userId('munge') === null) return 'there is no munge user (installed with the munge package)';
  return null;
}

function userId(name: string): { uid: number; gid: number } | null {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return r.status === 0 && g.status === 0 ? { uid: Number(r.stdout), gid: Number(g.stdout) } : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until(what: string, ok: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`private SLURM: timed out waiting for ${what}\n${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface PrivateSlurm {
  /** process.env plus SLURM_CONF: what every SLURM client (and sublab) is started with. */
  env: NodeJS.ProcessEnv;
  dir: string;
  /** The daemons' logs, for a failure message. */
  logs(): string;
  /** Cancels every job, stops the daemons and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

function slurmConf(dir: string, ports: [number, number], munge: string): string {
  const host = hostname().split('.')[0]!;
  return `# A private single-node SLURM for the lab's tests (main/cluster/testing/private-slurm.ts).
ClusterName=sublabtest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=${munge}
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${availableParallelism()} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
`;
}

function startMunge(dir: string): { child: ChildProcess; socket: string } {
  const munge = userId('munge')!;
  const mdir = join(dir, 'munge');
  mkdirSync(mdir, { mode: 0o755 });
  chownSync(mdir, munge.uid, munge.gid);
  const key = join(mdir, 'munge.key');
  const made = spawnSync('/usr/sbin/mungekey', ['-c', '-k', key], { ...munge, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mungekey failed: ${made.stderr}`);
  const socket = join(mdir, 'munge.socket');
  const child = spawn(
    '/usr/sbin/munged',
    [
      '-F',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--log-file=${join(mdir, 'munged.log')}`,
      `--pid-file=${join(mdir, 'munged.pid')}`,
      `--seed-file=${join(mdir, 'munged.seed')}`,
    ],
    { ...munge, stdio: 'ignore' },
  );
  return { child, socket };
}

export async function startPrivateSlurm(): Promise<PrivateSlurm> {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-slurm-'));
  chmodSync(dir, 0o755); // munged, as the munge user, must reach its socket
  for (const d of ['state', 'spool', 'log']) mkdirSync(join(dir, d));
  const children: ChildProcess[] = [];
  const env = { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') };
  const logs = () =>
    ['log/slurmctld.log', 'log/slurmd.log', 'munge/munged.log']
      .map((f) => join(dir, f))
      .filter(existsSync)
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (existsSync(env.SLURM_CONF))
      spawnSync('scancel', ['-u', userInfo().username], { env, timeout: 10_000 });
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const munge = startMunge(dir);
    children.push(munge.child);
    await until('munged', () => existsSync(munge.socket), 10_000, logs);
    const ports: [number, number] = [await freePort(), await freePort()];
    writeFileSync(env.SLURM_CONF, slurmConf(dir, ports, munge.socket));
    // slurmd of 22.05 will not start without a cgroup.conf beside slurm.conf, even with no cgroup plugin in use.
    writeFileSync(join(dir, 'cgroup.conf'), 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n');
    for (const daemon of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd'])
      children.push(spawn(daemon, ['-D'], { env, stdio: 'ignore' }));
    const idle = () =>
      spawnSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' }).stdout?.trim() === 'idle';
    await until('the node to be idle', idle, 30_000, logs);
    return { env, dir, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
