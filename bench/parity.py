"""Largest absolute difference between our encoder and transformers.BertModel on real padded batches.

    python -m bench.parity [--pairs 128]
"""
import argparse

import torch

from minbert import BertModel, Tokenizer
from minbert.data import find_data_dir, read_task_file
from minbert.pretrained import default_model_dir
from bench import machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=128, help="Quora dev pairs, encoded jointly in padded batches")
    ap.add_argument("--batch-size", type=int, default=32, help="pairs per batch")
    args = ap.parse_args()
    print(machine.describe())
    import transformers  # reference only
    ex = read_task_file(find_data_dir() / "quora-dev.csv").examples[:args.pairs]
    tok, ours = Tokenizer.from_pretrained(), BertModel.from_pretrained()
    hf = transformers.BertModel.from_pretrained(str(default_model_dir()), attn_implementation="eager").eval()
    worst: dict[str, float] = {}
    with torch.no_grad():
        for i in range(0, len(ex), args.batch_size):
            b = tok([e.text for e in ex[i:i + args.batch_size]], [e.text2 for e in ex[i:i + args.batch_size]])
            real = b.attention_mask.bool()
            for explicit in (False, True):
                o = ours(**b.model_inputs(), output_attentions=explicit)
                h = hf(**b.model_inputs(), output_attentions=explicit)
                path = "explicit" if explicit else "fused"
                d = {f"last_hidden_state, real tokens ({path})": (o.last_hidden_state - h.last_hidden_state)[real],
                     f"pooler_output ({path})": o.pooler_output - h.pooler_output}
                if explicit:
                    d["attention probabilities"] = torch.stack(o.attentions) - torch.stack(h.attentions)
                for k, v in d.items():
                    worst[k] = max(worst.get(k, 0.0), v.abs().max().item())
    print(f"{len(ex)} Quora dev pairs in padded batches of {args.batch_size}; largest |ours - transformers|:")
    for k, v in worst.items():
        print(f"  {k:45s} {v:.2e}")


if __name__ == "__main__":
    main()
