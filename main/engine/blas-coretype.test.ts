// The OpenBLAS core type the BLAS addon's loader names from the CPU's flags (native/sublab-blas/
// coretype.cjs), and that the addon, loaded here, runs kernels of that type rather than the generic
// ones OpenBLAS falls back to on CPUs newer than its tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { nativeBlas } from './native-blas.ts';

const require = createRequire(import.meta.url);
const { cpuFlags, coreTypeFor, openblasCoreType } = require('sublab-blas/coretype.cjs') as {
  cpuFlags: (cpuinfo?: string) => Set<string> | null;
  coreTypeFor: (flags: Set<string> | null) => string | null;
  openblasCoreType: (env?: NodeJS.ProcessEnv, cpuinfo?: string) => string | null;
};

const cpuinfo = (flags: string) =>
  `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;

test('the core type follows the CPU flags: AVX-512 -> SkylakeX, AVX2 + FMA -> Haswell, else none', () => {
  const avx512 = 'fpu sse2 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl';
  assert.deepEqual([...cpuFlags(cpuinfo('fpu sse2 avx2'))!], ['fpu', 'sse2', 'avx2']);
  assert.equal(coreTypeFor(cpuFlags(cpuinfo(avx512))), 'SkylakeX');
  assert.equal(coreTypeFor(cpuFlags(cpuinfo('fpu sse2 avx avx2 fma avx512f'))), 'Haswell', 'AVX-512F alone');
  assert.equal(coreTypeFor(cpuFlags(cpuinfo('fpu sse2 avx avx2'))), null, 'AVX2 without FMA');
  assert.equal(coreTypeFor(cpuFlags('no flags line')), null);
  assert.equal(coreTypeFor(null), null);
  if (process.platform === 'linux' && process.arch === 'x64') {
    assert.equal(openblasCoreType({}, cpuinfo(avx512)), 'SkylakeX');
    assert.equal(
      openblasCoreType({ OPENBLAS_CORETYPE: 'Zen' }, cpuinfo(avx512)),
      'Zen',
      "the user's choice wins",
    );
  }
});

const blas = nativeBlas();
const wanted = openblasCoreType();
// Only what this machine cannot change skips: a CPU without AVX2 + FMA, or a BLAS that is not OpenBLAS.
// A missing addon skips outside CI only (.ci/run installs libopenblas-dev, so there it fails).
function skipUnless(): { skip?: string } {
  if (!wanted) return { skip: 'this CPU has neither AVX2 + FMA nor AVX-512: OpenBLAS chooses alone' };
  if (blas.ok) return /OpenBLAS/.test(blas.description) ? {} : { skip: `not OpenBLAS: ${blas.description}` };
  return process.env['CI'] ? {} : { skip: `no native BLAS here: ${blas.reason}` };
}
test("the loaded addon runs the CPU's kernels, not OpenBLAS's generic fallback", skipUnless(), () => {
  assert.ok(blas.ok);
  assert.match(blas.description, new RegExp(`\\b${wanted}\\b`), blas.description);
  assert.doesNotMatch(blas.description, /\b(Prescott|Core2|Nehalem|Katmai|Coppermine)\b/);
});
