"""BertConfig: the encoder's hyperparameters, read from a Hugging Face `config.json`."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """A config file that is missing, unreadable or not a BERT config."""


@dataclass
class BertConfig:
    vocab_size: int = 30522  # uncased WordPiece vocabulary
    hidden_size: int = 384  # width of every token vector (MiniLM-L6)
    num_hidden_layers: int = 6  # transformer layers
    num_attention_heads: int = 12  # hidden_size must divide evenly among them
    intermediate_size: int = 1536  # feed-forward width, 4 x hidden
    hidden_act: str = "gelu"  # exact (erf) GELU, as in the original BERT
    hidden_dropout_prob: float = 0.1  # dropout after embeddings and each sub-layer
    attention_probs_dropout_prob: float = 0.1  # dropout on attention probabilities
    max_position_embeddings: int = 512  # longest input the position table covers
    type_vocab_size: int = 2  # segment A / segment B
    layer_norm_eps: float = 1e-12  # as in the HF checkpoints
    pad_token_id: int = 0  # [PAD] in the uncased vocab
    initializer_range: float = 0.02  # std of the normal init for new weights

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}")
        if self.hidden_act not in ("gelu", "relu", "gelu_new"):
            raise ConfigError(f"unsupported hidden_act {self.hidden_act!r}")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict) -> "BertConfig":
        """Keep the fields we know; reject configs of other architectures."""
        model_type = d.get("model_type", "bert")
        if model_type != "bert":
            raise ConfigError(f"not a BERT config: model_type is {model_type!r}, expected 'bert'")
        pet = d.get("position_embedding_type", "absolute")
        if pet != "absolute":
            raise ConfigError(f"unsupported position_embedding_type {pet!r} (only 'absolute')")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, path: str | Path) -> "BertConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no config.json at {path}")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read {path}: {e}") from e
        if not isinstance(d, dict):
            raise ConfigError(f"{path} does not hold a JSON object")
        return cls.from_dict(d)

    def to_dict(self) -> dict:
        return {"model_type": "bert", **dataclasses.asdict(self)}
