"""Sentence embeddings: our encoder in fp32, bf16 and int8 (each int8 kernel this CPU has) against
sentence-transformers in fp32 and in bf16 (weights cast with .to(torch.bfloat16), as ours), so each precision
is compared with its like.

Same >= 5,000 real sentences, same base weights (all-MiniLM-L6-v2), same thread count, same batch size,
alternating timed runs; prints the machine, the kernel `--precision int8` would choose here, sentences/s and
ratios, then the change in every dev metric that bf16 and each int8 kernel cause on the shipped checkpoint.
    python -m bench.encode_vs_st [--n 5000] [--repeats 3]
"""
import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from minbert.cli import add_threads, apply_threads
from minbert import BertModel, Tokenizer
from minbert.checkpoint import load_checkpoint
from minbert.data import load_tasks
from minbert.data.batching import bucket_batches
from minbert.evaluate import evaluate_model
from minbert.multitask import pool
from minbert.pretrained import default_model_dir
from minbert.tasks import TASK_KEYS
from minbert.serve.precision import fast_bf16, to_bf16
from minbert.serve.quantize import INT8_KERNELS, kernel_available, quantize_int8

from bench.encoder import real_sentences
from bench import machine


@torch.inference_mode()
def ours(model, tok, texts, batch_size) -> torch.Tensor:
    """Length-sorted batches, mean pooling, L2 normalisation: what SentenceTransformer.encode does."""
    order = [i for b in bucket_batches(tok.token_lengths(texts), batch_size, False) for i in b]
    out = torch.empty(len(texts), model.config.hidden_size)
    for j in range(0, len(order), batch_size):
        idx = order[j:j + batch_size]
        enc = tok([texts[i] for i in idx], max_length=256)
        h = model(**enc.model_inputs()).last_hidden_state.float()  # (B, T, H); bf16 models hand back bf16
        out[idx] = F.normalize(pool(h, enc.attention_mask, "mean"), dim=-1)
    return out


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def speed(args) -> None:
    from sentence_transformers import SentenceTransformer  # benchmark reference only
    texts = real_sentences(args.n)
    tok = Tokenizer.from_pretrained()
    fp32 = BertModel.from_pretrained().eval()
    print(f"--precision int8 here: {quantize_int8(fp32, tokenizer=tok).int8_note}")
    has, why = fast_bf16()
    print(f"fast bf16 on this CPU: {'yes' if has else 'no (bf16 is emulated, expect it slow)'} ({why})")
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    int8 = {k: quantize_int8(fp32, kernel=k, tokenizer=tok) for k in INT8_KERNELS if kernel_available(k)}
    st = SentenceTransformer(str(default_model_dir()), device="cpu")
    st16 = copy.deepcopy(st).to(torch.bfloat16)
    runs = {"minbert fp32": lambda: ours(fp32, tok, texts, args.batch_size),
            "minbert bf16": lambda: ours(bf16, tok, texts, args.batch_size),
            **{f"minbert int8 {k}": (lambda m=m: ours(m, tok, texts, args.batch_size)) for k, m in int8.items()},
            "sentence-transformers fp32": lambda: st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True),
            "sentence-transformers bf16": lambda: st16.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)}
    for fn in runs.values():  # warm-up
        fn()
    times = {k: [] for k in runs}
    for _ in range(args.repeats):
        for k, fn in runs.items():
            times[k].append(timed(fn))
    report(times, len(texts), args)
    ref = ours(fp32, tok, texts[:500], 64)
    for k, m in {"bf16": bf16, **{f"int8 {k}": m for k, m in int8.items()}}.items():
        cos = (ref * ours(m, tok, texts[:500], 64)).sum(-1)
        print(f"{k} vs fp32 embedding cosine on 500 sentences: mean {cos.mean():.5f}, min {cos.min():.5f}")


def report(times: dict[str, list[float]], n: int, args) -> None:
    """sentences/s per way, then ours against sentence-transformers at the same precision and against fp32."""
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} real sentences, batch {args.batch_size}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for k, t in med.items():
        print(f"{k:27s}: {n / t:8.1f} sentences/s (median of {args.repeats})")
    for k in [k for k in times if k.startswith("minbert")]:
        ref = "sentence-transformers bf16" if k.endswith("bf16") else "sentence-transformers fp32"
        r = [s / o for o, s in zip(times[k], times[ref])]
        f = [s / o for o, s in zip(times[k], times["minbert fp32"])]
        print(f"{k:20s} / {ref}: median {statistics.median(r):.3f}x (min {min(r):.3f}, max {max(r):.3f})"
              f" · / minbert fp32: median {statistics.median(f):.3f}x")
    r = [a / b for a, b in zip(times["sentence-transformers fp32"], times["sentence-transformers bf16"])]
    print(f"sentence-transformers bf16 / its fp32: median {statistics.median(r):.3f}x")


def metric_deltas(checkpoint: str) -> None:
    ck = load_checkpoint(checkpoint)
    data = load_tasks()
    splits = {k: data.dev[k] for k in TASK_KEYS}
    m32, o32 = evaluate_model(ck.model, ck.tokenizer, splits)
    ways = {"bf16": lambda: to_bf16(ck.model),
            **{f"int8 kernel {k}": (lambda k=k: quantize_int8(ck.model, kernel=k, tokenizer=ck.tokenizer))
               for k in INT8_KERNELS if kernel_available(k)}}
    for way, build in ways.items():
        m8, o8 = evaluate_model(build(), ck.tokenizer, splits)
        print(f"\ndev metrics of {checkpoint}, fp32 -> {way} (target: every |delta| <= 0.01):")
        for k in ("sst_acc", "para_acc", "para_f1", "sts_pearson", "sts_spearman", "overall"):
            print(f"  {k:13s} {m32[k]:.4f} -> {m8[k]:.4f}  (delta {m8[k] - m32[k]:+.4f})")
        for t in ("sst", "para"):
            agree = (o32[t]["pred"] == o8[t]["pred"]).mean()
            print(f"  {t} dev predictions identical in fp32 and {way}: {agree:.2%}"
                  + (" (target >= 97% for int8, >= 99% for bf16)" if t == "sst" else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="number of real sentences (>= 5000 for the target)")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per batch, all three ways")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per way")
    add_threads(ap)
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint for the bf16/int8 metric deltas")
    ap.add_argument("--skip-metrics", action="store_true", help="only the speed comparison")
    args = ap.parse_args()
    apply_threads(args.threads)
    print(machine.describe())
    speed(args)
    if not args.skip_metrics:
        metric_deltas(args.checkpoint)


if __name__ == "__main__":
    main()
