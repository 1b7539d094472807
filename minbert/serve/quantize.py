"""int8 inference for the encoder's Linear layers on the CPU, with the kernel chosen by measurement.

Two int8 kernels, and fp32 when neither is faster on the CPU at hand:

- `int_mm`: weights with one int8 scale per output feature, activations with one scale per token computed
  on the fly, the product accumulated in int32 by `torch._int_mm`. Per-token scales matter: BERT's LayerNorm
  and GELU outputs carry a few outlier channels, and one scale per batch flattens everyone else's values.
  Fast where oneDNN has VNNI/AMX kernels; on some AVX2-only CPUs `_int_mm` has no fast kernel at all
  (an issue reported it far slower than fp32 on one).
- `fbgemm`: torch's dynamic quantized Linear (fbgemm, per-channel weights, one activation scale per call),
  made accurate by SmoothQuant (Xiao et al., 2023): each input channel j is divided by
  s_j = max|X_j|^a / max|W_j|^(1-a) and the weight column multiplied by it, so the outlier channels shrink
  before the activations are quantized. In post-LN BERT the LayerNorm output is also the residual stream,
  so the division cannot be folded into the LayerNorm: it is one cheap (T, in) multiply before each Linear.
  max|X_j| comes from a fixed set of calibration sentences (CALIBRATION). The FFN's output Linear stays
  fp32 under this kernel: it reads GELU outputs whose range one scale per call cannot cover (quantizing it
  alone cut SST dev agreement with fp32 to 84%).

`quantize_int8(model)` times the candidates on one Linear of the model's own shape and keeps the fastest;
an int8 kernel must beat fp32 by MIN_SPEEDUP or the model stays fp32, and its `int8_note` says so in one line.
MINBERT_INT8_KERNEL=int_mm|fbgemm|fp32 forces a choice. `--precision int8` (minbert/serve/precision.py) serves
this; `--precision auto` measures each kernel against fp32 and bf16 on the whole encoder.
"""
from __future__ import annotations

import copy
import os
import time
import warnings

import torch
import torch.nn as nn

INT8_KERNELS = ("int_mm", "fbgemm")
KERNEL_ENV = "MINBERT_INT8_KERNEL"
MIN_SPEEDUP = 1.1  # an int8 kernel must be this much faster than fp32 on the probe to be used
SMOOTH_ALPHA = 0.7  # SmoothQuant migration strength (0: none, 1: all onto the weights); 0.7 agreed best with fp32 (README)
QUANTIZED_SHARE = {"int_mm": 1.0, "fbgemm": 2 / 3}  # share of the encoder's Linear FLOPs each kernel runs in int8
PROBE_TOKENS = 256  # rows of the probe matmul (a batch of 32 sentences of 8 tokens, or 2 of 128)
CALIBRATION = [  # generic English for the smoothing statistics; no dataset text
    "The film is a gorgeous, witty and moving portrait of a family.", "How do I learn Python quickly?",
    "A man is playing a guitar on the street.", "What is the capital city of France?",
    "The plot is thin and the jokes fall completely flat.", "Two dogs are running through the snow.",
    "It's not a bad movie, just a forgettable one.", "Why is the sky blue during the day?",
    "An utterly dreadful, boring mess that overstays its welcome by an hour.", "A woman slices an onion.",
    "Which laptop should I buy for machine learning in 2024?", "The stock market fell sharply on Monday.",
    "I absolutely loved every minute of this charming little story.", "Can dogs eat chocolate safely?",
    "The committee approved the new budget after a long debate.", "Kids are playing soccer in a park.",
    "What are the best ways to save money on groceries?", "The acting is wooden but the music is great.",
    "A cat sits on a red mat near the window.", "How can I improve my English speaking skills?",
    "Scientists discovered a new species of frog in the rainforest.", "He said he would call back later.",
    "The director's third feature is his most ambitious, and his least coherent.", "Is it safe to travel now?",
]


class Int8Linear(nn.Module):
    """Drop-in for nn.Linear: int8 weights (per output feature) times int8 activations (per token), `_int_mm`."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()  # (out, in)
        scale = w.abs().amax(1).clamp_min(1e-12) / 127  # (out,)
        self.register_buffer("weight_t", torch.round(w / scale[:, None]).to(torch.int8).t().contiguous())  # (in, out)
        self.register_buffer("weight_scale", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, self.in_features)  # (N, in): one row per token
        scale = x.abs().amax(1, keepdim=True).clamp_min(1e-12) / 127  # (N, 1)
        xq = x.div(scale).round_().to(torch.int8)  # |values| <= 127 by construction
        y = torch._int_mm(xq, self.weight_t).float().mul_(scale).mul_(self.weight_scale)  # (N, out)
        if self.bias is not None:
            y.add_(self.bias)
        return y.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-token/per-channel"


class SmoothedDynamicLinear(nn.Module):
    """Drop-in for nn.Linear: x / s, then fbgemm's dynamic int8 Linear on W * s (per-channel weight scales)."""

    def __init__(self, linear: nn.Linear, act_absmax: torch.Tensor | None, alpha: float = SMOOTH_ALPHA):
        super().__init__()
        w = linear.weight.detach().float()  # (out, in)
        s = torch.ones(linear.in_features)
        if act_absmax is not None and alpha > 0:
            s = (act_absmax.clamp_min(1e-5) ** alpha / w.abs().amax(0).clamp_min(1e-5) ** (1 - alpha)).clamp(1e-3, 1e3)
        smoothed = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            smoothed.weight.copy_(w * s[None, :])  # (out, in): column j scaled up as input j is scaled down
            if linear.bias is not None:
                smoothed.bias.copy_(linear.bias.detach().float())
        with warnings.catch_warnings():  # torch.ao marks eager quantization deprecated; it is what fbgemm serves
            warnings.simplefilter("ignore")
            from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
            from torch.ao.quantization import per_channel_dynamic_qconfig
            smoothed.qconfig = per_channel_dynamic_qconfig
            self.inner = DynamicLinear.from_float(smoothed)
        self.register_buffer("inv_scale", 1.0 / s)  # (in,)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x * self.inv_scale)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fbgemm int8 + SmoothQuant"


def is_encoder_linear(name: str, module: nn.Module) -> bool:
    """The attention and feed-forward Linears of the encoder layers, sentiment's private copies included; the
    pooler and tiny heads stay fp32."""
    return isinstance(module, nn.Linear) and (".encoder.layer." in f".{name}." or name.startswith("sst_encoder."))


def quantized_by(kernel: str, name: str) -> bool:
    """Which encoder Linears a kernel replaces: all for int_mm; fbgemm leaves each FFN output Linear in fp32."""
    return kernel == "int_mm" or (kernel == "fbgemm" and not (name.endswith(".output.dense") and ".attention." not in name))


def kernel_available(kernel: str) -> bool:
    if kernel == "int_mm":
        return hasattr(torch, "_int_mm")
    if kernel == "fbgemm":
        return "fbgemm" in torch.backends.quantized.supported_engines
    return kernel == "fp32"


def _make(kernel: str, linear: nn.Linear, act_absmax: torch.Tensor | None = None,
          smooth_alpha: float = SMOOTH_ALPHA) -> nn.Module:
    return Int8Linear(linear) if kernel == "int_mm" else SmoothedDynamicLinear(linear, act_absmax, smooth_alpha)


@torch.inference_mode()
def probe_kernels(in_features: int = 384, out_features: int = 1536, repeats: int = 5) -> dict[str, float]:
    """Fastest of `repeats` timed calls of one (PROBE_TOKENS, in) x (in, out) Linear per kernel, after two
    warm-up calls; a kernel that fails is left out and one more than 5x slower than fp32 on its first timed
    call is not timed again."""
    torch.manual_seed(0)
    lin, x = nn.Linear(in_features, out_features), torch.randn(PROBE_TOKENS, in_features)
    mods = {"fp32": lin}
    for k in INT8_KERNELS:
        try:
            mods[k] = _make(k, lin, x.abs().amax(0)) if kernel_available(k) else None
        except (RuntimeError, NotImplementedError, AssertionError):
            mods[k] = None
    out = {}
    for name, mod in mods.items():
        if mod is None:
            continue
        try:
            mod(x), mod(x)  # warm-up: oneDNN builds and caches its primitives on the first calls
            first = _seconds(mod, x)
        except (RuntimeError, NotImplementedError):
            continue
        slow = name != "fp32" and first > 5 * out["fp32"]
        out[name] = first if slow else min([first] + [_seconds(mod, x) for _ in range(repeats - 1)])
    return out


def _seconds(mod: nn.Module, x: torch.Tensor) -> float:
    t = time.perf_counter()
    mod(x)
    return time.perf_counter() - t


def choose_kernel(timings: dict[str, float]) -> tuple[str, str]:
    """(kernel, one-line reason) from probe timings. Each kernel's encoder cost is estimated from the share of
    Linear FLOPs it quantizes (QUANTIZED_SHARE; the rest runs at fp32 speed); the cheapest int8 kernel wins
    if it beats fp32 by MIN_SPEEDUP."""
    fp32 = timings["fp32"]
    cost = {k: QUANTIZED_SHARE[k] * t + (1 - QUANTIZED_SHARE[k]) * fp32 for k, t in timings.items() if k in INT8_KERNELS}
    shown = ", ".join(f"{k} {t * 1e3:.2f} ms" for k, t in sorted(timings.items(), key=lambda kv: kv[1]))
    if not cost:
        return "fp32", "int8: no int8 kernel works on this CPU; serving fp32"
    best = min(cost, key=cost.get)
    if fp32 / cost[best] < MIN_SPEEDUP:
        return "fp32", f"int8: no int8 kernel beats fp32 on this CPU (Linear probe: {shown}); serving fp32"
    return best, f"int8: kernel {best}, est. {fp32 / cost[best]:.1f}x fp32 on the encoder's Linears (probe: {shown})"


@torch.inference_mode()
def activation_absmax(model: nn.Module, tokenizer) -> dict[str, torch.Tensor]:
    """Per-input-channel max |x| at every encoder Linear over CALIBRATION, keyed by module name."""
    stats: dict[str, torch.Tensor] = {}

    def hook(name):
        def record(_mod, args):
            a = args[0].detach().reshape(-1, args[0].shape[-1]).abs().amax(0)  # (in,)
            stats[name] = torch.maximum(stats[name], a) if name in stats else a
        return record

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in model.named_modules() if is_encoder_linear(n, m)]
    try:
        enc = tokenizer(CALIBRATION, max_length=128).model_inputs()
        if hasattr(model, "embed"):  # a MultitaskModel: the shared stack, then sentiment's private top layers
            model.embed(**enc)
            if model.own_layers_task is not None:
                model.embed(**enc, task=model.own_layers_task)
        else:
            model(**enc)
    finally:
        for h in handles:
            h.remove()
    return stats


def quantize_int8(model: nn.Module, inplace: bool = False, kernel: str = "auto", tokenizer=None,
                  smooth_alpha: float = SMOOTH_ALPHA) -> nn.Module:
    """`model` (a copy unless inplace) with its encoder Linears in int8 using `kernel` ("auto": the fastest
    measured here, or fp32 when none beats it); `smooth_alpha` is fbgemm's SmoothQuant strength. The result's
    `int8_note` says which and why."""
    kernel = os.environ.get(KERNEL_ENV, kernel)
    if kernel not in ("auto", "fp32", *INT8_KERNELS):
        raise ValueError(f"int8 kernel must be auto, fp32, {' or '.join(INT8_KERNELS)}; got {kernel!r}")
    targets = [name for name, mod in model.named_modules() if is_encoder_linear(name, mod)]
    if kernel == "auto":
        big = max((model.get_submodule(n) for n in targets), key=lambda m: m.weight.numel(), default=nn.Linear(384, 1536))
        kernel, note = choose_kernel(probe_kernels(big.in_features, big.out_features))  # the FFN's shape
    else:
        note = f"int8: kernel {kernel} (forced by {KERNEL_ENV} or the caller)"
        if not kernel_available(kernel):
            raise RuntimeError(f"int8 kernel {kernel} is not available with torch {torch.__version__} on this CPU")
    q = model if inplace or kernel == "fp32" else copy.deepcopy(model)  # fp32: serve the model itself
    q = q.cpu().eval()
    absmax = activation_absmax(q, tokenizer or _default_tokenizer()) if kernel == "fbgemm" else {}
    for name in (n for n in targets if quantized_by(kernel, n)):
        parent, _, child = name.rpartition(".")
        owner = q.get_submodule(parent)  # "" is the model itself
        setattr(owner, child, _make(kernel, getattr(owner, child), absmax.get(name), smooth_alpha))
    q.int8_kernel, q.int8_note = kernel, note
    return q


def _default_tokenizer():
    from minbert.tokenizer import Tokenizer
    return Tokenizer.from_pretrained()
