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
exec valgrind -q --error-exitcode=1 --leak-check=full \
  --suppressions="$(dirname "$0")/valgrind.supp" \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --track-origins=yes --trace-children=yes "$@"
