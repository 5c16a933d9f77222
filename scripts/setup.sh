#!/usr/bin/env bash
# Installs what yoloswitch needs (Debian 12 packages), then configures and
# builds it in build/.  Safe to run again: each step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized
fi
ninja -C build
