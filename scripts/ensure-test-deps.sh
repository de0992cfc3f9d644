#!/usr/bin/env bash
# Installs the Debian packages the test suite reads (real Fashion-MNIST IDX files) when they are
# missing and this user may install packages. Otherwise it says what to install; outside CI those
# tests are then skipped, in CI they fail.
set -u
FASHION=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
[ -f "$FASHION" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "test deps: Debian's dataset-fashion-mnist is missing; install it with: sudo apt-get install dataset-fashion-mnist" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "test deps: no apt-get here; put the Fashion-MNIST IDX files in /usr/share/datasets/fashion-mnist" >&2
  exit 0
fi
echo "test deps: installing dataset-fashion-mnist (Debian)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
