// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels by CPU model when it loads. A model newer
// than its tables gets the generic Prescott (SSE3) kernels: on an Emerald Rapids VM (family 6, model
// 207) OpenBLAS 0.3.21 ran sgemm at ~23 GFLOP/s where its SkylakeX kernels run ~100. The CPU's own
// feature flags say which kernels it can run, so the loader names a core type from them
// (OPENBLAS_CORETYPE) unless the user set one. For sgemm, SkylakeX's kernels are also those of
// Cooperlake and SapphireRapids, and Haswell's those of Zen, so naming them never picks a slower
// kernel than the one OpenBLAS would have chosen on a CPU it knows.
'use strict';
const { readFileSync } = require('node:fs');

/** The flags of /proc/cpuinfo's first processor, or null where there is none (macOS, Windows). */
function cpuFlags(cpuinfo) {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return null;
    }
  }
  const line = text.split('\n').find((l) => /^flags\s*:/.test(l));
  return line
    ? new Set(
        line
          .replace(/^flags\s*:/, '')
          .trim()
          .split(/\s+/),
      )
    : null;
}

/** The OpenBLAS core type for these flags: SkylakeX (AVX-512), Haswell (AVX2 + FMA), or null. */
function coreTypeFor(flags) {
  if (!flags) return null;
  const all = (names) => names.every((n) => flags.has(n));
  if (all(['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'])) return 'SkylakeX';
  if (all(['avx2', 'fma'])) return 'Haswell';
  return null;
}

/** What OPENBLAS_CORETYPE should be for a process loading OpenBLAS here: the user's, ours, or none. */
function openblasCoreType(env = process.env, cpuinfo) {
  if (env.OPENBLAS_CORETYPE) return env.OPENBLAS_CORETYPE;
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  return coreTypeFor(cpuFlags(cpuinfo));
}

module.exports = { cpuFlags, coreTypeFor, openblasCoreType };
