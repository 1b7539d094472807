"""Export a checkpoint to the ecosystem: a Hugging Face `transformers` folder or a `sentence-transformers` one.

    python -m minbert.export --checkpoint checkpoints/minbert-multitask --format sentence-transformers --out DIR
    SentenceTransformer(DIR).encode(["A man is playing a guitar."])    # our embeddings (pair tasks, STS)
    AutoModel.from_pretrained(DIR); AutoTokenizer.from_pretrained(DIR)  # the shared encoder as a BertModel

What goes into DIR:
  config.json, model.safetensors   the shared encoder (`model.bert`, the one the pair tasks, STS and the
                                   embeddings use) as an HF BertModel in fp32, pooler included (unused by
                                   our heads: they pool the last hidden state themselves)
  vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json   our uncased WordPiece tokenizer
  heads.safetensors, heads.json    every task head of the checkpoint, the three built-ins and any added task
                                   (its spec is in heads.json), read back by `load_heads(DIR)`
  README.md                        a model card
  sentiment_encoder/               only where a task has private top layers (sentiment, sst_layers > 0): a
                                   complete folder of the same format whose top layer(s) are that task's own
                                   copies, so its embeddings, hence its logits, come out exactly as ours
sentence-transformers adds, in DIR and in sentiment_encoder/: modules.json (Transformer, then Pooling; no
Normalize, as our embeddings are not normalised), sentence_bert_config.json (max_seq_length from the training
run), 1_Pooling/config.json (the checkpoint's pooling: mean over real tokens, or [CLS]) and
config_sentence_transformers.json (similarity: cosine).

The embedding of a sentence is the pooled last hidden state (model_config "pooling"): mean over the real
tokens or the [CLS] vector. With transformers, pool it yourself; SentenceTransformer does it for you. The root
folder's embedding is the one `python -m minbert.predict --task embed` writes (L2-normalised there) and the app's
map shows (minbert/serve/embedding.py).

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
HEADS_FORMAT = "minbert-heads/2"  # /2: every task head, keyed by task (/1 held the three built-ins by name)
OWN_ENCODER_DIR = "sentiment_encoder"  # the folder of the own_layers task's encoder (sentiment's, with --sst-layers)
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}


class ExportError(RuntimeError):
    """An export that cannot be written: bad target folder, unsupported model, unreadable heads."""


# ----------------------------------------------------------------------------------------------- the encoder

def hf_config(config: BertConfig) -> dict:
    """config.json of a transformers BertModel with our hyperparameters."""
    return {"architectures": ["BertModel"], **config.to_dict(), "position_embedding_type": "absolute",
            "use_cache": True}


def encoder_state(model: MultitaskModel, task: str | None = None) -> dict[str, torch.Tensor]:
    """The encoder under HF BertModel names in fp32: the shared one (task None), or the stack of the task with
    layers of its own (the shared layers with the top sst_layers replaced by that task's private copies)."""
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.bert.state_dict().items()}
    if task is not None and task == model.own_layers_task and model.sst_encoder is not None:
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
    """Every task head's parameters and buffers in fp32, under their module names ("<task key>.<name>"):
    sentence_classes: <key>.classifier.weight (C, H), <key>.classifier.bias (C,);
    pair_classes: <key>.scale, <key>.bias, <key>.threshold (scalars), <key>.features.weight (1, 4H) and
    <key>.features.bias (1,) for the "features" head, <key>.joint.weight (1, H) and <key>.joint.bias (1,) for the
    "cross" head; pair_score: <key>.calibration (2,) = (a, b) of score = a * cos + b."""
    return {f"{key}.{name}": t.detach().float().cpu().contiguous()
            for key in model.tasks for name, t in model.head(key).state_dict().items()}


def temperatures(meta: dict, model: MultitaskModel) -> dict[str, float]:
    """Temperature-scaling T per classification head from the sidecar's "calibration" (1.0 where never
    calibrated)."""
    cal = meta.get("calibration") or {}
    return {k: float((cal.get(k) or {}).get("temperature", 1.0)) for k, t in model.tasks.items() if not t.is_score}


FORMULAS = {  # kind -> how heads.json says the head's outputs are computed from embeddings
    "sentence_classes": {"logits": "classifier.weight @ emb + classifier.bias (B, C); probs = softmax(logits / T)"},
    "pair_classes": {"cosine": "scale * cos(u, v) + bias - threshold",
                     "features": "scale * cos(u, v) + bias + linear([u + v, |u - v|, u * v]) - threshold, the "
                                 "linear's weight being features.weight with its u and v blocks averaged",
                     "cross": "joint.weight @ emb([CLS] s1 [SEP] s2 [SEP]) + joint.bias - threshold",
                     "probability": "sigmoid(logit / T); the second class when probability > 0.5"},
    "pair_score": {"score": "clamp(a * cos(u, v) + b, low, high) with (a, b) = calibration"},
}


def task_description(model: MultitaskModel, key: str, temps: dict[str, float]) -> dict:
    """One task of heads.json: its spec, the encoder folder its embeddings come from, and its head's formula."""
    t, cfg = model.tasks[key], model.config
    d = {"spec": t.to_dict(), "kind": t.kind, "encoder": encoder_dir(model, key), "formula": FORMULAS[t.kind]}
    if not t.is_score:
        d["temperature"] = temps[key]
    if t.kind == "pair_classes":
        d["head"] = cfg.para_head
        d["formula"] = {"logit": FORMULAS[t.kind][cfg.para_head], "probability": FORMULAS[t.kind]["probability"]}
    if t.is_score:
        d["discrete"] = cfg.sts_discrete
    return d


def encoder_dir(model: MultitaskModel, key: str | None) -> str:
    """The exported folder whose encoder embeds a task's sentences: OWN_ENCODER_DIR for the task with layers of
    its own, else the root ("."), the shared encoder."""
    own = key is not None and key == model.own_layers_task and model.sst_encoder is not None
    return OWN_ENCODER_DIR if own else "."


def heads_description(model: MultitaskModel, meta: dict, tensors: dict[str, torch.Tensor], fmt: str) -> dict:
    cfg, temps = model.config, temperatures(meta, model)
    return {
        "format": HEADS_FORMAT,
        "weights": "heads.safetensors",
        "source": {"checkpoint": paths(meta.get("_path", "checkpoint"))[0].name,
                   "weights_sha256": meta.get("weights_sha256"), "metrics": _plain_metrics(meta)},
        "hidden_size": model.bert.config.hidden_size,
        "pooling": cfg.pooling,
        "max_seq_length": meta.get("_max_seq_length"),
        "encoder_format": fmt,
        "note": "an embedding is the pooled last hidden state of the task's encoder folder "
                f"({'mean over real tokens' if cfg.pooling == 'mean' else 'the [CLS] vector'}); the root folder "
                "is the shared encoder",
        "tasks": {key: task_description(model, key, temps) for key in model.tasks},
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }


def _plain_metrics(meta: dict) -> dict:
    m = meta.get("metrics") or {}
    return {k: v for k, v in m.items() if isinstance(v, (int, float))}


@dataclass
class ExportedHeads:
    """The task heads of an exported folder, as plain tensors and functions of embeddings, for every task in
    `tasks` (key -> its heads.json entry: spec, kind, encoder folder).

    Embeddings (torch tensors or arrays, (B, H) or (H,)) come from the exported encoders: `encoder_dir(key)` says
    which folder embeds a task's sentences (the root for all but a task with layers of its own). Every function
    returns torch float32 tensors.
    """
    tensors: dict[str, torch.Tensor]
    config: dict
    folder: Path
    tasks: dict = field(init=False)

    def __post_init__(self):
        self.tasks = self.config["tasks"]

    def _t(self, key: str, name: str) -> torch.Tensor:
        return self.tensors[f"{key}.{name}"]

    def _task(self, key: str, kind: str) -> dict:
        if key not in self.tasks:
            raise KeyError(f"this export has no task {key!r} (it has {', '.join(self.tasks)})")
        if self.tasks[key]["kind"] != kind:
            raise ValueError(f"task {key!r} is {self.tasks[key]['kind']}, not {kind}")
        return self.tasks[key]

    def encoder_dir(self, key: str) -> Path:
        """The folder whose encoder embeds this task's sentences."""
        return (self.folder / self.tasks[key]["encoder"]).resolve()

    def class_names(self, key: str) -> list[str]:
        return list(self.tasks[key]["spec"]["classes"])

    def logits(self, key: str, emb) -> torch.Tensor:
        """A sentence_classes task's logits (B, C) from embeddings made by encoder_dir(key)'s encoder."""
        self._task(key, "sentence_classes")
        return F.linear(_as2d(emb), self._t(key, "classifier.weight"), self._t(key, "classifier.bias"))

    def probs(self, key: str, emb, calibrated: bool = False) -> torch.Tensor:
        """(B, C) class probabilities; calibrated=True divides the logits by the fitted temperature."""
        t = self.tasks[key]["temperature"] if calibrated else 1.0
        return (self.logits(key, emb) / t).softmax(-1)

    def pair_logit(self, key: str, u, v=None) -> torch.Tensor:
        """A pair_classes task's logit (B,), the served decision threshold applied (second class when > 0). For
        the "cross" head pass the embedding of the jointly encoded pair as u and no v."""
        head, thr = self._task(key, "pair_classes")["head"], self._t(key, "threshold")
        if head == "cross":
            if v is not None:
                raise ValueError("the cross paraphrase head takes the joint pair embedding only")
            return F.linear(_as2d(u), self._t(key, "joint.weight"), self._t(key, "joint.bias")).squeeze(-1) - thr
        u, v = _as2d(u), _as2d(v)
        logit = self._t(key, "scale") * F.cosine_similarity(u, v, dim=-1) + self._t(key, "bias")
        if head == "features":
            w, H = self._t(key, "features.weight"), u.shape[-1]
            tied = torch.cat([(w[:, :H] + w[:, H:2 * H]) / 2, w[:, 2 * H:]], dim=-1)  # symmetric in u, v
            feats = torch.cat([u + v, (u - v).abs(), u * v], dim=-1)
            logit = logit + F.linear(feats, tied, self._t(key, "features.bias")).squeeze(-1)
        return logit - thr

    def pair_probability(self, key: str, u, v=None, calibrated: bool = False) -> torch.Tensor:
        """P(second class) (B,); raw as our predict tools report it, or temperature-scaled with calibrated=True."""
        t = self.tasks[key]["temperature"] if calibrated else 1.0
        return (self.pair_logit(key, u, v) / t).sigmoid()

    def score(self, key: str, u, v) -> torch.Tensor:
        """A pair_score task's score (B,): the fitted linear map of the cosine, clamped to its score_range."""
        d = self._task(key, "pair_score")
        lo, hi = d["spec"]["score_range"]
        a, b = self._t(key, "calibration")
        s = (a * F.cosine_similarity(_as2d(u), _as2d(v), dim=-1) + b).clamp(float(lo), float(hi))
        return s.round() if d["discrete"] else s


def _as2d(x) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    return t[None] if t.dim() == 1 else t


def load_heads(folder: str | Path) -> ExportedHeads:
    """Read heads.safetensors + heads.json of an exported folder (either format).

        heads = load_heads(DIR)
        st = SentenceTransformer(DIR)
        u, v = st.encode(["a man plays guitar"]), st.encode(["someone is playing a guitar"])
        heads.score("sts", u, v), heads.pair_probability("para", u, v)
        heads.logits("sst", SentenceTransformer(str(heads.encoder_dir("sst"))).encode(["a gripping film"]))

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
        found = config.get("format") if isinstance(config, dict) else None
        raise ExportError(f"{folder / 'heads.json'} is not a {HEADS_FORMAT} description"
                          + (f" (it is {found}: export the checkpoint again)" if found else ""))
    return ExportedHeads(tensors, config, folder)


# ----------------------------------------------------------------------------------------------- the export

def model_card(meta: dict, model: MultitaskModel, fmt: str, max_seq_length: int) -> str:
    cfg, m = model.config, _plain_metrics(meta)
    metrics = ""
    if m:
        rows = [(f"{t.name} dev {t.metric_name}", t.metric) for t in model.tasks.values()] + [("overall", "overall")]
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
    own = model.tasks[model.own_layers_task] if encoder_dir(model, model.own_layers_task) != "." else None
    own_note = (f"{own.name} ({own.skill}) runs through its own copy of the top {cfg.sst_layers} layer(s): embed "
                f"sentences for it with `{OWN_ENCODER_DIR}/`, a complete {fmt} folder of its own; every other task "
                "uses the root encoder." if own else "Every task uses the root encoder.")
    trained_on = ", ".join(f"{t.name} {t.skill}" for t in model.tasks.values())
    heads = "\n".join(f"- `{k}`: {t.name} {t.skill}, {t.kind}" + (f" ({', '.join(t.classes)})" if t.classes else
                       f" ({t.score_range[0]:g}-{t.score_range[1]:g})") for k, t in model.tasks.items())
    return f"""---
library_name: {fmt}
tags: [bert, minbert, sentence-similarity, feature-extraction]
---
# minBERT multitask encoder

Exported by `python -m minbert.export` from `{paths(meta.get("_path", "checkpoint"))[0].name}`
(sha256 {str(meta.get("weights_sha256"))[:16]}...): a {model.bert.config.num_hidden_layers}-layer BERT, hidden size
{model.bert.config.hidden_size}, fine-tuned on {trained_on}.
Weights in fp32; the checkpoint stored them in {meta.get("dtype", "float32")}.

Sentence embedding: {pooling} of the last hidden state, max {max_seq_length} tokens, not normalised
(compare embeddings by cosine): the same vector, up to length, as `python -m minbert.predict --task embed`.
The BERT pooler layer is included for completeness; our heads do not use it.

```python
{usage}
```

## Task heads

`heads.safetensors` + `heads.json` hold every task head of the checkpoint:
{heads}

`minbert.export.load_heads(DIR)` turns them into functions of embeddings, by task key: `logits(key, emb)` and
`probs(key, emb)` (one sentence -> classes), `pair_probability(key, u, v)` (a pair -> yes/no),
`score(key, u, v)` (a pair -> a score). {own_note}
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
        own = model.own_layers_task
        if encoder_dir(model, own) != ".":
            write_encoder_folder(tmp / OWN_ENCODER_DIR, encoder_state(model, own), config, tok, fmt, pooling,
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
