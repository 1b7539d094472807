"""Which task each training step works on: the multitask sampling schemes.

A plan is a list of steps; each step is a list of (task, row indices) batches whose losses are summed.
Plans are a pure function of (batches, scheme, epoch, seed), so a resumed run rebuilds the same plan.
"""
from __future__ import annotations

import random

SCHEMES = ("sequential", "round_robin", "proportional", "annealed", "combined")
Step = list[tuple[str, list[int]]]


def annealed_alpha(epoch: int, epochs: int) -> float:
    """Stickland & Murray's annealed sampling: p ~ n^alpha, alpha from 1 down to 0.2 over training."""
    return 1.0 - 0.8 * (epoch / (epochs - 1) if epochs > 1 else 0.0)


def _cycle(batches: list[list[int]], rng: random.Random):
    """Endless stream over a task's batches, reshuffled on every pass."""
    while True:
        order = batches[:]
        rng.shuffle(order)
        yield from order


def epoch_plan(batches: dict[str, list[list[int]]], scheme: str, epoch: int, epochs: int, seed: int) -> list[Step]:
    """sequential: every batch of each task, task after task (the report's loop).
    round_robin: one batch of each task in turn until all are used.
    proportional / annealed: each step draws one task with p ~ n_batches^alpha (alpha 1, or annealed).
    combined: each step sums one batch of every task; steps = total batches / number of tasks.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown sampling scheme {scheme!r} (choose from {SCHEMES})")
    rng = random.Random(seed * 1000 + epoch)
    tasks = [t for t in batches if batches[t]]
    total = sum(len(batches[t]) for t in tasks)
    if scheme == "sequential":
        return [[(t, b)] for t in tasks for b in batches[t]]
    if scheme == "round_robin":
        longest = max(len(batches[t]) for t in tasks)
        return [[(t, batches[t][i])] for i in range(longest) for t in tasks if i < len(batches[t])]
    streams = {t: _cycle(batches[t], rng) for t in tasks}
    if scheme == "combined":
        return [[(t, next(streams[t])) for t in tasks] for _ in range(-(-total // len(tasks)))]
    alpha = 1.0 if scheme == "proportional" else annealed_alpha(epoch, epochs)
    weights = [len(batches[t]) ** alpha for t in tasks]
    return [[(t, next(streams[t]))] for t in rng.choices(tasks, weights=weights, k=total)]
