"""What every command line shares: --checkpoint, --data-dir and --threads, and how an error reaches the user."""
from __future__ import annotations

import argparse
import sys

DEFAULT_CHECKPOINT = "checkpoints/minbert-multitask"  # the shipped model


def add_checkpoint(ap: argparse.ArgumentParser, required: bool = False,
                   help: str = "checkpoint path: its stem, .safetensors or .json") -> None:
    ap.add_argument("--checkpoint", required=required, default=None if required else DEFAULT_CHECKPOINT,
                    help=help + ("" if required else f" (default: {DEFAULT_CHECKPOINT})"))


def add_data_dir(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data-dir", default=None,
                    help="task data folder (default: $MINBERT_DATA, then ./data, then the user cache)")


def add_threads(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: torch's default, one per core)")


def apply_threads(n: int) -> None:
    """--threads N: N intra-op threads; 0 leaves torch's default."""
    if n:
        import torch
        torch.set_num_threads(n)


def fail(message: object) -> int:
    """A one-line `error: ...` on stderr, never a traceback; returns the exit status."""
    print(f"error: {message}", file=sys.stderr)
    return 1
