// Loads the addon with a given BLAS thread count: { blas, sgemm, setThreads, config, lm }, or throws an
// Error whose message says in a few words why there is none (the engine then keeps its wasm kernels).
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { openblasCoreType } = require('./coretype.cjs');
const { detect } = require('./detect-blas.cjs');

/** Written by install.cjs when the build failed: the line of the compiler's output that says why. */
const NOT_BUILT = join(__dirname, 'build', 'not-built.txt');

function requireAddon() {
  try {
    return require('./build/Release/sublab_blas.node');
  } catch (error) {
    if (existsSync(NOT_BUILT))
      throw new Error(`not built: ${readFileSync(NOT_BUILT, 'utf8').trim()}`, { cause: error });
    if (error.code === 'MODULE_NOT_FOUND')
      throw new Error('not built (run `npm rebuild sublab-blas`)', { cause: error });
    // e.g. "libopenblas.so.0: cannot open shared object file" on a machine without the runtime library
    throw new Error(`not loadable: ${String(error.message).split('\n')[0]}`, { cause: error });
  }
}

const LM_KERNELS = [
  'lmLayerNorm',
  'lmLayerNormGrad',
  'lmGelu',
  'lmGeluGrad',
  'lmEmbed',
  'lmEmbedGrad',
  'lmAdam',
  'lmCrossEntropy',
  'lmCrossEntropyGrad',
  'lmDecodeAttention',
  'lmDecodeStep',
  'lmAttention',
  'lmAttentionGrad',
];

function load(threads) {
  // OpenBLAS sizes its thread pool when it loads (set for that moment only; setThreads follows);
  // Accelerate reads VECLIB_MAXIMUM_THREADS when it first runs, so that one stays.
  const name = process.platform === 'darwin' ? 'VECLIB_MAXIMUM_THREADS' : 'OPENBLAS_NUM_THREADS';
  const unset = process.env[name] === undefined;
  if (unset) process.env[name] = String(threads);
  // OpenBLAS also picks its kernels as it loads: from the CPU's flags where its model tables fall short.
  const coreType = process.platform === 'linux' && !process.env.OPENBLAS_CORETYPE ? openblasCoreType() : null;
  if (coreType) process.env.OPENBLAS_CORETYPE = coreType;
  let addon;
  try {
    addon = requireAddon();
  } finally {
    if (unset && name === 'OPENBLAS_NUM_THREADS') delete process.env[name];
    if (coreType) delete process.env.OPENBLAS_CORETYPE;
  }
  if (addon.blas === 'none') {
    const now = detect();
    throw new Error(
      now.kind === 'none'
        ? `built without a BLAS: ${now.reason}`
        : 'built without a BLAS, which is present now (run `npm rebuild sublab-blas`)',
    );
  }
  addon.setThreads(threads);
  // The language model's kernels, as one object; a build from before them has none (rebuild to get them).
  addon.lm = LM_KERNELS.every((name) => typeof addon[name] === 'function') ? addon : undefined;
  return addon;
}

module.exports = { load, openblasCoreType };
