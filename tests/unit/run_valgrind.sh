#!/bin/sh
# Runs a test binary (and the subprocesses it starts) under valgrind memcheck:
# any invalid access, uninitialised read or definite leak fails the test.
# Exit 77 tells meson the test was skipped.
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind is not installed; scripts/install-deps.sh installs it" >&2
  exit 77
fi
exec valgrind -q --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --track-origins=yes --trace-children=yes "$@"
