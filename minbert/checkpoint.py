"""Checkpoints: safetensors weights + a JSON sidecar (configs, vocab, metrics, history, sha256).

One loader, `load_checkpoint`, serves train, evaluate, predict, analysis/ and app.py. Nothing here
unpickles: weights are safetensors, everything else is JSON. Every write is a temp file + rename.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from minbert import legacy
from minbert.atomic import atomic_write_bytes, atomic_write_json
from minbert.config import BertConfig
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel
from minbert.tasks import Task, TaskSpecError
from minbert.tokenizer import Tokenizer

FORMAT = "minbert-multitask/1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, truncated or of another format."""


def paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, sidecar) for a stem, a .safetensors path or a .json path."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(path: str | Path, model: MultitaskModel, tok: Tokenizer, meta: dict,
                    dtype: torch.dtype = torch.float16) -> Path:
    """Write weights (cast to dtype) and sidecar; returns the weights path."""
    weights_path, sidecar_path = paths(path)
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous().cpu()
               for k, v in model.state_dict().items()}
    blob = st_save(tensors)
    sidecar = {**meta, "format": FORMAT, "weights_file": weights_path.name,
               "weights_sha256": hashlib.sha256(blob).hexdigest(), "dtype": str(dtype).removeprefix("torch."),
               "bert_config": model.bert.config.to_dict(), "model_config": vars(model.config),
               "tasks": [t.to_dict() for t in model.tasks.values()],
               "vocab": tok.id_to_token_list()}
    atomic_write_bytes(weights_path, blob)
    atomic_write_json(sidecar_path, sidecar)
    return weights_path


def read_sidecar(path: str | Path) -> dict:
    _, sidecar_path = paths(path)
    try:
        meta = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint sidecar at {sidecar_path}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"unreadable checkpoint sidecar {sidecar_path}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar_path} is not a {FORMAT} sidecar")
    return meta


def update_sidecar(path: str | Path, **fields) -> None:
    meta = read_sidecar(path)
    meta.update(fields)
    atomic_write_json(paths(path)[1], meta)


@dataclass
class Checkpoint:
    model: MultitaskModel
    tokenizer: Tokenizer
    meta: dict
    path: Path


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Strict load_state_dict, except that buffers newer than the file (legacy.BUFFERS_ADDED) keep their defaults."""
    model.load_state_dict(legacy.with_added_buffers(state, model.state_dict()))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Verify the sha256, then build the model in fp32 on `device`, in eval mode."""
    weights_path, _ = paths(path)
    meta = read_sidecar(path)
    try:
        blob = weights_path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read weights {weights_path}: {e}") from None
    if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
        raise CheckpointError(f"{weights_path} is corrupt or truncated: its sha256 does not match the sidecar")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{weights_path} is not a valid safetensors file: {e}") from None
    try:  # checkpoints before tasks were data have the three built-in tasks
        tasks = [Task.from_dict(d, where=f"{path}: task") for d in meta.get("tasks", [])]
    except TaskSpecError as e:
        raise CheckpointError(str(e)) from None
    model = MultitaskModel(BertModel(BertConfig.from_dict(meta["bert_config"])),
                           MultitaskConfig.from_dict(meta["model_config"]), tasks)
    load_weights(model, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    return Checkpoint(model.to(device).eval(), Tokenizer(meta["vocab"]), meta, weights_path)


def save_train_state(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     progress: dict, extra: dict[str, torch.Tensor] | None = None) -> None:
    """Everything a resumed run needs: fp32 weights, optimizer moments, RNG, progress and history; `extra`
    tensors (e.g. the EMA weights) under their own names."""
    weights_path, sidecar_path = paths(path)
    opt = optimizer.state_dict()
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, st in opt["state"].items():
        tensors.update({f"opt.{i}.{k}": v.detach().cpu().contiguous() for k, v in st.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    tensors.update({k: v.detach().cpu().contiguous() for k, v in (extra or {}).items()})
    atomic_write_bytes(weights_path, st_save(tensors))
    atomic_write_json(sidecar_path, {"format": FORMAT + "/train-state", "param_groups": opt["param_groups"],
                                     "progress": progress})


def load_train_state(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     extra: dict | None = None) -> dict:
    """Restore model, optimizer and RNG; return the saved progress dict. `extra`, if given, receives the
    tensors saved beside them."""
    weights_path, sidecar_path = paths(path)
    try:
        meta = json.loads(sidecar_path.read_text())
        tensors = st_load(weights_path.read_bytes())
    except (OSError, json.JSONDecodeError, SafetensorError, ValueError) as e:
        raise CheckpointError(f"cannot resume from {weights_path}: {e}") from None
    load_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if extra is not None:
        extra.update({k: v for k, v in tensors.items() if not k.startswith(("model.", "opt.", "rng."))})
    return meta["progress"]
