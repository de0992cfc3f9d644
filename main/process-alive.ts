// Whether a process on this host is alive, for the owners that record their pid: a running
// experiment's (main/store) and a dataset download's lock (main/data/download-lock.ts).

/** True while `pid` runs; EPERM means it runs as another user, which is alive all the same. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
