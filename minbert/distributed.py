"""DistributedDataParallel plumbing: a no-op in a single process, gloo on CPU and nccl on GPU under torchrun."""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as tdist
from torch.nn.parallel import DistributedDataParallel


def is_distributed() -> bool:
    return tdist.is_available() and tdist.is_initialized()


def rank() -> int:
    return tdist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return tdist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def print0(*args) -> None:
    if is_main():
        print(*args, flush=True)


def launched() -> bool:
    """Started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


DEVICES = ("auto", "cpu", "cuda")  # setup()'s choices; auto: cuda if available


def setup(device: str, timeout_s: float | None = None) -> torch.device:
    """Pick the device; join the process group when launched by torchrun (WORLD_SIZE > 1).

    timeout_s bounds every collective (barrier, gather, send/recv): a rank whose peers died or stalled
    fails after that long instead of waiting forever (None: torch's default, 30 minutes for gloo)."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if launched() and not is_distributed():
        extra = {} if timeout_s is None else {"timeout": timedelta(seconds=timeout_s)}
        tdist.init_process_group("nccl" if use_cuda else "gloo", **extra)
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not is_distributed():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)  # one head per step


def barrier() -> None:
    if is_distributed():
        tdist.barrier()


def cleanup() -> None:
    if is_distributed():
        tdist.destroy_process_group()
