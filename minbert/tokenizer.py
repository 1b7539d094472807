"""Uncased WordPiece tokenization, built on the `tokenizers` library."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers.models import WordPiece
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from tokenizers.processors import TemplateProcessing

MAX_LENGTH_LIMIT = 512  # the position table of every BERT we load


@dataclass
class TokenBatch:
    input_ids: torch.Tensor  # (B, T) int64, padded to the longest row
    attention_mask: torch.Tensor  # (B, T) 1 for real tokens, 0 for padding
    token_type_ids: torch.Tensor  # (B, T) 0 for segment A, 1 for segment B
    tokens: list[list[str]]  # token strings per row, without padding
    offsets: list[list[tuple[int, int]]]  # character span of each token in its own sentence
    sequence_ids: list[list[int | None]]  # 0/1 = which sentence a token came from, None = special
    truncated: list[bool]  # True where the input was cut to max_length

    MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids")

    def model_inputs(self, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k).to(device) for k in self.MODEL_KEYS}

    # the mapping Hugging Face users expect: batch["input_ids"], and model(**batch) passes the model inputs
    def keys(self) -> tuple[str, ...]:
        return self.MODEL_KEYS

    def __getitem__(self, key: str):
        if key not in self.MODEL_KEYS and key not in ("tokens", "offsets", "sequence_ids", "truncated"):
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self.MODEL_KEYS

    def __len__(self) -> int:
        return self.input_ids.shape[0]


class Tokenizer:
    def __init__(self, vocab: str | Path | list[str], lowercase: bool = True):
        """vocab: a vocab.txt path, or the token list itself (as a checkpoint sidecar stores it)."""
        if not isinstance(vocab, list):
            path = Path(vocab)
            if not path.is_file():
                raise FileNotFoundError(f"no vocab.txt at {path}")
            vocab = path.read_text(encoding="utf-8").splitlines()
        self._tokens = list(vocab)
        vocab = {}
        for i, token in enumerate(self._tokens):
            vocab.setdefault(token, i)
        tok = HFTokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        tok.normalizer = BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                        strip_accents=None, lowercase=lowercase)
        tok.pre_tokenizer = BertPreTokenizer()
        cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
        tok.post_processor = TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
        self._tok = tok
        self._lock = threading.Lock()  # truncation settings are tokenizer state; calls may be concurrent
        self.vocab = vocab
        self.pad_id, self.cls_id, self.sep_id = vocab["[PAD]"], cls_id, sep_id
        self.mask_id, self.unk_id = vocab["[MASK]"], vocab["[UNK]"]
        self.special_ids = frozenset((self.pad_id, cls_id, sep_id, self.mask_id, self.unk_id))

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> "Tokenizer":
        """The vocab.txt of an HF BERT directory; None means the bundled all-MiniLM-L6-v2."""
        from minbert.pretrained import resolve_model_dir
        return cls(resolve_model_dir(path) / "vocab.txt")

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def __call__(self, texts: str | list[str], pairs: str | list[str] | None = None,
                 max_length: int = 128) -> TokenBatch:
        if not 2 < max_length <= MAX_LENGTH_LIMIT:
            raise ValueError(f"max_length must be in 3..{MAX_LENGTH_LIMIT}, got {max_length}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        pairs = [pairs] if isinstance(pairs, str) else pairs
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
        inputs = texts if pairs is None else list(zip(texts, pairs))
        with self._lock:
            self._tok.enable_truncation(max_length=max_length, strategy="longest_first")
            self._tok.no_padding()
            encs = self._tok.encode_batch(inputs)
        T = max(len(e.ids) for e in encs) if encs else 0
        ids = torch.full((len(encs), T), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(encs), T), dtype=torch.long)
        mask = torch.zeros((len(encs), T), dtype=torch.long)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n] = torch.tensor(e.ids)
            types[i, :n] = torch.tensor(e.type_ids)
            mask[i, :n] = 1
        return TokenBatch(ids, mask, types, [e.tokens for e in encs], [e.offsets for e in encs],
                          [e.sequence_ids for e in encs], [bool(e.overflowing) for e in encs])

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Untruncated token counts (with [CLS]/[SEP]), for length bucketing."""
        with self._lock:
            self._tok.no_truncation()
            self._tok.no_padding()
            return [len(e.ids) for e in self._tok.encode_batch(texts)]

    def id_to_token_list(self) -> list[str]:
        return list(self._tokens)

    def convert_ids_to_tokens(self, ids) -> list[str]:
        return [self._tok.id_to_token(int(i)) for i in ids]
