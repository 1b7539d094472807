"""The app's public API: one method per endpoint, each returning one plain JSON object for gradio_client users.

Numbers, labels, lists and dicts only: no figures, no component updates, no HTML or Markdown. A message for people
is plain text under "message"; bad input gives {"error": "why, in plain text"}. A file the answer offers is its
path on the server under "csv" (app.py hands it to Gradio to serve). docs/USAGE.md lists every endpoint with an
example answer, and tests/test_app.py holds the live app to it. Nothing here imports gradio.
"""
from __future__ import annotations

import html
import re

import numpy as np

from minbert.serve.predictor import MAX_VIEW_TOKENS, InputError

from analysis import compare
from analysis.studio import figures

TAG = re.compile(r"<[^>]+>")


def plain_text(markdown: str) -> str:
    """A tab's Markdown message as plain text: no tags, no ** or backticks, HTML entities decoded."""
    return html.unescape(TAG.sub("", str(markdown)).replace("**", "").replace("`", "")).strip()


def plain_json(value):
    """value as JSON carries it: numpy scalars and arrays as Python numbers and lists, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return plain_json(value.tolist())
    return value


def failed(e: Exception) -> dict:
    return {"error": plain_text(str(e))}


def answer(fn, *args) -> dict:
    """fn's (Markdown message, plain answer) as one object with the message in plain text."""
    try:
        msg, data = fn(*args)
    except InputError as e:
        return failed(e)
    return {**plain_json(data), "message": plain_text(msg)}


def text_or_none(value) -> str | None:
    """A text input as a string (clients may send numbers or None; an empty value stays empty)."""
    return None if value is None else str(value)


def index(value, n: int, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number in 0..{n - 1}.") from None
    if not 0 <= i < n:
        raise InputError(f"{name} must be in 0..{n - 1}, got {i}.")
    return i


class StudioAPI:
    """The public endpoints over one Studio; each method's name is its api_name."""

    def __init__(self, studio):
        self.studio = studio

    def sentiment(self, text: str) -> dict:
        """label, label_name, probs (5 calibrated), logits, temperature, tokens, truncated, message."""
        return answer(self.studio.sentiment_answer, text_or_none(text))

    def sentiment_explain(self, text: str) -> dict:
        """Integrated gradients: label, label_name, tokens, contributions (one per token), method, completeness."""
        try:
            return plain_json(self.studio.predictor.sentiment_attributions(text_or_none(text)))
        except InputError as e:
            return failed(e)

    def counterfactual(self, text: str, edited: str) -> dict:
        """A sentence beside its edit: text, edited_text, original and edited (label, label_name, probs, logits,
        tokens, attribution_label, contributions, method, completeness), temperature, token_diff (op, original,
        edited), changed, delta_probs, delta_original_class, original_class, message."""
        return answer(self.studio.editor.answer, text_or_none(text), text_or_none(edited))

    def paraphrase(self, sentence1: str, sentence2: str) -> dict:
        """cosine, probability, is_paraphrase, logit, temperature, logit_threshold (cosine_threshold for a cosine
        head), truncated, message."""
        return answer(self.studio.paraphrase_answer, text_or_none(sentence1), text_or_none(sentence2))

    def similarity(self, sentence1: str, sentence2: str) -> dict:
        """score (0-5), cosine, tokens1, tokens2, alignment (tokens1 x tokens2 cosines), truncated, message."""
        return answer(self.studio.similarity_answer, text_or_none(sentence1), text_or_none(sentence2))

    def cross_task(self, sentence1: str, sentence2: str) -> dict:
        """tasks (each task's answer by key), flags (contradictions between the built-in tasks), message."""
        return answer(self.studio.cross_task_answer, text_or_none(sentence1), text_or_none(sentence2))

    def run_task(self, key: str, text: str, text2: str | None = None) -> dict:
        """Any task by key: task, label, label_name and probs (a sentence task) or prob (a yes/no pair task), or
        score (a score task); a pair task takes text2."""
        try:
            return plain_json(self.studio.one_task(key, text_or_none(text), text_or_none(text2)))
        except InputError as e:
            return failed(e)

    def attention(self, text: str, text2: str | None = None, layer: int | None = None,
                  head: int | None = None) -> dict:
        """Per model ("finetuned", "base"): tokens and per-head entropy of the first MAX_VIEW_TOKENS tokens; the
        probabilities of one layer (`layer`), one head (`layer` and `head`), or of every layer and head for the
        first GRID_TOKENS tokens ("attention_tokens" says how many)."""
        cfg = self.studio.predictor.model.bert.config
        try:
            layer, head = index(layer, cfg.num_hidden_layers, "layer"), index(head, cfg.num_attention_heads, "head")
            if head is not None and layer is None:
                raise InputError("Give a layer with the head.")
            return {which: self._attention_of(which, text_or_none(text), text_or_none(text2), layer, head)
                    for which in ("finetuned", "base")}
        except InputError as e:
            return failed(e)

    def _attention_of(self, which: str, text, text2, layer: int | None, head: int | None) -> dict:
        a = self.studio.predictor.attention(text, text2, which)
        att = a["attentions"]  # (L, H, T, T)
        if layer is None:  # every map: the first GRID_TOKENS tokens, as the model view draws them
            att = att[..., :figures.GRID_TOKENS, :figures.GRID_TOKENS]
        else:
            att = att[layer] if head is None else att[layer, head]
        return {"tokens": a["tokens"], "entropy": np.round(a["entropy"].astype(np.float64), 4).tolist(),
                "attentions": np.round(att.astype(np.float64), 4).tolist(), "truncated": a["truncated"],
                "layer": layer, "head": head, "max_tokens": MAX_VIEW_TOKENS, "attention_tokens": att.shape[-1]}

    def head_mask(self, heads: str, text: str, text2: str | None = None) -> dict:
        """The model with heads removed ("2.7 5.0", "L3") beside all heads: "all heads", "masked", removed, pair,
        message."""
        return answer(self.studio.head_mask_answer, text_or_none(heads), text_or_none(text), text_or_none(text2))

    def behaviour_template(self, template: str, word_lists: str = "",
                           expectation: str = "negative (class 0-1)") -> dict:
        """n, failures, failure_rate, outputs (what each case's outputs are), rows (case, outputs, fails, severity;
        failing first), message."""
        return answer(self.studio.behaviour_answer, template, word_lists, expectation)

    def compare(self, a: str, b: str) -> dict:
        """B against A (listed sources only): a, b, tasks (metrics, CI, test, confusion difference, flips), message."""
        try:
            report = self.studio.compare_report(a, b)
        except InputError as e:
            return failed(e)
        return {**plain_json(report), "message": compare.summary_text(self.studio.labelled(report, a, b))}

    def dev_slice(self, ids: list[str]) -> dict:
        """Dev examples ("task:id", as the maps name them) scored as a slice from the stored predictions: size, tasks
        (per task key: name, examples, dev_examples, metrics beside the whole dev set's dev_metrics, labels: the gold
        and predicted mix beside the dev set's gold), rows, unknown (ids of no dev example), message."""
        return answer(self.studio.dev_slice_answer, ids)

    def score_pairs(self, text: str, file: str | None = None, pairs: list | None = None,
                    session: str | None = None) -> dict:
        """Many pairs from a file, else pasted lines, else `pairs` ([[s1, s2], ...]): rows, bad_lines, csv, message."""
        typed = pairs if isinstance(pairs, (list, dict)) else None
        msg, out, _, path = self.studio.score_pairs(text_or_none(text), file, None, typed, session)
        if "error" in out:
            return failed(out["error"])
        return {**plain_json(out), "csv": path, "message": plain_text(msg)}

    def evaluate_file(self, file: str | None, task: str, text_column: str = "", sentence2_column: str = "",
                      label_column: str = "", session: str | None = None) -> dict:
        """A labelled file of a task: metrics, csv (the file with its predictions), message."""
        cols = [str(c or "") for c in (text_column, sentence2_column, label_column)]
        msg, metrics, _, path = self.studio.evaluate_file(file, task, *cols, None, session)
        if "error" in metrics:
            return failed(metrics["error"])
        return {"metrics": plain_json(metrics), "csv": path, "message": plain_text(msg)}

    def map_corpus(self, file: str | None) -> dict:
        """A corpus mapped: key, rows, text_column, metadata, dropped, cached, clusters, seconds, cpu_seconds."""
        out = plain_json(self.studio.corpus.map_api(file))
        return failed(out["error"]) if "error" in out else out
