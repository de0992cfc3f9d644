// Who runs an experiment: each attempt (a start or a resume) is an owner with a random token, its
// process and host, and where the system tells it the process's start (so a reused PID is not taken
// for the owner). Liveness is judged from that: a process alive on this host is never taken for dead,
// however long its heartbeat has been silent (stopped with Ctrl-Z or SIGSTOP, suspended by SLURM).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { processAlive } from '../process-alive.ts';

export interface Owner {
  token: string;
  pid: number;
  host: string;
  /** The process's start (boot and start time); null where the system does not tell it. */
  started: string | null;
}

/**
 * The fields of /proc/PID/stat after the command name, from the state on (field 3 of proc(5) is the
 * first); null where unreadable (another system, the process gone). The command name may hold spaces
 * and parentheses, so fields are counted from its closing one.
 */
export function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * The boot and start time of process `pid` (Linux), which a later process given the same PID does
 * not share; null where the system does not tell them.
 */
export function processStart(pid: number): string | null {
  // Field 22 of proc(5): the start time in clock ticks since boot.
  const start = procStat(pid)?.[19];
  if (!start) return null;
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${start}`;
  } catch {
    return null;
  }
}

/** A fresh owner for an attempt of this process. */
export function newOwner(): Owner {
  return { token: randomUUID(), pid: process.pid, host: hostname(), started: processStart(process.pid) };
}

/**
 * `alive`: the owner's process runs on this host (the same process, where its start was recorded);
 * `dead`: no process has its PID here; `unknown`: another host's, or its PID now names another
 * process: only its heartbeat can tell.
 */
export function ownerLiveness(owner: {
  pid: number;
  host: string | null;
  started: string | null;
}): 'alive' | 'dead' | 'unknown' {
  if (owner.host !== hostname()) return 'unknown';
  if (!processAlive(owner.pid)) return 'dead';
  if (owner.started === null) return 'alive';
  const now = processStart(owner.pid);
  return now === null || now === owner.started ? 'alive' : 'unknown';
}
