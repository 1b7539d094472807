"""Head importance: the cached-prefix evaluation, the mask gradient (against finite differences), the CLI."""
import json

import numpy as np
import pytest
import torch

from analysis import head_importance as heads
from analysis.studio.heads_view import parse_heads, preset_heads, presets
from tests.app_server import CHECKPOINT

needs_ckpt = pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")


@pytest.fixture(scope="module")
def small(data_dir):
    from minbert.checkpoint import load_checkpoint
    from minbert.data import load_tasks
    ck = load_checkpoint(CHECKPOINT)
    model = ck.model.eval().requires_grad_(False)
    args = heads.HeadsArgs(CHECKPOINT, str(data_dir), quora_pairs=40, dev_limit=40, batch_size=16)
    return model, heads.dev_batches(model, ck.tokenizer, load_tasks(str(data_dir)), args)


@needs_ckpt
def test_skipping_unchanged_layers_gives_the_full_forward(small):
    model, batches = small
    mask = torch.ones(6, 12)
    mask[3, 5] = mask[4, 0] = 0
    with torch.inference_mode():
        states = {t: [model.bert.embeddings(b.inputs["input_ids"], b.inputs["token_type_ids"], None) for b in bs]
                  for t, bs in batches.items()}
        for layer in range(3):
            states = {t: [model.bert.encoder.layer[layer](x, heads._bias(b), False)[0] for b, x in zip(batches[t], xs)]
                      for t, xs in states.items()}
    assert heads.evaluate(model, batches, mask, start=3, states=states) == heads.evaluate(model, batches, mask)
    # and the full forward through the encoder's own head_mask argument agrees with the layer loop
    b = batches["sst"][0]
    ref = model.sst(model.embed(**b.inputs, head_mask=mask, task="sst"))["logits"].argmax(-1)
    h = heads.run_layers(model.layers("sst"), model.bert.embeddings(b.inputs["input_ids"], b.inputs["token_type_ids"], None),
                         heads._bias(b), 0, mask)
    from minbert.multitask import pool
    assert torch.equal(model.sst(pool(h, b.inputs["attention_mask"], "mean"))["logits"].argmax(-1), ref)


@needs_ckpt
@pytest.mark.parametrize("task", ["sst", "sts"])
def test_mask_gradient_matches_finite_differences(small, task):
    model, batches = small
    b = batches[task][0]
    g = heads.mask_gradient(model, task, b)

    def loss(mask):
        with torch.no_grad():
            emb = model.embed(**b.inputs, head_mask=mask, task=task)
            o = model.sst(emb) if task == "sst" else model.head(task)(*emb.chunk(2))
            return model.head(task).loss(o, b.labels).double()

    eps = 1e-2
    for layer, head in [(0, 0), (2, 7), (5, 11)]:
        up, down = torch.ones(6, 12), torch.ones(6, 12)
        up[layer, head], down[layer, head] = 1 + eps, 1 - eps
        fd = (loss(up) - loss(down)) / (2 * eps)
        assert abs(float(fd) - float(g[layer, head])) <= 0.02 * abs(float(fd)) + 2e-4, (layer, head, fd, g[layer, head])


@pytest.mark.slow
@needs_ckpt
def test_cli_stores_a_complete_result(data_dir, tmp_path):
    out = tmp_path / "heads.json"
    assert heads.main(["--checkpoint", str(CHECKPOINT), "--data-dir", str(data_dir), "--dev-limit", "12",
                       "--quora-pairs", "12", "--batch-size", "12", "--no-store", "--out-json", str(out)]) == 0
    r = json.loads(out.read_text())
    for t in ("sst", "para", "sts"):
        assert np.array(r["masked_delta"][t]).shape == (6, 12) == np.array(r["importance"][t]).shape
        assert np.allclose(np.linalg.norm(r["importance"][t], axis=1), 1, atol=1e-3)  # per-layer L2 normalised
        assert len(r["pruning"][t]["by_importance"]) == len(r["pruning"][t]["random"]) == 9
        most, least = heads.ranked(r, t)
        assert most[0][2] <= least[0][2]
    assert r["examples"] == {"sst": 12, "para": 12, "sts": 12}
    from minbert.tasks import TASKS
    assert presets(r, TASKS) == ["none", "3 most important for SST-5", "3 most important for Quora",
                                 "3 most important for STS-B", "50% least important for SST-5",
                                 "50% least important for Quora", "50% least important for STS-B", "all of layer 0"]
    assert preset_heads(r, "3 most important for SST-5", TASKS).count(".") == 3
    assert len(preset_heads(r, "50% least important for STS-B", TASKS).split()) == 36
    assert preset_heads(r, "3 most important for nothing", TASKS) == ""


def test_head_specs_parse_and_refuse_clearly():
    m = parse_heads("0.3, 5.11 L2", 6, 12)
    assert m.sum() == 72 - 2 - 12 and m[0, 3] == 0 and m[5, 11] == 0 and not m[2].any()
    assert parse_heads("", 6, 12).all()
    for bad in ("6.0", "1.12", "x", "L9", "1.-1"):
        with pytest.raises(ValueError, match="is not a head"):
            parse_heads(bad, 6, 12)


def test_the_model_view_outlines_the_chosen_head_and_has_a_colour_bar():
    """The layers x heads grid: one 0-1 colour bar for every map, and the head view's head (layer 2, head 7)
    outlined on the panel in the third row from the top and the eighth column from the left."""
    import numpy as np

    from analysis.studio.figures import attention_grid
    att = np.random.default_rng(0).random((6, 12, 5, 5))
    fig = attention_grid(["[CLS]", "a", "b", "c", "[SEP]"], att, False, "model view", (2, 7))
    assert fig.layout.coloraxis.colorbar is not None and (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    assert {t.coloraxis for t in fig.data} == {"coloraxis"} and fig.layout.coloraxis.showscale is not False
    (shape,) = fig.layout.shapes
    x, y = shape.xref.split()[0], shape.yref.split()[0]
    lefts = sorted({tuple(fig.layout[f"xaxis{n or ''}"].domain) for n in range(0, 73) if n != 1})
    tops = sorted({tuple(fig.layout[f"yaxis{n or ''}"].domain) for n in range(0, 73) if n != 1}, reverse=True)
    assert lefts.index(tuple(fig.layout[x.replace("x", "xaxis")].domain)) == 7
    assert tops.index(tuple(fig.layout[y.replace("y", "yaxis")].domain)) == 2
    assert "layer 2, head 7" in fig.layout.title.text
