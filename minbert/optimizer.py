"""AdamW written by hand: Kingma & Ba's Algorithm 1 in its efficient form, with the decoupled
weight decay of Loshchilov & Hutter."""
from __future__ import annotations

import math

import torch


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay.

    Per step t, for each parameter p with gradient g:
        p <- p * (1 - lr * weight_decay)                # decay, decoupled from the moments
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
        p <- p - lr_t * m / (sqrt(v) + eps_t)
    with the bias correction folded into the step size (the "efficient version" of Algorithm 1):
        lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t),  eps_t = eps * sqrt(1 - b2^t)
    which equals lr * m_hat / (sqrt(v_hat) + eps) exactly, as torch.optim.AdamW computes it.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"lr, eps and weight_decay must be >= 0 (got {lr}, {eps}, {weight_decay})")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamW does not support sparse gradients")
                self._update(p, self.state[p], b1, b2, lr, eps, wd)
        return loss

    @staticmethod
    def _update(p, state, b1, b2, lr, eps, wd) -> None:
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        t = state["step"].item()
        m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
        p.mul_(1 - lr * wd)
        m.lerp_(g, 1 - b1)  # m = b1 m + (1 - b1) g
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        bc1, bc2_sqrt = 1 - b1 ** t, math.sqrt(1 - b2 ** t)
        denom = v.sqrt().add_(eps * bc2_sqrt)
        p.addcdiv_(m, denom, value=-lr * bc2_sqrt / bc1)
