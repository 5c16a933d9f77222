"""What the benchmarks say about the machine they ran on."""
import os
import platform


def _cpuinfo(key):
    try:
        with open("/proc/cpuinfo") as f:
            return next(l.split(":", 1)[1].strip() for l in f if l.startswith(key))
    except (OSError, StopIteration):
        return ""


def vector_isa():
    """"AVX2+FMA, no AVX-512": what decides which kernels a CPU-dispatching
    engine (ours, ncnn's) picks, so figures from two CPUs can be told apart."""
    flags = set(_cpuinfo("flags").split())
    if not flags:
        features = set(_cpuinfo("Features").split())
        return "NEON" if "asimd" in features else "no vector extensions listed"
    best = "SSE2"
    for name, flag in (("SSE4.1", "sse4_1"), ("AVX", "avx"), ("AVX2", "avx2")):
        if flag in flags:
            best = name
    if "fma" in flags and best == "AVX2":
        best += "+FMA"
    return best + (", AVX-512" if "avx512f" in flags else ", no AVX-512")


def describe():
    """"x86_64, 2 cores, AMD EPYC ... (AVX2+FMA, no AVX-512)": architecture,
    cores, CPU model and its vector extensions."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, {_cpuinfo('model name')} "
            f"({vector_isa()})")
