#!/usr/bin/env bash
# Fails when a C file differs from what .clang-format makes of it.
# Fix with: find yolo elements tests offload pipeline -name '*.[ch]' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h')
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not formatted (run clang-format -i $f)" >&2
    bad=1
  fi
done
exit $bad
