"""The Predictor: loads a checkpoint once and answers every live question the app asks.

All methods are safe to call from several threads: the model is read-only and inference is serialised by
one first-come-first-served lock, so concurrent requests never oversubscribe the CPU cores. Every request
has a bounded cost: long work (integrated gradients, whole files) runs in short chunks, taking the lock once
per chunk so short requests slip in between. How many long jobs run at once is the caller's choice: the app
runs one at a time and queues the rest in Gradio's bounded queue (app.py).
"""
from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from minbert.evaluate.temperature import apply as calibrated, temperatures
from minbert.checkpoint import load_checkpoint
from minbert.data import Example
from minbert.data.batching import bucket_batches
from minbert.serve.fairlock import FairLock
from minbert.model import BertModel
from minbert.multitask import pool
from minbert.serve import precision as P, task_output
from minbert.serve.embedding import SHARED, embedding_task
from minbert.evaluate.inference import predict
from minbert.tasks import TaskSpecError, by_name

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
SENTIMENT = "sst"  # the task of the app's built-in sentiment views (box, attributions, head masks); run_task serves any
PARAPHRASE = "para"  # the task of the built-in paraphrase views (pair box, retrieval, a file's P(paraphrase))


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
    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT, precision: str = "fp32", later: bool = False):
        """precision: one of minbert.serve.precision.PRECISIONS; "auto" measures (or reads the cached choice).
        later: with "auto", serve fp32 at once and leave the choice to choose_later(), which a server calls once
        it is listening."""
        ckpt = load_checkpoint(checkpoint)
        self.meta, self.tok, self.path = ckpt.meta, ckpt.tokenizer, ckpt.path
        self.model = ckpt.model.requires_grad_(False)  # fp32: attributions need gradients w.r.t. inputs
        self.lock = FairLock()
        self.choosing = later and precision == "auto"  # True until choose_later() has switched the served model
        # serves the fast paths; self.model stays fp32 (a copy is served in bf16/int8)
        self._serve(P.serve_as(self.model, "fp32", "fp32 for now: auto chooses in the background, then switches")
                    if self.choosing else P.apply_precision(self.model, precision, self.tok, self.meta.get("weights_sha256")))
        self.temps = temperatures(self.meta)  # temperature scaling from the sidecar; 1.0 = raw probabilities
        self._base: BertModel | None = None

    def _serve(self, fast) -> None:
        self.fast = fast
        self.precision, self.served = fast.precision, P.describe(fast)  # the candidate served, why

    def choose_later(self) -> threading.Thread | None:
        """In a background thread: auto's cached choice, or its measurement (again if the cached one was made under
        load), then serve that. The measurement holds the model lock one probe batch at a time, so requests wait
        for one batch at most and never share the cores with it. None when there is nothing to choose."""
        if not self.choosing:
            return None
        thread = threading.Thread(target=self._choose, name="precision-auto", daemon=True)
        thread.start()
        return thread

    def _choose(self) -> None:
        sha = self.meta.get("weights_sha256")
        try:
            cached = P.cached_choice(sha)
            choice, note, built = P.choose_auto(self.model, self.tok, sha, self.lock,
                                                remeasure=cached is None or cached.under_load)
            fast = built if built is not None else P.build(self.model, choice, self.tok)
            fast.precision, fast.precision_note = choice, note
            with self.lock:
                self._serve(fast)
        except Exception as e:  # noqa: BLE001 - a failed measurement leaves fp32 served, and says why
            self.served = f"fp32 (auto's measurement failed: {type(e).__name__}: {e})"
        finally:
            self.choosing = False
        release_freed_memory()  # the candidates measured and dropped
        print(f"precision: {self.served}", file=sys.stderr, flush=True)

    @property
    def base(self) -> BertModel:
        """The pretrained encoder the checkpoint started from, loaded on first use."""
        if self._base is None:
            self._base = BertModel.from_pretrained(self.meta.get("train_config", {}).get("base_model")).requires_grad_(False)
        return self._base

    def encode(self, texts: list[str], pairs: list[str] | None = None):
        return self.tok(texts, pairs, max_length=MAX_TOKENS)

    @torch.inference_mode()
    def embed(self, texts: list[str], which: str = "finetuned", embedding: str = SHARED) -> np.ndarray:
        """L2-normalised sentence embeddings (N, H) from the fine-tuned or the base encoder. `embedding` (fine-tuned
        only): "shared", the encoder `minbert.predict --task embed` and the sentence-transformers export use, or a
        task with layers of its own ("sentiment"; minbert.serve.embedding)."""
        try:
            task = embedding_task(self.model.tasks.values(), embedding)
        except TaskSpecError as e:
            raise InputError(str(e)) from None
        enc = self.encode(texts)
        with self.lock:
            if which == "base":
                h = self.base(**enc.model_inputs()).last_hidden_state
                e = pool(h, enc.attention_mask, self.model.config.pooling)
            else:
                e = self.fast.embed(**enc.model_inputs(), task=task)
        return F.normalize(e.float(), dim=-1).numpy()

    @torch.inference_mode()
    def _sst_logits(self, enc) -> torch.Tensor:
        """(N, 5) raw class logits from the serving model (at the served precision)."""
        with self.lock:
            return self.fast.head(SENTIMENT)(self.fast.embed(**enc.model_inputs(), task=SENTIMENT))["logits"]

    def _sst_probs(self, enc) -> torch.Tensor:
        """(N, 5) calibrated class probabilities: softmax(logits / T)."""
        return (self._sst_logits(enc) / self.temps[SENTIMENT]).softmax(-1)

    def sentiment(self, text: str) -> dict:
        """Calibrated class probabilities, the raw logits and the predicted class: one forward pass."""
        enc = self.encode([clean(text)])
        logits = self._sst_logits(enc)[0]
        probs = (logits / self.temps[SENTIMENT]).softmax(-1)
        label = int(probs.argmax())
        return {"probs": probs.tolist(), "logits": logits.tolist(), "temperature": self.temps[SENTIMENT],
                "label": label,
                "label_name": self.model.tasks[SENTIMENT].classes[label], "tokens": enc.tokens[0],
                "truncated": enc.truncated[0]}

    def sentiment_probs(self, texts: list[str]) -> list[list[float]]:
        """Calibrated class probabilities only (no attributions), one row per text."""
        return self._sst_probs(self.encode([clean(t) for t in texts])).tolist()

    def sentiment_attributions(self, text: str) -> dict:
        """Integrated-gradients contribution of every token to the predicted class's logit (fp32 model)."""
        enc = self.encode([clean(text)])
        # explain the class the app shows (a temperature never moves the argmax); in fp32 the IG pass finds it
        label = None if self.fast is self.model else int(self._sst_logits(enc)[0].argmax())
        label, contrib, check, steps = self._integrated_gradients(enc, label)
        return {"label": label, "label_name": self.model.tasks[SENTIMENT].classes[label], "tokens": enc.tokens[0],
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
            return m.head(SENTIMENT)(m.embed(ids.expand(n, -1), mask.expand(n, -1), types.expand(n, -1),
                                             inputs_embeds=path, task=SENTIMENT))["logits"]

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
            if self.fast.joint_input(PARAPHRASE):  # cross-encoder: the decision uses the pair encoded together
                joint = self.encode([s1], [s2])
                para.update(self.fast.para.forward_joint(self.fast.embed(**joint.model_inputs())))
            return para, self.fast.sts(u, v), enc

    def paraphrase(self, s1: str, s2: str) -> dict:
        para, _, enc = self._pair(s1, s2)
        prob = float((para["logit"] / self.temps[PARAPHRASE]).sigmoid())  # calibrated; the decision is unchanged
        out = {"cosine": float(para["cosine"]), "probability": prob, "is_paraphrase": prob > 0.5,
               "logit": float(para["logit"]), "temperature": self.temps[PARAPHRASE], "truncated": any(enc.truncated),
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
        out = {"paraphrase_probability": float((para["logit"] / self.temps[PARAPHRASE]).sigmoid()), "cosine": float(para["cosine"]),
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
                emb = self.model.embed(**enc, head_mask=mask, task=SENTIMENT if text2 is None else None)  # (1 or 2, H)
                if text2 is None:
                    logits = self.model.head(SENTIMENT)(emb)["logits"][0]
                    out[name] = {"sentiment": (logits / self.temps[SENTIMENT]).softmax(-1).tolist()}
                    continue
                u, v = emb.chunk(2)
                logit = self.model.para(u, v)["logit"]
                out[name] = {"paraphrase_probability": float((logit / self.temps[PARAPHRASE]).sigmoid()),
                             "sts_score": float(self.model.sts(u, v)["score"])}
        return {**out, "removed": int((np.asarray(head_mask) == 0).sum()), "pair": text2 is not None}

    # --- any task, whole files and many pairs ----------------------------------------------------
    def run_task(self, key: str, texts: list[str], texts2: list[str] | None = None) -> dict:
        """Any task head of the checkpoint (an added one too), named by key (or skill or name), on sentences, or on
        pairs (texts[i], texts2[i]): the served model's predictions as plain lists, calibrated where the checkpoint
        has a temperature, one entry per input (minbert.serve.task_output.plain), with "task" (the key) and "kind":
            sentence_classes  label, label_name, probs, logits
            pair_classes      label, label_name, prob (P of the second class), logit, cosine
            pair_score        score, cosine
        A single string may stand for a list of one. Inputs up to MAX_TOKENS tokens; InputError for what the user
        can fix (empty text, a pair task without texts2, an unknown task)."""
        try:
            task = by_name(self.model.tasks.values(), key)
        except TaskSpecError as e:
            raise InputError(str(e)) from None
        texts = [texts] if isinstance(texts, str) else list(texts)
        texts2 = [texts2] if isinstance(texts2, str) else texts2
        if not texts:
            raise InputError("Please enter at least one sentence.")
        if task.pair and (texts2 is None or len(texts2) != len(texts)):
            raise InputError(f"{task.name} takes pairs: give as many second sentences as first ones.")
        examples = [Example(str(i), clean(t, "sentence 1" if task.pair else "text"),
                            clean(texts2[i], "sentence 2") if task.pair else None) for i, t in enumerate(texts)]
        return {"task": task.key, "kind": task.kind, **task_output.plain(task, self.predict_examples(task.key, examples))}

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
                prob[start:start + len(v)] = (self.fast.para(u, v)["logit"] / self.temps[PARAPHRASE]).sigmoid().numpy()
                score[start:start + len(v)] = self.fast.sts(u, v)["score"].numpy()
        if self.fast.joint_input(PARAPHRASE):
            pairs = [Example(str(i), query, t) for i, t in enumerate(texts)]
            prob = self.predict_examples(PARAPHRASE, pairs, progress)["prob"]
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
        out = self.predict_examples(PARAPHRASE, pairs, progress, with_embeddings=True)
        if not pairs:
            return []
        sts = self.fast.sts(torch.from_numpy(out["emb1"]), torch.from_numpy(out["emb2"]))
        return [{"cosine": float(out["cosine"][i]), "score": float(sts["score"][i]), "probability": float(out["prob"][i]),
                 "is_paraphrase": bool(out["prob"][i] > 0.5)} for i in range(len(pairs))]


def release_freed_memory() -> None:
    """Hand memory Python has freed back to the OS: glibc keeps freed heap pages for reuse, so a process that built
    and dropped several model copies (auto's candidates, about 200 MB) would otherwise keep them resident."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library (musl): nothing to hand back this way
            pass


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
