"""Encoder throughput: minbert.BertModel vs transformers.BertModel, same weights, same batches.

Both run fp32 inference on 2 threads over the same length-bucketed batches of real task sentences,
alternating, several times; prints sentences/s for each and the median wall-time ratio ours/HF.
    python -m bench.encoder [--n 2000] [--repeats 5]
"""
import argparse
import statistics
import time

import torch

from minbert.cli import add_threads, apply_threads
from minbert import BertModel, Tokenizer
from minbert.data import find_data_dir, read_task_file
from minbert.data.batching import bucket_batches
from minbert.pretrained import default_model_dir
from bench import machine


def real_sentences(n: int) -> list[str]:
    root = find_data_dir()
    out = []
    for name in ("ids-sst-train.csv", "sts-train.csv", "quora-dev.csv"):
        for e in read_task_file(root / name).examples:
            out += [e.text] + ([e.text2] if e.text2 else [])
    if len(out) < n:
        raise SystemExit(f"only {len(out)} sentences found, need {n}")
    return out[:n]


@torch.inference_mode()
def run(model, batches) -> float:
    t = time.perf_counter()
    for b in batches:
        model(**b)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="number of real sentences")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    ap.add_argument("--repeats", type=int, default=5, help="alternating timed runs per model")
    add_threads(ap)
    args = ap.parse_args()
    import transformers  # benchmark reference only
    apply_threads(args.threads)
    print(machine.describe())
    tok = Tokenizer.from_pretrained()
    texts = real_sentences(args.n)
    lengths = tok.token_lengths(texts)
    batches = [tok([texts[i] for i in idx]).model_inputs() for idx in bucket_batches(lengths, args.batch_size, False)]
    ours = BertModel.from_pretrained().eval()
    hf = transformers.BertModel.from_pretrained(str(default_model_dir())).eval()
    run(ours, batches[:5]), run(hf, batches[:5])  # warm-up
    t_ours, t_hf = [], []
    for _ in range(args.repeats):
        t_ours.append(run(ours, batches))
        t_hf.append(run(hf, batches))
    ratios = [a / b for a, b in zip(t_ours, t_hf)]
    print(f"{args.n} sentences, batch {args.batch_size}, {args.threads} threads, fp32, torch {torch.__version__}")
    print(f"minbert      : {args.n / statistics.median(t_ours):8.1f} sentences/s (median of {args.repeats})")
    print(f"transformers : {args.n / statistics.median(t_hf):8.1f} sentences/s (median of {args.repeats})")
    print(f"wall-time ratio ours/HF: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target <= 1.0")


if __name__ == "__main__":
    main()
