#!/usr/bin/python3
"""Prints the g_test arguments that run only some subtests of one test of
a meson build: `-s PATH` for every subtest path the program lists (`-l`)
that is not kept.  Several `-p` would print several TAP plans, which meson
reads as an error; skips keep one plan.

    subtest_skips.py BUILD_DIR TEST_NAME KEPT_PATH... [-- WRAPPER...]

A kept path keeps itself and every subtest below it; one the program does
not list is an error, so that a renamed subtest cannot silently drop out of
the smoke set.  The program runs through WRAPPER (the cross file's
exe_wrapper) with the test's environment from `meson introspect`."""
import json
import os
import shlex
import subprocess
import sys


def main():
    args = sys.argv[1:]
    wrapper = []
    if "--" in args:
        wrapper = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    build, name, kept = args[0], args[1], args[2:]
    tests = json.loads(subprocess.run(
        ["meson", "introspect", "--tests", build],
        check=True, capture_output=True, text=True).stdout)
    test = next((t for t in tests if t["name"] == name), None)
    if test is None:
        sys.exit(f"subtest_skips: {build} has no test {name}")
    env = dict(os.environ, **test["env"])
    listed = subprocess.run(
        wrapper + [test["cmd"][0], "-l"], env=env, cwd=test["workdir"] or None,
        check=True, capture_output=True, text=True).stdout.split("\n")
    paths = [p for p in listed if p.startswith("/")]

    def is_kept(path):
        return any(path == k or path.startswith(k + "/") for k in kept)

    for k in kept:
        if not any(p == k or p.startswith(k + "/") for p in paths):
            sys.exit(f"subtest_skips: {name} lists no subtest {k}")
    print(" ".join(shlex.quote(a) for p in paths if not is_kept(p)
                   for a in ("-s", p)))


if __name__ == "__main__":
    main()
