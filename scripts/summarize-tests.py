#!/usr/bin/python3
"""The one closing line CI reads, from a meson testlog.json:
"tests: N passed, N failed, N skipped" (an expected failure counts as
passed).  Used by scripts/test.sh and scripts/test-sanitizers.sh."""
import json
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
