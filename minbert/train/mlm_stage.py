"""Stage 1: MLM further pretraining of the encoder on the training sentences of the tasks (never dev/test)."""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from minbert import distributed as dist
from minbert.data.batching import bucket_batches
from minbert.train.mlm import MLMModel, mask_tokens
from minbert.optimizer import AdamW
from minbert.data.batching import texts_of


def run_mlm_stage(bert, tok, train: dict, cfg, device) -> list[dict]:
    """Returns the loss curve: one point per 20 steps, {"step", "loss"}."""
    sentences = sorted({s for t, ex in train.items() for s in texts_of(t, ex)})
    lengths = tok.token_lengths(sentences)
    mlm = dist.wrap(MLMModel(bert).to(device), device)
    opt = AdamW(mlm.parameters(), lr=cfg.mlm_lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    curve, window, step, t0 = [], [], 0, time.time()
    dist.print0(f"MLM: {len(sentences):,} training sentences, {cfg.mlm_epochs} epochs")
    for epoch in range(cfg.mlm_epochs):
        epoch_losses = []
        batches = bucket_batches(lengths, cfg.batch_size * dist.world_size(), True, seed=cfg.seed + epoch)
        for idx in tqdm(batches, desc=f"MLM {epoch + 1}/{cfg.mlm_epochs}", disable=not dist.is_main() or cfg.quiet):
            enc = tok([sentences[i] for i in idx[dist.rank()::dist.world_size()]], max_length=cfg.max_length)
            ids, labels = mask_tokens(enc.input_ids, enc.attention_mask, tok.special_ids, tok.mask_id,
                                      tok.vocab_size, cfg.mlm_prob, g)
            loss = mlm(ids.to(device), enc.attention_mask.to(device), labels.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), cfg.grad_clip or 1e9)
            opt.step()
            window.append(loss.item())
            epoch_losses.append(window[-1])
            step += 1
            if step % 20 == 0:
                curve.append({"step": step, "epoch": epoch + 1, "loss": float(np.mean(window))})
                window = []
        dist.print0(f"MLM epoch {epoch + 1}: loss {np.mean(epoch_losses):.3f} | {(time.time() - t0) / 60:.1f} min")
    return curve
