"""Dynamic int8 quantization of the Linear layers, for CPU inference."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

QUANTIZE_CHOICES = ("none", "int8")


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy whose nn.Linear layers run int8 matmuls with per-batch activation scales (CPU only).

    Embeddings, LayerNorms and the tiny head parameters stay fp32.
    """
    q = copy.deepcopy(model).cpu().eval()
    return torch.ao.quantization.quantize_dynamic(q, {nn.Linear}, dtype=torch.qint8)
