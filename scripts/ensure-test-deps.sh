#!/usr/bin/env bash
# Installs the Debian packages the test suite uses when they are missing and this user may install
# packages: real Fashion-MNIST IDX files, Mesa 25's lavapipe (bookworm-backports) so the WebGPU
# path runs on a CPU, Chromium for the browser end-to-end tests, SLURM with munge for the cluster
# test (main/cluster/slurm.test.ts starts its own private daemons), and OpenBLAS's headers for the
# native BLAS matmul (native/sublab-blas), which it then builds again: `npm ci` ran before them.
# Otherwise it says what to install; outside CI those tests are then skipped, in CI they fail.
set -u
cd "$(dirname "$0")/.."
FASHION=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
need_fashion=0; need_mesa=0; need_chromium=0; need_blas=0; need_slurm=0
[ -f "$FASHION" ] || need_fashion=1
[ -x /usr/bin/chromium ] || need_chromium=1
for bin in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/sbin/munged; do [ -x "$bin" ] || need_slurm=1; done
mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa" in 2[5-9].*|[3-9][0-9].*) ;; *) need_mesa=1 ;; esac
blas_kind() { node native/sublab-blas/detect-blas.cjs kind 2>/dev/null || echo none; }
[ "$(uname -s)" = Linux ] && [ "$(blas_kind)" = none ] && need_blas=1

# The addon loads with its LM kernels, or it was built before OpenBLAS's headers were here (or before
# the kernels): build it again.
rebuild_blas() {
  node -e "require('sublab-blas').load(1).lm || process.exit(1)" 2>/dev/null && return 0
  [ "$(blas_kind)" = none ] && return 0
  echo "test deps: building the native BLAS matmul (npm rebuild sublab-blas)..." >&2
  npm rebuild sublab-blas >/dev/null 2>&1 || true
  node -e "require('sublab-blas').load(1)" 2>/dev/null ||
    echo "test deps: the native BLAS matmul did not build: $(node -p "try { require('sublab-blas').load(1) } catch (e) { e.message }")" >&2
}
if [ $need_fashion = 0 ] && [ $need_mesa = 0 ] && [ $need_chromium = 0 ] && [ $need_blas = 0 ] && [ $need_slurm = 0 ]; then
  rebuild_blas
  exit 0
fi

if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  [ $need_fashion = 1 ] && echo "test deps: install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)" >&2
  [ $need_mesa = 1 ] && echo "test deps: for the WebGPU tests install mesa-vulkan-drivers >= 25 (bookworm-backports)" >&2
  [ $need_chromium = 1 ] && echo "test deps: for the browser tests install Chromium (sudo apt-get install chromium)" >&2
  [ $need_slurm = 1 ] && echo "test deps: for the cluster test install SLURM and munge (sudo apt-get install slurm-wlm munge)" >&2
  [ $need_blas = 1 ] && echo "test deps: for the native BLAS matmul install libopenblas-dev, then run npm rebuild sublab-blas" >&2
  exit 0
fi
command -v apt-get >/dev/null || { echo "test deps: no apt-get; see README for what the tests read" >&2; exit 0; }
export DEBIAN_FRONTEND=noninteractive
packages=""
[ $need_fashion = 1 ] && packages="dataset-fashion-mnist"
[ $need_chromium = 1 ] && packages="$packages chromium"
[ $need_slurm = 1 ] && packages="$packages slurm-wlm munge"
[ $need_blas = 1 ] && packages="$packages libopenblas-dev"
if [ $need_mesa = 1 ] && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  list=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $SUDO tee "$list" >/dev/null
  fi
  mesa_from_backports=1
fi
echo "test deps: installing ${packages:-} ${mesa_from_backports:+mesa-vulkan-drivers (bookworm-backports)}..." >&2
$SUDO apt-get update -qq >/dev/null || true
[ -n "$packages" ] && $SUDO apt-get install -y -qq $packages >/dev/null
[ -n "${mesa_from_backports:-}" ] && $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
rebuild_blas
exit 0
