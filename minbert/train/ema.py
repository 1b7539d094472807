"""An exponential moving average of the weights (Polyak averaging), for evaluation and export.

After every optimizer step, shadow <- d * shadow + (1 - d) * weights, with d = min(decay, (1 + n) / (10 + n))
at step n so the first steps do not drag in the pretrained weights for long. Training goes on with the live
weights; each epoch is evaluated, and the best exported, with the shadow weights swapped in.
"""
from __future__ import annotations

import contextlib

import torch


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay, self.steps = decay, 0
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for n, p in model.named_parameters():
            if n in self.shadow:
                self.shadow[n].lerp_(p.detach(), 1 - d)  # shadow + (1 - d) * (p - shadow)
        self.steps += 1

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module):
        """The shadow weights in the model for the duration of the block, then the live ones again."""
        params = dict(model.named_parameters())
        live = {n: params[n].detach().clone() for n in self.shadow}
        with torch.no_grad():
            for n, t in self.shadow.items():
                params[n].copy_(t)
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, t in live.items():
                    params[n].copy_(t)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"ema.{n}": t.contiguous() for n, t in self.shadow.items()} | {"ema_steps": torch.tensor(self.steps)}

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for n in self.shadow:
            self.shadow[n].copy_(tensors[f"ema.{n}"])
        self.steps = int(tensors["ema_steps"])
