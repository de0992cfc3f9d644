// Two optional parts of an install, each turned from a failure into one line of warning.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

// The native BLAS matmul (native/sublab-blas) builds in its own install script, whose output npm
// hides; without a compiler or a BLAS it is not there, and the CPU path keeps the wasm kernels.
try {
  createRequire(import.meta.url)('sublab-blas').load(1);
} catch (error) {
  const reason =
    error.code === 'MODULE_NOT_FOUND' && /'sublab-blas'/.test(error.message)
      ? 'the optional package sublab-blas is not installed'
      : error.message;
  console.warn(
    `subliminal-lab: the native BLAS matmul is not available (${reason}); training on the CPU uses the wasm kernels.`,
  );
}

// Electron's own installer downloads its binary from GitHub. That host is unreachable on offline
// and CI machines, and `npm install` must still succeed there: the CLI, tests and browser mode
// never need the binary. So we run the installer ourselves and turn a failure into a warning.
const installer = 'node_modules/electron/install.js';
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD || process.env.CI || !existsSync(installer)) {
  process.exit(0);
}
const result = spawnSync(process.execPath, [installer], {
  stdio: ['ignore', 'ignore', 'pipe'],
  timeout: 120_000,
});
if (result.status !== 0) {
  const reason =
    String(result.stderr ?? '')
      .split('\n')
      .find((line) => line.trim()) ?? 'unknown error';
  console.warn(`subliminal-lab: the Electron binary could not be downloaded (${reason.trim()}).`);
  console.warn('subliminal-lab: `npm start` needs it; the CLI, tests and `sublab serve` do not.');
  console.warn('subliminal-lab: retry later with `node node_modules/electron/install.js`.');
}
