"""minBERT multitask studio: a Gradio app to explore the multitask model. This file only wires the UI.

    python app.py [--checkpoint checkpoints/minbert-multitask] [--compare OTHER] [--share] [--precision auto] [--offline]
                  [--host 127.0.0.1] [--port 7860]

Serves on 127.0.0.1:7860 unless --host / --port (or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT) say otherwise. It
listens at once: with --precision auto it serves fp32 until auto's cached choice is built, or its measurement has
run, in the background. Without task data on disk it fetches the dev files into the user cache in the background
(MINBERT_OFFLINE=1 turns that off).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass


def fewer_malloc_arenas() -> None:
    """glibc gives each thread its own malloc arena; with a dozen request threads that bloats resident memory.
    glibc reads MALLOC_ARENA_MAX only as a process starts, so without it the app restarts itself once with two,
    before the heavy imports below (gradio and torch take seconds; importing them twice made start-up 5 s slower)."""
    if sys.platform == "linux" and "MALLOC_ARENA_MAX" not in os.environ:
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])


if __name__ == "__main__":
    fewer_malloc_arenas()

import gradio as gr  # noqa: E402  (after the restart above)
from gradio.data_classes import FileData  # noqa: E402
from gradio.processing_utils import save_file_to_cache  # noqa: E402
from gradio.utils import get_upload_folder, is_in_or_equal  # noqa: E402

from analysis.studio import behaviour_view, counterfactual as cf, page_style, selection, tab_help, tables
from analysis.studio.api import StudioAPI
from analysis.behaviour import EXPECTATIONS
from analysis.studio.behaviour_view import CASE_COLUMNS, RATE_COLUMNS, TEMPLATE_COLUMNS
from analysis.studio.compare_view import DIRECTIONS, FLIP_COLUMNS
from analysis.studio.errors_view import MISCLASSIFIED_COLUMNS as MISCLASSIFIED
from analysis.embedding_map import NEIGHBOUR_COLUMNS, NEIGHBOUR_WIDTHS
from analysis.corpus_map import MAX_ROWS as CORPUS_ROWS
from analysis.studio.corpus_view import CLUSTER, SELECTIONS
from analysis.studio.slices import METRIC_COLUMNS, MIX_COLUMNS, ROW_COLUMNS, ROW_WIDTHS
from minbert.cli import DEFAULT_CHECKPOINT, add_data_dir
from minbert.serve import precision as P
from minbert.tasks import PARA, SST, STS

# Long work (attributions, attention, files, many pairs, templates) runs one job at a time and waits its turn in
# Gradio's queue, which shows each user their position; light requests have their own slots, so they never wait
# behind a long job's queue (inside, the model is shared in slices of about a second: minbert/serve/fairlock.py).
HEAVY = dict(concurrency_id="heavy", concurrency_limit=1)
LIGHT = dict(concurrency_id="light", concurrency_limit=4)  # one-sentence predictions: a forward pass each
# A user's corpus (up to --corpus-limit sentences: minutes) has a queue slot of its own, so it never holds up the
# other long jobs; it embeds in short chunks like them. Its views (colours, search, selections) take two slots.
CORPUS = dict(concurrency_id="corpus", concurrency_limit=1)
CORPUS_VIEW = dict(concurrency_id="corpus_view", concurrency_limit=2)
QUEUE_SIZE = 64  # requests waiting at most (all kinds; --max-queue); beyond it Gradio answers "Queue is full" at once
ENTER = "Enter to run"  # the hint in single-line boxes, where Enter submits
UPLOAD_LIMIT = "100mb"  # = analysis.corpus_map.MAX_BYTES (a corpus); larger uploads are refused before any work
PAIR_COLUMNS = ["line", "cosine", "STS 0-5", "P(paraphrase)", "paraphrase?", "sentence 1", "sentence 2"]
MISCLASSIFIED_WIDTHS = ["12%", "12%", "10%", "46%", "20%"]  # an id (25 hex digits) whole at 1440 px
RATE_WIDTHS = ["10%", "18%", "44%", "8%", "10%", "10%"]  # Behaviour: the rule wraps, the numbers stay in view
CASE_WIDTHS, TEMPLATE_WIDTHS = ["34%", "34%", "20%", "12%"], ["60%", "28%", "12%"]
FLIP_WIDTHS = ["20%", "10%", "10%", "10%", "25%", "25%"]  # the id first, whole at 1440 px

EXAMPLES_SST = ["A gorgeous, witty and deeply moving film.", "The plot is thin and the jokes fall flat.",
                "It's not a bad movie, just a forgettable one.", "An utterly dreadful, boring mess."]
EXAMPLES_PAIR = [["How do I learn Python quickly?", "What is the fastest way to learn Python?"],
                 ["A man is playing a guitar.", "A woman is slicing an onion."],
                 ["I absolutely loved this film.", "I absolutely hated this film."],
                 ["What is the capital of France?", "Which city is the capital of France?"]]
EXAMPLES_MANY = ("How do I learn Python quickly? ||| What is the fastest way to learn Python?\n"
                 "A man is playing a guitar. ||| A woman is slicing an onion.\n"
                 "I absolutely loved this film.\tI absolutely hated this film.")
EXAMPLES_ATT = [["The movie was surprisingly good.", ""], ["How do I learn Python?", "What is the best way to learn Python?"]]


@dataclass
class AppArgs:
    checkpoint: str
    share: bool
    precision: str
    data_dir: str | None
    offline: bool
    compare: str | None
    max_queue: int
    host: str  # the address to listen on (0.0.0.0: every interface)
    port: int  # the TCP port to listen on
    corpus_limit: int  # rows a corpus file may have in the Embeddings tab


def session(request: gr.Request | None) -> str | None:
    """The Gradio session a download belongs to (None outside a request)."""
    return getattr(request, "session_hash", None)


def intro(tab: str, colored=()) -> None:
    """The tab's one plain-words line, the colour legend of the tasks it colours by, and its jargon in a closed
    accordion."""
    gr.Markdown(tab_help.INTRO[tab], elem_classes=["tab-intro"])
    if colored:
        gr.HTML(tab_help.legend(colored))
    if tab in tab_help.TAB_TERMS:
        with gr.Accordion("What do these terms mean?", open=False):
            gr.Markdown(tab_help.glossary(tab))


def job_status(**kw) -> gr.Markdown:
    """The message under a long job's button, which also carries the job's queue position and progress bar (its
    events' show_progress_on): empty, a Markdown collapses to 0 px and hides both, so page_style.CSS keeps it a line
    high, and taller while a job is pending."""
    return gr.Markdown(elem_classes=[page_style.JOB_STATUS], **kw)


def shown(fn, plots: tuple[int, ...]):
    """Wrap a tab method so the outputs at `plots` become visible only once there is a figure to draw."""
    def run(*args):
        out = list(fn(*args))
        for i in plots:
            out[i] = gr.Plot(value=out[i], visible=out[i] is not None)
        return tuple(out)
    return run


def pair_tab(name: str, fn, key: str, plot_label: str, studio=None, opener=None, task=None):
    with gr.Row():
        s1 = gr.Textbox(label="Sentence 1", lines=1, placeholder=f"First sentence · {ENTER}")
        s2 = gr.Textbox(label="Sentence 2", lines=1, placeholder=f"Second sentence · {ENTER}")
    opened = opener.task_tab(task, [s1, s2]) if opener else []  # a selected example of `task` runs here
    btn = gr.Button(f"Run {name}", variant="primary")
    msg = gr.Markdown()
    plot = gr.Plot(label=plot_label, visible=False)
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    gr.Examples(EXAMPLES_PAIR, [s1, s2])
    btn.click(shown(fn, (1,)), [s1, s2], [msg, plot, js], api_name=f"{key}_ui", api_visibility="private", **LIGHT)
    gr.on([s1.submit, s2.submit, *opened], shown(fn, (1,)), [s1, s2], [msg, plot, js], api_visibility="private",
          **LIGHT)
    if studio is not None:
        many_pairs_block(studio, key)


def many_pairs_block(studio, tab: str):
    """Many pairs at once: pasted lines or a file -> a table in input order and a CSV download."""
    with gr.Accordion("Many pairs: type them, paste lines or upload a file (up to 10,000 pairs)", open=False):
        typed = gr.Dataframe(headers=["sentence 1", "sentence 2"], datatype=["str", "str"], type="array", row_count=3,
                             column_count=2, interactive=True, wrap=True,
                             label="Type pairs: one sentence per box (used when the box and the file below are empty)")
        with gr.Row():
            text = gr.Textbox(label="or paste one pair per line: sentence 1 ||| sentence 2 (a TAB works too)",
                              lines=5, scale=3)
            file = gr.File(label="or a CSV / TSV / JSONL with sentence1, sentence2 columns", scale=2)
        btn = gr.Button("Score all pairs", variant="primary")
        msg = job_status()
        table = gr.Dataframe(headers=PAIR_COLUMNS, wrap=True, label="Scores (cosine, STS, paraphrase)",
                             column_widths=["6%", "9%", "9%", "11%", "9%", "28%", "28%"])
        download = gr.File(label="Download as CSV")
        gr.Examples([[EXAMPLES_MANY]], [text])

    def run(text, file, pairs=None, request: gr.Request = None, progress=gr.Progress()):
        msg, _, table, path = studio.score_pairs(text, file, lambda f, d: progress(f, desc=d), pairs, session(request))
        return msg, table, path  # the rows as JSON are /score_pairs's

    btn.click(run, [text, file, typed], [msg, table, download], api_name=f"score_pairs_{tab}_ui",
              show_progress_on=[msg], api_visibility="private", **HEAVY)


def sentiment_tab(studio, opener):
    intro("Sentiment", [SST])
    text = gr.Textbox(label="Sentence", lines=1, placeholder=f"Type a sentence · {ENTER}")
    btn = gr.Button("Predict sentiment", variant="primary")
    msg = gr.Markdown()
    with gr.Row():
        bars = gr.Plot(label="Class probabilities", visible=False)
        highlight = gr.HTML(label="Token contributions", elem_classes=[page_style.JOB_STATUS])  # its progress too
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    gr.Examples(EXAMPLES_SST, [text])
    # probabilities first (one forward pass), then the slower attributions fill in
    predict = shown(studio.sentiment, (1,))
    predicted = [ev(predict, [text], [msg, bars, js], api_name="sentiment_ui", api_visibility="private", **LIGHT)
                 for ev in (btn.click, text.submit, *opener.task_tab(SST, [text]))]
    for event in predicted:
        event.then(studio.sentiment_highlight, [text], [highlight], api_visibility="private", **HEAVY)
    counterfactual_block(studio.editor, text)


def counterfactual_block(ed, text):
    """Counterfactual editing (analysis/studio/counterfactual.py): an edited copy of the sentence above, word swaps
    with their sources, both predictions side by side, then both attributions, and the last edits."""
    with gr.Accordion("Counterfactual editing: change the sentence, compare the two", open=False):
        gr.Markdown(cf.HELP)
        edited = gr.Textbox(label="Edited sentence (a copy of the sentence above)", lines=1, placeholder=ENTER)
        with gr.Row():
            word = gr.Dropdown([], value=None, label="Word to swap")
            choice = gr.Dropdown([], value=None, label="Suggestion · where it comes from")
            swap = gr.Button("Swap the word", scale=0)
        btn = gr.Button("Compare original and edited", variant="primary")
        msg = gr.Markdown()
        with gr.Row():
            bars = gr.Plot(label="Class probabilities: original and edited", visible=False)
            diff = gr.HTML(label="Token changes")
        with gr.Row():
            job = dict(elem_classes=[page_style.JOB_STATUS])  # empty until the attributions come: their progress
            before, after = gr.HTML(label="Contributions: original", **job), gr.HTML(label="Contributions: edited", **job)
        with gr.Accordion("Raw output (JSON)", open=False):
            js = gr.JSON()
        history = gr.State([])
        table = gr.Dataframe(headers=cf.HISTORY_COLUMNS, label=f"Last {cf.MAX_HISTORY} edits (newest first)",
                             wrap=True, column_widths=cf.HISTORY_WIDTHS)
        csv = gr.File(label="Edit history as CSV")
    private = dict(api_visibility="private", show_progress="hidden")
    text.change(None, [text], [edited], js="(s) => s", **private)  # the browser copies it: no server round trip
    edited.change(lambda s: gr.Dropdown(choices=cf.words(s), value=None), [edited], [word], trigger_mode="always_last",
                  **private)
    word.change(lambda s, i: gr.Dropdown(choices=ed.suggestion_choices(s, i), value=None), [edited, word], [choice],
                **private)
    swap.click(ed.swapped, [edited, word, choice], [edited, msg], api_visibility="private")

    def run(text, edited, history, request: gr.Request = None):
        out = list(ed.view(text, edited, history, session(request)))
        out[1] = gr.Plot(value=out[1], visible=out[1] is not None)
        return tuple(out)

    def explain(text, edited, progress=gr.Progress()):
        return ed.highlights(text, edited, lambda f, d: progress(f, desc=d))

    for ev in (btn.click, edited.submit):
        ev(run, [text, edited, history], [msg, bars, diff, js, history, table, csv], api_visibility="private",
           **LIGHT).then(explain, [text, edited], [before, after], api_visibility="private", **HEAVY)


def task_tab(studio, task, opener):
    """An added task's prediction box: a sentence, or a pair for a pair task (the UI's; API clients use /run_task)."""
    intro("Other tasks", [task])
    boxes = [gr.Textbox(label="Sentence 1" if task.pair else "Sentence", lines=1, placeholder=ENTER)]
    if task.pair:
        boxes.append(gr.Textbox(label="Sentence 2", lines=1, placeholder=ENTER))
    btn = gr.Button(f"Run {task.name}", variant="primary")
    msg = gr.Markdown()
    plot = gr.Plot(label=f"{task.name} {'score' if task.is_score else 'probabilities'}", visible=False)
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    gr.Examples(EXAMPLES_PAIR if task.pair else EXAMPLES_SST, boxes)
    run = shown(lambda *texts: studio.run_task(task.key, *texts), (1,))
    gr.on([btn.click, *(b.submit for b in boxes), *opener.task_tab(task, boxes)], run, boxes, [msg, plot, js],
          api_visibility="private", **LIGHT)


def attention_tab(studio, opener):
    L, H = studio.predictor.model.bert.config.num_hidden_layers, studio.predictor.model.bert.config.num_attention_heads
    intro("Attention")
    with gr.Row():
        t1 = gr.Textbox(label="Text (or sentence 1)", lines=1, placeholder=f"A sentence · {ENTER}")
        t2 = gr.Textbox(label="Sentence 2 (optional: encodes a pair)", lines=1, placeholder=f"Optional · {ENTER}")
    opener.attention = [t1, t2]  # a selected example is filled in here too, not run
    with gr.Row():
        layer = gr.Slider(0, L - 1, value=L - 1, step=1, label="Layer")
        head = gr.Slider(0, H - 1, value=0, step=1, label="Head")
        hide = gr.Checkbox(value=False, label="Hide [CLS] and [SEP]")
    btn = gr.Button("Show attention", variant="primary")
    msg = job_status()  # its plots are hidden until the first run: the progress shows here
    state = gr.State(None)
    hidden = dict(visible=False)  # empty until the first run
    grid = gr.Plot(label="Model view", **hidden)
    with gr.Row():
        ft_view = gr.Plot(label="Head view: fine-tuned (same colour scale as the base)", **hidden)
        base_view = gr.Plot(label="Head view: pretrained base", **hidden)
    entropy = gr.Plot(label="Per-head entropy: fine-tuned, base, difference", **hidden)
    gr.Examples(EXAMPLES_ATT, [t1, t2])
    views = [grid, ft_view, base_view, entropy]
    gr.on([btn.click, t1.submit, t2.submit], shown(studio.attention, (1, 2, 3, 4)), [t1, t2, layer, head, hide],
          [msg, *views, state], api_name="attention_ui", show_progress_on=[msg], api_visibility="private", **HEAVY)
    for ctl in (layer, head, hide):
        ctl.change(shown(studio.attention_views, (0, 1, 2, 3)), [state, layer, head, hide], views,
                   api_visibility="private")
    head_importance_block(studio, t1, t2, layer, head)


def head_importance_block(studio, t1, t2, layer, head):
    """Which heads matter per task (precomputed), and a live mask: remove heads, re-run the text above."""
    gr.Markdown("### Head importance (Michel et al., 2019)")
    summary, maps, curves = studio.head_views()
    gr.Markdown(summary)
    if maps is not None:  # the head chosen above is outlined in every map
        maps_plot = gr.Plot(studio.head_maps(layer.value, head.value), label="Head importance maps")
        gr.Plot(curves, label="Pruning curves")
        for ctl in (layer, head):
            ctl.change(studio.head_maps, [layer, head], [maps_plot], api_visibility="private")
    gr.Markdown("#### Live head mask: remove heads and re-run the text (or pair) above")
    with gr.Row():
        preset = gr.Dropdown(studio.head_presets(), value="none", label="Preset", scale=1)
        spec = gr.Textbox(label="Heads to remove: layer.head (e.g. 2.7 5.0), or L<layer> for a whole layer", scale=3,
                          placeholder=f"2.7 5.0 · {ENTER}")
    btn = gr.Button("Run with these heads removed", variant="primary")
    msg = gr.Markdown()
    fig = gr.Plot(label="All heads vs masked", visible=False)  # empty until the first run
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    preset.change(studio.head_preset, [preset], [spec], api_visibility="private")
    run = shown(studio.head_mask_run, (1,))
    btn.click(run, [spec, t1, t2], [msg, fig, js], api_name="head_mask_ui", api_visibility="private", **LIGHT)
    spec.submit(run, [spec, t1, t2], [msg, fig, js], api_visibility="private", **LIGHT)


def embeddings_tab(studio, opener):
    notice = studio.map_available()
    if notice:
        gr.Markdown(notice)
        corpus_block(studio)
        return None
    on_map = studio.map_tasks()
    intro("Embeddings", on_map)
    with gr.Row():
        color = gr.Radio(["gold label", "prediction", "correct / incorrect", "task"], value="gold label", label="Colour by")
        tasks = gr.CheckboxGroup([(t.name, t.key) for t in on_map], value=[t.key for t in on_map[:1]],
                                 label="Sentences shown")
    with gr.Row():
        text = gr.Textbox(label="Place a sentence on the map", scale=4, placeholder=f"A sentence · {ENTER}")
        btn = gr.Button("Place", variant="primary", scale=1)
    with gr.Row():
        query = gr.Textbox(label="Search the dev map: sentences containing", scale=4,
                           placeholder="a word or phrase · Enter to highlight")
        score = gr.Button("Score matches as a slice", scale=1)
    msg = gr.Markdown()
    with gr.Row():
        ft, base = (gr.Plot(label=f"{label}: click a point to open it", elem_id=page_style.SELECT_MAPS[which])
                    for label, which in (("Fine-tuned", "finetuned"), ("Base", "base")))
    nn = gr.Dataframe(headers=NEIGHBOUR_COLUMNS, label="Nearest dev neighbours of your sentence (among the tasks shown)",
                      wrap=True, column_widths=NEIGHBOUR_WIDTHS)
    point = gr.Textbox(visible="hidden", elem_id=page_style.SELECT_POINT)  # selection.js writes a clicked point here
    opener.point(point, opener.selector.map_click)
    opener.table(nn, None, lambda _, row, col: opener.selector.neighbour(row))
    gr.Examples(["a tender, funny and heartbreaking story", "How can I lose weight fast?"], [text])
    outs = [msg, ft, base, nn]
    for trigger in (btn.click, text.submit, query.submit):
        trigger(studio.maps, [color, tasks, text, query], outs, api_visibility="private", **LIGHT)
    for ctl in (color, tasks):
        ctl.change(studio.maps, [color, tasks, text, query], outs, api_visibility="private")
    slice_block(studio, tasks, query, score, opener)
    corpus_block(studio)
    return outs, color, tasks


def slice_block(studio, tasks, query, score, opener):
    """A slice of the dev sets: a box or lasso selection on a map (map_slice.js writes its examples into a hidden
    box), or the text search's matches, scored per task beside the whole dev set, listed and downloaded."""
    picked = gr.Textbox(visible="hidden", elem_id=page_style.MAP_SLICE)
    gr.Markdown("### Slices\nPick **Box Select** or **Lasso Select** at the top right of a map and drag over points, "
                "or search above and score the matches: the slice's label mix and metrics beside the whole dev set's.")
    msg = gr.Markdown()
    with gr.Column(visible=False) as view:  # hidden until there is a slice
        with gr.Row():
            metrics = gr.Dataframe(headers=METRIC_COLUMNS, label="Metrics: the slice and the whole dev set", wrap=True)
            mix = gr.Dataframe(headers=MIX_COLUMNS, label="Label mix", wrap=True, max_height=400)
        rows = gr.Dataframe(headers=ROW_COLUMNS, label="Examples in the slice", wrap=True, max_height=400,
                            column_widths=ROW_WIDTHS)
        opener.table(rows, None, lambda _, row, col: opener.selector.slice_row(row))
        csv = gr.File(label="The slice as CSV (all its examples)")

    def show(out):
        return out[0], gr.Column(visible=bool(out[1])), *out[1:]

    def selected(value, request: gr.Request = None):
        return show(studio.map_selection(value, session(request)))

    def searched(q, keys, request: gr.Request = None):
        return show(studio.search_slice(q, keys, session(request)))

    shown_slice = [msg, view, metrics, mix, rows, csv]
    picked.change(selected, [picked], shown_slice, api_visibility="private")
    score.click(searched, [query, tasks], shown_slice, api_visibility="private")


def corpus_block(studio):
    """Your own corpus: a file mapped (PCA at once, then UMAP with labelled clusters), coloured, searched, and
    any cluster, region or search result listed and downloaded."""
    gr.Markdown(f"### Your corpus\nUpload a CSV, TSV, JSONL or Parquet file with up to {studio.corpus.limit:,} "
                "sentences: the sentence column is found by name (sentence, text, review, question, ...), every other "
                "column is kept to colour by. The same file reopens at once from the cache.")
    with gr.Row():
        file = gr.File(label="Corpus file", file_types=[".csv", ".tsv", ".txt", ".jsonl", ".parquet"], scale=3)
        btn = gr.Button("Map my corpus", variant="primary", scale=1)
    msg, key = job_status(elem_id="corpus-status"), gr.State(None)
    with gr.Row():
        colour = gr.Dropdown([CLUSTER], value=CLUSTER, label="Colour by", scale=1)
        search = gr.Textbox(label="Text search: rows containing", placeholder=f"a word or phrase · {ENTER}", scale=1)
        query = gr.Textbox(label="Query sentence: its nearest rows, and the score colours", scale=2,
                           placeholder=f"a sentence · {ENTER}")
    view_msg = job_status()
    plot = gr.Plot(label="Your corpus", elem_id="corpus-map")
    found = gr.Dataframe(label="The query sentence's nearest rows, else the rows the text search found", wrap=True,
                         max_height=400)
    with gr.Row():
        what = gr.Radio(list(SELECTIONS), value=SELECTIONS[0], label="Select", scale=2)
        cluster = gr.Dropdown([], label="Cluster", scale=2)
    with gr.Row():
        box = [gr.Number(label=f"{a} {end}") for a in ("x", "y") for end in ("from", "to")]
    sel_btn = gr.Button("List and download these rows")
    sel_msg = gr.Markdown()
    sel_table = gr.Dataframe(label="Selected rows", wrap=True, max_height=400)
    sel_csv = gr.File(label="Selected rows as CSV (all of them)")

    def run(file, progress=gr.Progress()):
        for m, fig, k, colours, clusters in studio.corpus.map_file(file, lambda f, d: progress(f, desc=d)):
            yield (m, fig, k, gr.Dropdown(choices=colours, value=CLUSTER),
                   gr.Dropdown(choices=clusters, value=clusters[0] if clusters else None))

    def view(k, colour_by, text, sentence, progress=gr.Progress()):
        return studio.corpus.view(k, colour_by, text, sentence, lambda f, d: progress(f, desc=d))

    def select(k, kind, cid, x0, x1, y0, y1, text, sentence, request: gr.Request = None):
        return studio.corpus.select(k, kind, cid, (x0, x1), (y0, y1), text, sentence, session(request))

    btn.click(run, [file], [msg, plot, key, colour, cluster], show_progress_on=[msg], api_visibility="private",
              **CORPUS)
    gr.on([colour.input, search.submit, query.submit], view, [key, colour, search, query], [view_msg, plot, found],
          show_progress_on=[view_msg], api_visibility="private", **CORPUS_VIEW)
    sel_btn.click(select, [key, what, cluster, *box, search, query], [sel_msg, sel_table, sel_csv],
                  api_visibility="private", **CORPUS_VIEW)


def errors_tab(studio, demo, opener):
    intro("Errors & imbalance")
    own_file_block(studio, opener)
    overview = studio.error_overview()
    if overview.notice:
        gr.Markdown(overview.notice)
        return None
    gr.Markdown(f"### CS224N dev sets\n<small>{overview.protocol}</small>")
    gr.Plot(overview.distribution, label="Distributions")
    with gr.Row():  # the value is the task's key; people see its name
        task = gr.Radio([(t.name, t.key) for t in studio.classes_tasks], value=studio.classes_tasks[0].key,
                        label="Task")
        norm = gr.Checkbox(value=False, label="Row-normalise")
    with gr.Row():
        conf = gr.Plot(label="Confusion matrix: click a cell to list its examples below", elem_id=page_style.CONFUSION_PLOT)
        with gr.Column():
            summary = gr.Markdown()
            table = gr.Dataframe(headers=["class", "precision", "recall", "F1", "support"], label="Per-class scores")
    for ev in (task.change, norm.change, demo.load):
        ev(studio.confusion, [task, norm], [conf, table, summary], api_visibility="private")
    with gr.Row():
        for t, fig in overview.ordinal:
            gr.Plot(fig, label=f"{t.name} ordinal error distance")
        gr.Plot(overview.reliability, label="Calibration")
    for t in (t for t in studio.classes_tasks if t.pair):  # yes/no pair tasks: the decision threshold
        threshold_block(studio, demo, t)
    for t, scatter, buckets in overview.scores:
        with gr.Row():
            gr.Plot(scatter, label=f"{t.name} gold vs predicted")
            gr.Plot(buckets, label=f"{t.name} error by bucket")
    mis = misclassified_block(studio, demo, task)
    opener.table(mis[1], task, lambda key, row, col: opener.selector.misclassified(key, row))
    link_confusion_to_table(page_style.CONFUSION_CELL, studio.class_choices, *mis[0])
    return mis


def threshold_block(studio, demo, task):
    """A yes/no pair task's accuracy and F1 as its decision threshold on the raw P(yes) moves."""
    thr = gr.Slider(0.05, 0.95, value=0.5, step=0.01, label=f"{task.name} threshold on the raw P({task.classes[-1]})")
    thr_note = gr.Markdown()
    thr_plot = gr.Plot(label="Threshold trade-off")
    for ev in (thr.change, demo.load):
        ev(lambda t: studio.threshold(task.key, t), [thr], [thr_plot, thr_note], api_visibility="private")


def link_confusion_to_table(cell_id: str, names_of, source, gold, pred):
    """A click on a confusion-matrix cell (page_style.JS writes 'gold|predicted|time' into the hidden box `cell_id`)
    sets its misclassified table's gold and predicted filters to that cell; names_of(value of `source`: the dev
    task, or the user's file's state) gives the filters' choices."""
    cell = gr.Textbox(visible="hidden", elem_id=cell_id)

    def clicked(value, src):
        g, p, *_ = (value or "").split("|") + ["", ""]
        names = names_of(src)
        if g not in names or p not in names:
            return gr.skip(), gr.skip()
        return gr.Dropdown(choices=names, value=g), gr.Dropdown(choices=names, value=p)

    cell.change(clicked, [cell, source], [gold, pred], api_visibility="private")


def own_file_block(studio, opener):
    """The user's labelled file gets every breakdown the dev sets get that applies to its task, titled with
    its name; views appear after a run, and the file comes back with its predictions."""
    from analysis.studio import file_eval
    with gr.Accordion("Evaluate your own labelled file (CSV / TSV / JSONL, up to 10,000 rows)", open=False):
        gr.Markdown(file_eval.file_help(studio.tasks.values()))
        with gr.Row():
            file = gr.File(label="Labelled file", scale=2)
            with gr.Column(scale=3):
                # validated by the studio, so a wrong value from an API client gets our message, not a traceback
                tasks = list(studio.tasks.values())  # by skill, as `minbert.predict --task` takes it
                task = gr.Dropdown([(f"{t.skill} ({t.name})", t.skill) for t in tasks], value=tasks[0].skill,
                                   label="Task of your file", allow_custom_value=True)
                with gr.Row():
                    cols = [gr.Textbox(label=lab, placeholder="auto", visible=lab != "Sentence 2 column" or tasks[0].pair)
                            for lab in ("Text column", "Sentence 2 column", "Label column")]
        btn = gr.Button("Evaluate file", variant="primary")
        msg = job_status()  # the views below stay hidden until a file is evaluated: the progress shows here
        state = gr.State(None)
        with gr.Column(visible=False) as shown:  # nothing is drawn before there is a file to draw
            predictions = gr.File(label="Your file with its predictions (CSV, one row per input row)")
            with gr.Accordion("Metrics (JSON)", open=False):
                metrics = gr.JSON()
            dist = gr.Plot(label="Distributions")
            with gr.Column(visible=False) as classes:  # files of a classes task
                with gr.Row():
                    conf = gr.Plot(label="Confusion matrix: click a cell to list its rows below",
                                   elem_id=page_style.OWN_CONFUSION_PLOT)
                    with gr.Column():
                        summary = gr.Markdown()
                        table = gr.Dataframe(headers=["class", "precision", "recall", "F1", "support"],
                                             label="Per-class scores")
                reliab = gr.Plot(label="Calibration")
                with gr.Column(visible=False) as yes_no:  # files of a yes/no pair task
                    thr = gr.Slider(0.05, 0.95, value=0.5, step=0.01, label="Decision threshold on P(yes)")
                    thr_note, thr_plot = gr.Markdown(), gr.Plot(label="Threshold trade-off")
                with gr.Row():
                    gold = gr.Dropdown(["any"], value="any", label="Gold class")
                    pred = gr.Dropdown(["any"], value="any", label="Predicted class")
                mis = gr.Dataframe(headers=MISCLASSIFIED, wrap=True, label="Misclassified rows (most confident first)",
                                   column_widths=MISCLASSIFIED_WIDTHS)
                mis_csv = gr.File(label="These rows as CSV (all of them, as filtered)")
            with gr.Row(visible=False) as scores:  # files of a score task
                scatter, buckets = gr.Plot(label="Gold vs predicted score"), gr.Plot(label="Error by gold bucket")

    def run(file, task, text_col, text2_col, label_col, request: gr.Request = None, progress=gr.Progress()):
        return studio.evaluate_file(file, task, text_col, text2_col, label_col, lambda f, d: progress(f, desc=d),
                                    session(request))

    def show(state):
        t = (state or {}).get("task")  # the file's Task: its kind says which views apply
        names = file_eval.labels_of(state)
        return (gr.update(visible=t is not None), gr.update(visible=bool(t and t.classes)),
                gr.update(visible=bool(t and t.kind == "pair_classes")), gr.update(visible=bool(t and t.is_score)),
                gr.Dropdown(choices=names, value="any"), gr.Dropdown(choices=names, value="any"))

    def mis_download(state, g, p, request: gr.Request = None):
        return studio.file_misclassified_csv(state, g, p, session(request))

    pair = {t.skill: t.pair for t in tasks}
    task.change(lambda t: gr.update(visible=pair.get(t, True)), [task], [cols[1]], api_visibility="private")
    done = btn.click(run, [file, task, *cols], [msg, metrics, state, predictions], api_name="evaluate_file_ui",
                     show_progress_on=[msg], api_visibility="private", **HEAVY)
    done.then(show, [state], [shown, classes, yes_no, scores, gold, pred], api_visibility="private") \
        .then(file_eval.views, [state], [dist, conf, table, summary, reliab, scatter, buckets], api_visibility="private") \
        .then(file_eval.threshold, [state, thr], [thr_plot, thr_note], api_visibility="private")
    thr.change(file_eval.threshold, [state, thr], [thr_plot, thr_note], api_visibility="private")
    for ev in (gold.change, pred.change, done.success):
        ev(file_eval.misclassified, [state, gold, pred], [mis], api_visibility="private")
    mis.change(mis_download, [state, gold, pred], [mis_csv], api_visibility="private")
    opener.table(mis, state, lambda st, row, col: opener.selector.file_row(st, row))
    link_confusion_to_table(page_style.OWN_CONFUSION_CELL, file_eval.labels_of, state, gold, pred)


def misclassified_block(studio, demo, task):
    """The dev examples the model gets wrong, of the task chosen once above (`task`, the confusion matrix's)."""
    gr.Markdown("### Misclassified dev examples (most confident first), of the task chosen above")
    choices = studio.class_choices(task.value)
    with gr.Row():
        gold = gr.Dropdown(choices, value="any", label="Gold class")
        pred = gr.Dropdown(choices, value="any", label="Predicted class")
    table = gr.Dataframe(headers=MISCLASSIFIED, wrap=True, column_widths=MISCLASSIFIED_WIDTHS)
    download = gr.File(label="These rows as CSV (all of them, as filtered)")

    def csv_of(t, g, p, request: gr.Request = None):
        return studio.misclassified_csv(t, g, p, session(request))

    table.change(csv_of, [task, gold, pred], [download], api_visibility="private")

    def task_changed(t, g, p):  # filters the new task has (as a confusion-matrix click sets) are kept
        names = studio.class_choices(t)
        return (gr.Dropdown(choices=names, value=g if g in names else "any"),
                gr.Dropdown(choices=names, value=p if p in names else "any"))

    task.change(task_changed, [task, gold, pred], [gold, pred], api_visibility="private")
    for ev in (task.change, gold.change, pred.change, demo.load):
        ev(studio.misclassified, [task, gold, pred], [table], api_visibility="private")
    return [task, gold, pred], table


def training_tab(studio):
    views = studio.training()
    intro("Training")
    gr.Markdown(views.summary)
    gr.Plot(views.losses, label="Loss curves")
    with gr.Row():
        gr.Plot(views.overfitting, label="Train vs dev")
        gr.Plot(views.lr, label="LR schedule")
    gr.Plot(views.learning_curves, label="Learning curves")
    gr.Plot(views.interference, label="Task interference")
    headings = ("Levers (each alone on the first shipped recipe, several seeds, full dev sets)",
                "Ablation (like the report's Figure 7: one ingredient per row; budget in its title)",
                "Grid search (budget in its title)")
    for heading, (cols, rows, title) in zip(headings, views.tables):
        gr.Markdown(f"### {heading}\n<small>{title}</small>")
        gr.Dataframe(value=rows, headers=cols, wrap=True, column_widths=tables.widths(cols, rows))


def behaviour_results(studio, demo, beh, opener):
    """The precomputed CheckList-style tests: failure rates, and any test's worst failing cases (downloadable)."""
    gr.Markdown("CheckList-style tests (Ribeiro et al., 2020) generated from templates in code: the fine-tuned "
                "model beside its pretrained base encoder carrying the same heads.")
    gr.Plot(behaviour_view.rates_figure(beh), label="Failure rates")
    gr.Dataframe(value=behaviour_view.rates_rows(beh), headers=RATE_COLUMNS, wrap=True, label="Tests",
                 column_widths=RATE_WIDTHS)
    names, shown = behaviour_view.labels(beh), behaviour_view.first_failing(beh)
    with gr.Row():
        test = gr.Dropdown(names, value=shown, label="Test")
        model = gr.Radio(["fine-tuned", "pretrained base"], value="fine-tuned", label="Model")
    first_cap, first_rows = studio.behaviour_cases(shown, "fine-tuned")
    cap = gr.Markdown(first_cap)
    cases = gr.Dataframe(value=first_rows, headers=CASE_COLUMNS, wrap=True, label="Worst failing cases",
                         column_widths=CASE_WIDTHS)
    cases_csv = gr.File(label="These cases as CSV")
    for ev in (test.change, model.change):
        ev(studio.behaviour_cases, [test, model], [cap, cases], api_visibility="private")
    opener.table(cases, test, opener.selector.behaviour_case)

    def cases_download(t, m, request: gr.Request = None):
        return studio.behaviour_cases_csv(t, m, session(request))

    gr.on([cases.change, demo.load], cases_download, [test, model], [cases_csv], api_visibility="private")


def behaviour_tab(studio, demo, opener):
    beh = studio.behaviour
    intro("Behaviour")
    if beh is None:
        gr.Markdown("No behavioural results for this checkpoint: run `python -m analysis.behaviour --checkpoint "
                    f"{studio.checkpoint}`. Your own template below still works.")
    else:
        behaviour_results(studio, demo, beh, opener)
    gr.Markdown("### Your own test\nWrite a template with `{placeholders}`: built-in word lists are noun, pos_adj, "
                "neg_adj, adj, intens, name, city, pronoun, subject, person, activity, topic; add your own as "
                "`key: word, word` lines. For a pair, write `sentence 1 ||| sentence 2`.")
    with gr.Row():
        template = gr.Textbox(label="Template", value="The {noun} was not {pos_adj}.", scale=3, info=ENTER)
        expect = gr.Dropdown(list(EXPECTATIONS), value="negative (class 0-1)", label="Expectation", scale=2,
                             allow_custom_value=True)  # the studio answers an unknown one with a message
    fills = gr.Textbox(label="Extra word lists (optional)", lines=2, placeholder="food: pizza, soup, salad")
    btn = gr.Button("Run my test", variant="primary")
    msg = job_status()
    table = gr.Dataframe(headers=TEMPLATE_COLUMNS, wrap=True, label="Cases (failing first)", column_widths=TEMPLATE_WIDTHS)
    table_csv = gr.File(label="These cases as CSV")
    for ev in (btn.click, template.submit):
        ev(studio.behaviour_template, [template, fills, expect], [msg, table], api_name="behaviour_template_ui",
           show_progress_on=[msg], api_visibility="private", **HEAVY)

    def template_download(rows, request: gr.Request = None):
        return studio.template_csv(rows, session(request))

    table.change(template_download, [table], [table_csv], api_visibility="private")


def compare_tab(studio, opener):
    sources = studio.compare_sources()
    own, first = (sources[0], f"{sources[0]}@epoch1") if sources else (None, None)
    # default: the checkpoint against --compare, else its first epoch (A) against itself (B)
    default_a, default_b = (own, studio.compare_with) if studio.compare_with else (
        (first, own) if first in sources else (own, own))
    intro("Compare")
    gr.Markdown("B − A, paired over the same dev examples. Every training run stores each epoch's dev predictions, "
                "so a model can be compared with its own earlier epochs (`run@epochN`).")
    with gr.Row():  # custom values reach the studio, which answers anything unlisted with a message
        a = gr.Dropdown(studio.compare_choices(), value=default_a, label="A (reference)", allow_custom_value=True, scale=3)
        b = gr.Dropdown(studio.compare_choices(), value=default_b, label="B (compared with A)", allow_custom_value=True, scale=3)
        refresh = gr.Button("Refresh lists", scale=1)
    btn = gr.Button("Compare", variant="primary")
    msg = job_status()
    conf = gr.Plot(label="Confusion-matrix difference", visible=False)
    with gr.Accordion("Whole report (JSON, every flip)", open=False):
        report = gr.JSON()
    with gr.Row():
        task = gr.Radio([(t.name, t.key) for t in studio.tasks.values()], value=next(iter(studio.tasks)), label="Task")
        direction = gr.Radio(list(DIRECTIONS), value="A right, B wrong", label="Flips")
    cap = gr.Markdown()
    flips = gr.Dataframe(headers=FLIP_COLUMNS, wrap=True, label="Flipped examples", column_widths=FLIP_WIDTHS)
    flips_csv = gr.File(label="These flips as CSV (all of them)")
    def relist():
        names = studio.compare_choices(refresh=True)
        return gr.Dropdown(choices=names), gr.Dropdown(choices=names)

    refresh.click(relist, None, [a, b], api_visibility="private")
    done = btn.click(shown(studio.compare, (1,)), [a, b], [msg, conf, report], api_name="compare_ui",
                     show_progress_on=[msg], api_visibility="private")
    for ev in (done.then, task.change, direction.change):
        ev(studio.flips, [report, task, direction], [cap, flips], api_visibility="private")

    def flips_download(report, task_name, way, request: gr.Request = None):
        return studio.flips_csv(report, task_name, way, session(request))

    flips.change(flips_download, [report, task, direction], [flips_csv], api_visibility="private")
    opener.table(flips, task, lambda key, row, col: opener.selector.flip(key, row))


def header(studio) -> str:
    base = studio.meta.get("train_config", {}).get("base_model") or "all-MiniLM-L6-v2"
    heads = ", ".join(f"{t.name} {t.skill}" for t in studio.tasks.values())
    return (f"# minBERT multitask studio\nOne from-scratch BERT encoder (fine-tuned from {base}) with "
            f"{len(studio.tasks)} heads: {heads}. Checkpoint: `{studio.predictor.path.name}` · {studio.served_line()}")


def header_follows_precision(studio, demo, head) -> None:
    """The header's precision line is read again on every page load, and, while auto is still choosing, every
    few seconds until it has switched."""
    demo.load(lambda: header(studio), None, [head], api_visibility="private")
    timer = gr.Timer(3.0, active=studio.predictor.choosing)

    def tick():
        return header(studio), gr.Timer(active=studio.predictor.choosing)

    timer.tick(tick, None, [head, timer], api_visibility="private", show_progress="hidden")


def uploaded(file) -> str | None:
    """The path of a file an API client uploaded; None for anything else, such as a server path a client names
    (gr.api does not check its inputs the way a File component does)."""
    path = file.get("path") if isinstance(file, dict) else None
    return path if isinstance(path, str) and is_in_or_equal(path, get_upload_folder()) else None


def served(out: dict) -> dict:
    """The answer with its file ("csv", a server path) copied where Gradio serves it, as file data that
    gradio_client downloads (it then reads as the local path)."""
    if out.get("csv"):
        out["csv"] = FileData(path=save_file_to_cache(out["csv"], get_upload_folder())).model_dump()
    return out


def public_api(studio) -> None:
    """The endpoints for API clients, each returning one plain JSON object (analysis/studio/api.py; docs/USAGE.md
    lists them). The UI's own events are private, so their figures and updates never reach a client."""
    api = StudioAPI(studio)

    def score_pairs(text: str, file: FileData | None = None, pairs: list[list[str]] | None = None,
                    request: gr.Request = None) -> dict:  # FileData: gr.api takes an upload
        return served(api.score_pairs(text, uploaded(file), pairs, session(request)))

    def evaluate_file(file: FileData | None, task: str, text_column: str = "", sentence2_column: str = "",
                      label_column: str = "", request: gr.Request = None) -> dict:
        return served(api.evaluate_file(uploaded(file), task, text_column, sentence2_column, label_column,
                                        session(request)))

    def map_corpus(file: FileData | None) -> dict:
        return api.map_corpus(uploaded(file))

    endpoints = [(api.sentiment, LIGHT), (api.sentiment_explain, HEAVY), (api.paraphrase, LIGHT),
                 (api.similarity, LIGHT), (api.cross_task, LIGHT), (api.run_task, LIGHT), (score_pairs, HEAVY),
                 (api.attention, HEAVY), (api.head_mask, LIGHT), (map_corpus, CORPUS), (evaluate_file, HEAVY),
                 (api.behaviour_template, HEAVY), (api.compare, {}), (api.counterfactual, HEAVY), (api.dev_slice, {})]
    for fn, limits in endpoints:
        dep = gr.api(fn, api_name=fn.__name__, **limits)
        if dep["api_name"] != fn.__name__:  # a UI event took the name first
            raise RuntimeError(f"API endpoint /{fn.__name__} registered as /{dep['api_name']}")


def build_demo(studio) -> gr.Blocks:
    with gr.Blocks(title="minBERT multitask studio") as demo:
        head = gr.Markdown(header(studio))
        header_follows_precision(studio, demo, head)
        notice = gr.Markdown(studio.data_notice())
        opener = Openers(selection.Selector(studio))
        bar = selection_bar()
        with gr.Tabs() as tabs:  # a task's tab has the task's key as its id: a selected example opens there
            with gr.Tab("Sentiment", id=SST.key):
                sentiment_tab(studio, opener)
            with gr.Tab("Paraphrase", id=PARA.key):
                intro("Paraphrase")
                pair_tab("paraphrase", studio.paraphrase, "paraphrase", "Cosine and probability", studio, opener, PARA)
            with gr.Tab("Similarity", id=STS.key):
                intro("Similarity")
                pair_tab("similarity", studio.similarity, "similarity", "Token alignment", studio, opener, STS)
            with gr.Tab("Cross-task"):
                intro("Cross-task")
                pair_tab("every task", studio.cross_task, "cross_task", "All tasks on one pair")
            for t in studio.added_tasks:  # a task from a spec file: a box for its kind
                with gr.Tab(t.name, id=t.key):
                    task_tab(studio, t, opener)
            with gr.Tab("Attention"):
                attention_tab(studio, opener)
            with gr.Tab("Embeddings"):
                wired = embeddings_tab(studio, opener)
            with gr.Tab("Errors & imbalance"):
                mis = errors_tab(studio, demo, opener)
            with gr.Tab("Behaviour"):
                behaviour_tab(studio, demo, opener)
            with gr.Tab("Compare"):
                compare_tab(studio, opener)
            with gr.Tab("Training"):
                training_tab(studio)
        public_api(studio)  # after the tabs: a gr.api between two tabs splits the tab bar
        opener.wire(tabs, *bar)
        if wired:
            outs, color, tasks = wired
            demo.load(studio.maps, [color, tasks], outs, api_visibility="private")
            text_arrives(studio, demo, notice, wired, mis)
    return demo


def point_picker(pick, opened):
    """A hidden box's change: the value the page wrote (a clicked map point) through pick(value)."""
    return lambda h, value: opened(h, pick(value))


def row_picker(pick, opened, n_outs: int, has_context: bool):
    """A table's select event: the row clicked (Gradio's SelectData) through pick(context, row, column); a click
    that gives no row (a header) changes nothing."""
    def run(h, context, evt: gr.SelectData):
        if evt.row_value is None:
            return [gr.skip()] * n_outs
        return opened(h, pick(context, evt.row_value, evt.index[1] if isinstance(evt.index, (list, tuple)) else None))

    def run_alone(h, evt: gr.SelectData):  # Gradio passes SelectData by the annotation, so a def, not a lambda
        return run(h, None, evt)

    return run if has_context else run_alone


def selection_bar():
    """The selected example (analysis/studio/selection.py), shared by every tab: its chip and Back / Forward."""
    with gr.Row():
        with gr.Column(scale=8):
            chip = gr.HTML(selection.chip(None), css_template=selection.CHIP_CSS, elem_id="selection-chip",
                           js_on_load=None)
        with gr.Column(scale=1, min_width=120):
            back = gr.Button("◀ Back", size="sm", interactive=False, elem_id="selection-back")
            forward = gr.Button("Forward ▶", size="sm", interactive=False, elem_id="selection-forward")
    return gr.State(selection.History()), chip, back, forward


class Openers:
    """Where a selected example comes from (a map's hidden point box, tables of examples) and where it opens: each
    task's tab (its id: the task's key) with its boxes and a State whose change runs the tab, and the Attention
    tab's boxes. Filled while the tabs are built; wired once they all exist."""

    def __init__(self, selector: selection.Selector):
        self.selector = selector
        self.boxes, self.runs, self.attention, self.sources = {}, {}, [], []

    def task_tab(self, task, boxes: list) -> list:
        """Register a task's tab: returns the trigger that runs it when an example of the task is opened."""
        self.boxes[task.key], self.runs[task.key] = boxes, gr.State(0)
        return [self.runs[task.key].change]

    def table(self, table, context, pick) -> None:
        """A table's row selects pick(context value, row, column index) (context: a component or None)."""
        self.sources.append((table, context, pick))

    def point(self, box, pick) -> None:
        """A hidden box the page writes a click into selects pick(its value)."""
        self.sources.append((box, "change", pick))

    def wire(self, tabs, history, chip, back, forward) -> None:
        keys = list(self.boxes)
        outs = [history, chip, back, forward, tabs, *self.attention, *(b for k in keys for b in self.boxes[k]),
                *(self.runs[k] for k in keys)]

        def show(h: selection.History):
            cur = h.current
            key = cur.task if cur is not None and cur.runnable and cur.task in self.boxes else None
            texts = [cur.text, cur.text2 or ""] if key else [gr.skip(), gr.skip()]
            return [h, selection.chip(h), gr.Button(interactive=h.can_back), gr.Button(interactive=h.can_forward),
                    gr.Tabs(selected=key) if key else gr.skip(), *texts[:len(self.attention)],
                    *(t for k in keys for t in (texts if k == key else [gr.skip()] * 2)[:len(self.boxes[k])]),
                    *(h.opened if k == key else gr.skip() for k in keys)]

        def opened(h, sel):  # a click that names nothing only says so in the chip
            return show(h.push(sel)) if sel else [gr.skip(), selection.chip(h, selection.NOT_FOUND),
                                                   *(gr.skip() for _ in outs[2:])]

        for source, context, pick in self.sources:
            if context == "change":
                source.change(point_picker(pick, opened), [history, source], outs, api_visibility="private")
            else:
                source.select(row_picker(pick, opened, len(outs), context is not None),
                              [history, *([context] if context else [])], outs, api_visibility="private")
        back.click(lambda h: show(h.back()), [history], outs, api_visibility="private")
        forward.click(lambda h: show(h.forward()), [history], outs, api_visibility="private")


def text_arrives(studio, demo, notice, wired, mis):
    """While the task data is fetched, a timer shows its progress; when it ends, the maps and the
    misclassified table are drawn again (with the sentences, or with the reason they are missing)."""
    outs, color, tasks = wired
    (mis_inputs, mis_table) = mis if mis else ([], None)
    timer = gr.Timer(1.0, active=studio.data_pending())

    def tick(color_by, shown, *mis_args):
        if studio.data_pending():
            return studio.data_notice(), *(gr.skip() for _ in range(len(outs) + 1 + bool(mis_table)))
        maps = studio.maps(color_by, shown)
        table = [studio.misclassified(*mis_args)] if mis_table else []
        return studio.data_notice(), gr.Timer(active=False), *maps, *table

    timer.tick(tick, [color, tasks, *mis_inputs], [notice, timer, *outs, *([mis_table] if mis_table else [])],
               api_visibility="private", show_progress="hidden")


def parse_args(argv=None) -> AppArgs:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint to explore (stem)")
    ap.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    P.add_arguments(ap, default="auto")
    add_data_dir(ap)
    ap.add_argument("--offline", action="store_true",
                    help="never fetch the task data (also MINBERT_OFFLINE=1); the maps then show ids, not text")
    ap.add_argument("--compare", default=None, metavar="OTHER",
                    help="a second model for the Compare tab (checkpoint, run folder, or either with @epochN); "
                         "default: this checkpoint's first epoch")
    ap.add_argument("--max-queue", type=int, default=QUEUE_SIZE, metavar="N",
                    help="requests that may wait in the queue; one more is refused at once with 'Queue is full'")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="address to listen on; 0.0.0.0 for every interface (default: $GRADIO_SERVER_NAME, else "
                         "127.0.0.1)")
    ap.add_argument("--port", type=int, default=None,
                    help="TCP port to listen on (default: $GRADIO_SERVER_PORT, else 7860)")
    ap.add_argument("--corpus-limit", type=int, default=CORPUS_ROWS, metavar="N",
                    help="rows a corpus file may have in the Embeddings tab's 'Your corpus' (a Space may set fewer)")
    a = ap.parse_args(argv)
    if a.max_queue < 1:
        ap.error("--max-queue must be at least 1")
    if a.corpus_limit < 1:
        ap.error("--corpus-limit must be at least 1")
    port = a.port if a.port is not None else os.environ.get("GRADIO_SERVER_PORT", "7860")
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        ap.error(f"the port must be a number from 1 to 65535, not {port!r}")
    return AppArgs(a.checkpoint, a.share, a.precision, a.data_dir, a.offline, a.compare, a.max_queue,
                   a.host, int(port), a.corpus_limit)


def main(argv=None) -> None:
    from analysis.studio.service import Studio
    args = parse_args(argv)
    studio = Studio(args.checkpoint, args.precision, args.data_dir, args.offline, args.compare, choose_later=True,
                    corpus_limit=args.corpus_limit)
    print(f"precision: {studio.predictor.served}", file=sys.stderr)
    demo = build_demo(studio)
    demo.queue(max_size=args.max_queue, default_concurrency_limit=4).launch(  # views without model work: 4 at once
        server_name=args.host, server_port=args.port, max_file_size=UPLOAD_LIMIT, share=args.share, show_error=True,
        css=page_style.CSS, js=page_style.JS, head=page_style.HEAD, prevent_thread_lock=True)
    studio.predictor.choose_later()  # only now: the port is open before auto measures
    demo.block_thread()


if __name__ == "__main__":
    main()
