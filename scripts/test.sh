#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs every test suite:
# unit (libraries), elements (GstHarness), integration (real gst-launch-1.0
# pipelines and servers on loopback).  Extra arguments go to `meson test`,
# e.g. scripts/test.sh --suite unit
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [ ! -d ../shared/models ]; then
  echo "test.sh: ../shared/models is missing: the tests need the shared models" \
       "and sample video beside the checkout" >&2
  exit 1
fi

status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?

# One closing line in the plain form CI reads: "N passed, N failed".
/usr/bin/python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r["result"] == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
