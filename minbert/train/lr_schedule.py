"""Learning-rate multipliers as pure functions of progress, so a resumed run needs no scheduler state."""
from __future__ import annotations

import math

SCHEDULES = ("exponential", "linear", "constant")


def lr_multiplier(schedule: str, step: int, steps_per_epoch: int, total_steps: int,
                  gamma: float = 0.96, warmup_ratio: float = 0.1) -> float:
    """exponential: gamma ** epoch, stepped once per epoch as in the report (torch ExponentialLR).
    linear: linear warm-up over warmup_ratio of training, then linear decay to 0.
    constant: 1.
    """
    if schedule == "exponential":
        return gamma ** (step // max(steps_per_epoch, 1))
    if schedule == "linear":
        warmup = max(1, math.ceil(warmup_ratio * total_steps))
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r} (choose from {SCHEDULES})")
