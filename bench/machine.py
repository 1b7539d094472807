"""The line every benchmark prints first: which CPU, which torch kernels, how many threads."""
from __future__ import annotations

import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    import os

    import torch
    flags = _flags()
    caps = [c for c in ("amx_bf16", "avx512_bf16", "avx512_vnni", "amx_int8", "avx_vnni", "avx512f", "avx2") if c in flags]
    forced = {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ}
    return (f"machine: {cpu_model()} · torch {torch.__version__} · get_cpu_capability() = "
            f"{torch.backends.cpu.get_cpu_capability()} · CPU flags {' '.join(caps) or 'none of avx2/avx512/vnni'} · "
            f"{torch.get_num_threads()} threads · {os.cpu_count()} cores" + (f" · forced {forced}" if forced else ""))


def _flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


if __name__ == "__main__":
    print(describe())
