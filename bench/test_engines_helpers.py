#!/usr/bin/python3
"""The parts of bench/engines.py that can be wrong without ncnn or a quiet
machine: the competing load always stops, ncnn's per-layer lines are summed
into the right kinds, the per-round ratio range, and the wait4 runner."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engines  # noqa: E402
import ncnn_anchor  # noqa: E402

# A converted-model excerpt in ncnn's text format: magic, counts, then
# "type name inputs outputs in... out... key=value...".
PARAM = """7767517
6 6
Input                    data       0 1 data 0=320 1=320 2=3
Convolution              0_22       1 1 data 0_22 0=16 1=3 3=2 4=1 5=1 6=432 9=2
Convolution              1_31       1 1 0_22 1_31 0=8 1=1 5=1 6=128
ConvolutionDepthWise     2_40       1 1 1_31 2_40 0=8 1=3 5=1 6=72 7=8
ConvolutionDepthWise     3_41       1 1 2_40 3_41 0=8 1=3 5=1 6=36 7=4
Yolov3DetectionOutput    output     1 1 3_41 output 0=80
"""

# Two forwards' worth of NCNN_BENCHMARK lines, with the shapes ncnn appends.
STDERR = """Convolution              0_22                         0.50ms    |    [320, 320, 3] -> [160, 160, 16]
Convolution              1_31                         0.25ms    |
ConvolutionDepthWise     2_40                         1.00ms    |
ConvolutionDepthWise     3_41                         2.00ms    |
Yolov3DetectionOutput    output                       0.10ms    |
some other line the runner printed
Convolution              0_22                         0.70ms    |
Convolution              1_31                         0.35ms    |
ConvolutionDepthWise     2_40                         1.00ms    |
ConvolutionDepthWise     3_41                         2.00ms    |
Yolov3DetectionOutput    output                       0.30ms    |
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


class CompetingLoadTest(unittest.TestCase):
    def test_stops_on_exception(self):
        with self.assertRaises(RuntimeError):
            with engines.CompetingLoad() as load:
                pid = load.proc.pid
                self.assertTrue(alive(pid))
                raise RuntimeError("measurement failed")
        self.assertFalse(os.path.exists(f"/proc/{pid}"))

    def test_stops_when_the_script_is_killed(self):
        """SIGKILL on the script leaves no with-block to run: the load must
        go with it (PR_SET_PDEATHSIG)."""
        script = ("import os, sys, time; sys.path.insert(0, %r); import engines\n"
                  "with engines.CompetingLoad() as l:\n"
                  "    print(l.proc.pid, flush=True); time.sleep(60)\n"
                  % os.path.dirname(os.path.abspath(__file__)))
        parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        pid = int(parent.stdout.readline())
        self.assertTrue(alive(pid))
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}") or not alive(pid):
                break
            time.sleep(0.05)
        survived = os.path.exists(f"/proc/{pid}") and alive(pid)
        if survived:
            os.kill(pid, signal.SIGKILL)
        self.assertFalse(survived, "the competing load outlived the script")


class NcnnProfileTest(unittest.TestCase):
    def test_kinds_per_run(self):
        with tempfile.NamedTemporaryFile("w", suffix=".param") as f:
            f.write(PARAM)
            f.flush()
            p = ncnn_anchor.parse_profile(STDERR, f.name, 2)
        self.assertEqual(set(p), {"conv_gemm", "conv_1x1", "conv_depthwise",
                                  "conv_grouped", "detection"})
        self.assertAlmostEqual(p["conv_gemm"], 0.60)
        self.assertAlmostEqual(p["conv_1x1"], 0.30)
        self.assertAlmostEqual(p["conv_depthwise"], 1.00)
        self.assertAlmostEqual(p["conv_grouped"], 2.00)
        self.assertAlmostEqual(p["detection"], 0.20)


class RatioTest(unittest.TestCase):
    def test_range_is_per_round(self):
        a = engines.summary([({"infer_ms": v, "load_ms": 1}, 10) for v in (10, 20, 12)])
        b = engines.summary([({"infer_ms": v, "load_ms": 1}, 10) for v in (5, 40, 4)])
        self.assertEqual(a["ms"], 12)
        self.assertEqual((a["lo"], a["hi"]), (10, 20))
        # Per round 2.0, 0.5, 3.0: their median, not the medians' 12 / 5.
        self.assertEqual(engines.ratio(a, b), "2.00 (0.50-3.00)")


class PopenRssTest(unittest.TestCase):
    def test_large_stderr_and_peak_rss(self):
        """Megabytes on stderr (ncnn's profile lines) must not block the
        child, and the RSS must be the child's own (64 MiB touched)."""
        code = ("import sys; sys.stderr.write('x' * 4000000); b = bytearray(64 << 20); "
                "b[::4096] = b'y' * len(b[::4096]); print('ok')")
        out, err, rss = engines.popen_rss([sys.executable, "-c", code])
        self.assertEqual(out, "ok\n")
        self.assertEqual(len(err), 4000000)
        self.assertGreater(rss, 64)

    def test_parent_stays_small(self):
        """A child's peak RSS starts from its parent's: engines.py must not
        load OpenCV or numpy itself (write_input runs in a child)."""
        with tempfile.TemporaryDirectory() as tmp:
            engines.write_input(32, tmp)
            self.assertEqual(os.path.getsize(os.path.join(tmp, "dog-32.f32")), 32 * 32 * 3 * 4)
        self.assertNotIn("cv2", sys.modules)
        self.assertNotIn("numpy", sys.modules)

    def test_failure_says_what(self):
        with self.assertRaises(SystemExit) as e:
            engines.popen_rss([sys.executable, "-c", "import sys; sys.exit('broken')"])
        self.assertIn("broken", str(e.exception))


if __name__ == "__main__":
    unittest.main()
