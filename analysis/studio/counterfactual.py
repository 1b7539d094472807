"""Counterfactual editing, like LIT's datapoint editor (Tenney et al., 2020): the Sentiment tab's sentence beside an
edited copy, with both predictions, the change per token and both token attributions, and a short history.

Suggestions for a word swap come from word lists (analysis.behaviour's curated antonym/synonym table and its
pos_adj/neg_adj/intens lists, and negation of a copula) and from the nearest neighbours of the word in the model's
word-embedding matrix. There are no masked-language-model guesses: see NO_MLM. Plain data in and out; the figure
and HTML builders at the end follow analysis/studio/figures.py. Nothing here imports gradio.
"""
from __future__ import annotations

import difflib
import html
import re

import numpy as np
import plotly.graph_objects as go

from analysis import behaviour
from analysis.studio import downloads, figures
from analysis.studio.theme import class_colors, layout
from minbert.serve.predictor import MAX_CHARS, MAX_TOKENS, SENTIMENT, InputError, Progress, clean

MAX_HISTORY = 20  # edits kept in the history table (the oldest leave first)
NEIGHBOURS = 6  # embedding neighbours offered per word
DELETE = "<delete>"  # the suggestion value that removes the word
WORD = re.compile(r"\w+(?:['’-]\w+)*")  # a word of the sentence as the swap list shows it
WHOLE_WORD_PIECE = re.compile(r"[a-z]{2,}")  # vocabulary entries offered as neighbours: lower-case words, no ## pieces
COPULAS = ("is", "was", "are", "were", "be")  # "is" -> "is not": negation as an edit
SPECIAL = {"[CLS]", "[SEP]", "[PAD]"}
NO_MLM = ("No masked-language-model guesses: this checkpoint ships no MLM head (a `--mlm-epochs` stage trains one "
          "but does not save it) and its base, all-MiniLM-L6-v2, has none either (no `cls.predictions` weights), so "
          "the studio offers word lists and embedding neighbours instead of an untrained head's guesses.")
HELP = ("Edit the sentence, or pick a word and swap it for a suggestion, then compare. Suggestions say where they "
        "come from: **antonym / synonym** (a small curated table, the Behaviour tab's), **opposite / same "
        "polarity** (the Behaviour tab's pos_adj and neg_adj lists), **intensifier** (its intens list), "
        "**negation** (not after is/was/are/were/be), **embedding neighbour** (the nearest words to this one in the "
        f"model's word-embedding matrix, by cosine; one-piece words only). {NO_MLM}")
HISTORY_COLUMNS = ["#", "edited sentence", "prediction", "probabilities", "change from the original"]
HISTORY_WIDTHS = ["6%", "38%", "16%", "18%", "22%"]


# --- checking input ---------------------------------------------------------------------------------
def checked(text, name: str, tok) -> str:
    """The text stripped; empty, over MAX_CHARS characters or over MAX_TOKENS tokens raises InputError (the model
    would read only the start, so an edit past it would change nothing)."""
    if text is not None and len(str(text)) > MAX_CHARS:
        raise InputError(f"The {name} has {len(str(text)):,} characters; the editor takes at most {MAX_CHARS:,}. "
                         "Shorten it.")
    text = clean(text, f"the {name}")
    n = tok.token_lengths([text])[0]
    if n > MAX_TOKENS:
        raise InputError(f"The {name} is {n:,} tokens long; the model reads at most {MAX_TOKENS}, so an edit past "
                         "them would change nothing. Shorten it.")
    return text


# --- the change per token -----------------------------------------------------------------------------
def token_diff(original: list[str], edited: list[str]) -> list[dict]:
    """difflib's opcodes over the tokenizer's tokens ([CLS], [SEP] left out): one dict per run of tokens, op one of
    equal, replace, insert, delete, with the original's and the edited's tokens of that run."""
    a = [t for t in original if t not in SPECIAL]
    b = [t for t in edited if t not in SPECIAL]
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return [{"op": op, "original": a[i1:i2], "edited": b[j1:j2]} for op, i1, i2, j1, j2 in ops]


def diff_counts(diff: list[dict]) -> dict:
    """Tokens replaced (counted on the original's side), inserted and deleted."""
    n = {"replaced": 0, "inserted": 0, "deleted": 0}
    for run in diff:
        if run["op"] == "replace":
            n["replaced"] += len(run["original"])
        elif run["op"] == "insert":
            n["inserted"] += len(run["edited"])
        elif run["op"] == "delete":
            n["deleted"] += len(run["original"])
    return n


# --- swapping a word ----------------------------------------------------------------------------------
def words(text: str | None) -> list[tuple[str, int]]:
    """(label, index) of each word of the text, for the swap list; a repeated word is numbered ("the (2)")."""
    seen: dict[str, int] = {}
    out = []
    for i, m in enumerate(WORD.finditer(str(text or ""))):
        w = m.group()
        seen[w.lower()] = seen.get(w.lower(), 0) + 1
        out.append((w if seen[w.lower()] == 1 else f"{w} ({seen[w.lower()]})", i))
    return out


def swap(text: str, index, replacement: str) -> str:
    """The text with its index-th word replaced (capitalised like it) or, for DELETE, removed with one space."""
    matches = list(WORD.finditer(str(text or "")))
    try:
        m = matches[int(index)]
    except (TypeError, ValueError, IndexError):
        raise InputError("Pick a word of the edited sentence to swap.") from None
    if not replacement:
        raise InputError("Pick a suggestion (or type the new word in the edited sentence).")
    if replacement == DELETE:
        start, end = m.span()
        if end < len(text) and text[end] == " ":
            end += 1
        elif start > 0 and text[start - 1] == " ":
            start -= 1
        return text[:start] + text[end:]
    new = replacement[:1].upper() + replacement[1:] if m.group()[:1].isupper() else replacement
    return text[:m.start()] + new + text[m.end():]


def word_list_suggestions(word: str) -> list[dict]:
    """Swaps from the curated lists: {"word", "source"} each, without repeats."""
    w = str(word or "").lower()
    out = []
    for a, anti, syn in behaviour.ANTONYMS:  # (word, its antonym, its synonym)
        if w in (a, syn):
            out += [{"word": anti, "source": "antonym"}, {"word": syn if w == a else a, "source": "synonym"}]
        elif w == anti:
            out.append({"word": a, "source": "antonym"})
    for own, other in ((behaviour.POS, behaviour.NEG), (behaviour.NEG, behaviour.POS)):
        if w in own:
            out += [{"word": x, "source": "opposite polarity"} for x in other[:4]]
            out += [{"word": x, "source": "same polarity"} for x in own[:4] if x != w][:2]
    if w in behaviour.INTENS:
        out += [{"word": x, "source": "intensifier"} for x in behaviour.INTENS if x != w][:3]
    if w in COPULAS:
        out.append({"word": f"{w} not", "source": "negation"})
    seen, unique = {w}, []
    for s in out:
        if s["word"] not in seen:
            seen.add(s["word"])
            unique.append(s)
    return unique


class EmbeddingNeighbours:
    """Nearest vocabulary words of a word by cosine in a word-embedding matrix (V, H), over whole-word entries."""

    def __init__(self, weight: np.ndarray, vocab: list[str]):
        self.weight, self.vocab = weight, vocab  # (V, H), not copied
        self.index = {t: i for i, t in enumerate(vocab)}
        self.norms = np.linalg.norm(weight, axis=1) + 1e-12  # (V,)
        self.eligible = np.array([bool(WHOLE_WORD_PIECE.fullmatch(t)) for t in vocab])  # (V,)

    def __call__(self, word: str, k: int = NEIGHBOURS) -> list[dict]:
        """{"word", "source", "cosine"} of the k nearest; none for a word that is several word pieces."""
        i = self.index.get(str(word or "").lower())
        if i is None:
            return []
        cos = self.weight @ self.weight[i] / (self.norms * self.norms[i])  # (V,)
        cos = np.where(self.eligible, cos, -np.inf)
        cos[i] = -np.inf
        top = np.argpartition(-cos, k)[:k]
        return [{"word": self.vocab[j], "source": "embedding neighbour", "cosine": round(float(cos[j]), 3)}
                for j in top[np.argsort(-cos[top])]]


# --- the comparison -----------------------------------------------------------------------------------
def change(task, original: dict, edited: dict) -> dict:
    """How the edit moved the prediction: the class changed?, each class's probability difference (edited minus
    original) and that of the original's predicted class."""
    delta = (np.asarray(edited["probs"]) - np.asarray(original["probs"])).round(6).tolist()
    return {"changed": original["label"] != edited["label"], "delta_probs": delta,
            "delta_original_class": delta[original["label"]], "original_class": task.classes[original["label"]]}


def summary(r: dict) -> str:
    """The comparison in one Markdown line."""
    o, e = r["original"], r["edited"]
    moved = (f"the class changed: {o['label_name']} → {e['label_name']}" if r["changed"]
             else f"same class ({o['label_name']})")
    n = diff_counts(r["token_diff"])
    return (f"**Original: {o['label_name']} ({o['probs'][o['label']]:.1%}) · edited: {e['label_name']} "
            f"({e['probs'][e['label']]:.1%})** · {moved} · P({r['original_class']}) "
            f"{r['delta_original_class'] * 100:+.1f} points · tokens: {n['replaced']} replaced, {n['inserted']} "
            f"inserted, {n['deleted']} deleted")


def history_row(r: dict) -> dict:
    o, e = r["original"], r["edited"]
    return {"original": r["text"], "edited": r["edited_text"], "original_label": o["label_name"],
            "edited_label": e["label_name"], "original_probs": o["probs"], "edited_probs": e["probs"],
            "delta_original_class": r["delta_original_class"], "original_class": r["original_class"],
            "changed": r["changed"]}


def add_to_history(history: list | None, row: dict, limit: int = MAX_HISTORY) -> list[dict]:
    """The history with row appended (not when it repeats the last one), keeping the last `limit`; numbered."""
    rows = list(history or [])
    same = ("original", "edited")
    if not rows or any(rows[-1][k] != row[k] for k in same):
        rows.append({**row, "n": rows[-1]["n"] + 1 if rows else 1})
    return rows[-limit:]


def history_table(history: list | None) -> list[list]:
    """HISTORY_COLUMNS rows, newest first."""
    return [[h["n"], h["edited"], f"{h['edited_label']} ({max(h['edited_probs']):.0%})",
             " ".join(f"{p:.2f}" for p in h["edited_probs"]),
             ("class changed from " if h["changed"] else "same class as ") + f"{h['original_label']}; "
             f"P({h['original_class']}) {h['delta_original_class'] * 100:+.1f} pts"]
            for h in reversed(history or [])]


def history_csv(task, history: list | None, session: str | None) -> str | None:
    """The history as a CSV (one probability column per class and side), oldest first; None when empty."""
    if not history:
        return None
    header = (["n", "original", "edited", "original_prediction", "edited_prediction"]
              + [f"original P({c})" for c in task.classes] + [f"edited P({c})" for c in task.classes]
              + ["delta P(original class)", "class changed"])
    rows = ([h["n"], h["original"], h["edited"], h["original_label"], h["edited_label"], *h["original_probs"],
             *h["edited_probs"], h["delta_original_class"], h["changed"]] for h in history)
    return downloads.write_csv(session, "counterfactual-edits.csv", header, rows)


class Editor:
    """The editor over one Predictor: suggestions, the comparison of a sentence with its edit, and attributions."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.task = predictor.model.tasks[SENTIMENT]
        self._neighbours: EmbeddingNeighbours | None = None

    @property
    def neighbours(self) -> EmbeddingNeighbours:
        if self._neighbours is None:  # built on first use: the norms of the whole vocabulary (~30k rows)
            weight = self.predictor.model.bert.embeddings.word_embeddings.weight.detach().numpy()
            self._neighbours = EmbeddingNeighbours(weight, self.predictor.tok.id_to_token_list())
        return self._neighbours

    def suggestions(self, word: str) -> list[dict]:
        """Word-list swaps first, then embedding neighbours not already listed, then deleting the word."""
        listed = word_list_suggestions(word)
        have = {s["word"] for s in listed}
        near = [s for s in self.neighbours(word) if s["word"] not in have]
        return listed + near + [{"word": DELETE, "source": "deletion"}] if str(word or "").strip() else []

    def compare(self, text, edited) -> dict:
        """Both predictions (Predictor.sentiment: calibrated probs, raw logits, tokens), the token diff and the
        change. Raises InputError."""
        text, edited = checked(text, "original sentence", self.predictor.tok), checked(edited, "edited sentence",
                                                                                    self.predictor.tok)
        o, e = self.predictor.sentiment(text), self.predictor.sentiment(edited)
        keep = ("label", "label_name", "probs", "logits", "tokens")
        return {"text": text, "edited_text": edited, "original": {k: o[k] for k in keep},
                "edited": {k: e[k] for k in keep}, "temperature": o["temperature"],
                "token_diff": token_diff(o["tokens"], e["tokens"]), **change(self.task, o, e)}

    def attributions(self, text, edited, progress: Progress | None = None) -> dict:
        """Integrated gradients of both (Predictor.sentiment_attributions): "original" and "edited"."""
        out = {}
        for i, (side, t) in enumerate((("original", text), ("edited", edited))):
            if progress:
                progress(i / 2, f"attributions of the {side} sentence")
            t = checked(t, f"{side} sentence", self.predictor.tok)
            out[side] = self.predictor.sentiment_attributions(t)
        return out

    def answer(self, text, edited) -> tuple[str, dict]:
        """The public endpoint's (message, answer): compare() with each side's attributions added."""
        r = self.compare(text, edited)
        for side, a in self.attributions(r["text"], r["edited_text"]).items():
            r[side].update(attribution_label=a["label"], contributions=a["contributions"], method=a["method"],
                           completeness=a["completeness"])
        return summary(r), r

    def highlight(self, side: str, a: dict) -> str:
        """One side's token contributions as the Sentiment tab draws them, under the side's name."""
        c = a["completeness"]
        caption = (f"Contribution to the '{a['label_name']}' logit: {a['method']}; they sum to {c['sum']:+.3f} "
                   f"(logit moves {c['logit'] - c['baseline_logit']:+.3f}).")
        return _heading(f"{side}: which words pushed it") + figures.token_highlight(
            self.task, a["tokens"], a["contributions"], a["label"], caption)

    # --- the tab's views: bad input becomes a message, never an exception --------------------------------
    def suggestion_choices(self, edited: str, index) -> list[tuple[str, str]]:
        """(label naming its source, value) of each suggestion for the index-th word of the edited sentence."""
        found = dict((i, w) for w, i in words(edited))
        try:
            word = re.sub(r" \(\d+\)$", "", found[int(index)])
        except (TypeError, ValueError, KeyError):
            return []
        return [("(delete the word) · deletion" if s["word"] == DELETE else
                 f"{s['word']} · {s['source']}" + (f" (cosine {s['cosine']:.2f})" if "cosine" in s else ""), s["word"])
                for s in self.suggestions(word)]

    @staticmethod
    def swapped(text: str, index, replacement: str) -> tuple[str, str]:
        """(the edited sentence after the swap, "") or (it unchanged, a message saying what is missing)."""
        try:
            return swap(text, index, replacement), ""
        except InputError as e:
            return text, f"⚠️ {html.escape(str(e))}"

    def view(self, text, edited, history: list | None, session: str | None = None):
        """(message, probability figure, diff HTML, answer, history, history rows, history CSV)."""
        try:
            r = self.compare(text, edited)
        except InputError as e:
            return (f"⚠️ {html.escape(str(e))}", None, "", {"error": str(e)}, history, history_table(history),
                    history_csv(self.task, history, session))
        history = add_to_history(history, history_row(r))
        t = r["temperature"]
        return (summary(r) + (f" · <small>calibrated probabilities (temperature {t:.2f})</small>" if t != 1 else ""),
                probability_figure(self.task, r["original"]["probs"], r["edited"]["probs"]),
                diff_html(r["token_diff"]), r, history, history_table(history),
                history_csv(self.task, history, session))

    def highlights(self, text, edited, progress: Progress | None = None) -> tuple[str, str]:
        """Both sides' token-contribution HTML; empty for input compare() refused."""
        try:
            a = self.attributions(text, edited, progress)
        except InputError:
            return "", ""
        return self.highlight("Original", a["original"]), self.highlight("Edited", a["edited"])


# --- figures and HTML ---------------------------------------------------------------------------------
def probability_figure(task, original: list[float], edited: list[float]) -> go.Figure:
    """Grouped bars per class: the original's (pale, outlined) and the edited's (the class colours)."""
    colors = list(class_colors(task))
    fig = go.Figure([go.Bar(name="original", x=list(task.classes), y=original, marker_color=colors, opacity=0.45,
                            marker_line=dict(width=1.5, color="#222"), text=[f"{p:.0%}" for p in original],
                            textposition="outside", marker_pattern_shape="/"),
                     go.Bar(name="edited", x=list(task.classes), y=edited, marker_color=colors,
                            text=[f"{p:.0%}" for p in edited], textposition="outside")])
    fig.update_layout(barmode="group", title="Original (hatched) vs edited", height=360,
                      yaxis=dict(range=[0, 1.15], title="probability"),  # two-word classes on two lines (phones)
                      xaxis=dict(tickvals=list(task.classes), ticktext=[c.replace(" ", "<br>") for c in task.classes],
                                 tickangle=0, tickfont=dict(size=10)),
                      legend=dict(orientation="h", y=-0.2), **layout(40, 20, 50, 60))
    return fig


def diff_html(diff: list[dict]) -> str:
    """The token diff inline: removed tokens struck through, added ones underlined (colour is not the only cue)."""
    def toks(ts, style):
        return " ".join(f'<span style="{style}">{html.escape(t)}</span>' for t in ts)
    removed = "background: #f6d6cc; text-decoration: line-through; padding: 1px 3px; border-radius: 3px"
    added = "background: #cfe3f3; text-decoration: underline; font-weight: 600; padding: 1px 3px; border-radius: 3px"
    parts = [toks(r["original"], "") if r["op"] == "equal" else
             " ".join(x for x in (toks(r["original"], removed), toks(r["edited"], added)) if x) for r in diff]
    n = diff_counts(diff)
    return (_heading("Change per token") + f'<div style="font-size: 1.1em; line-height: 2em">{" ".join(parts)}</div>'
            f'<div style="font-size: 0.85em; color: #555">Word pieces: <s>struck</s> = in the original only, '
            f'<u>underlined</u> = in the edit only · {n["replaced"]} replaced, {n["inserted"]} inserted, '
            f'{n["deleted"]} deleted</div>')


def _heading(text: str) -> str:
    return f'<div style="font-weight: 600; margin-bottom: 4px">{html.escape(text)}</div>'
