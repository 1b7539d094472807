"""Export a checkpoint to the ecosystem: a Hugging Face `transformers` folder or a `sentence-transformers` one.

    python -m minbert.export --checkpoint checkpoints/minbert-multitask --format sentence-transformers --out DIR
    SentenceTransformer(DIR).encode(["A man is playing a guitar."])    # our embeddings (pair tasks, STS)
    AutoModel.from_pretrained(DIR); AutoTokenizer.from_pretrained(DIR)  # the shared encoder as a BertModel

What goes into DIR:
  config.json, model.safetensors   the shared encoder (`model.bert`, the one the pair tasks, STS and the
                                   embeddings use) as an HF BertModel in fp32, pooler included (unused by
                                   our heads: they pool the last hidden state themselves)
  vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json   our uncased WordPiece tokenizer
  heads.safetensors, heads.json    the three task heads (below), read back by `load_heads(DIR)`
  README.md                        a model card
  sentiment_encoder/               only where sentiment has private top layers (sst_layers > 0): a complete
                                   folder of the same format whose top layer(s) are sentiment's own copies, so
                                   sentiment embeddings, hence its logits, come out exactly as ours
sentence-transformers adds, in DIR and in sentiment_encoder/: modules.json (Transformer, then Pooling; no
Normalize, as our embeddings are not normalised), sentence_bert_config.json (max_seq_length from the training
run), 1_Pooling/config.json (the checkpoint's pooling: mean over real tokens, or [CLS]) and
config_sentence_transformers.json (similarity: cosine).

The embedding of a sentence is the pooled last hidden state (model_config "pooling"): mean over the real
tokens or the [CLS] vector. With transformers, pool it yourself; SentenceTransformer does it for you.

Tokenization matches ours on all text but one case: a literal special token typed in the text ("[MASK]") is
that token for the Hugging Face tokenizers (as for every HF BERT) and its characters for minbert's Tokenizer.

The folder is written beside DIR under a temporary name and renamed into place when complete, so an
interrupted export leaves no half-written DIR. This module imports neither transformers nor
sentence-transformers: the export only writes files in their formats.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors.torch import save as st_save

from minbert.checkpoint import CheckpointError, load_checkpoint, paths
from minbert.config import BertConfig, ConfigError
from minbert.multitask import MultitaskModel
from minbert.tokenizer import MAX_LENGTH_LIMIT, Tokenizer

FORMATS = ("transformers", "sentence-transformers")
HEADS_FORMAT = "minbert-heads/1"
SENTIMENT_DIR = "sentiment_encoder"
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}
SST_CLASSES = ("negative", "somewhat negative", "neutral", "somewhat positive", "positive")  # label ids 0..4


class ExportError(RuntimeError):
    """An export that cannot be written: bad target folder, unsupported model, unreadable heads."""


# ----------------------------------------------------------------------------------------------- the encoder

def hf_config(config: BertConfig) -> dict:
    """config.json of a transformers BertModel with our hyperparameters."""
    return {"architectures": ["BertModel"], **config.to_dict(), "position_embedding_type": "absolute",
            "use_cache": True}


def encoder_state(model: MultitaskModel, task: str | None = None) -> dict[str, torch.Tensor]:
    """The encoder under HF BertModel names in fp32: the shared one (task None), or sentiment's stack
    (task "sst": the shared layers with the top sst_layers replaced by sentiment's private copies)."""
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.bert.state_dict().items()}
    if task == "sst" and model.sst_encoder is not None:
        first = len(model.bert.encoder.layer) - len(model.sst_encoder)
        for i, layer in enumerate(model.sst_encoder):
            for k, v in layer.state_dict().items():
                name = f"encoder.layer.{first + i}.{k}"
                assert name in state, name
                state[name] = v.detach().float().cpu().contiguous()
    return state


def tokenizer_json(tok: Tokenizer) -> str:
    """Our `tokenizers` pipeline as tokenizer.json: same normaliser, pre-tokenizer, WordPiece and [CLS]/[SEP]
    template; no truncation or padding baked in (the loading library sets those); special tokens registered
    as such and a WordPiece decoder, as Hugging Face's own BERT tokenizers have."""
    from tokenizers import AddedToken
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.decoders import WordPiece as WordPieceDecoder

    inner = getattr(tok, "_tok", None)
    if inner is None:
        raise ExportError("this Tokenizer does not expose its tokenizers pipeline")
    t = HFTokenizer.from_str(inner.to_str())
    t.no_truncation()
    t.no_padding()
    t.decoder = WordPieceDecoder(prefix="##")
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL_TOKENS.values()])
    return t.to_str(pretty=True)


def tokenizer_files(tok: Tokenizer, model_max_length: int) -> dict[str, str]:
    """vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json."""
    vocab = tok.id_to_token_list()
    missing = [s for s in SPECIAL_TOKENS.values() if s not in tok.vocab]
    if missing:
        raise ExportError(f"the vocabulary lacks special tokens {missing}")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "do_basic_tokenize": True,
              "tokenize_chinese_chars": True, "strip_accents": None, "never_split": None,
              "clean_up_tokenization_spaces": True, "model_max_length": model_max_length, **SPECIAL_TOKENS}
    return {"vocab.txt": "\n".join(vocab) + "\n", "tokenizer.json": tokenizer_json(tok),
            "tokenizer_config.json": _json(config), "special_tokens_map.json": _json(SPECIAL_TOKENS)}


def sentence_transformers_files(hidden_size: int, pooling: str, max_seq_length: int) -> dict[str, str]:
    """modules.json (Transformer -> Pooling), sentence_bert_config.json, 1_Pooling/config.json and
    config_sentence_transformers.json, in the layout all-MiniLM-L6-v2 ships (read by sentence-transformers
    2.x to 6.x)."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    pool = {"word_embedding_dimension": hidden_size, "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False, "include_prompt": True}
    return {"modules.json": _json(modules),
            "sentence_bert_config.json": _json({"max_seq_length": max_seq_length, "do_lower_case": False}),
            "1_Pooling/config.json": _json(pool),
            "config_sentence_transformers.json": _json({"__version__": {"minbert": "export/1"}, "prompts": {},
                                                        "default_prompt_name": None,
                                                        "similarity_fn_name": "cosine"})}


def write_encoder_folder(folder: Path, state: dict[str, torch.Tensor], config: BertConfig, tok: Tokenizer,
                         fmt: str, pooling: str, max_seq_length: int) -> None:
    """One loadable encoder folder of format fmt (transformers or sentence-transformers)."""
    files = {"config.json": _json(hf_config(config)),
             **tokenizer_files(tok, config.max_position_embeddings)}
    if fmt == "sentence-transformers":
        files.update(sentence_transformers_files(config.hidden_size, pooling, max_seq_length))
    for name, text in files.items():
        _write(folder / name, text.encode("utf-8"))
    _write(folder / "model.safetensors", st_save(state, metadata={"format": "pt"}))


# ----------------------------------------------------------------------------------------------- the heads

def head_tensors(model: MultitaskModel) -> dict[str, torch.Tensor]:
    """The heads' parameters and served buffers in fp32, under their module names:
    sst.classifier.weight (5, H), sst.classifier.bias (5,); para.scale, para.bias, para.threshold (scalars),
    para.features.weight (1, 4H) and para.features.bias (1,) for the "features" head, para.joint.weight (1, H)
    and para.joint.bias (1,) for the "cross" head; sts.calibration (2,) = (a, b) of score = a * cos + b."""
    want = ["sst.classifier.weight", "sst.classifier.bias", "para.scale", "para.bias", "para.threshold",
            "para.features.weight", "para.features.bias", "para.joint.weight", "para.joint.bias",
            "sts.calibration"]
    state = model.state_dict()
    return {k: state[k].detach().float().cpu().contiguous().reshape(state[k].shape) for k in want if k in state}


def temperatures(meta: dict) -> dict[str, float]:
    """Temperature-scaling T per classifier from the sidecar's "calibration" (1.0 where never calibrated)."""
    cal = meta.get("calibration") or {}
    return {t: float((cal.get(t) or {}).get("temperature", 1.0)) for t in ("sst", "para")}


def heads_description(model: MultitaskModel, meta: dict, tensors: dict[str, torch.Tensor], fmt: str) -> dict:
    cfg = model.config
    sentiment_dir = SENTIMENT_DIR if model.sst_encoder is not None else "."
    return {
        "format": HEADS_FORMAT,
        "weights": "heads.safetensors",
        "source": {"checkpoint": paths(meta.get("_path", "checkpoint"))[0].name,
                   "weights_sha256": meta.get("weights_sha256"), "metrics": _plain_metrics(meta)},
        "hidden_size": model.bert.config.hidden_size,
        "pooling": cfg.pooling,
        "max_seq_length": meta.get("_max_seq_length"),
        "encoders": {"pair_tasks": ".", "sentiment": sentiment_dir, "format": fmt,
                     "note": "an embedding is the pooled last hidden state of that folder's encoder "
                             f"({'mean over real tokens' if cfg.pooling == 'mean' else 'the [CLS] vector'}); "
                             "sentiment runs through its own top layer(s) when sentiment != '.'"},
        "sst": {"classes": list(SST_CLASSES), "temperature": temperatures(meta)["sst"],
                "logits": "sst.classifier.weight @ emb + sst.classifier.bias (B, 5); probs = softmax(logits / T)"},
        "para": {"kind": cfg.para_head, "temperature": temperatures(meta)["para"],
                 "logit": {"cosine": "scale * cos(u, v) + bias - threshold",
                           "features": "scale * cos(u, v) + bias + linear([u + v, |u - v|, u * v]) - threshold, "
                                       "the linear's weight being features.weight with its u and v blocks "
                                       "averaged",
                           "cross": "joint.weight @ emb([CLS] s1 [SEP] s2 [SEP]) + joint.bias - threshold"
                           }[cfg.para_head],
                 "probability": "sigmoid(logit / T); duplicate when probability > 0.5"},
        "sts": {"discrete": cfg.sts_discrete,
                "score": "clamp(a * cos(u, v) + b, 0, 5) with (a, b) = sts.calibration"
                         + ("; rounded to a whole class" if cfg.sts_discrete else "")},
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }


def _plain_metrics(meta: dict) -> dict:
    m = meta.get("metrics") or {}
    return {k: v for k, v in m.items() if isinstance(v, (int, float))}


@dataclass
class ExportedHeads:
    """The three task heads of an exported folder, as plain tensors and functions of embeddings.

    Embeddings (torch tensors or arrays, (B, H) or (H,)) come from the exported encoders: u, v from the root
    folder (pair tasks, STS), sentiment's from `sentiment_dir`. Every function returns torch float32 tensors.
    """
    tensors: dict[str, torch.Tensor]
    config: dict
    folder: Path
    sentiment_dir: Path = field(init=False)

    def __post_init__(self):
        self.sentiment_dir = (self.folder / self.config["encoders"]["sentiment"]).resolve()

    def _t(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def sst_logits(self, emb) -> torch.Tensor:
        """Sentiment logits (B, 5) from sentiment embeddings (made by `sentiment_dir`'s encoder)."""
        return F.linear(_as2d(emb), self._t("sst.classifier.weight"), self._t("sst.classifier.bias"))

    def sst_probs(self, emb, calibrated: bool = False) -> torch.Tensor:
        """(B, 5) class probabilities; calibrated=True divides the logits by the fitted temperature."""
        t = self.config["sst"]["temperature"] if calibrated else 1.0
        return (self.sst_logits(emb) / t).softmax(-1)

    def para_logit(self, u, v=None) -> torch.Tensor:
        """Paraphrase logit (B,), the served decision threshold applied (duplicate when > 0). For the
        "cross" head pass the embedding of the jointly encoded pair as u and no v."""
        kind, thr = self.config["para"]["kind"], self._t("para.threshold")
        if kind == "cross":
            if v is not None:
                raise ValueError("the cross paraphrase head takes the joint pair embedding only")
            return F.linear(_as2d(u), self._t("para.joint.weight"), self._t("para.joint.bias")).squeeze(-1) - thr
        u, v = _as2d(u), _as2d(v)
        logit = self._t("para.scale") * F.cosine_similarity(u, v, dim=-1) + self._t("para.bias")
        if kind == "features":
            w, H = self._t("para.features.weight"), u.shape[-1]
            tied = torch.cat([(w[:, :H] + w[:, H:2 * H]) / 2, w[:, 2 * H:]], dim=-1)  # symmetric in u, v
            feats = torch.cat([u + v, (u - v).abs(), u * v], dim=-1)
            logit = logit + F.linear(feats, tied, self._t("para.features.bias")).squeeze(-1)
        return logit - thr

    def para_probability(self, u, v=None, calibrated: bool = False) -> torch.Tensor:
        """P(duplicate) (B,); raw as our predict tools report it, or temperature-scaled with calibrated=True."""
        t = self.config["para"]["temperature"] if calibrated else 1.0
        return (self.para_logit(u, v) / t).sigmoid()

    def sts_score(self, u, v) -> torch.Tensor:
        """STS similarity on the 0..5 scale (B,): the fitted linear map of the cosine, clamped."""
        a, b = self._t("sts.calibration")
        score = (a * F.cosine_similarity(_as2d(u), _as2d(v), dim=-1) + b).clamp(0.0, 5.0)
        return score.round() if self.config["sts"]["discrete"] else score


def _as2d(x) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    return t[None] if t.dim() == 1 else t


def load_heads(folder: str | Path) -> ExportedHeads:
    """Read heads.safetensors + heads.json of an exported folder (either format).

        heads = load_heads(DIR)
        st = SentenceTransformer(DIR)
        u, v = st.encode(["a man plays guitar"]), st.encode(["someone is playing a guitar"])
        heads.sts_score(u, v), heads.para_probability(u, v)
        heads.sst_logits(SentenceTransformer(str(heads.sentiment_dir)).encode(["a gripping film"]))

    Needs torch and safetensors only; raises ExportError for a folder that is not an export.
    """
    folder = Path(folder)
    try:
        config = json.loads((folder / "heads.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "heads.safetensors"))
    except FileNotFoundError as e:
        raise ExportError(f"{folder} is not a minbert export: {e.filename} is missing") from None
    except (OSError, ValueError) as e:
        raise ExportError(f"cannot read the heads in {folder}: {e}") from None
    if not isinstance(config, dict) or config.get("format") != HEADS_FORMAT:
        raise ExportError(f"{folder / 'heads.json'} is not a {HEADS_FORMAT} description")
    return ExportedHeads(tensors, config, folder)


# ----------------------------------------------------------------------------------------------- the export

def model_card(meta: dict, model: MultitaskModel, fmt: str, max_seq_length: int) -> str:
    cfg, m = model.config, _plain_metrics(meta)
    metrics = ""
    if m:
        rows = [("SST-5 dev accuracy", "sst_acc"), ("Quora dev accuracy", "para_acc"),
                ("STS-B dev Pearson r", "sts_pearson"), ("overall", "overall")]
        metrics = "\n## Dev metrics of the source checkpoint\n\n| metric | value |\n| --- | --- |\n" + "".join(
            f"| {label} | {m[k]:.4f} |\n" for label, k in rows if k in m)
    pooling = "mean over real tokens" if cfg.pooling == "mean" else "the [CLS] vector"
    usage = ('from sentence_transformers import SentenceTransformer\n'
             'emb = SentenceTransformer(DIR).encode(["A man is playing a guitar."])  # (1, H), not normalised'
             if fmt == "sentence-transformers" else
             'from transformers import AutoModel, AutoTokenizer\n'
             'model, tok = AutoModel.from_pretrained(DIR), AutoTokenizer.from_pretrained(DIR)\n'
             'batch = tok(["A man is playing a guitar."], padding=True, truncation=True, '
             f'max_length={max_seq_length}, return_tensors="pt")\n'
             'h = model(**batch).last_hidden_state\n' + (
                 'm = batch["attention_mask"][..., None].float()\nemb = (h * m).sum(1) / m.sum(1)'
                 if cfg.pooling == "mean" else 'emb = h[:, 0]'))
    sentiment = (f"Sentiment runs through its own copy of the top {cfg.sst_layers} layer(s): embed sentences "
                 f"for it with `{SENTIMENT_DIR}/`, a complete {fmt} folder of its own."
                 if model.sst_encoder is not None else "Sentiment uses the same encoder.")
    return f"""---
library_name: {fmt}
tags: [bert, minbert, sentence-similarity, feature-extraction]
---
# minBERT multitask encoder

Exported by `python -m minbert.export` from `{paths(meta.get("_path", "checkpoint"))[0].name}`
(sha256 {str(meta.get("weights_sha256"))[:16]}...): a {model.bert.config.num_hidden_layers}-layer BERT, hidden size
{model.bert.config.hidden_size}, fine-tuned on SST-5 sentiment, Quora paraphrase and STS-B similarity.
Weights in fp32; the checkpoint stored them in {meta.get("dtype", "float32")}.

Sentence embedding: {pooling} of the last hidden state, max {max_seq_length} tokens, not normalised
(compare embeddings by cosine). The BERT pooler layer is included for completeness; our heads do not use it.

```python
{usage}
```

## Task heads

`heads.safetensors` + `heads.json` hold the three heads; `minbert.export.load_heads(DIR)` turns them into
functions of embeddings: `sts_score(u, v)` (0-5), `para_probability(u, v)`, `sst_logits(emb)`.
{sentiment}
{metrics}"""


def export(checkpoint: str | Path, fmt: str, out: str | Path, force: bool = False,
           max_seq_length: int | None = None) -> Path:
    """Export `checkpoint` as `fmt` into the folder `out` (written beside it, then renamed into place)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out} exists and is not empty (pass --force to replace it)")
    ckpt = load_checkpoint(checkpoint)
    model, tok = ckpt.model, ckpt.tokenizer
    meta = {**ckpt.meta, "_path": str(ckpt.path)}
    limit = model.bert.config.max_position_embeddings
    if max_seq_length is None:
        max_seq_length = int((meta.get("train_config") or {}).get("max_length") or 128)
    if not 2 < max_seq_length <= min(limit, MAX_LENGTH_LIMIT):
        raise ExportError(f"max_seq_length must be in 3..{min(limit, MAX_LENGTH_LIMIT)}, got {max_seq_length}")
    meta["_max_seq_length"] = max_seq_length
    pooling, config = model.config.pooling, model.bert.config

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.part"
    tmp.mkdir(0o777)  # the usual permissions: the umask applies
    try:
        write_encoder_folder(tmp, encoder_state(model), config, tok, fmt, pooling, max_seq_length)
        if model.sst_encoder is not None:
            write_encoder_folder(tmp / SENTIMENT_DIR, encoder_state(model, "sst"), config, tok, fmt, pooling,
                                 max_seq_length)
        heads = head_tensors(model)
        _write(tmp / "heads.safetensors", st_save(heads, metadata={"format": "pt"}))
        _write(tmp / "heads.json", _json(heads_description(model, meta, heads, fmt)).encode("utf-8"))
        _write(tmp / "README.md", model_card(meta, model, fmt, max_seq_length).encode("utf-8"))
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        self.exit(2, f"error: {message} (see python -m minbert.export --help)\n")


def parse_args(argv=None) -> argparse.Namespace:
    p = _Parser(prog="python -m minbert.export",
                description="Export a minBERT multitask checkpoint as a transformers or sentence-transformers "
                            "folder, with its task heads beside it (heads.safetensors, heads.json).")
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="checkpoint stem, .safetensors or .json (e.g. checkpoints/minbert-multitask)")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="transformers: AutoModel/AutoTokenizer folder; sentence-transformers: the same plus "
                        "modules.json and pooling, for SentenceTransformer(DIR)")
    p.add_argument("--out", required=True, type=Path, help="folder to create (written beside it, then renamed)")
    p.add_argument("--max-seq-length", type=int, default=None,
                   help="sentence-transformers max_seq_length (default: the training run's max_length, else 128)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists and is not empty")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out = export(args.checkpoint, args.format, args.out, force=args.force, max_seq_length=args.max_seq_length)
    except (CheckpointError, ExportError, ConfigError, OSError, ValueError, KeyError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 1
    print(f"exported {args.checkpoint} as {args.format} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
