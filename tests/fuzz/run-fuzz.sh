#!/bin/sh
# One harness of `meson test --suite fuzz` (tests/fuzz/meson.build):
#   run-fuzz.sh HARNESS SRCDIR WORKDIR MODE RUNS MAX_LEN
# SRCDIR holds corpus/ (seeds), crashes/ (inputs that once failed; kept as
# regression tests) and dict.  MODE replay: each input once.  MODE
# libfuzzer: those inputs, then RUNS generated ones from a fresh corpus in
# WORKDIR with a fixed seed, so a CI failure reproduces; a failing input is
# saved under WORKDIR/artifacts/ and named in the output.  Longer runs with
# a random seed: docs/RELIABILITY.md.
set -eu
exe=$1 src=$2 work=$3 mode=$4 runs=$5 max_len=$6

set -- "$src/corpus"
if [ -d "$src/crashes" ]; then set -- "$@" "$src/crashes"; fi
if [ "$mode" = replay ]; then exec "$exe" "$@"; fi

# A SIGTRAP (GLib's G_BREAKPOINT: g_error, a fatal critical) is caught by
# neither libFuzzer nor ASan unless asked: it would end the run with no
# saved input.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_sigtrap=1"
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
exec "$exe" -error_exitcode=1 -runs="$runs" -seed=1 -max_len="$max_len" -timeout=60 \
  -rss_limit_mb=2048 -dict="$src/dict" -artifact_prefix="$work/artifacts/" \
  -print_final_stats=1 "$work/corpus" "$@"
