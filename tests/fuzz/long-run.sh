#!/usr/bin/env bash
# A long fuzz run: each harness for SECONDS with a random seed, as a chain
# of ordinary (not -fork) libFuzzer processes: when one stops on a failure
# the next starts from the corpus grown so far, until the time is up.
#
#   tests/fuzz/long-run.sh [-t SECONDS] [-b BUILDDIR] [HARNESS...]
#
# Defaults: 1800 s, build-asan (the clang build of scripts/test-sanitizers.sh),
# every harness.  In BUILDDIR/tests/fuzz/HARNESS/: long-corpus/ the corpus
# the runs grow (start again: delete it), long-artifacts/ every failing
# input (crash-*, leak-*, timeout-*, oom-*), long-logs/ this run's log of
# each process.  Each failure is named on stderr as it happens.  Prints one
# table row per harness for docs/RELIABILITY.md: executions, exec/s,
# coverage (edges, features) of the final corpus, corpus size, and crashes,
# timeouts and out-of-memory inputs found.
#
# Why not -fork=1 -ignore_crashes=1, as this script did: a fork-mode job
# whose process dies without libFuzzer's crash handler (a signal libFuzzer
# does not catch, such as the SIGTRAP of GLib's G_BREAKPOINT on a fatal
# critical, or a SIGKILL) is counted as a crash and nothing else: no input
# is saved and the job's log and directory are deleted with it.  The
# 30-minute run of 2026-12-01 counted 3 profile crashes that way and kept
# none.  Here every process's log stays, a failure libFuzzer saved is named
# with its input, and a process that died without saving one is reported
# with its log, copied to long-artifacts/died-N.log.  ASAN_OPTIONS adds
# handle_sigtrap=1 so that ASan reports a SIGTRAP and libFuzzer saves its
# input like any crash.  What one process cannot do, the script does: an
# input of long-corpus/ that fails on loading (the code changed since it
# was found) is taken out of it, a seed of the tree that fails stops the
# harness, 20 failures stop it (one bug found again and again), and the
# corpus is merged at the end (-merge=1: the same features, fewer files).
# Coverage is measured once at the end, over the corpus and the seeds, so
# it does not depend on how many processes the run took; its figures are
# those of libFuzzer's INITED line (fork mode counted otherwise: the
# 30-minute fork run printed "cov: 229"; its corpus measured this way: 124).
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
[ $# -gt 0 ] || set -- protocol decoder cfg profile edge_config wire_scan nn
max_failures=20
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_sigtrap=1"

echo "| harness | seconds | executions | exec/s | edges | features | corpus | crashes / timeouts / OOM |"
echo "|---|---|---|---|---|---|---|---|"
for name in "$@"; do
  exe=$build/tests/fuzz/fuzz_$name
  src=tests/fuzz/$name
  work=$build/tests/fuzz/$name
  logs=$work/long-logs
  if [ ! -x "$exe" ]; then
    echo "long-run.sh: $exe is missing: build $build with -Dfuzz=enabled" >&2
    exit 1
  fi
  rm -rf "$logs"
  mkdir -p "$work/long-corpus" "$work/long-artifacts" "$logs"
  seeds=("$src/corpus")
  if [ -d "$src/crashes" ]; then seeds+=("$src/crashes"); fi
  crashes=0 timeouts=0 ooms=0 run=0
  start=$SECONDS
  while :; do
    left=$((start + seconds - SECONDS))
    # Too little time left to load the corpus and fuzz.
    [ "$left" -ge 5 ] || break
    [ $((crashes + timeouts + ooms)) -lt "$max_failures" ] || {
      echo "long-run.sh: $name: $max_failures failures, stopping early" >&2
      break
    }
    run=$((run + 1))
    log=$logs/$run.log
    rc=0
    "$exe" -max_total_time="$left" -timeout=60 -rss_limit_mb=2048 \
      -print_final_stats=1 -dict="$src/dict" \
      -artifact_prefix="$work/long-artifacts/" \
      "$work/long-corpus" "${seeds[@]}" > "$log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || break
    # slow-unit-* files are written the same way but are no failure.
    saved=$(sed -n 's/^.*Test unit written to \(.*\/\(crash\|leak\|timeout\|oom\)-.*\)$/\1/p' \
      "$log" | tail -n 1)
    if grep -q 'libFuzzer: run interrupted' "$log"; then
      echo "long-run.sh: $name: interrupted (see $log)" >&2
      exit 1
    elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
      timeouts=$((timeouts + 1)) what=timeout
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
      ooms=$((ooms + 1)) what=out-of-memory
    else
      crashes=$((crashes + 1)) what=crash
    fi
    if [ -n "$saved" ] && ! grep -q 'INITED' "$log"; then
      # It failed on an input of the corpus while loading it: every next
      # process would too.  One of long-corpus/ (the code changed since it
      # was found) leaves it (its bytes are the saved input); one of the
      # tree's seeds or crashes/ must be fixed first.
      echo "long-run.sh: $name: $what on loading the corpus, input $saved" \
        "(log $log)" >&2
      found=
      for f in "$work/long-corpus"/*; do
        if cmp -s "$f" "$saved"; then found=$f; fi
      done
      if [ -z "$found" ]; then
        echo "long-run.sh: $name: a seed of $src fails: fix it first" \
          "(meson test --suite fuzz); no more runs of $name" >&2
        break
      fi
      echo "long-run.sh: $name: removed $found from the corpus" >&2
      rm -f "$found"
    elif [ -n "$saved" ]; then
      echo "long-run.sh: $name: $what, input $saved (log $log)" >&2
    else
      # No input saved: the log is all there is; keep it with the inputs.
      cp "$log" "$work/long-artifacts/died-$run.log"
      echo "long-run.sh: $name: $what without a saved input (exit $rc)," \
        "log $work/long-artifacts/died-$run.log:" >&2
      tail -n 5 "$log" | sed 's/^/  /' >&2
    fi
  done
  elapsed=$((SECONDS - start))
  # Unlike -fork, one process keeps every input that added a feature when
  # it was found (and a reduced copy beside the original): the corpus is
  # cut to a set with the same features before the next run starts from it.
  rm -rf "$work/long-corpus.merge"
  mkdir "$work/long-corpus.merge"
  if "$exe" -merge=1 "$work/long-corpus.merge" "$work/long-corpus" \
      > "$logs/merge.log" 2>&1; then
    rm -rf "$work/long-corpus"
    mv "$work/long-corpus.merge" "$work/long-corpus"
  else
    echo "long-run.sh: $name: merging the corpus failed (see" \
      "$logs/merge.log); kept as it is" >&2
    rm -rf "$work/long-corpus.merge"
  fi
  "$exe" -runs=0 "$work/long-corpus" "${seeds[@]}" > "$logs/coverage.log" 2>&1 \
    || true
  /usr/bin/python3 - "$logs" "$name" "$elapsed" "$work/long-corpus" \
    "$crashes" "$timeouts" "$ooms" <<'PY'
import glob, os, re, sys
logs, name, elapsed, corpus, crashes, timeouts, ooms = sys.argv[1:]
execs = 0
for path in glob.glob(os.path.join(logs, "[0-9]*.log")):
    # A process that died without final stats: its last status line.
    final = last = 0
    for line in open(path, errors="replace"):
        m = re.match(r"stat::number_of_executed_units:\s+(\d+)", line)
        if m:
            final = int(m.group(1))
        m = re.match(r"#(\d+)\s", line)
        if m:
            last = int(m.group(1))
    execs += final or last
cov = None
for line in open(os.path.join(logs, "coverage.log"), errors="replace"):
    m = re.search(r"(?:INITED|DONE)\s+cov: (\d+) ft: (\d+)", line)
    if m:
        cov = m.groups()
edges, features = cov if cov else ("?", "?")
eps = execs // max(int(elapsed), 1)
print(f"| {name} | {elapsed} | {execs:,} | {eps} | {edges} | {features} | "
      f"{len(os.listdir(corpus))} | {crashes} / {timeouts} / {ooms} |")
PY
done
