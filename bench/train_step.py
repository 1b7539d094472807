"""Training throughput: our encoder + our AdamW vs transformers.BertModel + torch.optim.AdamW.

Same weights, same length-bucketed batches of real SST sentences, same mean-pooled linear head and loss,
2 threads, alternating timed runs; prints sequences/s and the median ratio ours/HF (target >= 1.0).
    python -m bench.train_step [--steps 30] [--repeats 3]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from minbert.cli import add_threads, apply_threads
from minbert import AdamW, BertModel, Tokenizer
from minbert.data import find_data_dir, read_task_file
from minbert.data.batching import bucket_batches
from minbert.multitask import pool
from minbert.pretrained import default_model_dir
from bench import machine


def batches(n_steps: int, batch_size: int):
    tok = Tokenizer.from_pretrained()
    ex = read_task_file(find_data_dir() / "ids-sst-train.csv").examples
    idx = bucket_batches(tok.token_lengths([e.text for e in ex]), batch_size, shuffle=True, seed=0)[:n_steps]
    out = []
    for b in idx:
        enc = tok([ex[i].text for i in b])
        out.append((enc.model_inputs(), torch.tensor([ex[i].label for i in b])))
    return out


def timed_run(encoder, head, opt, data) -> float:
    t = time.perf_counter()
    for inputs, labels in data:
        h = encoder(**inputs).last_hidden_state
        loss = F.cross_entropy(head(pool(h, inputs["attention_mask"], "mean")), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30, help="training steps per timed run")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per step")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per implementation")
    add_threads(ap)
    args = ap.parse_args()
    import transformers  # benchmark reference only
    apply_threads(args.threads)
    print(machine.describe())
    data = batches(args.steps, args.batch_size)
    n_seq = sum(len(lab) for _, lab in data)
    ours = BertModel.from_pretrained().train()
    hf = transformers.BertModel.from_pretrained(str(default_model_dir())).train()
    torch.manual_seed(0)
    heads = [torch.nn.Linear(384, 5), torch.nn.Linear(384, 5)]
    heads[1].load_state_dict(heads[0].state_dict())
    opts = [AdamW([*ours.parameters(), *heads[0].parameters()], lr=2e-5),
            torch.optim.AdamW([*hf.parameters(), *heads[1].parameters()], lr=2e-5)]
    timed_run(ours, heads[0], opts[0], data[:3]), timed_run(hf, heads[1], opts[1], data[:3])  # warm-up
    t_ours, t_hf = [], []
    for _ in range(args.repeats):
        t_ours.append(timed_run(ours, heads[0], opts[0], data))
        t_hf.append(timed_run(hf, heads[1], opts[1], data))
    ratio = [h / o for o, h in zip(t_ours, t_hf)]
    print(f"{args.steps} steps x batch {args.batch_size} (SST train, length-bucketed), {args.threads} threads, "
          f"torch {torch.__version__}")
    print(f"minbert + our AdamW            : {n_seq / statistics.median(t_ours):7.1f} sequences/s")
    print(f"transformers + torch AdamW     : {n_seq / statistics.median(t_hf):7.1f} sequences/s")
    print(f"throughput ratio ours/HF: median {statistics.median(ratio):.3f} (min {min(ratio):.3f}, "
          f"max {max(ratio):.3f}); target >= 1.0")


if __name__ == "__main__":
    main()
