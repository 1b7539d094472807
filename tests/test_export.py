"""python -m minbert.export: the exported folders load in transformers and sentence-transformers (test-only
references) and give back our embeddings and every task head's outputs (an added task's too); `minbert.predict --task
embed` gives the export's vectors."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minbert.checkpoint import load_checkpoint, save_checkpoint
from minbert.export import ExportError, export, load_heads, main
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "minbert-multitask"
STS_PAIRS = 300  # the first 300 STS dev pairs (600 sentences), to keep the test under a minute on 2 cores
SENTENCES = ["A man is playing a guitar.", "Someone plays the guitar!", "The café's naïve owner — 3.5 stars?",
             "a gripping, overlong and ultimately hollow film", "It's not bad at all.", "Why do cats purr?",
             "How do cats purr?", "word " * 200]  # the last one is cut at max_length
MIN_COSINE = 0.9999

transformers = pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")


def ours(model: MultitaskModel, tok, sentences, max_length, task=None, batch_size=64) -> torch.Tensor:
    """Our embeddings in fp32, as the tools compute them (MultitaskModel.embed)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(sentences), batch_size):
            b = tok(sentences[i:i + batch_size], max_length=max_length)
            out.append(model.embed(**b.model_inputs(), task=task))
    return torch.cat(out)


def library_embed(folder: Path, fmt: str, sentences, pooling: str, max_length: int) -> torch.Tensor:
    """Embeddings computed by the reference library alone from an exported folder."""
    if fmt == "sentence-transformers":
        st = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
        assert st.max_seq_length == max_length
        return st.encode(sentences, batch_size=64, convert_to_tensor=True).float()
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    assert type(model).__name__ == "BertModel"
    b = tok(sentences, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        h = model(**b).last_hidden_state
    if pooling == "cls":
        return h[:, 0]
    m = b["attention_mask"][..., None].float()
    return (h * m).sum(1) / m.sum(1)


def assert_same_embeddings(mine: torch.Tensor, theirs: torch.Tensor) -> float:
    cos = F.cosine_similarity(mine, theirs, dim=-1)
    assert cos.min() >= MIN_COSINE, cos
    torch.testing.assert_close(theirs, mine, atol=1e-4, rtol=1e-4)
    return float(cos.min())


@pytest.fixture(scope="module", params=["mean", "cls"])
def tiny_ckpt(request, tiny_model_dir, tokenizer, tmp_path_factory):
    """A tiny random checkpoint (2 layers, sentiment owns the top one) whose heads all do something."""
    torch.manual_seed(3)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir),
                           MultitaskConfig(pooling=request.param, sst_layers=1, para_head="features"))
    with torch.no_grad():
        for p in model.sst_encoder.parameters():  # sentiment's copy must differ from the shared top layer
            p.add_(torch.randn_like(p) * 0.05)
        for p in [*model.sst.parameters(), *model.para.parameters()]:
            p.copy_(torch.randn_like(p) * 0.3)
        model.para.threshold.fill_(0.25)
        model.sts.calibration.copy_(torch.tensor([3.0, 2.5]))
    path = tmp_path_factory.mktemp("tiny-ckpt") / "tiny"
    save_checkpoint(path, model, tokenizer, {"train_config": {"max_length": 64}},
                    dtype=torch.float32)
    return path


@pytest.mark.parametrize("fmt", ["transformers", "sentence-transformers"])
def test_tiny_export_reproduces_every_task(tiny_ckpt, fmt, tmp_path):
    ck = load_checkpoint(tiny_ckpt)
    model, tok, pooling = ck.model, ck.tokenizer, ck.model.config.pooling
    out = export(tiny_ckpt, fmt, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folder left beside it
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert json.loads((out / "tokenizer_config.json").read_text())["do_lower_case"] is True
    if fmt == "sentence-transformers":
        pool = json.loads((out / "1_Pooling" / "config.json").read_text())
        assert pool["pooling_mode_mean_tokens"] == (pooling == "mean")
        assert pool["pooling_mode_cls_token"] == (pooling == "cls")
        assert "Normalize" not in (out / "modules.json").read_text()
    else:
        assert not (out / "modules.json").exists()

    pair = library_embed(out, fmt, SENTENCES, pooling, 64)
    assert_same_embeddings(ours(model, tok, SENTENCES, 64), pair)
    sst_emb = library_embed(out / "sentiment_encoder", fmt, SENTENCES, pooling, 64)
    mine_sst = ours(model, tok, SENTENCES, 64, task="sst")
    assert_same_embeddings(mine_sst, sst_emb)
    assert F.cosine_similarity(sst_emb, pair, dim=-1).min() < 0.999  # it really is another top layer

    heads = load_heads(out)
    assert heads.encoder_dir("sst") == (out / "sentiment_encoder").resolve() and heads.encoder_dir("para") == out.resolve()
    with torch.no_grad():
        torch.testing.assert_close(heads.logits("sst", sst_emb), model.sst(mine_sst)["logits"], atol=1e-4, rtol=0)
        u, v = ours(model, tok, SENTENCES[::2], 64), ours(model, tok, SENTENCES[1::2], 64)
        para, sts = model.para(u, v), model.sts(u, v)
    lu, lv = pair[::2], pair[1::2]
    torch.testing.assert_close(heads.pair_logit("para", lu, lv), para["logit"], atol=1e-4, rtol=0)
    torch.testing.assert_close(heads.pair_probability("para", lu.numpy(), lv.numpy()), para["logit"].sigmoid(),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(heads.pair_logit("para", lv, lu), heads.pair_logit("para", lu, lv), atol=1e-5, rtol=0)
    torch.testing.assert_close(heads.score("sts", lu, lv), sts["score"], atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def shipped_st(tmp_path_factory):
    if not SHIPPED.with_suffix(".json").is_file():
        pytest.skip("no shipped checkpoint")
    out = export(SHIPPED, "sentence-transformers", tmp_path_factory.mktemp("st") / "minbert-st")
    return load_checkpoint(SHIPPED), out


def read_sts_dev(data_dir: Path, n: int):
    with (data_dir / "sts-dev.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[:n]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["similarity"])
                                                                                   for r in rows])


@pytest.mark.slow
def test_shipped_sentence_transformers_keeps_sts_dev_pearson(shipped_st, data_dir):
    """Our STS dev Pearson r (first STS_PAIRS pairs) from SentenceTransformer embeddings + the exported map."""
    ck, out = shipped_st
    model, tok = ck.model, ck.tokenizer
    max_length = ck.meta["train_config"]["max_length"]
    s1, s2, gold = read_sts_dev(data_dir, STS_PAIRS)
    mine = ours(model, tok, s1 + s2, max_length)
    st = sentence_transformers.SentenceTransformer(str(out), device="cpu")
    theirs = st.encode(s1 + s2, batch_size=64, convert_to_tensor=True).float()
    min_cos = assert_same_embeddings(mine, theirs)
    n = len(s1)
    with torch.no_grad():
        our_scores = model.sts(mine[:n], mine[n:])["score"].numpy()
        our_prob = model.para(mine[:n], mine[n:])["logit"].sigmoid()
    heads = load_heads(out)
    their_scores = heads.score("sts", theirs[:n], theirs[n:]).numpy()
    r_ours, r_theirs = np.corrcoef(our_scores, gold)[0, 1], np.corrcoef(their_scores, gold)[0, 1]
    print(f"\nshipped checkpoint, first {n} STS dev pairs: min cosine {min_cos:.7f}, "
          f"Pearson ours {r_ours:.6f} vs exported {r_theirs:.6f} (diff {abs(r_ours - r_theirs):.2e})")
    assert abs(r_ours - r_theirs) <= 1e-4
    assert r_ours > 0.8  # the shipped model, not a random one
    torch.testing.assert_close(heads.pair_probability("para", theirs[:n], theirs[n:]), our_prob, atol=1e-4, rtol=0)
    assert heads.tasks["para"]["temperature"] == pytest.approx(ck.meta["calibration"]["para"]["temperature"])

    sst = sentence_transformers.SentenceTransformer(str(heads.encoder_dir("sst")), device="cpu")
    mine_sst = ours(model, tok, SENTENCES, max_length, task="sst")
    theirs_sst = sst.encode(SENTENCES, convert_to_tensor=True).float()
    assert_same_embeddings(mine_sst, theirs_sst)
    with torch.no_grad():
        torch.testing.assert_close(heads.logits("sst", theirs_sst), model.sst(mine_sst)["logits"], atol=1e-3, rtol=0)
    assert (out / "README.md").read_text().startswith("---\nlibrary_name: sentence-transformers")


@pytest.mark.slow
def test_shipped_transformers_loads_with_automodel(shipped_st, tmp_path):
    ck, _ = shipped_st
    out = export(SHIPPED, "transformers", tmp_path / "minbert-hf")
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(out))
    b = ck.tokenizer(SENTENCES, max_length=128)
    assert hf_tok(SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="pt")["input_ids"] \
        .equal(b.input_ids)
    theirs = library_embed(out, "transformers", SENTENCES, "mean", 128)
    assert_same_embeddings(ours(ck.model, ck.tokenizer, SENTENCES, 128), theirs)
    hf = transformers.AutoModel.from_pretrained(str(out))
    torch.testing.assert_close(hf.pooler.dense.weight, ck.model.bert.pooler.dense.weight)  # exported, not new
    assert hf.pooler.dense.weight.dtype == torch.float32


def test_bad_input_gets_one_line_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "minbert.export", "--checkpoint", str(tmp_path / "missing"),
                          "--format", "transformers", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # neither DIR nor a temp folder


def test_bad_arguments_and_occupied_targets(tiny_model_dir, tokenizer, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", "x", "--format", "onnx", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1

    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=0))
    save_checkpoint(tmp_path / "ck", model, tokenizer, {})
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["--checkpoint", str(tmp_path / "ck"), "--format", "transformers", "--out", str(busy)]) == 1
    assert "--force" in capsys.readouterr().err and (busy / "keep.txt").read_text() == "mine"
    assert main(["--checkpoint", str(tmp_path / "ck"), "--format", "transformers", "--out", str(busy),
                 "--max-seq-length", "9999"]) == 1
    assert main(["--checkpoint", str(tmp_path / "ck"), "--format", "sentence-transformers", "--out", str(busy),
                 "--force"]) == 0
    assert not (busy / "keep.txt").exists() and (busy / "modules.json").is_file()
    assert not (busy / "sentiment_encoder").exists()  # all layers shared: sentiment uses the root encoder
    assert load_heads(busy).encoder_dir("sst") == busy.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "ck.json", "ck.safetensors"]
    with pytest.raises(ExportError, match="not a minbert export"):
        load_heads(tmp_path)


def test_cross_paraphrase_head_scores_the_jointly_encoded_pair(tiny_model_dir, tokenizer, tmp_path):
    torch.manual_seed(4)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(para_head="cross")).eval()
    with torch.no_grad():
        model.para.joint.weight.normal_()
    save_checkpoint(tmp_path / "ck", model, tokenizer, {}, dtype=torch.float32)
    out = export(tmp_path / "ck", "transformers", tmp_path / "out")
    s1, s2 = SENTENCES[::2], SENTENCES[1::2]
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(out))
    hf = transformers.AutoModel.from_pretrained(str(out)).eval()
    b = hf_tok(s1, s2, padding=True, truncation=True, max_length=128, return_tensors="pt")
    mine = tokenizer(s1, s2, max_length=128)
    assert b["token_type_ids"].equal(mine.token_type_ids)
    with torch.no_grad():
        h = hf(**b).last_hidden_state
        ref = model.para.forward_joint(model.embed(**mine.model_inputs()))["logit"]
    m = b["attention_mask"][..., None].float()
    heads = load_heads(out)
    torch.testing.assert_close(heads.pair_logit("para", (h * m).sum(1) / m.sum(1)), ref, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="joint"):
        heads.pair_logit("para", h[:, 0], h[:, 0])


def test_every_task_head_is_exported_an_added_one_too(tiny_model_dir, tokenizer, tmp_path):
    """A checkpoint with CFIMDB (tasks/cfimdb.yaml) beside the built-ins: heads.json lists all four with their
    specs, and load_heads computes the added head's logits as the model does."""
    from minbert.tasks import read_spec
    torch.manual_seed(5)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=1),
                           [read_spec(ROOT / "tasks" / "cfimdb.yaml")]).eval()
    with torch.no_grad():
        model.cfimdb.classifier.weight.normal_()
    save_checkpoint(tmp_path / "ck", model, tokenizer, {"calibration": {"cfimdb": {"temperature": 2.0}}},
                    dtype=torch.float32)
    out = export(tmp_path / "ck", "sentence-transformers", tmp_path / "out")
    heads = load_heads(out)
    assert list(heads.tasks) == ["sst", "para", "sts", "cfimdb"]
    assert heads.tasks["cfimdb"]["spec"]["classes"] == heads.class_names("cfimdb") == ["negative", "positive"]
    assert heads.tasks["cfimdb"]["temperature"] == 2.0 and heads.encoder_dir("cfimdb") == out.resolve()
    emb = library_embed(out, "sentence-transformers", SENTENCES, "mean", 128)
    with torch.no_grad():
        ref = model.cfimdb(ours(model, tokenizer, SENTENCES, 128, task="cfimdb"))["logits"]
    torch.testing.assert_close(heads.logits("cfimdb", emb), ref, atol=1e-4, rtol=0)
    torch.testing.assert_close(heads.probs("cfimdb", emb, calibrated=True), (ref / 2.0).softmax(-1), atol=1e-4, rtol=0)
    assert "CFIMDB movie-sentiment" in (out / "README.md").read_text()
    with pytest.raises(ValueError, match="sentence_classes"):
        heads.logits("sts", emb)


@pytest.mark.slow
def test_predict_embed_is_the_exported_sentence_transformer(shipped_st, data_dir, tmp_path):
    """One embedding: `minbert.predict --task embed` (the shared encoder, mean-pooled, L2-normalised) and
    SentenceTransformer(export) on every SST dev sentence agree to cosine >= 0.9999 (and to 1e-4 once the
    export's vectors are normalised too)."""
    from minbert.data import read_task_file
    dev = read_task_file(data_dir / "ids-sst-dev.csv").examples
    inp, out = tmp_path / "dev.jsonl", tmp_path / "dev.npy"
    inp.write_text("".join(json.dumps({"id": e.id, "sentence": e.text}) + "\n" for e in dev), encoding="utf-8")
    ck, folder = shipped_st
    max_length = ck.meta["train_config"]["max_length"]
    run = subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", str(SHIPPED), "--task", "embed",
                          "--input", str(inp), "--output", str(out), "--max-length", str(max_length)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    cli = torch.from_numpy(np.load(out))
    st = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
    theirs = st.encode([e.text for e in dev], batch_size=64, convert_to_tensor=True, normalize_embeddings=True).float()
    cos = F.cosine_similarity(cli, theirs, dim=-1)
    print(f"\nSST dev, {len(dev)} sentences: cosine CLI vs SentenceTransformer(export) min {cos.min():.7f}")
    assert len(cli) == len(dev) and cos.min() >= MIN_COSINE
    torch.testing.assert_close(cli, theirs, atol=1e-4, rtol=0)
