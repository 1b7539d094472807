"""minBERT multitask studio: a Gradio app to explore the multitask model. This file only wires the UI.

    python app.py [--checkpoint checkpoints/minbert-multitask] [--share] [--quantize int8]

Serves on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import gradio as gr

from minbert.data import SST_CLASSES
from minbert.quantize import QUANTIZE_CHOICES, QUANTIZE_HELP

EXAMPLES_SST = ["A gorgeous, witty and deeply moving film.", "The plot is thin and the jokes fall flat.",
                "It's not a bad movie, just a forgettable one.", "An utterly dreadful, boring mess."]
EXAMPLES_PAIR = [["How do I learn Python quickly?", "What is the fastest way to learn Python?"],
                 ["A man is playing a guitar.", "A woman is slicing an onion."],
                 ["I absolutely loved this film.", "I absolutely hated this film."],
                 ["What is the capital of France?", "Which city is the capital of France?"]]
EXAMPLES_ATT = [["The movie was surprisingly good.", ""], ["How do I learn Python?", "What is the best way to learn Python?"]]


@dataclass
class AppArgs:
    checkpoint: str
    share: bool
    quantize: str
    data_dir: str | None


def pair_tab(name: str, fn, api_name: str, plot_label: str):
    with gr.Row():
        s1 = gr.Textbox(label="Sentence 1", lines=2)
        s2 = gr.Textbox(label="Sentence 2", lines=2)
    btn = gr.Button(f"Run {name}", variant="primary")
    msg = gr.Markdown()
    plot = gr.Plot(label=plot_label)
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    gr.Examples(EXAMPLES_PAIR, [s1, s2])
    btn.click(fn, [s1, s2], [msg, plot, js], api_name=api_name)
    s2.submit(fn, [s1, s2], [msg, plot, js], api_visibility="private")


def sentiment_tab(studio):
    text = gr.Textbox(label="Sentence", lines=2)
    btn = gr.Button("Predict sentiment", variant="primary")
    msg = gr.Markdown()
    with gr.Row():
        bars = gr.Plot(label="Class probabilities")
        highlight = gr.HTML(label="Token contributions")
    with gr.Accordion("Raw output (JSON)", open=False):
        js = gr.JSON()
    gr.Examples(EXAMPLES_SST, [text])
    # probabilities first (one forward pass), then the slower attributions fill in
    predicted = [btn.click(studio.sentiment, [text], [msg, bars, js], api_name="sentiment"),
                 text.submit(studio.sentiment, [text], [msg, bars, js], api_visibility="private")]
    for event in predicted:
        event.then(studio.sentiment_highlight, [text], [highlight], api_visibility="private")
    gr.api(studio.sentiment_explain_api, api_name="sentiment_explain")  # plain-JSON attributions for clients


def attention_tab(studio):
    L, H = studio.predictor.model.bert.config.num_hidden_layers, studio.predictor.model.bert.config.num_attention_heads
    with gr.Row():
        t1 = gr.Textbox(label="Text (or sentence 1)", lines=2)
        t2 = gr.Textbox(label="Sentence 2 (optional: encodes a pair)", lines=2)
    with gr.Row():
        layer = gr.Slider(0, L - 1, value=L - 1, step=1, label="Layer")
        head = gr.Slider(0, H - 1, value=0, step=1, label="Head")
        hide = gr.Checkbox(value=False, label="Hide [CLS] and [SEP]")
    btn = gr.Button("Show attention", variant="primary")
    msg = gr.Markdown()
    state = gr.State(None)
    grid = gr.Plot(label="Model view")
    with gr.Row():
        ft_view, base_view = gr.Plot(label="Head view: fine-tuned"), gr.Plot(label="Head view: pretrained base")
    entropy = gr.Plot(label="Per-head entropy: fine-tuned, base, difference")
    gr.Examples(EXAMPLES_ATT, [t1, t2])
    views = [grid, ft_view, base_view, entropy]
    btn.click(studio.attention, [t1, t2, layer, head, hide], [msg, *views, state], api_name="attention_ui",
              api_visibility="private")
    for ctl in (layer, head, hide):
        ctl.change(studio.attention_views, [state, layer, head, hide], views, api_visibility="private")
    gr.api(studio.attention_api, api_name="attention")  # plain-JSON endpoint for gradio_client users


def embeddings_tab(studio):
    notice = studio.map_available()
    if notice:
        gr.Markdown(notice)
        return
    with gr.Row():
        color = gr.Radio(["gold label", "prediction", "correct / incorrect", "task"], value="gold label", label="Colour by")
        tasks = gr.CheckboxGroup(["SST", "STS-B", "Quora"], value=["SST"], label="Sentences shown")
    with gr.Row():
        text = gr.Textbox(label="Place a sentence on the map", scale=4)
        btn = gr.Button("Place", variant="primary", scale=1)
    msg = gr.Markdown()
    with gr.Row():
        ft, base = gr.Plot(label="Fine-tuned"), gr.Plot(label="Base")
    nn = gr.Dataframe(headers=["cosine", "task", "sentence", "gold", "predicted"], label="Nearest dev neighbours",
                      wrap=True)
    gr.Examples(["a tender, funny and heartbreaking story", "How can I lose weight fast?"], [text])
    outs = [msg, ft, base, nn]
    for trigger in (btn.click, text.submit):
        trigger(studio.maps, [color, tasks, text], outs, api_visibility="private")
    for ctl in (color, tasks):
        ctl.change(studio.maps, [color, tasks, text], outs, api_visibility="private")
    return outs, color, tasks


def errors_tab(studio, demo):
    notice, dist, ordinal, reliab, sts_scatter, sts_buckets, protocol = studio.error_overview()
    if notice:
        gr.Markdown(notice)
        return
    gr.Markdown(f"<small>{protocol}</small>")
    gr.Plot(dist, label="Distributions")
    with gr.Row():
        task = gr.Radio(["SST-5", "Quora"], value="SST-5", label="Task")
        norm = gr.Checkbox(value=False, label="Row-normalise")
    with gr.Row():
        conf = gr.Plot(label="Confusion matrix")
        with gr.Column():
            summary = gr.Markdown()
            table = gr.Dataframe(headers=["class", "precision", "recall", "F1", "support"], label="Per-class scores")
    for ev in (task.change, norm.change, demo.load):
        ev(studio.confusion, [task, norm], [conf, table, summary], api_visibility="private")
    with gr.Row():
        gr.Plot(ordinal, label="SST ordinal error distance")
        gr.Plot(reliab, label="Calibration")
    thr = gr.Slider(0.05, 0.95, value=0.5, step=0.01, label="Quora threshold on P(duplicate)")
    thr_note = gr.Markdown()
    thr_plot = gr.Plot(label="Threshold trade-off")
    for ev in (thr.change, demo.load):
        ev(studio.threshold, [thr], [thr_plot, thr_note], api_visibility="private")
    with gr.Row():
        gr.Plot(sts_scatter, label="STS gold vs predicted")
        gr.Plot(sts_buckets, label="STS error by bucket")
    misclassified_block(studio, demo)


def misclassified_block(studio, demo):
    gr.Markdown("### Misclassified dev examples (most confident first)")
    choices = ["any", *SST_CLASSES]
    with gr.Row():
        task = gr.Radio(["SST-5", "Quora"], value="SST-5", label="Task")
        gold = gr.Dropdown(choices, value="any", label="Gold class")
        pred = gr.Dropdown(choices, value="any", label="Predicted class")
    table = gr.Dataframe(headers=["id", "text", "gold", "predicted", "confidence"], wrap=True)

    def task_changed(t):
        names = ["any", *(SST_CLASSES if t == "SST-5" else ("not duplicate", "duplicate"))]
        return gr.Dropdown(choices=names, value="any"), gr.Dropdown(choices=names, value="any")

    task.change(task_changed, [task], [gold, pred], api_visibility="private")
    for ev in (task.change, gold.change, pred.change, demo.load):
        ev(studio.misclassified, [task, gold, pred], [table], api_visibility="private")


def training_tab(studio):
    summary, losses, overfit, lr, *tables = studio.training()
    gr.Markdown(summary)
    gr.Plot(losses, label="Loss curves")
    with gr.Row():
        gr.Plot(overfit, label="Train vs dev")
        gr.Plot(lr, label="LR schedule")
    for heading, (cols, rows, title) in zip(("Ablation (like the report's Figure 7)", "Grid search"), tables):
        gr.Markdown(f"### {heading}\n<small>{title}</small>")
        gr.Dataframe(value=rows, headers=cols, wrap=True)


def build_demo(studio) -> gr.Blocks:
    with gr.Blocks(title="minBERT multitask studio") as demo:
        base = studio.meta.get("train_config", {}).get("base_model") or "all-MiniLM-L6-v2"
        gr.Markdown(f"# minBERT multitask studio\nOne from-scratch BERT encoder (fine-tuned from {base}) with "
                    f"three heads: SST-5 sentiment, Quora paraphrase, STS-B similarity. Checkpoint: "
                    f"`{studio.predictor.path.name}`" + (" (int8)" if studio.predictor.quantize == "int8" else ""))
        if studio.map_available():
            gr.Markdown(studio.map_available())
        with gr.Tab("Sentiment"):
            sentiment_tab(studio)
        with gr.Tab("Paraphrase"):
            pair_tab("paraphrase", studio.paraphrase, "paraphrase", "Cosine and probability")
        with gr.Tab("Similarity"):
            pair_tab("similarity", studio.similarity, "similarity", "Token alignment")
        with gr.Tab("Cross-task"):
            pair_tab("all three tasks", studio.cross_task, "cross_task", "All tasks on one pair")
        with gr.Tab("Attention"):
            attention_tab(studio)
        with gr.Tab("Embeddings"):
            wired = embeddings_tab(studio)
        with gr.Tab("Errors & imbalance"):
            errors_tab(studio, demo)
        with gr.Tab("Training"):
            training_tab(studio)
        if wired:
            outs, color, tasks = wired
            demo.load(studio.maps, [color, tasks], outs, api_visibility="private")
    return demo


def parse_args(argv=None) -> AppArgs:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint to explore (stem)")
    ap.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    ap.add_argument("--quantize", choices=QUANTIZE_CHOICES, default="none", help=QUANTIZE_HELP)
    ap.add_argument("--data-dir", default=None, help="task data folder (default: $MINBERT_DATA, ./data, ../shared/data)")
    a = ap.parse_args(argv)
    return AppArgs(a.checkpoint, a.share, a.quantize, a.data_dir)


def main(argv=None) -> None:
    import torch

    from analysis.studio import Studio
    args = parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    studio = Studio(args.checkpoint, args.quantize, args.data_dir)
    demo = build_demo(studio)
    demo.queue(default_concurrency_limit=2).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), share=args.share, show_error=True)


if __name__ == "__main__":
    main()
