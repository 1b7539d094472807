"""One precision switch for inference: --precision {auto,fp32,bf16,int8}, with `auto` chosen by measurement.

- fp32: the checkpoint as trained.
- bf16: the encoder's weights cast to bf16 (`bert` and sentiment's private layers; the embedding lookups,
  LayerNorms and GEMMs then run in bf16), its outputs cast back to fp32, so pooling and the three small heads
  stay fp32. Fast where oneDNN has AVX512-BF16/AMX kernels; elsewhere bf16 is emulated and slower than fp32.
  `auto` also measures bf16 autocast (fp32 weights, GEMMs in bf16) and keeps whichever is faster.
- int8: the int8 kernels of minbert/serve/quantize.py (the kernel there is itself chosen by measurement).

`auto` runs every candidate this CPU supports over PROBE (128 fixed sentences, batches of 32: the encoder's
real shapes) and keeps the fastest *eligible* one. Eligible: its SST labels (the checkpoint's own sentiment
head) agree with fp32's on >= MIN_AGREEMENT of the probe, and the cosine of its sentence embeddings to
fp32's is >= MIN_COSINE for every probe sentence (the minimum, on both the sentiment path and the shared
encoder path). fp32 is always a candidate, and a faster one must beat it by MIN_SPEEDUP, so auto never
serves something slower than fp32; between near-equal candidates the simpler one stays (choose()).
On a CPU without fast bf16 (fast_bf16()), bf16 is not even measured.
The choice is cached per CPU model, torch version, thread count and checkpoint sha256 in the user cache
($XDG_CACHE_HOME/minbert/precision.json, else ~/.cache/minbert/precision.json; written atomically), with the share
of CPU time the measurement got. One made while other work had the cores (share < MIN_CPU_SHARE) is cached too
and says so; the app measures again in the background on its next start, and a calmer measurement replaces it
(a busier one never replaces a calmer one). The choice is described in one line (describe()) that the CLIs print
and the app shows.
"""
from __future__ import annotations

import copy
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from minbert.atomic import atomic_write_json
from minbert.machine import cpu_info
from minbert.model import EncoderOutput
from minbert.serve.probe_sentences import PROBE
from minbert.serve.quantize import INT8_KERNELS, kernel_available, quantize_int8

PRECISIONS = ("auto", "fp32", "bf16", "int8")
PRECISION_HELP = ("inference precision: fp32; bf16 (encoder weights in bf16; fast on CPUs with AVX512-BF16/AMX); "
                  "int8 (the encoder's Linears in int8, kernel measured here); auto: the fastest of these that "
                  "agrees with fp32 on a fixed probe, measured once per CPU/torch/checkpoint and cached")
MIN_AGREEMENT = 0.99  # share of the probe's SST labels a candidate must give as fp32 does
MIN_COSINE = 0.999  # least embedding cosine to fp32 over every probe sentence
MIN_SPEEDUP = 1.1  # a candidate must be this much faster than the simpler choice so far to replace it (timing noise)
PROBE_BATCH = 32  # sentences per probe batch: the serving batch size
ROUNDS = 3  # timed passes over the probe per candidate, alternating; each batch's fastest counts
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with native bf16 dot products
MIN_CPU_SHARE = 0.6  # a measurement that got less CPU time than this share of wall x threads was made under load
CACHE_KEEP = 32  # entries kept in the cache file (newest)
LABELS = {"fp32": "fp32", "bf16": "bf16 (weights in bf16)", "bf16-autocast": "bf16 autocast",
          **{f"int8-{k}": f"int8 ({k})" for k in INT8_KERNELS}}


@dataclass
class Measurement:
    seconds: float  # probe time, each batch's fastest round summed (sentiment path: encoder + head)
    agreement: float  # share of probe SST labels equal to fp32's
    cosine_min: float  # least cosine to fp32's embedding over the probe, sentiment and shared paths


def fast_bf16() -> tuple[bool, str]:
    """(whether this CPU runs bf16 GEMMs natively, why): a bf16 CPU flag and torch's kernels using AVX512."""
    flags = cpu_info()[1]
    have = [f for f in BF16_FLAGS if f in flags]
    cap = torch.backends.cpu.get_cpu_capability()
    if not have:
        return False, f"no {'/'.join(BF16_FLAGS)} CPU flag"
    if not cap.upper().startswith("AVX512"):
        return False, f"torch's CPU capability is {cap}, not AVX512"
    mkldnn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if mkldnn is not None and not mkldnn():
        return False, "oneDNN reports no bf16 support"
    return True, f"{'/'.join(have)}, capability {cap}"


class _Bf16Forward:
    """Replaces bert.forward: runs it in bf16 (weights cast, or autocast) and hands fp32 outputs back."""

    def __init__(self, inner, autocast: bool):
        self.inner, self.autocast = inner, autocast

    def __call__(self, *args, **kwargs) -> EncoderOutput:
        if not self.autocast and kwargs.get("inputs_embeds") is not None:
            kwargs["inputs_embeds"] = kwargs["inputs_embeds"].to(torch.bfloat16)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            out = self.inner(*args, **kwargs)
        att = None if out.attentions is None else tuple(a.float() for a in out.attentions)
        return EncoderOutput(out.last_hidden_state.float(), out.pooler_output.float(), att)


def to_bf16(model: nn.Module, autocast: bool = False, inplace: bool = False) -> nn.Module:
    """`model` (a copy unless inplace) whose encoder runs in bf16: weights cast (default) or under autocast.
    Pooling and the heads see fp32 hidden states."""
    m = model if inplace else copy.deepcopy(model)
    m = m.cpu().eval()
    if not autocast:
        m.bert.to(torch.bfloat16)
        if getattr(m, "sst_encoder", None) is not None:
            m.sst_encoder.to(torch.bfloat16)
    m.bert.forward = _Bf16Forward(m.bert.forward, autocast)
    return m


def build(model: nn.Module, candidate: str, tokenizer=None, inplace: bool = False) -> nn.Module:
    """The serving model for one candidate name (LABELS)."""
    if candidate == "fp32":
        return model.cpu().eval()
    if candidate in ("bf16", "bf16-autocast"):
        return to_bf16(model, autocast=candidate == "bf16-autocast", inplace=inplace)
    if candidate.startswith("int8-"):
        return quantize_int8(model, inplace, kernel=candidate.removeprefix("int8-"), tokenizer=tokenizer)
    raise ValueError(f"unknown precision candidate {candidate!r}")


def candidates(has_bf16: bool) -> list[str]:
    """What auto measures on this CPU: fp32 always, bf16 only with fast bf16, every int8 kernel torch has."""
    return ["fp32", *(["bf16", "bf16-autocast"] if has_bf16 else []),
            *(f"int8-{k}" for k in INT8_KERNELS if kernel_available(k))]


def probe_task(model: nn.Module) -> str:
    """The task whose labels and embeddings the probe compares: the one with layers of its own (sentiment), else
    the first one-sentence classification task (SST-5 is always one)."""
    own = getattr(model, "own_layers_task", None)
    return own or next(k for k, t in model.tasks.items() if t.kind == "sentence_classes")


@torch.inference_mode()
def _probe_pass(model: nn.Module, batches: list[dict], lock=None) -> tuple[list[float], torch.Tensor, torch.Tensor]:
    """(seconds per batch, SST labels (N,), sentiment-path embeddings (N, H)) over the probe batches; `lock`, if
    given, is held for each batch (a serving app's requests then wait for one batch, never share its cores)."""
    times, labels, embs = [], [], []
    key = probe_task(model)
    for b in batches:
        with lock or nullcontext():
            t = time.perf_counter()
            e = model.embed(**b, task=key)  # (32, H)
            labels.append(model.head(key)(e)["logits"].argmax(-1))
            times.append(time.perf_counter() - t)
        embs.append(e)
    return times, torch.cat(labels), torch.cat(embs).float()


@torch.inference_mode()
def _shared_embeddings(model: nn.Module, batches: list[dict], lock=None) -> torch.Tensor:
    out = []
    for b in batches:
        with lock or nullcontext():
            out.append(model.embed(**b).float())
    return torch.cat(out)  # (N, H): the pair tasks' encoder path


def probe_batches(tokenizer) -> list[dict]:
    return [tokenizer(PROBE[i:i + PROBE_BATCH], max_length=128).model_inputs() for i in range(0, len(PROBE), PROBE_BATCH)]


def measure(models: dict[str, nn.Module], batches: list[dict], lock=None) -> dict[str, Measurement]:
    """Time every model over the probe (after one warm-up batch) and compare its labels and embeddings with
    models["fp32"]'s; then ROUNDS - 1 more passes, alternating, for fp32 and the eligible ones only (the others
    can never be chosen). A model's time is the sum over batches of each batch's fastest pass: robust to
    another process taking the cores for a moment. `lock` is held batch by batch (see _probe_pass)."""
    for m in models.values():
        _probe_pass(m, batches[:1], lock)  # oneDNN builds its kernels on first use
    times, outputs, out = {k: [] for k in models}, {}, {}
    for name, m in models.items():
        t, labels, emb = _probe_pass(m, batches, lock)
        times[name].append(t)
        outputs[name] = (labels, emb, _shared_embeddings(m, batches, lock))
    ref = outputs["fp32"]
    for name, (labels, emb, shared) in outputs.items():
        cos = torch.cat([F.cosine_similarity(emb, ref[1]), F.cosine_similarity(shared, ref[2])])
        out[name] = Measurement(0.0, float((labels == ref[0]).float().mean()), float(cos.min()))
    timed = [k for k in models if k == "fp32" or eligible(out[k])]
    for _ in range(ROUNDS - 1):
        for name in timed:
            times[name].append(_probe_pass(models[name], batches, lock)[0])
    for name, m in out.items():
        m.seconds = sum(min(batch) for batch in zip(*times[name]))
    return out


def eligible(m: Measurement) -> bool:
    return m.agreement >= MIN_AGREEMENT and m.cosine_min >= MIN_COSINE


def choose(measured: dict[str, Measurement], bf16_note: str = "") -> tuple[str, str]:
    """(candidate, one-line reason). Candidates are taken in candidates()' order, simplest first (fp32, bf16
    weights, bf16 autocast, int8); an eligible one replaces the choice so far only if it is MIN_SPEEDUP times
    faster, so timing noise between near-equal candidates (bf16 weights and autocast) never flips the choice."""
    fp32 = measured["fp32"].seconds
    best = "fp32"
    for k, m in measured.items():
        if k != "fp32" and eligible(m) and measured[best].seconds / m.seconds >= MIN_SPEEDUP:
            best = k

    def status(k: str, m: Measurement) -> str:
        why = (f"labels {m.agreement:.1%} < {MIN_AGREEMENT:.0%}" if m.agreement < MIN_AGREEMENT else
               f"cosine {m.cosine_min:.4f} < {MIN_COSINE}" if m.cosine_min < MIN_COSINE else "eligible")
        return f"{LABELS[k]} {fp32 / m.seconds:.2f}x {why}"
    m = measured[best]
    head = (f"auto: {LABELS[best]}" + ("" if best == "fp32" else
            f", {fp32 / m.seconds:.2f}x fp32, SST labels agree {m.agreement:.1%}, min cosine {m.cosine_min:.5f}"))
    others = "; ".join(status(k, v) for k, v in measured.items() if k not in ("fp32", best))
    return best, (f"{head} (probe: {len(PROBE)} sentences, batch {PROBE_BATCH}"
                  + (f"; {others}" if others else "") + (f"; bf16 not measured: {bf16_note}" if bf16_note else "") + ")")


def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "minbert" / "precision.json"


def cache_key(checkpoint_sha: str) -> str:
    return f"{cpu_info()[0]} | torch {torch.__version__} | {torch.get_num_threads()} threads | {checkpoint_sha}"


def _read_cache() -> dict:
    import json
    try:
        data = json.loads(cache_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: measure again and rewrite it


def _write_cache(key: str, entry: dict) -> None:
    data = {k: v for k, v in _read_cache().items() if k != key and isinstance(v, dict)}
    data[key] = entry
    keep = sorted(data, key=lambda k: str(data[k].get("measured_at", "")))[-CACHE_KEEP:]
    try:
        atomic_write_json(cache_file(), {k: data[k] for k in keep})
    except OSError as e:  # a read-only home still serves; it measures again next time
        print(f"note: could not cache the precision choice in {cache_file()}: {e}", file=sys.stderr)


@dataclass
class Cached:
    choice: str  # the candidate (LABELS)
    reason: str  # choose()'s line, with when it was measured
    cpu_share: float  # the measurement's share of its threads' CPU time (< MIN_CPU_SHARE: made under load)

    @property
    def under_load(self) -> bool:
        return self.cpu_share < MIN_CPU_SHARE


def cached_choice(checkpoint_sha: str | None) -> Cached | None:
    """This CPU's cached choice for the checkpoint, if there is one this CPU can serve."""
    hit = _read_cache().get(cache_key(checkpoint_sha)) if checkpoint_sha else None
    if not (isinstance(hit, dict) and hit.get("choice") in LABELS):
        return None
    if hit["choice"].startswith("bf16") and not fast_bf16()[0]:
        return None
    # entries from before the share was recorded were only written when measured with the cores to themselves
    return Cached(hit["choice"], f"{hit['reason']} [cached {hit.get('measured_at', '?')}]",
                  float(hit.get("cpu_share", 1.0)))


def choose_auto(model: nn.Module, tokenizer, checkpoint_sha: str | None, lock=None,
                remeasure: bool = False) -> tuple[str, str, nn.Module | None]:
    """(candidate, reason, its model if built while measuring): from the cache, else measured and cached.
    remeasure: measure even if cached; the cached choice stays (and is returned) if it was measured with more of
    the CPU than this measurement got. `lock` is held batch by batch while measuring."""
    key = cache_key(checkpoint_sha) if checkpoint_sha else None
    hit = cached_choice(checkpoint_sha)
    if hit and not remeasure:
        return hit.choice, hit.reason, None
    has_bf16, bf16_why = fast_bf16()
    models = {}
    for name in candidates(has_bf16):
        try:
            models[name] = build(model, name, tokenizer)
        except (RuntimeError, NotImplementedError) as e:  # a kernel this torch build lacks: not a candidate
            print(f"note: precision {name} unavailable here: {e}", file=sys.stderr)
    wall, cpu = time.perf_counter(), time.process_time()
    measured = measure(models, probe_batches(tokenizer), lock)
    share = (time.process_time() - cpu) / ((time.perf_counter() - wall) * torch.get_num_threads())
    choice, reason = choose(measured, "" if has_bf16 else bf16_why)
    if hit and share < hit.cpu_share:  # the cached one was measured in calmer conditions: it stands
        return hit.choice, hit.reason, None
    if share < MIN_CPU_SHARE:  # other processes had the cores: cached all the same, and measured again later
        reason += f" [measured under load: this process had {share:.0%} of its threads' time]"
    if key:
        _write_cache(key, {"choice": choice, "reason": reason, "cpu_share": round(share, 3),
                           "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    return choice, reason, models[choice]


def apply_precision(model: nn.Module, precision: str, tokenizer=None, checkpoint_sha: str | None = None,
                    inplace: bool = False) -> nn.Module:
    """The model to serve at `precision` (a copy unless inplace; fp32 serves `model` itself). Its
    `precision` attribute is the candidate served, `precision_note` the one line describe() returns."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    tokenizer = tokenizer or _default_tokenizer()
    if precision == "auto":
        choice, note, built = choose_auto(model, tokenizer, checkpoint_sha)
        served = built if built is not None else build(model, choice, tokenizer, inplace)
    elif precision == "int8":
        served = quantize_int8(model, inplace, tokenizer=tokenizer)
        choice, note = ("fp32" if served.int8_kernel == "fp32" else f"int8-{served.int8_kernel}"), served.int8_note
    else:
        choice = precision
        served = build(model, choice, tokenizer, inplace)
        has, why = fast_bf16()
        note = LABELS[choice] + ("" if choice == "fp32" or has else f" (this CPU has no fast bf16: {why}; "
                                                                      "expect it slower than fp32)")
    served.precision, served.precision_note = choice, note
    return served


def serve_as(model: nn.Module, candidate: str, note: str, tokenizer=None, inplace: bool = False) -> nn.Module:
    """`model` served as a candidate chosen elsewhere (by rank 0 under torchrun), with that choice's note."""
    served = build(model, candidate, tokenizer, inplace)
    served.precision, served.precision_note = candidate, note
    return served


def describe(model: nn.Module) -> str:
    """One line on how `model` is served: the precision and, for auto and int8, why."""
    return getattr(model, "precision_note", None) or getattr(model, "int8_note", "fp32")


def headline(model: nn.Module) -> str:
    """A few words on how `model` is served (describe() gives the whole line)."""
    label = LABELS.get(getattr(model, "precision", "fp32"), "fp32")
    return label + (", chosen by measurement (auto)" if describe(model).startswith("auto") else "")


def _default_tokenizer():
    from minbert.tokenizer import Tokenizer
    return Tokenizer.from_pretrained()


def add_arguments(ap, default: str) -> None:
    """--precision, with this command's default."""
    ap.add_argument("--precision", choices=PRECISIONS, default=default, help=f"{PRECISION_HELP} (default: {default})")
