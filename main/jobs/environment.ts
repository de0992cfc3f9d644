// The machine and software an attempt of an experiment runs on, read by the runner as the attempt
// begins and stored with the experiment, so that a report exported later (or elsewhere) names the
// machine that produced the numbers, not the one it is exported on.
import { availableParallelism, cpus, release, totalmem, type as osType, arch } from 'node:os';
import pkg from '../../package.json' with { type: 'json' };
import type { RunEnvironment } from '../../app/api.ts';

export function captureEnvironment(
  attempt: RunEnvironment['attempt'],
  backend: string,
  workers: number,
): RunEnvironment {
  const models = [...new Set(cpus().map((c) => c.model.trim()))].filter(Boolean);
  return {
    attempt,
    recordedAt: new Date().toISOString(),
    app: pkg.version,
    node: process.versions.node,
    electron: process.versions['electron'] ?? null,
    chromium: process.versions['chrome'] ?? null,
    os: `${osType()} ${release()} (${arch()})`,
    cpu: models.join(' + ') || 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    backend,
    workers,
  };
}
