"""Everything the app's tabs compute, as plain methods returning figures, HTML, tables and JSON.

app.py only wires these to Gradio components; nothing here imports gradio, so it is testable directly.
Bad input never raises out of a tab method: it returns a warning message and empty outputs. The `*_answer`
methods give a tab's (Markdown message, plain answer) without its figure, and raise InputError: the public API
(analysis/studio/api.py) is built on them.
"""
from __future__ import annotations

import html
import json
import re
from typing import NamedTuple
from functools import wraps
from pathlib import Path

import numpy as np

from minbert.serve import precision as P
from minbert.serve.predictor import MAX_TOKENS, MAX_VIEW_TOKENS, InputError, Predictor, Progress
from minbert.tasks import PARA, SST, TASK_KEYS, TaskSpecError, by_name

from analysis import behaviour, compare, embedding_map
from analysis.experiments import seeded
from analysis.corpus_map import MAX_ROWS as CORPUS_ROWS
from analysis.studio import (behaviour_view, compare_view, downloads, errors_view as errors, figures, file_eval,
                             heads_view, slices, training_view, user_files)
from analysis.studio.corpus_view import CorpusView
from analysis.studio.counterfactual import Editor
from analysis.studio.data_fetch import DataFetch, offline_requested
from analysis.results import DevResults, load_results
from analysis.studio.input_notes import input_note
from analysis.studio.theme import high_color

NO_TEXT_OFFLINE = ("Sentence text needs the task data, and fetching it is off (offline). The maps and tables "
                   "show ids and labels; set MINBERT_DATA to a folder with the files and restart for the text.")
NO_RESULTS = ("**No precomputed dev results for this checkpoint.** Run "
              "`python -m analysis.precompute --checkpoint <path>` to create them.")
TRUNCATED = f"⚠️ Input longer than {MAX_TOKENS} tokens: only the first {MAX_TOKENS} were used."
VIEW_TRUNCATED = f"⚠️ Only the first {MAX_VIEW_TOKENS} tokens are shown (and, for attention, encoded)."
NO_PAIRS = ("Type pairs in the table (one sentence per box), paste lines of 'sentence 1 ||| sentence 2' (or a TAB "
            "between them), or upload a CSV/TSV/JSONL file with sentence1 and sentence2 columns. ")
PAIR_FIELDS = ["line", "sentence1", "sentence2", "cosine", "score", "probability", "is_paraphrase"]


def guarded(n_outputs: int):
    """Turn an InputError into (message, None, None, ...) so the UI shows it and nothing breaks."""
    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except InputError as e:
                return (f"⚠️ {html.escape(str(e))}",) + (None,) * (n_outputs - 1)
        return wrapper
    return deco


class ErrorOverview(NamedTuple):
    """The Errors tab's dev-set views, of every task of the checkpoint that has precomputed results."""
    notice: str  # why a view is missing, or ""
    distribution: object  # label distributions, gold vs predicted
    ordinal: list  # (task, error distance in classes) of each task whose classes are a scale of more than two
    reliability: object  # calibration curves
    scores: list  # (task, gold vs predicted, errors by bucket) of each score task
    protocol: str  # how a dev_holdout task's dev part was drawn, and the tasks' caveats


class TrainingViews(NamedTuple):
    """The Training tab, all read from the checkpoint sidecar."""
    summary: str
    losses: object
    overfitting: object
    lr: object
    learning_curves: object
    interference: object
    tables: list  # (columns, rows, title) of the levers, ablation and grid search tables


class Studio:
    def __init__(self, checkpoint: str | Path, precision: str = "fp32", data_dir: str | None = None,
                 offline: bool = False, compare_with: str | None = None, choose_later: bool = False,
                 corpus_limit: int = CORPUS_ROWS):
        """choose_later: with precision "auto", serve fp32 until predictor.choose_later() has chosen (see Predictor)."""
        self.predictor = Predictor(checkpoint, precision, later=choose_later)
        self.tasks = self.predictor.model.tasks  # key -> Task: the built-ins, then any added task
        self.corpus = CorpusView(self.predictor, corpus_limit)  # the Embeddings tab's "Your corpus"
        self.editor = Editor(self.predictor)  # the Sentiment tab's counterfactual editing
        self.checkpoint = str(checkpoint)
        self.compare_with = compare_with
        self._sources: list[str] | None = None  # the Compare tab's list, read on first use
        self.meta = self.predictor.meta
        self.results: DevResults | None = load_results(checkpoint, data_dir, self.meta["weights_sha256"],
                                                       tuple(self.tasks.values()))
        self.offline = offline_requested(offline)
        self.fetch: DataFetch | None = None
        if self.results is not None and not self.results.has_texts and not self.offline:
            self.fetch = DataFetch().start()  # the page never waits for it

    def served_line(self) -> str:
        """How the model is served, for the page header: the precision in a few words and, folded, why."""
        p = self.predictor
        now = P.headline(p.fast) + (" (auto is choosing in the background; the app switches when it is done)"
                                    if p.choosing else "")
        return (f"served in {now} <details class='served'><summary>why this precision</summary>"
                f"{html.escape(p.served)}</details>")

    # --- task data ---------------------------------------------------------------------------
    def data_notice(self) -> str:
        """One line on the sentence text behind the maps and tables; empty when it is there."""
        if self.results is None or self.results.has_texts:
            return ""
        if self.fetch is None:
            return NO_TEXT_OFFLINE
        if self.fetch.state == "done":
            if self.results.attach_texts(self.fetch.dest):
                return ""
            return f"Sentence text needs the task data; the files fetched into `{self.fetch.dest}` could not be read."
        return self.fetch.describe()

    def data_pending(self) -> bool:
        """True while a background fetch may still bring the sentence text."""
        return self.fetch is not None and not self.fetch.finished

    # --- live predictions -------------------------------------------------------------------
    @property
    def added_tasks(self) -> list:
        """The tasks beyond the three built-ins (from task spec files): no tab of their own but one for their kind."""
        return [t for k, t in self.tasks.items() if k not in TASK_KEYS]

    def sentiment_answer(self, text: str) -> tuple[str, dict]:
        r = self.predictor.sentiment(text)
        msg = f"**Predicted: {r['label_name']}** ({r['probs'][r['label']]:.1%})" + _temperature_note(r["temperature"])
        msg += input_note(str(text), r["tokens"])
        if r["truncated"]:
            msg += f"\n\n{TRUNCATED}"
        return msg, r

    @guarded(3)
    def sentiment(self, text: str):
        msg, r = self.sentiment_answer(text)
        return msg, figures.probability_bars(SST, r["probs"]), r

    def sentiment_highlight(self, text: str) -> str:
        """The token-contribution HTML shown under the probabilities; empty for input sentiment() refused."""
        try:
            r = self.predictor.sentiment_attributions(text)
        except InputError:
            return ""
        c = r["completeness"]
        return figures.token_highlight(SST, r["tokens"], r["contributions"], r["label"],
                                       f"Each word's contribution to the '{r['label_name']}' logit: {r['method']}. "
                                       f"They sum to {c['sum']:+.3f}; the logit moves {c['logit'] - c['baseline_logit']:+.3f} "
                                       "from the all-[PAD] baseline to the sentence (IG's completeness check).")

    def paraphrase_answer(self, s1: str, s2: str) -> tuple[str, dict]:
        r = self.predictor.paraphrase(s1, s2)
        verdict = "paraphrase" if r["is_paraphrase"] else "not a paraphrase"
        msg = (f"**{verdict}** · P(paraphrase) {r['probability']:.1%} · cosine {r['cosine']:.3f}"
               + (f" · decision threshold: cosine {r['cosine_threshold']:.3f}" if "cosine_threshold" in r else
                  " · decision threshold: P = 0.5")
               + (f" (logit threshold {r['logit_threshold']:+.2f}, fit on Quora training pairs held out of "
                  "training)" if r.get("logit_threshold") else "") + _temperature_note(r["temperature"])
               + f"\n\n<small>{PARA.caveat}</small>" + (f"\n\n{TRUNCATED}" if r["truncated"] else ""))
        return msg, r

    @guarded(3)
    def paraphrase(self, s1: str, s2: str):
        msg, r = self.paraphrase_answer(s1, s2)
        fig = figures.gauge_bars({"cosine": r["cosine"], "P(paraphrase)": r["probability"]},
                                 {"cosine": (-1, 1), "P(paraphrase)": (0, 1)}, "Paraphrase",
                                 {"P(paraphrase)": high_color(PARA)})
        return msg, fig, r

    def similarity_answer(self, s1: str, s2: str) -> tuple[str, dict]:
        r = self.predictor.similarity(s1, s2)
        msg = (f"**Similarity {r['score']:.2f} / 5** · cosine {r['cosine']:.3f}"
               + (f"\n\n{TRUNCATED}" if r["truncated"] else "")
               + (f"\n\n{VIEW_TRUNCATED}" if max(len(r["tokens1"]), len(r["tokens2"])) >= MAX_VIEW_TOKENS else ""))
        return msg, {k: r[k] for k in ("score", "cosine", "tokens1", "tokens2", "alignment", "truncated")}

    @guarded(3)
    def similarity(self, s1: str, s2: str):
        msg, r = self.similarity_answer(s1, s2)
        return msg, figures.alignment_heatmap(r["tokens1"], r["tokens2"], r["alignment"]), r

    def cross_task_answer(self, s1: str, s2: str) -> tuple[str, dict]:
        """Every task on one pair, by kind (pair tasks on the pair, sentence tasks on each sentence), and the flags
        where the three built-in tasks contradict each other (the Predictor's rules)."""
        flags = self.predictor.cross_task(s1, s2)["flags"]
        r = {"tasks": {t.key: {"name": t.name, "kind": t.kind, **(self.predictor.run_task(t.key, [s1], [s2]) if t.pair
                                                                   else self.predictor.run_task(t.key, [s1, s2]))}
                       for t in self.tasks.values()}, "flags": flags}
        said = " · ".join(_said(t, r["tasks"][t.key]) for t in self.tasks.values())
        listed = "".join(f"\n- **Flag:** {f}" for f in flags) or "\n- No contradiction between the tasks."
        return f"**{said}**{listed}", r

    @guarded(3)
    def cross_task(self, s1: str, s2: str):
        msg, r = self.cross_task_answer(s1, s2)
        return msg, figures.cross_task_figure(list(self.tasks.values()), r), r

    @guarded(3)
    def run_task(self, key: str, text: str, text2: str | None = None):
        """One task's prediction for the tab of an added task: (message, figure, the plain answer)."""
        r = self.one_task(key, text, text2)
        task = self.tasks[key]
        if task.is_score:
            fig = figures.gauge_bars({task.name: r["score"]}, {task.name: task.score_range}, task.name,
                                     {task.name: high_color(task)})
        elif task.pair:
            yes = f"P({task.classes[-1]})"
            fig = figures.gauge_bars({yes: r["prob"]}, {yes: (0, 1)}, task.name, {yes: high_color(task)})
        else:
            fig = figures.probability_bars(task, r["probs"], f"{task.name} probabilities")
        return f"**{_said(task, {k: [v] for k, v in r.items()})}**" + (
            f"\n\n<small>{task.caveat}</small>" if task.caveat else ""), fig, r

    def one_task(self, key: str, text: str, text2: str | None) -> dict:
        """Any task of the model (its key) on a sentence, or a pair for a pair task: task, label, label_name and
        probs or prob, or score. Bad input raises InputError."""
        task = self.tasks.get(str(key or "").strip())
        if task is None:
            raise InputError(f"Pick a task of this model: {', '.join(self.tasks)}.")
        out = self.predictor.run_task(task.key, [text], [text2] if task.pair else None)
        return {k: v[0] if isinstance(v, list) else v for k, v in out.items()}  # one input: its entry of each list

    # --- attention ----------------------------------------------------------------------------
    @guarded(6)
    def attention(self, text: str, text2: str, layer: int, head: int, hide_special: bool):
        ft = self.predictor.attention(text, text2, "finetuned")
        base = self.predictor.attention(text, text2, "base")
        state = {"finetuned": ft, "base": base}
        msg = f"{len(ft['tokens'])} tokens" + (f" · {VIEW_TRUNCATED}" if ft["truncated"] else "")
        k = self.predictor.model.config.sst_layers
        if k:  # --sst-layers: the shared stack is drawn; sentiment's own top layers are not
            msg += (f" · the top {k} layer(s) drawn are the shared ones, which the paraphrase and similarity embeddings "
                    "come from; sentiment runs its own copy of them (head masks below reach it)")
        return (msg, *self.attention_views(state, layer, head, hide_special), state)

    def attention_views(self, state, layer: int, head: int, hide_special: bool):
        if not state:
            return None, None, None, None
        ft, base = state["finetuned"], state["base"]
        layer, head = int(layer), int(head)
        return (figures.attention_grid(ft["tokens"], ft["attentions"], hide_special,
                                       "Model view (fine-tuned): rows = layers, columns = heads", (layer, head)),
                *figures.head_view_pair(ft, base, layer, head, hide_special),
                figures.entropy_panels(ft["entropy"], base["entropy"]))

    # --- embeddings ---------------------------------------------------------------------------
    def map_available(self) -> str | None:
        """None when the map can be drawn (with or without sentence text), else the notice to show."""
        return NO_RESULTS if self.results is None else None

    def map_tasks(self) -> list:
        """The tasks whose dev sentences are on the map, in its order (none without results)."""
        keys = [] if self.results is None else embedding_map.map_tasks(self.results)
        return [self.tasks[k] for k in keys if k in self.tasks]

    def maps(self, color_by: str, shown: list[str], text: str | None = None, query: str | None = None):
        """The two maps (fine-tuned, base) of the dev sentences of the `shown` task keys, with the user's sentence
        and the sentences containing the text search's `query` highlighted."""
        if self.map_available():
            return self.map_available(), None, None, None
        on_map = [t.key for t in self.map_tasks()]
        shown = [k for k in on_map if k in (shown or [])] or on_map[:1]
        msg = ("Hover a point for its labels and id (its sentence text needs the task data: see the notice above)."
               if self.data_notice() else "Hover a point for its sentence and labels.")
        points, rows = {}, None
        if text and text.strip():
            try:
                for which in ("finetuned", "base"):
                    emb = self.predictor.embed([text.strip()[:5000]], which)[0]
                    points[which], nn = embedding_map.place(self.results, emb, which, shown)
                    if which == "finetuned":
                        rows = embedding_map.neighbour_rows(self.results, self.tasks, nn)
                names = ", ".join(self.tasks[k].name for k in shown)
                msg = (f"★ marks your sentence, placed at the similarity-weighted mean of its "
                       f"{embedding_map.NEIGHBOURS} nearest dev sentences among the tasks shown ({names}), as UMAP "
                       "places new points; the table lists those neighbours (fine-tuned model).")
            except InputError as e:
                msg = f"⚠️ {e}"
        figs = [embedding_map.map_figure(self.results, self.tasks, w, color_by, shown, points.get(w))
                for w in ("finetuned", "base")]
        if color_by in ("task", "correct / incorrect"):  # the tab's colour line above explains classes only
            msg += (f" Coloured by {color_by}: the legend under each map names its colours; the class colours "
                    "listed above are for gold label and prediction.")
        if query and str(query).strip():
            msg += "\n\n" + self._search_note(figs, shown, query)
        return msg, figs[0], figs[1], rows

    def _search_note(self, figs: list, shown: list[str], query: str) -> str:
        """The text search on the dev maps: the sentences containing `query` highlighted in both figures (the others
        dimmed); returns the line that says how many, or why not."""
        try:
            found = slices.search_points(self.results, shown, query)
        except InputError as e:
            return f"⚠️ {e}"
        for fig in figs:
            slices.highlight(fig, found)
        return (f"Search {str(query).strip()!r}: {len(found):,} of the sentences shown contain it "
                f"({len(slices.examples_of(found)):,} dev examples), highlighted; the others are dimmed.")

    # --- slices of the dev sets (Embeddings tab) ---------------------------------------------
    def dev_slice_answer(self, ids, how: str = "ids given") -> tuple[str, dict]:
        """A slice of dev examples ("key:id") scored from the stored predictions: (message, slices.slice_report);
        raises InputError for no results, no ids, or ids of no stored example."""
        if self.results is None:
            raise InputError(NO_RESULTS)
        if not ids:
            raise InputError("Give dev example ids 'task:id' (on the page: Box Select or Lasso Select points on a map).")
        report = slices.slice_report(self.results, self.tasks, ids)
        if not report["size"]:
            raise InputError(f"No id of the {len(report['unknown'])} given names a dev example of this checkpoint "
                             "(ids are 'task:id', as 'sst:a7d575c9ed86ea9633660c67e').")
        return slices.summary(report, how), report

    def slice_view(self, ids, how: str, session: str | None = None):
        """The page's slice view: (summary, metrics rows, label-mix rows, example rows, CSV of every example)."""
        try:
            msg, report = self.dev_slice_answer(ids, how)
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", [], [], [], None
        rows = slices.table_rows(report, self.tasks, None)
        path = downloads.write_csv(session, "dev-slice.csv", slices.ROW_COLUMNS, rows)
        return msg, slices.metric_rows(report), slices.mix_rows(report), rows[:slices.TABLE_ROWS], path

    def map_selection(self, value: str, session: str | None = None):
        """A box or lasso selection on a map, as map_slice.js writes it: JSON {"ids": [...], "map": ...}."""
        try:
            picked = json.loads(value or "{}")
            ids, which = list(picked.get("ids") or []), str(picked.get("map") or "map")
        except (ValueError, TypeError, AttributeError):
            return "⚠️ The selection could not be read; select the points again.", [], [], [], None
        return self.slice_view(ids, f"{len(ids):,} selected on the {which} map", session)

    def search_slice(self, query: str, shown: list[str], session: str | None = None):
        """The dev examples whose sentences (on the map, of the shown tasks) contain `query`, as a slice."""
        if self.results is None:
            return NO_RESULTS, [], [], [], None
        on_map = [t.key for t in self.map_tasks()]
        shown = [k for k in on_map if k in (shown or [])] or on_map[:1]
        try:
            found = slices.examples_of(slices.search_points(self.results, shown, query))
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", [], [], [], None
        if not found:
            return f"No sentence shown contains {str(query).strip()!r}.", [], [], [], None
        return self.slice_view(found, f"search {str(query).strip()!r}", session)

    # --- errors & imbalance ------------------------------------------------------------------
    @property
    def preds(self) -> dict | None:
        return None if self.results is None else self.results.data["predictions"]

    def result_tasks(self, kinds=("sentence_classes", "pair_classes", "pair_score")) -> list:
        """The tasks of the checkpoint with precomputed dev results, of the given kinds, in the model's order."""
        return [t for t in self.tasks.values() if t.kind in kinds and t.key in (self.preds or {})]

    @property
    def classes_tasks(self) -> list:
        """The tasks with precomputed results whose views are per class: confusion, per-class scores, mistakes."""
        return self.result_tasks(("sentence_classes", "pair_classes"))

    def error_overview(self) -> "ErrorOverview":
        if self.preds is None:
            return ErrorOverview(NO_RESULTS, None, [], None, [], "")
        tasks, data = self.result_tasks(), self.results.data
        notes = [data[f"{t.key}_protocol"] for t in tasks if f"{t.key}_protocol" in data]
        return ErrorOverview("", errors.distribution_figure(tasks, data["distributions"], self.preds),
                             [(t, errors.ordinal_distance_figure(t, self.preds)) for t in self.classes_tasks
                              if not t.pair and t.num_classes > 2],
                             errors.reliability_figure(self.classes_tasks, self.preds, self.meta.get("calibration")),
                             [(t, *errors.score_figures(t, self.preds)) for t in self.result_tasks(("pair_score",))],
                             " · ".join(notes + [t.caveat for t in tasks if t.caveat]))

    def _classes_task(self, key: str):
        task = self.tasks.get(str(key or ""))
        return task if task in self.classes_tasks else None

    def confusion(self, key: str, normalise: bool):
        """A classes task's confusion matrix, per-class table and summary line."""
        task = self._classes_task(key)
        if task is None:
            return None, None, NO_RESULTS if self.preds is None else f"No per-class results for {key!r}."
        rows, summary = errors.per_class_table(task, self.preds)
        return errors.confusion_figure(task, self.preds, normalise), rows, summary

    def threshold(self, key: str, t: float):
        """A yes/no pair task's accuracy and F1 against its decision threshold on P(yes)."""
        task = self._classes_task(key)
        if task is None or not task.pair:
            return None, NO_RESULTS if self.preds is None else f"No yes/no pair results for {key!r}."
        return errors.threshold_figure(task, self.preds, float(t))

    def class_choices(self, key: str) -> list[str]:
        """The class filters of a task's misclassified table: "any", then its classes."""
        task = self._classes_task(key)
        return ["any", *(task.classes if task else ())]

    def misclassified(self, key: str, gold: str, pred: str, limit: int | None = 200):
        task = self._classes_task(key)
        if task is None:
            return []
        return errors.misclassified_rows(self.results, task, gold or "any", pred or "any", limit)

    def misclassified_csv(self, key: str, gold: str, pred: str, session: str | None = None) -> str | None:
        """Every dev example under the filters (the table shows the first 200), as a CSV download."""
        rows = self.misclassified(key, gold, pred, None)
        if not rows:
            return None
        return downloads.write_csv(session, f"misclassified-{key}-dev.csv", errors.MISCLASSIFIED_COLUMNS, rows)

    # --- the user's own pairs and files ---------------------------------------------------------
    def score_pairs(self, text: str | None, file: str | None, progress: Progress | None = None, typed=None,
                    session: str | None = None):
        """Many pairs at once, from a file, else pasted lines, else the typed table: (message, JSON rows, table
        rows, CSV path)."""
        try:
            if file:
                parsed = user_files.read_file(file, pair=True)
            elif text and str(text).strip():
                parsed = user_files.pasted_pairs(text)
            else:
                parsed = user_files.typed_pairs(typed)
            if not parsed.examples:
                raise InputError(NO_PAIRS + parsed.bad_summary())
            scores = self.predictor.score_pairs(parsed.examples, progress)
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", {"error": str(e)}, [], None
        rows = [{"line": int(e.id), "sentence1": e.text, "sentence2": e.text2, **s} for e, s in zip(parsed.examples, scores)]
        table = [[r["line"], round(r["cosine"], 4), round(r["score"], 3), round(r["probability"], 4),
                  "yes" if r["is_paraphrase"] else "no", r["sentence1"][:200], r["sentence2"][:200]] for r in rows]
        msg = (f"**{len(rows):,} pairs scored** (input order; served in {P.headline(self.predictor.fast)})"
               + (f"\n\n⚠️ {html.escape(parsed.bad_summary())}" if parsed.bad else "")
               + f"\n\n<small>{PARA.caveat}</small>")
        path = downloads.write_csv(session, "scored_pairs.csv", PAIR_FIELDS, ([r[k] for k in PAIR_FIELDS] for r in rows))
        return msg, {"rows": rows, "bad_lines": parsed.bad}, table, path

    def file_task(self, name: str):
        """The task a user names for a file: by key, skill or data-set name, as `minbert.predict --task` takes it."""
        try:
            return by_name(self.tasks.values(), str(name or ""))
        except TaskSpecError:
            raise InputError("Pick a task: " + ", ".join(t.skill for t in self.tasks.values()) + ".") from None

    def evaluate_file(self, file: str | None, task_name: str, text_col: str = "", text2_col: str = "",
                      label_col: str = "", progress: Progress | None = None, session: str | None = None):
        """The user's labelled file of a task (its key, skill or name): (message, metrics JSON, state for the views,
        CSV of the file with its predictions: one row per input row, in input order)."""
        try:
            if not file:
                raise InputError("Upload a labelled CSV, TSV or JSONL file first.")
            task = self.file_task(task_name)
            parsed = user_files.read_file(file, task.pair, task,
                                          {"text": text_col, "text2": text2_col, "label": label_col}, boxes=True)
            name = Path(file).name
            state = file_eval.evaluate(self.predictor, parsed, task, progress, name)
            header, rows = file_eval.predictions_table(parsed, state)
            path = downloads.write_csv(session, f"{Path(name).stem}.predictions.csv", header, rows)
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", {"error": str(e)}, None, None
        return file_eval.message(state, html.escape(parsed.bad_summary())), state["metrics"], state, path

    def file_misclassified_csv(self, state: dict | None, gold: str, pred: str, session: str | None = None) -> str | None:
        """The user's file's misclassified rows under the filters, all of them, as a CSV download."""
        rows = file_eval.misclassified(state, gold, pred, None)
        if not rows:
            return None
        name = f"{Path(state.get('name', 'file')).stem}.misclassified.csv"
        return downloads.write_csv(session, name, errors.MISCLASSIFIED_COLUMNS, rows)

    # --- head importance (Attention tab) --------------------------------------------------------
    @property
    def heads(self) -> dict | None:
        return None if self.results is None else self.results.data.get("heads")

    def head_views(self):
        """(summary, importance maps, pruning curves), or a notice on how to compute them."""
        if self.heads is None:
            return ("No head-importance results for this checkpoint: run `python -m analysis.head_importance "
                    f"--checkpoint {self.checkpoint}`.", None, None)
        return (heads_view.summary(self.heads, self.tasks), heads_view.importance_figure(self.heads, self.tasks),
                heads_view.pruning_figure(self.heads, self.tasks))

    def head_maps(self, layer: int, head: int):
        """The importance maps with the head chosen in the Attention tab outlined (None without results)."""
        return None if self.heads is None else heads_view.importance_figure(self.heads, self.tasks, (int(layer), int(head)))

    def head_presets(self) -> list[str]:
        return heads_view.presets(self.heads, self.tasks)

    def head_preset(self, preset: str) -> str:
        return heads_view.preset_heads(self.heads, preset, self.tasks)

    def head_mask_answer(self, spec: str, text: str, text2: str | None = None) -> tuple[str, dict]:
        cfg = self.predictor.model.bert.config
        try:
            mask = heads_view.parse_heads(str(spec or "")[:2000], cfg.num_hidden_layers, cfg.num_attention_heads)
        except ValueError as e:
            raise InputError(str(e)) from None
        r = self.predictor.with_head_mask(text, text2, mask)
        full, masked = r["all heads"], r["masked"]
        if r["pair"]:
            msg = (f"**{r['removed']} heads removed** · P(paraphrase) {full['paraphrase_probability']:.1%} → "
                   f"{masked['paraphrase_probability']:.1%} · STS {full['sts_score']:.2f} → {masked['sts_score']:.2f}")
        else:
            a, b = int(np.argmax(full["sentiment"])), int(np.argmax(masked["sentiment"]))
            msg = (f"**{r['removed']} heads removed** · sentiment {SST.classes[a]} ({full['sentiment'][a]:.1%}) → "
                   f"{SST.classes[b]} ({masked['sentiment'][b]:.1%})")
        return msg, r

    @guarded(3)
    def head_mask_run(self, spec: str, text: str, text2: str | None = None):
        msg, r = self.head_mask_answer(spec, text, text2)
        return msg, figures.mask_figure(r, SST.classes), r

    # --- behavioural tests (Behaviour tab) ----------------------------------------------------
    @property
    def behaviour(self) -> dict | None:
        return None if self.results is None else self.results.data.get("behaviour")

    def behaviour_cases(self, which_test: str, model: str):
        return behaviour_view.worst_rows(self.behaviour, which_test or "", model or "fine-tuned")

    def behaviour_cases_csv(self, which_test: str, model: str, session: str | None = None) -> str | None:
        """The failing cases of one precomputed test that the table shows (the result keeps only the worst), as a
        CSV download."""
        _, rows = self.behaviour_cases(which_test, model)
        if not rows:
            return None
        words = re.sub(r"[^a-z0-9]+", "-", f"{which_test} {model}".lower()).strip("-")  # hyphens: it wraps on a phone
        name = f"behaviour-{words}.csv"
        return downloads.write_csv(session, name, behaviour_view.CASE_COLUMNS, rows)

    @staticmethod
    def template_csv(table, session: str | None = None) -> str | None:
        """The cases of the user's own template, as the table holds them (a DataFrame), as a CSV download."""
        rows = [] if table is None else table.values.tolist()
        if not rows or not any(str(c).strip() for c in rows[0]):
            return None
        return downloads.write_csv(session, "behaviour-my-template.csv", behaviour_view.TEMPLATE_COLUMNS, rows)

    def behaviour_answer(self, template: str, fills: str, expectation: str) -> tuple[str, dict]:
        """The user's own template, run live on the fine-tuned model (at most 200 cases)."""
        scorer = behaviour.Scorer(self.predictor.model, self.predictor.tok, self.predictor.lock)
        try:
            res = behaviour.run_template(scorer, str(template or ""), str(fills or "")[:5000], str(expectation or ""))
        except behaviour.TemplateError as e:
            raise InputError(str(e)) from None
        return (f"**{res['failures']} of {res['n']} cases fail ({res['failure_rate']:.0%})** · outputs: "
                f"{res['outputs']} · failing cases first"), res

    def behaviour_template(self, template: str, fills: str, expectation: str):
        try:
            msg, res = self.behaviour_answer(template, fills, expectation)
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", []
        return msg, behaviour_view.template_rows(res)

    # --- comparing two models (Compare tab) -------------------------------------------------------
    def compare_sources(self, refresh: bool = False) -> list[str]:
        """This checkpoint and its epochs first, then --compare, then whatever checkpoints/ and runs/ hold;
        read once (every sidecar under runs/ is parsed) and again only on refresh."""
        if self._sources is not None and not refresh:
            return self._sources
        own = compare.specs_of(Path(self.checkpoint))
        mine = {compare.split_spec(s)[0].resolve() for s in own}
        found = [s for s in compare.list_sources() if compare.split_spec(s)[0].resolve() not in mine]
        self._sources = list(dict.fromkeys(own + [s for s in (self.compare_with,) if s] + found))
        return self._sources

    def source_label(self, spec: str) -> str:
        """A source as the lists show it: relative to the working folder, else to the project folder that holds
        this checkpoint's folder, when inside one (the value stays whole)."""
        if not compare.split_spec(spec)[0].is_absolute():
            return spec
        for base in (Path.cwd(), Path(self.checkpoint).resolve().parent.parent):
            try:
                return str(Path(spec).relative_to(base))
            except ValueError:
                continue
        return spec

    def compare_choices(self, refresh: bool = False) -> list[tuple[str, str]]:
        """(label, value) pairs for the Compare tab's lists."""
        return [(self.source_label(s), s) for s in self.compare_sources(refresh)]

    def compare_report(self, a: str, b: str) -> dict:
        """B against A on the same dev examples; only sources the app lists (no arbitrary paths). Raises InputError."""
        allowed = self.compare_sources()
        if a not in allowed or b not in allowed:
            raise InputError("Pick both models from the lists (checkpoints and runs with stored dev predictions).")
        try:
            return compare.compare(compare.load_source(a), compare.load_source(b))
        except (compare.CompareError, OSError, ValueError, KeyError) as e:
            raise InputError(str(e)) from None

    def labelled(self, report: dict, a: str, b: str) -> dict:
        """The report of a against b with the two named as the lists show them (the report keeps the whole paths)."""
        return {**report, "a": self.source_label(a), "b": self.source_label(b)}

    @guarded(3)
    def compare(self, a: str, b: str):
        """(summary, confusion difference, report)."""
        report = self.compare_report(a, b)
        return compare.summary_markdown(self.labelled(report, a, b)), compare_view.confusion_diff_figure(report), report

    def flips(self, report: dict | None, task: str, direction: str):
        """The flipped examples of one task (its key) and direction, with their sentences where loaded."""
        def text(t, i, k):
            return self.results.text(t, i, k) if self.results else None
        return (compare_view.flip_caption(report, task or "", direction or ""),
                compare_view.flip_rows(report, task or "", direction or "", text))

    def flips_csv(self, report: dict | None, task: str, direction: str, session: str | None = None) -> str | None:
        """Every flip of one task and direction (the table shows the first 500), as a CSV download."""
        def text(t, i, k):
            return self.results.text(t, i, k) if self.results else None
        rows = compare_view.flip_rows(report, task or "", direction or "", text, limit=None)
        if not rows:
            return None
        name = f"flips-{task}-{'A-right-B-wrong' if str(direction).startswith('A right') else 'A-wrong-B-right'}.csv"
        return downloads.write_csv(session, name, compare_view.FLIP_COLUMNS, rows)

    # --- training ---------------------------------------------------------------------------
    def training(self) -> "TrainingViews":
        m = self.meta.get("metrics", {})
        cfg = self.meta.get("train_config", {})
        ci = self.meta.get("metrics_ci95", {})
        parts = " · ".join(_with_ci(m, ci, k, n) for k, n in [(t.metric, seeded.column_name(t)) for t in self.tasks.values()]
                           + [("overall", "overall")])
        notes = "".join(f"{t.name} protocol: {self.meta.get(f'{t.key}_protocol', '?')}. " for t in self.tasks.values()
                        if t.dev_holdout) + "".join(f"{t.caveat}. " for t in self.tasks.values() if t.caveat)
        summary = (f"**Dev metrics of this checkpoint** (fp16 weights): {parts} · trained in "
                   f"{self.meta.get('train_minutes', 0):.1f} min"
                   + (f"\n\n<small>[lo, hi]: {self.meta.get('ci95_method')}</small>" if ci else "") + "\n\n"
                   f"{notes}\n\n"
                   f"Command: `{self.meta.get('command', '?')}` (best epoch {self.meta.get('best_epoch', '?')} "
                   f"of {cfg.get('epochs', '?')})")
        tables = [training_view.any_table(self.meta.get(key),
                                          f"python -m analysis.experiments.{module} --sidecar CHECKPOINT")
                  for key, module in (("levers", "levers"), ("ablation", "ablation"), ("grid_search", "grid_search"))]
        interference = None if self.results is None else self.results.data.get("interference")
        return TrainingViews(summary, training_view.loss_figure(self.meta, self.tasks),
                             training_view.overfitting_figure(self.meta, self.tasks),
                             training_view.lr_figure(self.meta), training_view.learning_curve_figure(self.meta),
                             training_view.interference_figure(interference), tables)


def _said(task, out: dict) -> str:
    """A task's answer in a few words, from Predictor.run_task's lists (a sentence task: one entry per sentence)."""
    if task.is_score:
        return f"{task.name} {out['score'][0]:.2f} / {task.score_range[1]:g}"
    if task.pair:
        return f"{task.name}: {out['label_name'][0]} (P({task.classes[-1]}) {out['prob'][0]:.1%})"
    return f"{task.name}: " + " vs ".join(f"{n} ({max(p):.0%})" for n, p in zip(out["label_name"], out["probs"]))


def _with_ci(metrics: dict, ci: dict, key: str, name: str) -> str:
    lo_hi = ci.get(f"{key}_ci95")
    return f"{name} {metrics.get(key, float('nan')):.4f}" + (f" [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else "")


def _temperature_note(t: float) -> str:
    return "" if t == 1.0 else f" · <small>calibrated probability (temperature {t:.2f}; raw logits in the JSON)</small>"
