"""Which attention heads matter, per task (Michel, Levy & Neubig, 2019, "Are Sixteen Heads Really Better than One?").

    python -m analysis.head_importance --checkpoint checkpoints/minbert-multitask [--quora-pairs 2000] [--out-json F]

For each of the layers x heads attention heads, on the dev sets of every task of the checkpoint (whole, or a fixed
sample of --quora-pairs examples where a task has more, as Quora's held-out pairs do):
  - the change in each task's metric when that head alone is masked (head_mask, no monkeypatching);
  - Michel et al.'s importance: |d loss / d mask| summed over dev batches, normalised per layer (L2);
  - the metric as the least important heads are pruned together (10%, 20%, ... 90%), by the task's own
    importance order and by a random order (the control).
The result goes into the checkpoint's precomputed dev results (NAME.dev.json, key "heads"), which the app's
Attention tab reads; nothing heavy runs at app start-up.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from minbert.cli import add_checkpoint, add_data_dir, add_threads, apply_threads, fail
from minbert.atomic import atomic_write_json
from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.data import DataError, load_tasks
from minbert.data.batching import bucket_batches
from minbert.evaluate.metrics import pearson
from minbert.model import attention_bias
from minbert.multitask import MultitaskModel, pool
from minbert.data.batching import Batch, example_lengths, make_batch
from analysis.results import store_analysis

FRACTIONS = [round(0.1 * k, 1) for k in range(1, 10)]  # share of all heads pruned


@dataclass
class HeadsArgs:
    checkpoint: Path
    data_dir: str | None = None
    quora_pairs: int = 2000  # dev examples per task at most: a seeded sample beyond (Quora's 6,038 cost 3x as long)
    dev_limit: int = 0  # first N dev examples per task only (0: all); for smoke tests
    batch_size: int = 64  # sentences (or pairs) per batch
    seed: int = 0  # the dev samples and the random pruning order
    out_json: str | None = None


def dev_batches(model: MultitaskModel, tok, data, args: HeadsArgs) -> dict[str, list[Batch]]:
    """Every task's dev batches (task key -> batches), in the model's task order."""
    if any(model.joint_input(t) for t in model.tasks):
        raise ValueError("head analysis needs bi-encoder pair heads (this checkpoint uses --para-head cross)")
    dev = {t: ex if len(ex) <= args.quora_pairs else random.Random(args.seed).sample(ex, args.quora_pairs)
           for t, ex in data.dev.items()}
    if args.dev_limit:
        dev = {t: ex[:args.dev_limit] for t, ex in dev.items()}
    out = {}
    for t in dev:
        task = model.tasks[t]
        idx = bucket_batches(example_lengths(task, dev[t], tok), args.batch_size, shuffle=False)
        out[t] = [make_batch(task, dev[t], i, tok, 128) for i in idx]
    return out


def _bias(b: Batch) -> torch.Tensor:
    return attention_bias(b.inputs["attention_mask"], torch.float32)  # (B, 1, 1, T)


def embedded(model: MultitaskModel, batches: list[Batch]) -> list[torch.Tensor]:
    """Each batch's input to the first layer (B, T, H)."""
    return [model.bert.embeddings(b.inputs["input_ids"], b.inputs["token_type_ids"], None) for b in batches]


def run_layers(layers: list, x: torch.Tensor, bias: torch.Tensor, start: int, head_mask: torch.Tensor | None,
               stop: int | None = None) -> torch.Tensor:
    """Layers start..stop-1 of a task's stack (MultitaskModel.layers; default: to the top), given layer
    `start`'s input x (B, T, H)."""
    for i in range(start, len(layers) if stop is None else stop):
        x, _ = layers[i](x, bias, False, None if head_mask is None else head_mask[i])
    return x


def head_output(model: MultitaskModel, task: str, emb: torch.Tensor) -> dict[str, torch.Tensor]:
    """A task's head on sentence embeddings (B, H), or on the two halves of a pair batch's (2B, H)."""
    head = model.head(task)
    return head(*emb.chunk(2)) if model.tasks[task].pair else head(emb)


def task_metric(model: MultitaskModel, task: str, batches: list[Batch], hidden: list[torch.Tensor]) -> float:
    """The task's dev metric (accuracy, or Pearson r for a score task) from each batch's last hidden states (B, T, H)."""
    score = model.tasks[task].is_score
    preds, golds = [], []
    for b, h in zip(batches, hidden):
        out = model.head(task).predictions(head_output(model, task, pool(h, b.inputs["attention_mask"],
                                                                            model.config.pooling)))
        preds.append(out["score" if score else "pred"])
        golds.append(b.labels)
    p, g = torch.cat(preds).numpy(), torch.cat(golds).numpy()
    return float(pearson(p, g)) if score else float((p == g.astype(int)).mean())


@torch.inference_mode()
def evaluate(model, batches: dict, head_mask: torch.Tensor | None, tasks=None, start: int = 0,
             states: dict | None = None) -> dict[str, float]:
    """Metric per task (default: every task in `batches`) with this head mask; `states` (task -> per-batch
    layer-`start` inputs) skips the layers before `start`, which a mask of later layers cannot change."""
    out = {}
    for t in tasks or batches:
        xs = states[t] if states else embedded(model, batches[t])
        hidden = [run_layers(model.layers(t), x, _bias(b), start, head_mask) for b, x in zip(batches[t], xs)]
        out[t] = task_metric(model, t, batches[t], hidden)
    return out


def single_head_deltas(model, batches: dict, progress=None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The full model's metrics, and the change (masked - full) per task when each head alone is masked:
    task -> (layers, heads)."""
    L, H = len(model.bert.encoder.layer), model.bert.config.num_attention_heads
    full = evaluate(model, batches, None)
    deltas = {t: np.zeros((L, H)) for t in batches}
    with torch.inference_mode():
        states = {t: embedded(model, batches[t]) for t in batches}
        for layer in range(L):
            for h in range(H):
                mask = torch.ones(L, H)
                mask[layer, h] = 0
                m = evaluate(model, batches, mask, start=layer, states=states)
                for t in batches:
                    deltas[t][layer, h] = m[t] - full[t]
                if progress:
                    progress(layer * H + h + 1, L * H)
            states = {t: [run_layers(model.layers(t), x, _bias(b), layer, None, stop=layer + 1) for b, x in zip(batches[t], xs)]
                      for t, xs in states.items()}  # the next layer's inputs, unmasked
    return full, deltas


def mask_gradient(model: MultitaskModel, task: str, b: Batch, mask: torch.Tensor | None = None) -> torch.Tensor:
    """d loss / d head_mask (layers, heads) of one batch, at `mask` (default all ones), without dropout."""
    L, H = len(model.bert.encoder.layer), model.bert.config.num_attention_heads
    mask = (torch.ones(L, H) if mask is None else mask.clone()).requires_grad_(True)
    model.eval()
    emb = model.embed(**b.inputs, head_mask=mask, task=task)
    (g,) = torch.autograd.grad(model.head(task).loss(head_output(model, task, emb), b.labels), mask)
    return g


def importance(model: MultitaskModel, batches: dict) -> dict[str, np.ndarray]:
    """Michel et al.: sum over dev batches of |d loss / d head_mask| at the all-ones mask, each layer's row
    divided by its L2 norm (as their code does): task -> (layers, heads)."""
    out = {}
    for t in batches:
        acc = sum(mask_gradient(model, t, b).abs() for b in batches[t])  # (L, H)
        out[t] = (acc / acc.norm(dim=-1, keepdim=True).clamp_min(1e-20)).numpy()
    return out


def pruning_curves(model, batches: dict, imp: dict[str, np.ndarray], seed: int) -> dict[str, dict]:
    """Each task's metric with the least important p% of heads removed at once, and with a random p%."""
    L, H = next(iter(imp.values())).shape
    rand = np.random.default_rng(seed).permutation(L * H)
    curves = {}
    for t in imp:
        order = np.argsort(imp[t].ravel(), kind="stable")  # least important first
        res = {"fractions": FRACTIONS, "by_importance": [], "random": []}
        for f in FRACTIONS:
            k = round(f * L * H)
            for key, ord_ in (("by_importance", order), ("random", rand)):
                mask = torch.ones(L * H)
                mask[torch.from_numpy(ord_[:k].copy())] = 0
                res[key].append(evaluate(model, batches, mask.view(L, H), tasks=(t,))[t])
        curves[t] = res
    return curves


def run(args: HeadsArgs, log=print) -> dict:
    ckpt = load_checkpoint(args.checkpoint)
    model = ckpt.model.eval().requires_grad_(False)
    batches = dev_batches(model, ckpt.tokenizer, load_tasks(args.data_dir, tuple(model.tasks.values()), False), args)
    t0 = time.time()
    full, deltas = single_head_deltas(model, batches, lambda i, n: log(f"masked {i}/{n} heads ({time.time() - t0:.0f} s)",
                                                                          flush=True) if i % 12 == 0 else None)
    imp = importance(model, batches)  # gradients reach the mask only: the weights stay frozen
    curves = pruning_curves(model, batches, imp, args.seed)
    n = {t: sum(len(b.index) for b in batches[t]) for t in batches}
    metric = {t: "pearson" if model.tasks[t].is_score else "accuracy" for t in batches}
    return {"weights_sha256": ckpt.meta["weights_sha256"], "metric": metric, "examples": n, "full": full,
            "masked_delta": {t: np.round(d, 5).tolist() for t, d in deltas.items()},
            "importance": {t: np.round(v, 5).tolist() for t, v in imp.items()}, "pruning": curves,
            "method": ("dev examples: " + ", ".join(f"{model.tasks[t].name} {k}" for t, k in n.items())
                       + f" (at most {args.quora_pairs} each, a seeded sample beyond)"
                       + "; importance = per-layer L2-normalised sum over batches of |dL/d mask| "
                       "(Michel et al., 2019); pruning removes the lowest-importance heads at once"),
            "minutes": round((time.time() - t0) / 60, 1)}


def ranked(heads: dict, task: str, k: int = 3) -> tuple[list, list]:
    """(most, least) important heads of a task by the single-mask metric drop: [(layer, head, delta)]."""
    d = np.asarray(heads["masked_delta"][task])
    order = [(int(i // d.shape[1]), int(i % d.shape[1]), float(d.flat[i])) for i in np.argsort(d.ravel(), kind="stable")]
    return order[:k], order[::-1][:k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.head_importance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads(ap)
    add_checkpoint(ap)
    add_data_dir(ap)
    ap.add_argument("--quora-pairs", type=int, default=2000,
                    help="dev examples per task at most (a seeded sample beyond: Quora's held-out pairs)")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences or pairs per batch")
    ap.add_argument("--seed", type=int, default=0, help="seed of the dev samples and of the random pruning order")
    ap.add_argument("--dev-limit", type=int, default=0, help="first N dev examples per task only (0: all); smoke tests")
    ap.add_argument("--out-json", default=None, help="also write the result here (default: only into NAME.dev.json)")
    ap.add_argument("--no-store", action="store_true", help="do not write into the checkpoint's dev results")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    args = HeadsArgs(Path(a.checkpoint), a.data_dir, a.quora_pairs, a.dev_limit, a.batch_size, a.seed, a.out_json)
    try:
        heads = run(args)
        if a.out_json:
            atomic_write_json(a.out_json, heads)
        if not a.no_store:
            print(f"wrote {store_analysis(args.checkpoint, 'heads', heads)}")
    except (CheckpointError, DataError, FileNotFoundError, ValueError) as e:
        return fail(e)
    for t in heads["full"]:
        most, least = ranked(heads, t)
        half = heads["pruning"][t]["by_importance"][FRACTIONS.index(0.5)]
        print(f"{t}: full {heads['full'][t]:.4f}; 50% pruned {half:.4f}; most important (layer, head, delta) "
              f"{most}; least {least}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
