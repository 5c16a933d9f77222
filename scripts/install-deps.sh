#!/usr/bin/env bash
# Installs every Debian 12 package yoloswitch needs to build, test and benchmark.
# Idempotent: apt-get skips what is already there. Runs as root or through sudo.
#
#   scripts/install-deps.sh --cross-arm64
# adds what the aarch64 cross-build and its emulated tests need on the host
# (scripts/cross-arm64.sh, docs/ARM.md).
set -euo pipefail

PACKAGES=(
  # build
  build-essential meson ninja-build pkg-config
  # inference (the Darknet model format and its reference implementation)
  darknet libopenblas-dev
  # GStreamer 1.22
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav
  # FFmpeg 5.1: encoders/decoders for the offload path
  libavcodec-dev libavutil-dev libswscale-dev libavformat-dev
  # zstd: split packets on the wire (offload/split_zstd.c) and the
  # compression bench (bench/split_compress.c); the command makes the tests'
  # compressed packets independently of our code
  libzstd-dev zstd
  # transport to the edge server
  libwebsockets-dev libssl-dev
  # fetching models from an edge catalog into the device cache (offload/model_fetch.c)
  libcurl4-openssl-dev
  # drawing boxes
  libcairo2-dev
  # image loading for the command-line tool and tests (GdkPixbuf reads JPEG/PNG)
  libgdk-pixbuf-2.0-dev libjson-glib-dev
  # test peers and checks
  python3 python3-websockets python3-opencv python3-jsonschema clang-format locales
  # the sanitizer build and the libFuzzer harnesses (scripts/test-sanitizers.sh);
  # llvm for llvm-symbolizer (readable sanitizer stacks)
  clang libclang-rt-14-dev llvm
  # memory checks: tests/unit cfg_valgrind
  valgrind
  # benchmarks: the ffmpeg CLI (encoder anchor), network namespaces and tc
  ffmpeg iproute2 openssl
  # yoloswitch-profile --plot
  gnuplot-nox
)

if [ "${1:-}" = "--cross-arm64" ]; then
  PACKAGES+=(
    # the cross compiler and binutils; the arm64 libraries come from a
    # sysroot, not multiarch (docs/ARM.md says why)
    crossbuild-essential-arm64
    # the sysroot, made from Debian's arm64 packages without running them
    mmdebstrap
    # running arm64 test programs, and the arm64 processes they start
    qemu-user-static binfmt-support
  )
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
