"""Sentence embeddings three ways: our encoder fp32, our encoder int8, sentence-transformers.

Same >= 5,000 real sentences, same base weights (all-MiniLM-L6-v2), same thread count, same batch size,
alternating timed runs; prints sentences/s and ratios, then the change in every dev metric that int8
quantization causes on the shipped checkpoint.
    python -m bench.encode_vs_st [--n 5000] [--repeats 3]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from minbert import BertModel, Tokenizer
from minbert.checkpoint import load_checkpoint
from minbert.data import bucket_batches, load_tasks
from minbert.evaluate import evaluate_model
from minbert.multitask import pool
from minbert.pretrained import default_model_dir
from minbert.quantize import quantize_int8

from .encoder import real_sentences


@torch.inference_mode()
def ours(model, tok, texts, batch_size) -> torch.Tensor:
    """Length-sorted batches, mean pooling, L2 normalisation: what SentenceTransformer.encode does."""
    order = [i for b in bucket_batches(tok.token_lengths(texts), batch_size, False) for i in b]
    out = torch.empty(len(texts), model.config.hidden_size)
    for j in range(0, len(order), batch_size):
        idx = order[j:j + batch_size]
        enc = tok([texts[i] for i in idx], max_length=256)
        h = model(**enc.model_inputs()).last_hidden_state
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
    int8 = quantize_int8(fp32)
    st = SentenceTransformer(str(default_model_dir()), device="cpu")
    runs = {"minbert fp32": lambda: ours(fp32, tok, texts, args.batch_size),
            "minbert int8": lambda: ours(int8, tok, texts, args.batch_size),
            "sentence-transformers": lambda: st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)}
    for fn in runs.values():  # warm-up
        fn()
    times = {k: [] for k in runs}
    for _ in range(args.repeats):
        for k, fn in runs.items():
            times[k].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.n} real sentences, batch {args.batch_size}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for k, t in med.items():
        print(f"{k:22s}: {args.n / t:8.1f} sentences/s (median of {args.repeats})")
    for k in ("minbert fp32", "minbert int8"):
        r = [s / o for o, s in zip(times[k], times["sentence-transformers"])]
        target = 1.0 if "fp32" in k else 1.5
        print(f"{k} / sentence-transformers speed: median {statistics.median(r):.3f}x "
              f"(min {min(r):.3f}, max {max(r):.3f}); target >= {target}")
    cos = (ours(fp32, tok, texts[:500], 64) * ours(int8, tok, texts[:500], 64)).sum(-1)
    print(f"int8 vs fp32 embedding cosine on 500 sentences: mean {cos.mean():.4f}, min {cos.min():.4f}")


def metric_deltas(checkpoint: str) -> None:
    ck = load_checkpoint(checkpoint)
    data = load_tasks()
    splits = {"sst": data.sst_dev, "para": data.para_dev, "sts": data.sts_dev}
    m32, o32 = evaluate_model(ck.model, ck.tokenizer, splits)
    m8, o8 = evaluate_model(quantize_int8(ck.model), ck.tokenizer, splits)
    print(f"\ndev metrics of {checkpoint}, fp32 -> int8 (target: every |delta| <= 0.01):")
    for k in ("sst_acc", "para_acc", "para_f1", "sts_pearson", "sts_spearman", "overall"):
        print(f"  {k:13s} {m32[k]:.4f} -> {m8[k]:.4f}  (delta {m8[k] - m32[k]:+.4f})")
    for t in ("sst", "para"):
        agree = (o32[t]["pred"] == o8[t]["pred"]).mean()
        print(f"  {t} dev predictions identical in fp32 and int8: {agree:.2%}" + (" (target >= 97%)" if t == "sst" else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="number of real sentences (>= 5000 for the target)")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per batch, all three ways")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per way")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint for the int8 metric deltas")
    ap.add_argument("--skip-metrics", action="store_true", help="only the speed comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    speed(args)
    if not args.skip_metrics:
        metric_deltas(args.checkpoint)


if __name__ == "__main__":
    main()
