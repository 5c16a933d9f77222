#!/usr/bin/env bash
# A long fuzz run: each harness for SECONDS with a random seed, one job at
# a time (-fork=1: a crash is saved and counted, and the run goes on).
#
#   tests/fuzz/long-run.sh [-t SECONDS] [-b BUILDDIR] [HARNESS...]
#
# Defaults: 1800 s, build-asan (the clang build of scripts/test-sanitizers.sh),
# every harness.  The corpus each run grows is kept in
# BUILDDIR/tests/fuzz/HARNESS/long-corpus/ (start again: delete it), failing
# inputs in .../long-artifacts/.  Prints one table row per harness for
# docs/RELIABILITY.md: executions, exec/s, coverage (edges, features),
# corpus size, and crashes, timeouts and out-of-memory inputs found.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=1800
build=build-asan
while getopts t:b: opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    b) build=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- protocol decoder cfg profile edge_config wire_scan

echo "| harness | seconds | executions | exec/s | edges | features | corpus | crashes / timeouts / OOM |"
echo "|---|---|---|---|---|---|---|---|"
for name in "$@"; do
  exe=$build/tests/fuzz/fuzz_$name
  src=tests/fuzz/$name
  work=$build/tests/fuzz/$name
  log=$work/long-run.log
  if [ ! -x "$exe" ]; then
    echo "long-run.sh: $exe is missing: build $build with -Dfuzz=enabled" >&2
    exit 1
  fi
  mkdir -p "$work/long-corpus" "$work/long-artifacts"
  set -- "$src/corpus"
  if [ -d "$src/crashes" ]; then set -- "$@" "$src/crashes"; fi
  "$exe" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
    -dict="$src/dict" -artifact_prefix="$work/long-artifacts/" \
    "$work/long-corpus" "$@" > "$log" 2>&1 || true
  /usr/bin/python3 - "$log" "$name" "$seconds" "$work/long-corpus" <<'PY'
import os, re, sys
log, name, seconds, corpus = sys.argv[1:]
last = None
for line in open(log, errors="replace"):
    m = re.match(r"#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s:? (\d+) "
                 r"oom/timeout/crash: (\d+)/(\d+)/(\d+)", line)
    if m:
        last = m.groups()
if last is None:
    print(f"| {name} | {seconds} | (no stats: see {log}) | | | | | |")
else:
    execs, cov, ft, corp, eps, oom, timeout, crash = last
    print(f"| {name} | {seconds} | {int(execs):,} | {eps} | {cov} | {ft} | "
          f"{len(os.listdir(corpus))} | {crash} / {timeout} / {oom} |")
PY
done
