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
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("AdamW does not support sparse gradients")
            if params:
                self._update_group(params, group)
        return loss

    def _update_group(self, params: list[torch.Tensor], group: dict) -> None:
        """One step for every parameter of a group, as fused multi-tensor (foreach) kernels."""
        b1, b2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        states = [self.state[p] for p in params]
        for p, st in zip(params, states):
            if not st:
                st["step"] = torch.tensor(0.0)
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            st["step"] += 1  # per parameter: a head unused in a step does not advance
        grads = [p.grad for p in params]
        m, v = [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states]
        t = [st["step"].item() for st in states]
        bc2_sqrt = [math.sqrt(1 - b2 ** ti) for ti in t]
        if wd:
            torch._foreach_mul_(params, 1 - lr * wd)  # decoupled decay
        torch._foreach_lerp_(m, grads, 1 - b1)  # m = b1 m + (1 - b1) g
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, 1 - b2)  # v = b2 v + (1 - b2) g^2
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, [eps * c for c in bc2_sqrt])  # eps_t = eps sqrt(1 - b2^t)
        torch._foreach_addcdiv_(params, m, denom, [-lr * c / (1 - b1 ** ti) for c, ti in zip(bc2_sqrt, t)])
