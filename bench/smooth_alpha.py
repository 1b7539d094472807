"""SmoothQuant strength for the fbgemm int8 kernel: how often int8 keeps each checkpoint's fp32 SST class.

For every alpha and checkpoint, the share of SST dev sentences whose predicted class under fbgemm int8 equals
the fp32 one (the reference, run in the same invocation); the target is >= 97% (tests/test_quantize.py).
    python -m bench.smooth_alpha [--alphas 0.5,0.6,0.7,0.8] [--checkpoints checkpoints/minbert-multitask,...]
"""
import argparse

from minbert.cli import add_threads, apply_threads
from minbert.checkpoint import load_checkpoint
from minbert.data import load_tasks
from minbert.serve.quantize import SMOOTH_ALPHA, kernel_available, quantize_int8
from minbert.evaluate.inference import predict

from bench import machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.smooth_alpha", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alphas", default="0.5,0.6,0.7,0.8", help="comma-separated SmoothQuant strengths to try")
    ap.add_argument("--checkpoints", default="checkpoints/minbert-multitask", help="comma-separated checkpoints")
    add_threads(ap)
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    print(machine.describe())
    if not kernel_available("fbgemm"):
        print("fbgemm is not available on this CPU: nothing to measure")
        return 0
    dev = load_tasks().dev["sst"]
    print(f"SST dev predictions identical in fp32 and fbgemm int8 ({len(dev)} sentences; default alpha {SMOOTH_ALPHA}):")
    for path in a.checkpoints.split(","):
        ckpt = load_checkpoint(path)
        fp32 = predict(ckpt.model, "sst", dev, ckpt.tokenizer)["pred"]
        for alpha in (float(x) for x in a.alphas.split(",")):
            q = quantize_int8(ckpt.model, kernel="fbgemm", tokenizer=ckpt.tokenizer, smooth_alpha=alpha)
            agree = float((fp32 == predict(q, "sst", dev, ckpt.tokenizer)["pred"]).mean())
            print(f"  {path}  alpha {alpha:.2f}: {agree:.2%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
