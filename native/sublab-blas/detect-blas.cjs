// Which BLAS this machine can build against, for binding.gyp (`node detect-blas.cjs kind|include|libs`)
// and for the loader's message when the addon was built without one. Never throws: a machine
// without a BLAS gets a stub addon that says so, and the wasm kernels run.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const INSTALL_HINT = 'Debian/Ubuntu: apt-get install libopenblas-dev; Fedora: dnf install openblas-devel';

function pkgConfig(args) {
  try {
    return execFileSync('pkg-config', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

// Where distributions put OpenBLAS's cblas.h when pkg-config does not know it.
function headerDirs() {
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch];
  return [
    ...(arch ? [`/usr/include/${arch}`, `/usr/include/${arch}/openblas-pthread`] : []),
    '/usr/include/openblas',
    '/usr/include',
    '/usr/local/include',
    '/usr/local/opt/openblas/include',
    '/opt/homebrew/opt/openblas/include',
  ];
}

/** @returns {{ kind: 'openblas' | 'accelerate' | 'none', include: string[], libs: string[], reason?: string }} */
function detect() {
  if (process.platform === 'darwin') return { kind: 'accelerate', include: [], libs: [] };
  if (process.platform === 'win32')
    return { kind: 'none', include: [], libs: [], reason: 'there is no BLAS build on Windows' };
  const cflags = pkgConfig(['--cflags-only-I', 'openblas']);
  const libs = pkgConfig(['--libs', 'openblas']);
  if (cflags !== null && libs !== null) {
    const include = cflags
      .split(/\s+/)
      .filter(Boolean)
      .map((f) => f.replace(/^-I/, ''));
    return { kind: 'openblas', include, libs: libs.split(/\s+/).filter(Boolean) };
  }
  const dir = headerDirs().find(
    (d) => existsSync(join(d, 'cblas.h')) && existsSync(join(d, 'openblas_config.h')),
  );
  if (dir) return { kind: 'openblas', include: [dir], libs: ['-lopenblas'] };
  return {
    kind: 'none',
    include: [],
    libs: [],
    reason: `OpenBLAS's headers were not found (${INSTALL_HINT})`,
  };
}

module.exports = { detect, INSTALL_HINT };

if (require.main === module) {
  const found = detect();
  const what = process.argv[2];
  if (what === 'kind') process.stdout.write(found.kind);
  else if (what === 'include') process.stdout.write(found.include.join(' '));
  else if (what === 'libs') process.stdout.write(found.libs.join(' '));
  else process.stdout.write(`${JSON.stringify(found)}\n`);
}
