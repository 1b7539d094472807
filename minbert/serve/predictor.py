"""The Predictor: loads a checkpoint once and answers every live question the app asks.

All methods are safe to call from several threads: the model is read-only and inference is serialised by
one first-come-first-served lock, so concurrent requests never oversubscribe the CPU cores. Every request
has a bounded cost: long work (integrated gradients, whole files) runs in short chunks, taking the lock once
per chunk so short requests slip in between. How many long jobs run at once is the caller's choice: the app
runs one at a time and queues the rest in Gradio's bounded queue (app.py).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from minbert.evaluate.temperature import apply as calibrated, temperatures
from minbert.checkpoint import load_checkpoint
from minbert.data import Example, bucket_batches
from minbert.tasks import SST_CLASSES
from minbert.serve.fairlock import FairLock
from minbert.model import BertModel
from minbert.multitask import pool
from minbert.serve import precision as P
from minbert.data.batching import predict

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "minbert-multitask"
MAX_TOKENS = 512
MAX_CHARS = 20_000  # longer inputs are cut before tokenizing; the 512-token limit cuts far earlier
MAX_VIEW_TOKENS = 128  # attention maps and token alignments show at most this many tokens (a browser draws them well)
IG_STEPS = 16  # integrated-gradients steps for inputs up to IG_FULL_TOKENS
IG_FULL_TOKENS = 256  # longer inputs get proportionally fewer steps (at least IG_MIN_STEPS): bounded cost
IG_MIN_STEPS = 8
IG_CHUNK_CELLS = 6 * 128 * 128  # rows x T^2 per backward pass: bounds the attention memory of one chunk
SLICE_S = 1.0  # a long job holds the model for chunks of up to this long, then lets waiting requests in
FILE_BATCH = 16  # sentences per batch for whole files (up to 512 tokens each: bounded attention memory)
FILE_CHUNK = 64  # rows per lock hold for whole files: a light request waits for one chunk (under a second)
CORPUS_MAX_TOKENS = 128  # a corpus row is embedded from its first 128 tokens: bounded time per 100,000 rows
CORPUS_BATCH = 32  # corpus rows per batch and lock hold: a light request waits for one (~0.1 s on a quiet machine)
Progress = Callable[[float, str], None]


def ig_steps(n_tokens: int) -> int:
    if n_tokens <= IG_FULL_TOKENS:
        return IG_STEPS
    return max(IG_MIN_STEPS, round(IG_STEPS * IG_FULL_TOKENS / n_tokens))


def ig_method(steps: int) -> str:
    return f"integrated gradients ({steps} steps, [PAD] baseline) on the word embeddings"


class InputError(ValueError):
    """Input the user can fix: the message is shown as it is."""


def clean(text, name: str = "text") -> str:
    if text is None or not str(text).strip():
        raise InputError(f"Please enter {name}: it is empty.")
    return str(text).strip()[:MAX_CHARS]


class Predictor:
    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT, precision: str = "fp32"):
        """precision: one of minbert.serve.precision.PRECISIONS; "auto" measures (or reads the cached choice)."""
        ckpt = load_checkpoint(checkpoint)
        self.meta, self.tok, self.path = ckpt.meta, ckpt.tokenizer, ckpt.path
        self.model = ckpt.model.requires_grad_(False)  # fp32: attributions need gradients w.r.t. inputs
        # serves the fast paths; self.model stays fp32 (a copy is served in bf16/int8)
        self.fast = P.apply_precision(self.model, precision, self.tok, self.meta.get("weights_sha256"))
        self.precision, self.served = self.fast.precision, P.describe(self.fast)  # the candidate served, why
        self.temps = temperatures(self.meta)  # temperature scaling from the sidecar; 1.0 = raw probabilities
        self.lock = FairLock()
        self._base: BertModel | None = None

    @property
    def base(self) -> BertModel:
        """The pretrained encoder the checkpoint started from, loaded on first use."""
        if self._base is None:
            self._base = BertModel.from_pretrained(self.meta.get("train_config", {}).get("base_model")).requires_grad_(False)
        return self._base

    def encode(self, texts: list[str], pairs: list[str] | None = None):
        return self.tok(texts, pairs, max_length=MAX_TOKENS)

    @torch.inference_mode()
    def embed(self, texts: list[str], which: str = "finetuned") -> np.ndarray:
        """L2-normalised sentence embeddings (N, H) from the fine-tuned or the base encoder."""
        enc = self.encode(texts)
        with self.lock:
            if which == "base":
                h = self.base(**enc.model_inputs()).last_hidden_state
                e = pool(h, enc.attention_mask, self.model.config.pooling)
            else:
                e = self.fast.embed(**enc.model_inputs())
        return F.normalize(e, dim=-1).numpy()

    @torch.inference_mode()
    def _sst_logits(self, enc) -> torch.Tensor:
        """(N, 5) raw class logits from the serving model (at the served precision)."""
        with self.lock:
            return self.fast.sst(self.fast.embed(**enc.model_inputs(), task="sst"))["logits"]

    def _sst_probs(self, enc) -> torch.Tensor:
        """(N, 5) calibrated class probabilities: softmax(logits / T)."""
        return (self._sst_logits(enc) / self.temps["sst"]).softmax(-1)

    def sentiment(self, text: str) -> dict:
        """Calibrated class probabilities, the raw logits and the predicted class: one forward pass."""
        enc = self.encode([clean(text)])
        logits = self._sst_logits(enc)[0]
        probs = (logits / self.temps["sst"]).softmax(-1)
        label = int(probs.argmax())
        return {"probs": probs.tolist(), "logits": logits.tolist(), "temperature": self.temps["sst"], "label": label,
                "label_name": SST_CLASSES[label], "tokens": enc.tokens[0], "truncated": enc.truncated[0]}

    def sentiment_probs(self, texts: list[str]) -> list[list[float]]:
        """Calibrated class probabilities only (no attributions), one row per text."""
        return self._sst_probs(self.encode([clean(t) for t in texts])).tolist()

    def sentiment_attributions(self, text: str) -> dict:
        """Integrated-gradients contribution of every token to the predicted class's logit (fp32 model)."""
        enc = self.encode([clean(text)])
        # explain the class the app shows (a temperature never moves the argmax); in fp32 the IG pass finds it
        label = None if self.fast is self.model else int(self._sst_logits(enc)[0].argmax())
        label, contrib, check, steps = self._integrated_gradients(enc, label)
        return {"label": label, "label_name": SST_CLASSES[label], "tokens": enc.tokens[0],
                "contributions": contrib.tolist(), "truncated": enc.truncated[0], "method": ig_method(steps),
                "completeness": check}

    def _integrated_gradients(self, enc, target: int | None) -> tuple[int, np.ndarray, dict, int]:
        """Per-token attribution to the target class logit (None: the class the fp32 model predicts);
        special tokens keep their embedding. Runs in chunks of at most IG_CHUNK_CELLS / T^2 rows, one lock
        hold each, with ig_steps(T) midpoint steps.

        Returns the target, the contributions (T,), the completeness check (IG's contributions should sum to
        logit(input) - logit(baseline); the gap is the error of the step approximation) and the step count."""
        m, T = self.model, enc.input_ids.shape[1]
        S = ig_steps(T)
        ids, mask, types = enc.input_ids, enc.attention_mask, enc.token_type_ids
        x = m.bert.embeddings.word_embeddings(ids)  # (1, T, H)
        base = m.bert.embeddings.word_embeddings(torch.full_like(ids, self.tok.pad_id))
        keep = torch.tensor([[i in (self.tok.cls_id, self.tok.sep_id) for i in ids[0].tolist()]])[..., None]
        base = torch.where(keep, x, base).detach()
        x = x.detach()

        def logits(alphas: torch.Tensor, path: torch.Tensor) -> torch.Tensor:  # (n, 5)
            n = len(alphas)
            return m.sst(m.embed(ids.expand(n, -1), mask.expand(n, -1), types.expand(n, -1), inputs_embeds=path,
                                 task="sst"))["logits"]

        with self.lock, torch.no_grad():
            ends = logits(torch.tensor([0.0, 1.0]), torch.cat([base, x]))  # (2, 5): baseline, input
        target = int(ends[1].argmax()) if target is None else target
        grad_sum = torch.zeros_like(x[0])  # (T, H)
        alphas = (torch.arange(S, dtype=torch.float) + 0.5) / S  # midpoint rule
        chunks = list(alphas.split(max(1, IG_CHUNK_CELLS // (T * T))))
        while chunks:
            with self.lock:  # one time slice: chunks until SLICE_S has passed, then others get the model
                start = time.perf_counter()
                while chunks and (time.perf_counter() - start < SLICE_S):
                    chunk = chunks.pop(0)
                    path = (base + chunk[:, None, None] * (x - base)).requires_grad_(True)  # (rows, T, H)
                    (grad,) = torch.autograd.grad(logits(chunk, path)[:, target].sum(), path)
                    grad_sum += grad.sum(0)
        contrib = ((x - base)[0] * grad_sum / S).sum(-1)  # (T,)
        check = {"logit": float(ends[1, target]), "baseline_logit": float(ends[0, target]), "sum": float(contrib.sum())}
        return target, contrib.numpy(), check, S

    @torch.inference_mode()
    def _pair(self, s1: str, s2: str) -> tuple[dict, dict, object]:
        s1, s2 = clean(s1, "sentence 1"), clean(s2, "sentence 2")
        enc = self.encode([s1, s2])
        with self.lock:
            u, v = self.fast.embed(**enc.model_inputs()).chunk(2)
            para = self.fast.para(u, v)
            if self.fast.joint_input("para"):  # cross-encoder: the decision uses the pair encoded together
                joint = self.encode([s1], [s2])
                para.update(self.fast.para.forward_joint(self.fast.embed(**joint.model_inputs())))
            return para, self.fast.sts(u, v), enc

    def paraphrase(self, s1: str, s2: str) -> dict:
        para, _, enc = self._pair(s1, s2)
        prob = float((para["logit"] / self.temps["para"]).sigmoid())  # calibrated; the decision is unchanged
        out = {"cosine": float(para["cosine"]), "probability": prob, "is_paraphrase": prob > 0.5,
               "logit": float(para["logit"]), "temperature": self.temps["para"], "truncated": any(enc.truncated),
               "logit_threshold": float(self.model.para.threshold)}  # fit on held-out training pairs (--para-val)
        if self.model.config.para_head == "cosine":  # the decision boundary is a cosine threshold
            head = self.model.para
            out["cosine_threshold"] = float((head.threshold - head.bias) / head.scale)
        return out

    @torch.inference_mode()
    def similarity(self, s1: str, s2: str) -> dict:
        """Score, cosine and token alignment, all from one encoder pass over the two sentences."""
        enc = self.encode([clean(s1, "sentence 1"), clean(s2, "sentence 2")])
        with self.lock:
            h = self.fast.bert(**enc.model_inputs()).last_hidden_state  # (2, T, H)
            u, v = pool(h, enc.attention_mask, self.fast.config.pooling).chunk(2)
            sts = self.fast.sts(u, v)
        return {"cosine": float(sts["cosine"]), "score": float(sts["score"]), "truncated": any(enc.truncated),
                **alignment(enc, F.normalize(h, dim=-1), MAX_VIEW_TOKENS)}

    def cross_task(self, s1: str, s2: str) -> dict:
        para, sts, _ = self._pair(s1, s2)
        p1, p2 = self.sentiment_probs([s1, s2])
        out = {"paraphrase_probability": float((para["logit"] / self.temps["para"]).sigmoid()), "cosine": float(para["cosine"]),
               "sts_score": float(sts["score"]), "sentiment1": p1, "sentiment2": p2}
        out["flags"] = contradictions(out)
        return out

    @torch.inference_mode()
    def attention(self, text: str, text2: str | None = None, which: str = "finetuned") -> dict:
        """Attention probabilities (layers, heads, T, T) and per-head entropy (layers, heads), in nats, of the
        first MAX_VIEW_TOKENS tokens ("truncated" says when the input was longer)."""
        text = clean(text)
        text2 = text2.strip()[:MAX_CHARS] if isinstance(text2, str) and text2.strip() else None
        enc = self.tok([text], [text2] if text2 else None, max_length=MAX_VIEW_TOKENS)
        with self.lock:
            model = self.base if which == "base" else self.model.bert
            att = torch.stack(model(**enc.model_inputs(), output_attentions=True).attentions)[:, 0]  # (L, H, T, T)
        ent = -(att * att.clamp_min(1e-12).log()).sum(-1).mean(-1)  # (L, H): mean over query tokens
        return {"tokens": enc.tokens[0], "attentions": att.numpy(), "entropy": ent.numpy(),
                "truncated": enc.truncated[0]}

    @torch.inference_mode()
    def with_head_mask(self, text: str, text2: str | None, head_mask: np.ndarray) -> dict:
        """The fp32 model's answers with all heads and with head_mask (layers, heads; 0 removes a head):
        calibrated sentiment probabilities for one sentence, P(paraphrase) and the STS score for a pair."""
        text = clean(text)
        text2 = clean(text2, "sentence 2") if isinstance(text2, str) and text2.strip() else None
        enc = self.encode([text] if text2 is None else [text, text2]).model_inputs()
        out = {}
        for name, mask in (("all heads", None), ("masked", torch.as_tensor(head_mask, dtype=torch.float32))):
            with self.lock:
                emb = self.model.embed(**enc, head_mask=mask, task="sst" if text2 is None else None)  # (1 or 2, H)
                if text2 is None:
                    out[name] = {"sentiment": (self.model.sst(emb)["logits"][0] / self.temps["sst"]).softmax(-1).tolist()}
                    continue
                u, v = emb.chunk(2)
                logit = self.model.para(u, v)["logit"]
                out[name] = {"paraphrase_probability": float((logit / self.temps["para"]).sigmoid()),
                             "sts_score": float(self.model.sts(u, v)["score"])}
        return {**out, "removed": int((np.asarray(head_mask) == 0).sum()), "pair": text2 is not None}

    # --- whole files and many pairs --------------------------------------------------------------
    @torch.inference_mode()
    def embed_many(self, texts: list[str], progress: Progress | None = None,
                   max_tokens: int = CORPUS_MAX_TOKENS) -> np.ndarray:
        """The shared encoder's mean-pooled embeddings (N, H), not normalised (the pair heads take them as they
        are; embed() gives the same rows L2-normalised), in input order. Batches of similar length, one lock
        hold each (CORPUS_BATCH rows), so light requests slip in between."""
        order = bucket_batches(self.tok.token_lengths(texts), CORPUS_BATCH, shuffle=False)
        out = np.zeros((len(texts), self.model.bert.config.hidden_size), dtype=np.float32)  # (N, H)
        done = 0
        for idx in order:
            enc = self.tok([texts[i] for i in idx], max_length=max_tokens)
            with self.lock:
                out[idx] = self.fast.embed(**enc.model_inputs()).float().numpy()
            done += len(idx)
            if progress:
                progress(done / len(texts), f"embedding: {done:,} / {len(texts):,} rows")
        return out

    @torch.inference_mode()
    def scores_against(self, query: str, emb: np.ndarray, texts: list[str], progress: Progress | None = None,
                       chunk: int = 4096) -> dict[str, np.ndarray]:
        """P(paraphrase) (calibrated) and the STS score 0-5 of the query sentence against every row of `emb`
        (N, H), the embed_many embeddings of `texts`: the numbers paraphrase() and similarity() give for
        (query, row). A cross-encoder paraphrase head needs each pair encoded together: predict_examples."""
        query = clean(query, "a query sentence")
        with self.lock:
            q = self.fast.embed(**self.encode([query]).model_inputs())  # (1, H)
        prob, score = np.zeros(len(emb), np.float32), np.zeros(len(emb), np.float32)
        for start in range(0, len(emb), chunk):
            v = torch.from_numpy(emb[start:start + chunk])
            u = q.expand(len(v), -1)
            with self.lock:
                prob[start:start + len(v)] = (self.fast.para(u, v)["logit"] / self.temps["para"]).sigmoid().numpy()
                score[start:start + len(v)] = self.fast.sts(u, v)["score"].numpy()
        if self.fast.joint_input("para"):
            pairs = [Example(str(i), query, t) for i, t in enumerate(texts)]
            prob = self.predict_examples("para", pairs, progress)["prob"]
        return {"probability": prob, "score": score}

    def predict_examples(self, task: str, examples: list[Example], progress: Progress | None = None,
                         with_embeddings: bool = False) -> dict[str, np.ndarray]:
        """tasks.predict over many examples with the serving model, FILE_CHUNK rows per lock hold, inputs up
        to MAX_TOKENS tokens (as the single-example methods), in input order."""
        parts: list[dict] = []
        for start in range(0, len(examples), FILE_CHUNK):
            chunk = examples[start:start + FILE_CHUNK]
            with self.lock:
                parts.append(calibrated(task, predict(self.fast, task, chunk, self.tok, FILE_BATCH, MAX_TOKENS,
                                                      with_embeddings=with_embeddings), self.temps))
            if progress:
                progress(min(1.0, (start + len(chunk)) / len(examples)), f"{start + len(chunk):,} / {len(examples):,} rows")
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}

    @torch.inference_mode()
    def score_pairs(self, pairs: list[Example], progress: Progress | None = None) -> list[dict]:
        """For each pair: cosine, STS score 0-5, P(paraphrase) and the decision, in input order; the same
        numbers as paraphrase() and similarity() give one pair at a time."""
        out = self.predict_examples("para", pairs, progress, with_embeddings=True)
        if not pairs:
            return []
        sts = self.fast.sts(torch.from_numpy(out["emb1"]), torch.from_numpy(out["emb2"]))
        return [{"cosine": float(out["cosine"][i]), "score": float(sts["score"][i]), "probability": float(out["prob"][i]),
                 "is_paraphrase": bool(out["prob"][i] > 0.5)} for i in range(len(pairs))]


def polarity(probs: list[float]) -> int:
    """-1 negative, 0 neutral, +1 positive: the sign of expected sentiment minus neutral, with a margin."""
    expected = float(np.dot(probs, np.arange(5)))
    return 0 if abs(expected - 2) < 0.5 else (1 if expected > 2 else -1)


def contradictions(r: dict) -> list[str]:
    flags = []
    is_para, score = r["paraphrase_probability"] > 0.5, r["sts_score"]
    pol1, pol2 = polarity(r["sentiment1"]), polarity(r["sentiment2"])
    if is_para and pol1 * pol2 < 0:
        flags.append("paraphrase, but opposite sentiment")
    if is_para and score < 2.0:
        flags.append(f"paraphrase, but low similarity (STS {score:.2f} < 2)")
    if not is_para and score >= 4.0:
        flags.append(f"not a paraphrase, yet very similar (STS {score:.2f} >= 4)")
    if not is_para and pol1 * pol2 < 0 and score >= 3.0:
        flags.append("similar meaning, opposite sentiment")
    return flags


def alignment(enc, h: torch.Tensor, max_tokens: int) -> dict:
    """Cosine between every contextual token of sentence 1 and of sentence 2 (special tokens left out), for
    the first max_tokens tokens of each sentence."""
    rows = [[i for i, s in enumerate(enc.sequence_ids[r]) if s is not None][:max_tokens] for r in (0, 1)]
    sim = (h[0, rows[0]] @ h[1, rows[1]].T).numpy()  # (T1, T2)
    return {"tokens1": [enc.tokens[0][i] for i in rows[0]], "tokens2": [enc.tokens[1][i] for i in rows[1]],
            "alignment": sim.tolist()}
