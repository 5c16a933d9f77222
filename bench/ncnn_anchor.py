"""ncnn (Tencent) as the anchor of bench/engines.py.

ncnn is never part of the repository: a developer builds it by hand beside
the project (docs/BENCHMARKS.md gives the cmake line) and passes its cmake
build directory.  From that build this module takes the library and headers
to compile bench/ncnn_runner.cpp into the run's temporary directory, the
darknet2ncnn and ncnnoptimize tools to convert the same cfg/weights the
other engines load, and what the figures must state about it: the source's
commit and the build's options (CMakeCache.txt).
"""
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_SRC = os.path.join(HERE, "ncnn_runner.cpp")

# The options that change what ncnn's forward does on a CPU.
FLAG_KEYS = ("CMAKE_BUILD_TYPE", "NCNN_VULKAN", "NCNN_OPENMP", "NCNN_SIMPLEOMP",
             "NCNN_RUNTIME_CPU", "NCNN_AVX512", "NCNN_AVX2", "NCNN_FMA", "NCNN_AVX",
             "NCNN_ARM82", "NCNN_INT8", "NCNN_BF16", "NCNN_BENCHMARK")


def read_cache(build_dir):
    cache = {}
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^([A-Za-z0-9_]+):[A-Z]+=(.*)$", line.strip())
                if m:
                    cache[m.group(1)] = m.group(2)
    except OSError as e:
        raise SystemExit(f"{build_dir}: not an ncnn cmake build directory ({e})")
    if "ncnn_SOURCE_DIR" not in cache:
        raise SystemExit(f"{build_dir}/CMakeCache.txt is not ncnn's")
    return cache


class Build:
    """One hand-made ncnn build directory."""

    def __init__(self, build_dir, commit=None):
        self.dir = os.path.abspath(build_dir)
        self.cache = read_cache(self.dir)
        self.src = self.cache["ncnn_SOURCE_DIR"]
        self.lib = os.path.join(self.dir, "src", "libncnn.a")
        if not os.path.exists(self.lib):
            raise SystemExit(f"{self.lib} missing: build ncnn first (make -C {self.dir})")
        self.commit = commit or self._git_commit()
        self.profiles = self.cache.get("NCNN_BENCHMARK") == "ON"

    def _git_commit(self):
        try:
            head = subprocess.run(["git", "-C", self.src, "rev-parse", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", self.src, "status", "--porcelain",
                                    "--untracked-files=no"],
                                   capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            raise SystemExit(f"{self.src} is not a git checkout: pass --ncnn-commit")
        return head + (" (modified)" if dirty else "")

    def flags(self):
        """"CMAKE_BUILD_TYPE=Release NCNN_VULKAN=OFF ...", plus the compiler."""
        parts = [f"{k}={self.cache[k]}" for k in FLAG_KEYS if k in self.cache]
        cxx = self.cache.get("CMAKE_CXX_COMPILER", "c++")
        try:
            version = subprocess.run([cxx, "-dumpfullversion"], capture_output=True,
                                     text=True).stdout.strip()
        except OSError:
            version = "?"
        return " ".join(parts) + f", {os.path.basename(cxx)} {version}"

    def compile_runner(self, out):
        """bench/ncnn_runner.cpp against this build, into out."""
        cmd = [self.cache.get("CMAKE_CXX_COMPILER", "c++"), "-O2", "-std=c++11",
               RUNNER_SRC, "-I", os.path.join(self.src, "src"),
               "-I", os.path.join(self.dir, "src"), self.lib, "-lpthread", "-o", out]
        if self.cache.get("NCNN_OPENMP") == "ON" and self.cache.get("NCNN_SIMPLEOMP") != "ON":
            cmd.insert(1, "-fopenmp")
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"compiling the ncnn runner failed:\n{' '.join(cmd)}\n{res.stderr}")
        return out

    def convert(self, cfg, weights, out_stem):
        """cfg/weights -> out_stem.param/.bin: darknet2ncnn (YOLO outputs
        merged into one Yolov3DetectionOutput, as its README does), then
        ncnnoptimize, which fuses batch-norm and activations into the
        convolutions as ncnn's users are told to."""
        tool = os.path.join(self.dir, "tools", "darknet", "darknet2ncnn")
        opt = os.path.join(self.dir, "tools", "ncnnoptimize")
        for t in (tool, opt):
            if not os.path.exists(t):
                raise SystemExit(f"{t} missing: build ncnn with -DNCNN_BUILD_TOOLS=ON")
        raw = out_stem + "-raw"
        for cmd in ([tool, cfg, weights, raw + ".param", raw + ".bin", "1"],
                    [opt, raw + ".param", raw + ".bin", out_stem + ".param",
                     out_stem + ".bin", "0"]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
        return out_stem + ".param", out_stem + ".bin"


def _darknet_axis(n_in, n_out):
    """Darknet's resize_image along one axis: source positions at steps of
    (n_in - 1) / (n_out - 1), the last output taking the last input."""
    import numpy

    x = numpy.arange(n_out) * ((n_in - 1) / max(n_out - 1, 1))
    i0 = numpy.floor(x).astype(int)
    frac = (x - i0).astype(numpy.float32)
    i0[-1], frac[-1] = n_in - 1, 0.0
    return i0, numpy.minimum(i0 + 1, n_in - 1), frac


def write_input(image, width, height, path):
    """The image as Darknet's network sees it: RGB in [0, 1], planar,
    resized without letterbox by Darknet's separable bilinear resize (with
    OpenCV's resize the XL model's car came out 0.84 against Darknet's 0.80;
    with this one ncnn's heads decode to Darknet's boxes within 0.03)."""
    import cv2
    import numpy

    img = cv2.cvtColor(cv2.imread(image), cv2.COLOR_BGR2RGB)
    img = img.astype(numpy.float32).transpose(2, 0, 1) / 255.0
    c0, c1, cf = _darknet_axis(img.shape[2], width)
    cols = img[:, :, c0] * (1 - cf) + img[:, :, c1] * cf
    r0, r1, rf = _darknet_axis(img.shape[1], height)
    planar = cols[:, r0, :] * (1 - rf[:, None]) + cols[:, r1, :] * rf[:, None]
    numpy.ascontiguousarray(planar, dtype=numpy.float32).tofile(path)
    return path


def param_layers(param):
    """{layer name: (type, params)} from a text .param file."""
    layers = {}
    with open(param) as f:
        lines = f.read().split("\n")[2:]
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        kind, name, nin, nout = fields[0], fields[1], int(fields[2]), int(fields[3])
        params = {}
        for kv in fields[4 + nin + nout:]:
            k, _, v = kv.partition("=")
            params[k] = v
        layers[name] = (kind, params)
    return layers


def profile_kind(kind, params):
    """An ncnn layer's row in "where the time goes", named as
    yoloswitch-detect --profile names ours."""
    if kind == "Convolution":
        return "conv_1x1" if params.get("1", "1") == "1" else "conv_gemm"
    if kind == "ConvolutionDepthWise":
        return "conv_depthwise" if params.get("7") == params.get("0") else "conv_grouped"
    return {"Pooling": "maxpool", "Concat": "route", "Crop": "route",
            "Eltwise": "shortcut", "BinaryOp": "shortcut", "Interp": "upsample",
            "Yolov3DetectionOutput": "detection"}.get(kind, "other")


LAYER_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\d+\.\d+)ms")


def parse_profile(stderr, param, runs):
    """ms per run by kind from the NCNN_BENCHMARK lines of a runner's stderr
    (one line per layer per forward)."""
    layers = param_layers(param)
    total = {}
    for line in stderr.splitlines():
        m = LAYER_LINE.match(line)
        if not m:
            continue
        kind, name, ms = m.group(1), m.group(2), float(m.group(3))
        _, params = layers.get(name, (kind, {}))
        key = profile_kind(kind, params)
        total[key] = total.get(key, 0.0) + ms
    return {k: v / runs for k, v in total.items()}
