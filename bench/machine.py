"""The line every benchmark prints first: which CPU, which torch kernels, how many threads."""
from __future__ import annotations

import os

from minbert.machine import cpu_info


def describe() -> str:
    import torch
    model, flags = cpu_info()
    caps = [c for c in ("amx_bf16", "avx512_bf16", "avx512_vnni", "amx_int8", "avx_vnni", "avx512f", "avx2") if c in flags]
    forced = {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ}
    return (f"machine: {model} · torch {torch.__version__} · get_cpu_capability() = "
            f"{torch.backends.cpu.get_cpu_capability()} · CPU flags {' '.join(caps) or 'none of avx2/avx512/vnni'} · "
            f"{torch.get_num_threads()} threads · {os.cpu_count()} cores" + (f" · forced {forced}" if forced else ""))


if __name__ == "__main__":
    print(describe())
