"""Where the tasks pull the shared encoder apart: the cosine between the tasks' loss gradients, layer by layer.

    python -m analysis.interference --checkpoint checkpoints/minbert-multitask [--examples 1024] [--no-store]

For each task of the checkpoint, the gradient of its head's own training loss (dropout off, the weights as given) over a seeded
sample of its training examples, for every shared encoder weight. Per layer (embeddings, layers 1..L, all):
  - cos(g_a, g_b) for each pair of tasks: below 0, a step for one task undoes part of a step for the other
    (gradient conflict; Yu et al., 2020, "Gradient Surgery for Multi-Task Learning");
  - the noise reference: cos between the gradients of the two halves of one task's own sample. A cross-task
    cosine is only meaningful against it: two unrelated directions give about 0, and even one task's two halves
    agree only this far;
  - each task's gradient norm, so one can see which task dominates a layer.
Sentiment's private layers (--sst-layers) are trained by it alone, so they are not counted.
The result goes into the checkpoint's precomputed dev results (NAME.dev.json, key "interference").
"""
from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
import time
from dataclasses import dataclass

import torch

from minbert.cli import add_data_dir, add_threads, apply_threads, fail
from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.data import DataError, load_tasks
from minbert.data.batching import bucket_batches
from minbert.multitask import MultitaskModel
from minbert.data.batching import example_lengths, make_batch
from analysis.results import store_analysis


@dataclass
class InterferenceConfig:
    checkpoint: str = "checkpoints/minbert-multitask"
    data_dir: str | None = None  # None: $MINBERT_DATA, ./data, then the user cache
    examples: int = 1024  # training examples (sentences or pairs) per task, split into two halves for the noise reference
    batch_size: int = 32  # as in training: CoSENT ranks the pairs within a batch
    max_length: int = 128  # tokens per sentence, as in training
    seed: int = 0  # the sample
    threads: int = 0  # torch intra-op threads (0: torch's default)
    store: bool = True  # write into the checkpoint's dev results


def layer_of(name: str) -> str | None:
    """The shared encoder layer a parameter belongs to ("embeddings", "layer 1".."layer L"); None for the
    pooler, the heads and sentiment's private layers."""
    if name.startswith("bert.embeddings."):
        return "embeddings"
    m = re.match(r"bert\.encoder\.layer\.(\d+)\.", name)
    return f"layer {int(m.group(1)) + 1}" if m else None


def layer_names(model: MultitaskModel) -> list[str]:
    return ["embeddings"] + [f"layer {i + 1}" for i in range(len(model.bert.encoder.layer))]


def gradient(model: MultitaskModel, tok, task: str, examples: list, cfg: InterferenceConfig) -> dict[str, torch.Tensor]:
    """The task's mean batch loss gradient over `examples`, flattened per shared layer: layer -> (n_params,)."""
    params = [(layer_of(n), p) for n, p in model.named_parameters() if layer_of(n)]
    sums = {name: torch.zeros(sum(p.numel() for l, p in params if l == name)) for name in layer_names(model)}
    t = model.tasks[task]
    batches = bucket_batches(example_lengths(t, examples, tok), cfg.batch_size, shuffle=False)
    for idx in batches:
        b = make_batch(t, examples, idx, tok, cfg.max_length)
        loss = model.head(task).loss(model.run_task(task, **b.inputs), b.labels)
        grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
        for name in sums:
            sums[name] += torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                     for (l, p), g in zip(params, grads) if l == name])
    return {name: s / len(batches) for name, s in sums.items()}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """None where a gradient is exactly zero: the task does not reach that layer (sentiment's private ones)."""
    na, nb = a.double().norm(), b.double().norm()
    return None if na == 0 or nb == 0 else round(float((a.double() @ b.double()) / (na * nb)), 4)


def with_all(g: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {**g, "all": torch.cat(list(g.values()))}


def summarise(halves: dict[str, tuple[dict, dict]]) -> dict:
    """Per layer: cross-task cosines of the whole-sample gradients, each task's split-half cosine and norm."""
    full = {t: with_all({k: (a[k] + b[k]) / 2 for k in a}) for t, (a, b) in halves.items()}
    split = {t: (with_all(a), with_all(b)) for t, (a, b) in halves.items()}
    layers = list(next(iter(full.values())))
    return {"layers": layers,
            "cross": {f"{a}·{b}": [cosine(full[a][k], full[b][k]) for k in layers]
                      for a, b in itertools.combinations(halves, 2)},
            "self": {t: [cosine(x[k], y[k]) for k in layers] for t, (x, y) in split.items()},
            "norm": {t: [float(f"{float(full[t][k].norm()):.4g}") for k in layers] for t in full}}


def run(cfg: InterferenceConfig, log=print) -> dict:
    apply_threads(cfg.threads)
    ckpt = load_checkpoint(cfg.checkpoint)
    model = ckpt.model.eval().requires_grad_(False)
    if any(model.joint_input(t) for t in model.tasks):
        raise ValueError("interference needs bi-encoder pair heads (this checkpoint uses --para-head cross)")
    for key, task in model.tasks.items():
        if task.pair:
            model.head(key).train()  # the training logit (no served threshold); pair heads have no dropout
    for n, p in model.named_parameters():
        p.requires_grad_(layer_of(n) is not None)
    train = load_tasks(cfg.data_dir, tuple(model.tasks.values())).train
    t0, halves = time.time(), {}
    for t in train:
        sample = random.Random(cfg.seed).sample(train[t], min(cfg.examples, len(train[t])))
        h = len(sample) // 2
        halves[t] = (gradient(model, ckpt.tokenizer, t, sample[:h], cfg), gradient(model, ckpt.tokenizer, t, sample[h:], cfg))
        log(f"{t}: gradients of {len(sample)} training examples ({time.time() - t0:.0f} s)", flush=True)
    out = summarise(halves)
    return {"weights_sha256": ckpt.meta["weights_sha256"], **out, "examples": {t: 2 * (min(cfg.examples, len(ex)) // 2) for t, ex in train.items()},
            "private": f"sentiment's own top {model.config.sst_layers} layer(s), not shared" if model.config.sst_layers else None,
            "method": (f"mean batch-loss gradient (batches of {cfg.batch_size}, dropout off) of each task's head over "
                       f"a seeded sample of its training examples (seed {cfg.seed}), in two halves; cross = cosine of "
                       "two tasks' gradients, self = cosine of one task's two halves (the noise reference)"),
            "seconds": round(time.time() - t0, 1)}


def fmt(c: float | None) -> str:
    return "—" if c is None else f"{c:+.3f}"


def markdown(res: dict) -> str:
    head = "| layer | " + " | ".join(f"cos {p}" for p in res["cross"]) + " | " + \
        " | ".join(f"{t} halves" for t in res["self"]) + " | " + " | ".join(f"‖g {t}‖" for t in res["norm"]) + " |"
    rows = [head, "|" + "---|" * (1 + len(res["cross"]) + 2 * len(res["self"]))]
    for i, layer in enumerate(res["layers"]):
        cells = [fmt(v[i]) for v in res["cross"].values()] + [fmt(v[i]) for v in res["self"].values()] + \
            [f"{v[i]:.3g}" for v in res["norm"].values()]
        rows.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse_args(argv: list[str]) -> InterferenceConfig:
    ap = argparse.ArgumentParser(prog="python -m analysis.interference", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=InterferenceConfig.checkpoint, help="checkpoint path (stem) or run's model")
    add_data_dir(ap)
    ap.add_argument("--examples", type=int, default=InterferenceConfig.examples,
                    help="training examples per task (pairs for Quora and STS), split in two halves for the noise reference")
    ap.add_argument("--batch-size", type=int, default=InterferenceConfig.batch_size, help="examples per batch (as in training)")
    ap.add_argument("--seed", type=int, default=InterferenceConfig.seed, help="seed of the training sample")
    add_threads(ap)
    ap.add_argument("--no-store", action="store_true", help="print only; do not write into the checkpoint's dev results")
    a = ap.parse_args(argv)
    if a.examples < 2 * a.batch_size or a.batch_size < 2:
        ap.error("--examples must be at least two batches, and --batch-size at least 2 (CoSENT ranks pairs)")
    return InterferenceConfig(a.checkpoint, a.data_dir, a.examples, a.batch_size, seed=a.seed, threads=a.threads,
                              store=not a.no_store)


def main(argv=None) -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        res = run(cfg)
        print(markdown(res))
        if cfg.store:
            print(f"wrote {store_analysis(cfg.checkpoint, 'interference', res)}")
    except (CheckpointError, DataError, FileNotFoundError, ValueError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
