"""This machine in words: the CPU's model and flags, and the one line that tables and benchmarks record."""
from __future__ import annotations

import os
import platform


def cpu_info() -> tuple[str, set[str]]:
    """(CPU model name, /proc/cpuinfo flags); the platform's name and no flags where there is no /proc/cpuinfo."""
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name or platform.processor() or platform.machine() or "unknown", flags


def machine_line() -> str:
    """Cores and CPU model, e.g. "2-core AMD EPYC 7B13": where a table's timings were taken."""
    return f"{os.cpu_count()}-core {cpu_info()[0]}"
