"""What the benchmarks say about the machine they ran on."""
import os
import platform


def describe():
    """"x86_64, 2 cores, AMD EPYC": architecture, cores and CPU model."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu}"
