"""Task interference: per-layer gradients against a direct autograd reference, cosines against SciPy, the
private sentiment layers left out, the CLI and the Training-tab figure."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cosine as scipy_cosine

from analysis import interference as itf
from minbert.checkpoint import save_checkpoint
from minbert.data import load_tasks
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel
from minbert.data.batching import make_batch


def test_parameters_map_to_shared_layers_only():
    assert itf.layer_of("bert.embeddings.word_embeddings.weight") == "embeddings"
    assert itf.layer_of("bert.encoder.layer.0.attention.self.query.weight") == "layer 1"
    assert itf.layer_of("bert.encoder.layer.11.output.dense.bias") == "layer 12"
    for other in ("bert.pooler.dense.weight", "sst.classifier.weight", "sst_encoder.0.output.dense.weight", "para.scale"):
        assert itf.layer_of(other) is None


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, data_dir, tokenizer):
    torch.manual_seed(0)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=1, para_head="features"))
    return model, tokenizer, load_tasks(data_dir)


def test_layer_gradients_match_autograd_and_cosines_match_scipy(tiny):
    model, tok, data = tiny
    model.eval().requires_grad_(False)
    for n, p in model.named_parameters():
        p.requires_grad_(itf.layer_of(n) is not None)
    cfg = itf.InterferenceConfig(batch_size=4)
    ex = data.train["sts"][:8]
    g = itf.gradient(model, tok, "sts", ex, cfg)
    # reference: each batch's loss by hand, the mean of their gradients for layer 2's query weight
    w = model.bert.encoder.layer[1].attention.self.query.weight
    from minbert.data.batching import bucket_batches
    from minbert.data.batching import example_lengths
    batches = bucket_batches(example_lengths("sts", ex, tok), 4, shuffle=False)
    ref = sum(torch.autograd.grad(model.sts.loss(model.run_task("sts", **b.inputs), b.labels), w)[0]
              for b in (make_batch("sts", ex, i, tok, 128) for i in batches)) / len(batches)
    start = 0  # where the query weight sits in layer 2's flattened gradient
    for n, p in model.named_parameters():
        if n == "bert.encoder.layer.1.attention.self.query.weight":
            break
        start += p.numel() if itf.layer_of(n) == "layer 2" else 0
    torch.testing.assert_close(g["layer 2"][start:start + w.numel()], ref.reshape(-1))
    s = itf.gradient(model, tok, "sst", data.train["sst"][:8], cfg)
    assert float(s["layer 2"].norm()) == 0  # the tiny model's 2nd layer is sentiment's private copy: not shared
    assert itf.cosine(s["layer 2"], g["layer 2"]) is None
    a, b = g["layer 1"].numpy(), s["layer 1"].numpy()
    assert itf.cosine(g["layer 1"], s["layer 1"]) == pytest.approx(1 - scipy_cosine(a, b), abs=1e-4)


def test_summary_against_scipy_and_a_task_against_itself():
    torch.manual_seed(0)
    h = {t: ({"embeddings": torch.randn(50), "layer 1": torch.randn(30)},
             {"embeddings": torch.randn(50), "layer 1": torch.randn(30)}) for t in ("sst", "para")}
    h["sts"] = h["para"]  # the same gradients: cosine 1 everywhere
    res = itf.summarise(h)
    assert res["layers"] == ["embeddings", "layer 1", "all"]
    assert res["cross"]["para·sts"] == [1.0, 1.0, 1.0]
    full = {t: np.concatenate([(a[k] + b[k]).numpy() / 2 for k in a]) for t, (a, b) in h.items()}
    assert res["cross"]["sst·para"][2] == pytest.approx(1 - scipy_cosine(full["sst"], full["para"]), abs=1e-4)
    x, y = h["sst"]
    assert res["self"]["sst"][0] == pytest.approx(1 - scipy_cosine(x["embeddings"], y["embeddings"]), abs=1e-4)
    assert "| layer 1 |" in itf.markdown(res)


def test_cli_end_to_end_and_the_figure(tiny, tmp_path, data_dir, capsys):
    from analysis.studio.training_view import interference_figure
    model, tok, _ = tiny
    save_checkpoint(tmp_path / "m", model, tok, {}, dtype=torch.float32)
    assert itf.main(["--checkpoint", str(tmp_path / "m"), "--data-dir", str(data_dir), "--examples", "16",
                     "--batch-size", "4", "--threads", "1", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "| layer 2 | — | — |" in out  # sentiment's private layer: no cross-task cosine with it
    res = itf.run(itf.InterferenceConfig(str(tmp_path / "m"), str(data_dir), examples=16, batch_size=4, threads=1),
                  log=lambda *a, **k: None)
    assert res["examples"] == {"sst": 16, "para": 16, "sts": 16} and "not shared" in res["private"]
    fig = interference_figure(res)
    assert len(fig.data) == 6 and list(fig.data[0].x) == ["embeddings", "layer 1", "layer 2", "all"]
    assert "not computed" in interference_figure(None).layout.annotations[0].text
    with pytest.raises(SystemExit):
        itf.parse_args(["--examples", "3"])
    assert itf.main(["--checkpoint", str(tmp_path / "missing"), "--no-store"]) == 1
