"""Roofline: the encoder's achieved GFLOP/s in each precision against that precision's GEMM ceiling here.

Ceilings are measured in the same run, on the encoder's own GEMM shapes (the Linears' (B*T, H) x (H, H),
(H, 4H) and (4H, H) at the real batches' token counts): fp32 and bf16 with F.linear, int8 with torch._int_mm
(where torch has it), best of several timed calls. The encoder (the served sentiment path of the checkpoint)
then runs over the same real sentences, batch 32, in every precision, alternating; its FLOPs are counted
from the shapes (the Linears, plus QK^T and PV of attention; LayerNorm/GELU/softmax are not counted, so the
achieved rate is a slight underestimate). Last, which precision `--precision auto` serves here and how far
from that precision's ceiling it runs.
    python -m bench.roofline [--n 512] [--repeats 3] [--checkpoint checkpoints/minbert-multitask]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from minbert.cli import add_threads, apply_threads
from minbert.checkpoint import load_checkpoint
from minbert.data.batching import bucket_batches
from minbert.serve import precision as P

from bench.encoder import real_sentences
from bench import machine


def encoder_flops(B: int, T: int, H: int, inter: int, layers: int) -> float:
    """Multiply-adds x 2 of one forward over a (B, T) batch: 4 H x H Linears, the FFN, QK^T and PV."""
    linear = 2 * B * T * (4 * H * H + 2 * H * inter)
    attention = 2 * 2 * B * T * T * H  # (T, d) x (d, T) and (T, T) x (T, d) for every head: 2 B T^2 H each
    return layers * (linear + attention)


def gemm_shapes(tokens: int, H: int, inter: int) -> list[tuple[int, int, int]]:
    return [(tokens, H, H), (tokens, H, inter), (tokens, inter, H)]  # (M, K, N)


@torch.inference_mode()
def gemm_rate(kind: str, M: int, K: int, N: int, repeats: int) -> float:
    """Best GFLOP/s (GOP/s for int8) of `repeats` timed calls after two warm-ups; 0 where the kernel fails."""
    torch.manual_seed(0)
    if kind == "int8":
        a, b = torch.randint(-127, 127, (M, K), dtype=torch.int8), torch.randint(-127, 127, (K, N), dtype=torch.int8)
        fn = lambda: torch._int_mm(a, b)  # noqa: E731
    else:
        dt = torch.float32 if kind == "fp32" else torch.bfloat16
        x, w = torch.randn(M, K, dtype=dt), torch.randn(N, K, dtype=dt)
        fn = lambda: F.linear(x, w)  # noqa: E731
    try:
        fn(), fn()
    except (RuntimeError, NotImplementedError):
        return 0.0
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return 2 * M * K * N / best / 1e9


@torch.inference_mode()
def run_encoder(model, batches) -> float:
    t = time.perf_counter()
    for b in batches:
        model.sst(model.embed(**b, task="sst"))
    return time.perf_counter() - t


def ceilings(tokens: int, H: int, inter: int) -> dict[str, float]:
    """Best GEMM rate per precision torch has here, over the encoder's three Linear shapes."""
    kinds = ["fp32", "bf16"] + (["int8"] if hasattr(torch, "_int_mm") else [])
    out = {k: max(gemm_rate(k, M, K, N, 10) for M, K, N in gemm_shapes(tokens, H, inter)) for k in kinds}
    has_bf16, why = P.fast_bf16()
    print(f"GEMM ceilings on the encoder's shapes (M = {tokens} tokens = median batch, K/N in {{{H}, {inter}}}); "
          f"fast bf16: {'yes' if has_bf16 else 'no'} ({why})")
    for k, r in out.items():
        print(f"  {k:5s}: {r:8.0f} G{'OP' if k == 'int8' else 'FLOP'}/s  ({r / out['fp32']:.2f}x fp32)")
    return out


def encoder_times(models: dict, batches: list[dict], repeats: int) -> dict[str, list[float]]:
    for m in models.values():
        run_encoder(m, batches[:2])  # warm-up
    times = {n: [] for n in models}
    for _ in range(repeats):
        for n, m in models.items():
            times[n].append(run_encoder(m, batches))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="real sentences run through the encoder")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per precision (median counts)")
    add_threads(ap)
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint (stem)")
    args = ap.parse_args()
    apply_threads(args.threads)
    print(machine.describe())
    ck = load_checkpoint(args.checkpoint)
    cfg = ck.model.bert.config
    H, inter, L = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    texts = real_sentences(args.n)
    batches = [ck.tokenizer([texts[i] for i in idx], max_length=128).model_inputs()
               for idx in bucket_batches(ck.tokenizer.token_lengths(texts), args.batch_size, False)]
    flops = sum(encoder_flops(*b["input_ids"].shape, H, inter, L) for b in batches)
    ceiling = ceilings(int(statistics.median(b["input_ids"].numel() for b in batches)), H, inter)
    served = P.apply_precision(ck.model, "auto", ck.tokenizer, ck.meta["weights_sha256"])
    names = ["fp32", "bf16", "bf16-autocast"] + [f"int8-{k}" for k in P.INT8_KERNELS if P.kernel_available(k)]
    models = {n: (served if n == served.precision else P.build(ck.model, n, ck.tokenizer)) for n in names}
    times = encoder_times(models, batches, args.repeats)
    print(f"encoder over {args.n} real sentences, batch {args.batch_size}, {flops / 1e9:.1f} GFLOP counted, "
          f"median of {args.repeats} alternating runs:")
    for n, ts in times.items():
        kind = n.split("-")[0]
        rate = flops / statistics.median(ts) / 1e9
        print(f"  {P.LABELS[n]:24s}: {args.n / statistics.median(ts):7.1f} sentences/s, {rate:7.0f} GFLOP/s = "
              f"{rate / ceiling[kind]:6.1%} of the {kind} GEMM ceiling" + ("  <- auto" if n == served.precision else ""))
    kind = served.precision.split("-")[0]
    rate = flops / statistics.median(times[served.precision]) / 1e9
    print(f"--precision auto here: {P.describe(served)}")
    print(f"auto serves {P.LABELS[served.precision]} at {rate:.0f} GFLOP/s, {rate / ceiling[kind]:.1%} of the {kind} "
          f"ceiling ({ceiling[kind]:.0f}); {rate / ceiling['fp32']:.2f}x the fp32 ceiling")


if __name__ == "__main__":
    main()
