#!/bin/sh
# Runs a test binary (and the subprocesses it starts) under valgrind memcheck:
# any invalid access, uninitialised read or definite leak fails the test.
# Exit 77 tells meson the test was skipped.
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind is not installed; scripts/install-deps.sh installs it" >&2
  exit 77
fi
# A sanitizer build checks the same binary with ASan instead; valgrind
# cannot run an ASan binary.
if ldd "$1" 2>/dev/null | grep -q 'libasan\|libubsan'; then
  echo "SKIP: $1 is built with sanitizers; valgrind runs on the plain build" >&2
  exit 77
fi
# --vex-guest-max-insns=25 (default 50): the nn kernels' fully unrolled
# tiles are long runs of AVX instructions, and 50 of them with origin
# tracking overflowed VEX's fixed translation buffer ("VEX temporary storage
# exhausted", valgrind 3.19).  Shorter translations only cost speed.
exec valgrind -q --error-exitcode=1 --leak-check=full --vex-guest-max-insns=25 \
  --suppressions="$(dirname "$0")/valgrind.supp" \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --track-origins=yes --trace-children=yes "$@"
