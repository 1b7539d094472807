"""Which encoder Linears cost PT2E static int8 its fidelity: variants of bench/pt2e_int8.py against fp32.

Each variant is exported, quantized with X86InductorQuantizer's static config, calibrated on the 300 sentences
bench/peers.py calibrates on, and run eagerly (the numerics inductor compiles, not its speed) over the first N
sentences of ids-sst-train.csv; against our fp32 sentiment path (equal to sentence-transformers fp32 of
the export to 1e-5 in bench/peers.py): embedding cosine mean and min, and SST label agreement, with the gate of
`--precision auto`. "int8 share" is the share of the encoder's Linear FLOPs left in int8.
    python -m bench.pt2e_sensitivity [--n 512]
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

from minbert.checkpoint import load_checkpoint
from minbert.serve import precision as P

from bench import machine
from bench.peers import MAX_LENGTH, sst_sentences
from bench.pt2e_int8 import SentimentEmbedder, calibration_batches, ffn_out, quantized


def ffn(name: str) -> bool:
    return ffn_out(name) or ".intermediate." in name


VARIANTS = {  # name: (keep_fp32, SmoothQuant alpha, int8 share of the Linear FLOPs: attention 1/3, FFN 2/3)
    "every Linear int8": (lambda n: False, 0.0, 1.0),
    "FFN output Linear fp32": (ffn_out, 0.0, 2 / 3),
    "FFN fp32 (attention Linears int8)": (ffn, 0.0, 1 / 3),
    "SmoothQuant 0.7": (lambda n: False, 0.7, 1.0),
    "SmoothQuant 0.7, FFN output fp32": (ffn_out, 0.7, 2 / 3),
    "SmoothQuant 0.5, FFN output fp32": (ffn_out, 0.5, 2 / 3),
}


@torch.no_grad()
def embed(module, batches) -> torch.Tensor:
    return torch.cat([module(**b) for b in batches])  # (N, H)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="SST train sentences compared")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint (stem)")
    a = ap.parse_args(argv)
    print(machine.describe())
    data = sst_sentences(a.n)
    if isinstance(data, str):
        print(data)
        return 0
    examples, calibration = data
    ck = load_checkpoint(a.checkpoint)
    model, tok = ck.model.eval(), ck.tokenizer
    batches = calibration_batches(tok, [e.text for e in examples], MAX_LENGTH)  # length-sorted; static scales
    # make each sentence's output independent of its batch, so the batch size does not matter here
    ref = embed(SentimentEmbedder(model).eval(), batches)
    ref_labels = model.sst(ref)["logits"].argmax(-1)
    print(f"{a.n} sentences, static int8 calibrated on {len(calibration)} others; against our fp32 sentiment path")
    print("| variant | int8 share | cosine mean / min | SST labels agree | gate |\n|---|---|---|---|---|")
    for name, (keep, alpha, share) in VARIANTS.items():
        q = quantized(model, tok, calibration, smooth_alpha=alpha, keep_fp32=keep, max_length=MAX_LENGTH)
        e = embed(q, batches)
        cos = F.cosine_similarity(e, ref, dim=-1)
        agree = float((model.sst(e)["logits"].argmax(-1) == ref_labels).float().mean())
        ok = cos.min() >= P.MIN_COSINE and agree >= P.MIN_AGREEMENT
        gate = "pass" if ok else "fail"
        print(f"| {name} | {share:.0%} | {cos.mean():.5f} / {cos.min():.5f} | {agree:.2%} | {gate} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
