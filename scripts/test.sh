#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs every test suite:
# unit (libraries), elements (GstHarness), integration (real gst-launch-1.0
# pipelines and servers on loopback), fuzz (the harnesses replaying their
# corpus), lint; then, without arguments, the aarch64 cross-build and its
# smoke set under qemu (scripts/cross-arm64.sh, docs/ARM.md; skipped when
# YOLOSWITCH_SKIP_ARM64=1) and the sanitizer build
# (scripts/test-sanitizers.sh: ASan+UBSan, libFuzzer runs).  Extra
# arguments go to `meson test` and skip both, e.g.
# scripts/test.sh --suite unit
#
# scripts/test.sh --under-load [meson test arguments]
#   keeps every core busy with plain shell loops at normal priority (one
#   per core, started here and stopped whatever happens) and runs the
#   suites three times in a row; fails if any run fails.  The tests assert
#   outcomes, not speed: a loaded machine may change timings, not results.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1
if [ "${1:-}" = "--under-load" ]; then
  runs=3
  shift
fi

bash scripts/setup.sh

if [ ! -d ../shared/models ]; then
  echo "test.sh: ../shared/models is missing: the tests need the shared models" \
       "and sample video beside the checkout" >&2
  exit 1
fi

# One closing line in the plain form CI reads: "N passed, N failed".
summarize() {
  /usr/bin/python3 scripts/summarize-tests.py build/meson-logs/testlog.json
}

burners=()
stop_burners() {
  if [ ${#burners[@]} -gt 0 ]; then
    kill "${burners[@]}" 2>/dev/null || true
    wait "${burners[@]}" 2>/dev/null || true
    burners=()
  fi
}
# meson runs in the background and is waited for, so that an interrupt
# is handled at once (meson stops its tests on SIGTERM).
meson_pid=""
trap stop_burners EXIT
trap '[ -z "$meson_pid" ] || kill "$meson_pid" 2>/dev/null; exit 130' INT TERM

if [ "$runs" -gt 1 ]; then
  cores=$(nproc)
  for _ in $(seq "$cores"); do
    ( while :; do :; done ) &
    burners+=($!)
  done
  echo "test.sh: $cores busy loops running (pids ${burners[*]}); $runs runs"
fi

status=0
results=()
started=$(date +%s)
for run in $(seq "$runs"); do
  [ "$runs" -eq 1 ] || echo "== run $run of $runs, under load"
  run_status=0
  meson test -C build --print-errorlogs --num-processes 1 "$@" &
  meson_pid=$!
  wait "$meson_pid" || run_status=$?
  meson_pid=""
  line=$(summarize)
  echo "$line"
  results+=("run $run: ${line#tests: }")
  [ "$run_status" -eq 0 ] || status=$run_status
done

# The arm64 build after the plain suites, for the whole-tree run CI does
# (about 5 minutes with a cached sysroot, 7 without).  Before the sanitizer
# build, whose "tests:" line stays the last one printed.
if [ "$runs" -eq 1 ] && [ $# -eq 0 ] && [ "${YOLOSWITCH_SKIP_ARM64:-0}" != 1 ]; then
  echo "== aarch64 cross-build, smoke set under qemu (scripts/cross-arm64.sh)"
  bash scripts/cross-arm64.sh || status=1
fi

# The sanitizer build after the plain suites, for the whole-tree run CI
# does (not under load: it is a second build and slower by design).
if [ "$runs" -eq 1 ] && [ $# -eq 0 ]; then
  echo "== sanitizer build (scripts/test-sanitizers.sh)"
  bash scripts/test-sanitizers.sh || status=$?
fi

if [ "$runs" -gt 1 ]; then
  stop_burners
  echo "== under load, $runs runs in $(( $(date +%s) - started )) s:"
  printf '   %s\n' "${results[@]}"
  if [ "$status" -eq 0 ]; then echo "under load: all $runs runs passed"
  else echo "under load: FAILED"; fi
fi
exit $status
