// The PyTorch peer's environment: every core (OpenBLAS threads as torch's intra-op threads), and the
// same OpenBLAS kernels our addon loads (native/sublab-blas/coretype.cjs): both link Debian's
// DYNAMIC_ARCH OpenBLAS, which falls back to generic kernels on CPUs newer than its tables, so the peer
// gets the core type ours gets and the ratio compares engines, not kernel choices.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

const require = createRequire(import.meta.url);

function coreType(): string | null {
  try {
    const m = require('sublab-blas/coretype.cjs') as { openblasCoreType: () => string | null };
    return m.openblasCoreType();
  } catch {
    return null; // the optional package is absent: OpenBLAS chooses, for the peer as it would for ours
  }
}

export function peerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const type = coreType();
  return {
    ...env,
    OPENBLAS_NUM_THREADS: String(availableParallelism()),
    ...(type ? { OPENBLAS_CORETYPE: type } : {}),
  };
}

/** ", OpenBLAS SkylakeX" where the peer is given a core type, for the bench's table. */
export function coreNote(): string {
  const type = peerEnv().OPENBLAS_CORETYPE;
  return type ? `, OpenBLAS ${type}` : '';
}
