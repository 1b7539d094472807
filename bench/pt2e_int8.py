"""Static int8 through PyTorch's own x86 path, bench-only: the minbert sentiment encoder quantized with PT2E.

torch.export of the sentiment path (input_ids, attention_mask -> pooled embedding) with a dynamic batch and
sequence length; torchao's X86InductorQuantizer (int8 weights per output channel, uint8 activations per tensor
with scales fixed by calibration: static); prepare_pt2e, a pass over the calibration sentences, convert_pt2e;
then torch.compile with inductor and freezing, which lowers the quantize/dequantize pairs around each Linear
into oneDNN int8 GEMMs with fused requantization. Needs torchao (requirements-bench.txt) and a C++ compiler.

`smooth_alpha` > 0 adds SmoothQuant (as minbert/serve/quantize.py's fbgemm kernel does: each Linear's input
divided per channel, its weight columns multiplied) before the static quantization; `keep_fp32` names Linears
left in fp32 (ffn_out: every FFN output Linear, which reads GELU outputs). bench/pt2e_sensitivity.py measures
which Linears cost the fidelity. Both trade speed for fidelity; see docs/BENCHMARKS.md
("Peers") for what each reached against the gate of --precision auto.
"""
from __future__ import annotations

import copy
import warnings
from typing import Callable

import torch
import torch.nn as nn

from minbert.data.batching import bucket_batches
from minbert.serve.quantize import activation_absmax, is_encoder_linear, quantized_by

CALIBRATION_BATCH = 32  # sentences per calibration forward


class SentimentEmbedder(nn.Module):
    """(input_ids, attention_mask) -> (B, H): the served sentiment path as one exportable forward."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.embed(input_ids=input_ids, attention_mask=attention_mask, task="sst")  # (B, H)


class SmoothedLinear(nn.Module):
    """x / s, then a plain Linear on W * s: the static quantizer then sees the smoothed activations."""

    def __init__(self, linear: nn.Linear, act_absmax: torch.Tensor, alpha: float):
        super().__init__()
        w = linear.weight.detach().float()  # (out, in)
        s = (act_absmax.clamp_min(1e-5) ** alpha / w.abs().amax(0).clamp_min(1e-5) ** (1 - alpha)).clamp(1e-3, 1e3)
        self.linear = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(w * s[None, :])
            if linear.bias is not None:
                self.linear.bias.copy_(linear.bias.detach().float())
        self.register_buffer("inv_scale", 1.0 / s)  # (in,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inv_scale)


def ffn_out(name: str) -> bool:
    """The FFN output Linears (they read GELU outputs; quantize.py's fbgemm kernel leaves them fp32 too)."""
    return not quantized_by("fbgemm", name)


def smoothed(model: nn.Module, tokenizer, alpha: float, keep_fp32: Callable[[str], bool]) -> nn.Module:
    """A copy of `model` whose to-be-quantized encoder Linears are SmoothedLinear (statistics over quantize.py's
    CALIBRATION sentences)."""
    m = copy.deepcopy(model).cpu().eval()
    absmax = activation_absmax(m, tokenizer)
    for name in [n for n, mod in m.named_modules() if is_encoder_linear(n, mod) and not keep_fp32(n)]:
        parent, _, child = name.rpartition(".")
        owner = m.get_submodule(parent)
        setattr(owner, child, SmoothedLinear(getattr(owner, child), absmax[name], alpha))
    return m


def quantizer(module: SentimentEmbedder, keep_fp32: Callable[[str], bool]):
    """X86InductorQuantizer's default static config, with the Linears keep_fp32 names (in the model's own
    names, e.g. "bert.encoder.layer.0.output.dense") left unquantized."""
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq
    q = xiq.X86InductorQuantizer()
    q.set_global(xiq.get_default_x86_inductor_quantization_config())
    for name, mod in module.named_modules():
        own = name.removeprefix("model.").removesuffix(".linear")  # SmoothedLinear wraps its Linear as .linear
        if isinstance(mod, nn.Linear) and is_encoder_linear(own, nn.Linear(1, 1)) and keep_fp32(own):
            q.set_module_name_qconfig(name, None)
    return q


def calibration_batches(tokenizer, texts: list[str], max_length: int) -> list[dict[str, torch.Tensor]]:
    """Length-sorted batches, so padding (which the observers would see) stays short."""
    out = []
    for idx in bucket_batches(tokenizer.token_lengths(texts), CALIBRATION_BATCH, False):
        enc = tokenizer([texts[i] for i in idx], max_length=max_length)
        out.append({"input_ids": enc.input_ids, "attention_mask": enc.attention_mask})
    return out


@torch.no_grad()
def quantized(model: nn.Module, tokenizer, calibration: list[str], smooth_alpha: float = 0.0,
              keep_fp32: Callable[[str], bool] = lambda name: False, max_length: int = 128) -> nn.Module:
    """The sentiment path exported, quantized (static, calibrated on `calibration`) and converted: a
    GraphModule (input_ids, attention_mask) -> (B, H) that runs the quantize/dequantize pairs eagerly
    (the numerics of the compiled model, not its speed)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    base = smoothed(model, tokenizer, smooth_alpha, keep_fp32) if smooth_alpha else model.cpu().eval()
    module = SentimentEmbedder(base).eval()
    batches = calibration_batches(tokenizer, calibration, max_length)
    batch = torch.export.Dim("batch", max=65536)
    seq = torch.export.Dim("seq", min=2, max=base.bert.config.max_position_embeddings)
    exported = torch.export.export(module, (), batches[0], dynamic_shapes={k: {0: batch, 1: seq} for k in batches[0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(exported.module(), quantizer(module, keep_fp32))
        for b in batches:
            prepared(**b)
        return convert_pt2e(prepared)


def static_int8(model: nn.Module, tokenizer, calibration: list[str], **options):
    """A compiled callable (input_ids, attention_mask) -> (B, H) sentiment embeddings in static int8
    (options: quantized()'s). The first calls compile (minutes on 2 busy cores)."""
    import torch._inductor.config as inductor_config
    converted = quantized(model, tokenizer, calibration, **options)
    inductor_config.freezing = True  # constant weights: lets inductor prepack them for oneDNN's int8 GEMM
    compiled = torch.compile(converted, dynamic=True)

    def run(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return compiled(input_ids=input_ids, attention_mask=attention_mask)  # (B, H)
    return run
