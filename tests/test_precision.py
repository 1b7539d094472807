"""--precision: the eligibility rule, bf16 only on CPUs with fast bf16, the cache, --precision int8 (which replaced
--quantize), the one-line reason the CLIs print, and bf16 against fp32 (skipped where this CPU lacks fast bf16)."""
import json
from pathlib import Path

import pytest
import torch

import minbert.serve.precision as P
from minbert.serve.quantize import Int8Linear
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "minbert-multitask"
M = P.Measurement


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(P, "MIN_CPU_SHARE", 0.0)  # the fake measurements take no CPU time
    return tmp_path / "cache" / "minbert" / "precision.json"


@pytest.fixture
def tiny(tiny_model_dir):
    from minbert.tokenizer import Tokenizer
    return MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig()).eval(), \
        Tokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def tiny_ckpt(tiny, tmp_path):
    from minbert.checkpoint import save_checkpoint
    stem = tmp_path / "tiny"
    save_checkpoint(stem, tiny[0], tiny[1], {}, dtype=torch.float32)
    return stem


def fake_measure(timings: dict[str, M], calls: list, locks: list | None = None):
    """A stand-in for P.measure: records which candidates were built (and the lock it was given), answers
    `timings` for them."""
    def measure(models, batches, lock=None):
        calls.append(sorted(models))
        if locks is not None:
            locks.append(lock)
        return {k: timings[k] for k in models}
    return measure


def test_fastest_eligible_wins_and_fast_but_inaccurate_is_refused():
    measured = {"fp32": M(1.0, 1.0, 1.0), "bf16": M(0.30, 1.0, 0.99995), "bf16-autocast": M(0.40, 1.0, 0.99999),
                "int8-int_mm": M(0.20, 0.977, 0.9999), "int8-fbgemm": M(0.10, 1.0, 0.992)}
    choice, line = P.choose(measured)
    assert choice == "bf16" and "\n" not in line
    assert "labels 97.7% < 99%" in line and "cosine 0.9920 < 0.999" in line  # says why the faster ones were refused
    measured["bf16"] = M(0.30, 0.99, 0.9989)  # one embedding below the cosine bar: refused too
    assert P.choose(measured)[0] == "bf16-autocast"


def test_fp32_unless_a_candidate_beats_it_clearly():
    assert P.choose({"fp32": M(1.0, 1, 1), "bf16": M(0.95, 1, 1)})[0] == "fp32"  # within MIN_SPEEDUP: noise
    assert P.choose({"fp32": M(1.0, 1, 1), "bf16": M(2.0, 1, 1)})[0] == "fp32"  # slower never wins
    assert P.choose({"fp32": M(1.0, 1, 1), "int8-int_mm": M(0.5, 0.98, 1)})[0] == "fp32"
    assert P.choose({"fp32": M(1.0, 1, 1)})[0] == "fp32"


def test_a_simpler_candidate_keeps_its_place_against_a_near_equal_one():
    """bf16 weights and bf16 autocast trade places on the probe by noise; the simpler one stays unless the other
    is MIN_SPEEDUP faster, as fp32 does against everything."""
    near = {"fp32": M(1.0, 1, 1), "bf16": M(0.45, 1, 1), "bf16-autocast": M(0.42, 1, 1)}
    assert P.choose(near)[0] == "bf16"
    near["bf16-autocast"] = M(0.45 / P.MIN_SPEEDUP - 0.01, 1, 1)
    assert P.choose(near)[0] == "bf16-autocast"


def test_auto_times_only_what_it_could_choose(tiny, monkeypatch):
    """After the first pass an ineligible candidate is not timed again: its passes would only cost start-up."""
    import copy
    model, tok = tiny
    bad = copy.deepcopy(model)
    with torch.no_grad():
        for p in bad.bert.parameters():
            p.add_(torch.randn_like(p))  # another encoder: its embeddings fail the cosine bar
    calls, real = [], P._probe_pass
    monkeypatch.setattr(P, "_probe_pass", lambda m, b, lock=None: calls.append((m is model, len(b))) or real(m, b, lock))
    batches = P.probe_batches(tok)
    out = P.measure({"fp32": model, "bad": bad}, batches)
    full = [is_fp32 for is_fp32, n in calls if n == len(batches)]
    assert full.count(True) == P.ROUNDS and full.count(False) == 1 and not P.eligible(out["bad"])
    assert out["bad"].seconds > 0 and out["fp32"].seconds > 0


def test_no_fast_bf16_detected_from_flags_or_capability(monkeypatch):
    monkeypatch.setattr(P, "cpu_info", lambda: ("AVX2 box", {"avx2", "fma"}))
    assert P.fast_bf16()[0] is False
    monkeypatch.setattr(P, "cpu_info", lambda: ("AMX box", {"amx_bf16", "avx512_bf16"}))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")  # e.g. ATEN_CPU_CAPABILITY=avx2
    ok, why = P.fast_bf16()
    assert ok is False and "AVX2" in why


def test_auto_never_measures_or_picks_bf16_without_fast_bf16(tiny, cache, monkeypatch):
    calls = []
    bf16_wins = {"fp32": M(1.0, 1, 1), "bf16": M(0.1, 1, 1), "bf16-autocast": M(0.1, 1, 1),
                 "int8-int_mm": M(2.0, 1, 1), "int8-fbgemm": M(2.0, 1, 1)}
    monkeypatch.setattr(P, "measure", fake_measure(bf16_wins, calls))
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "no amx_bf16/avx512_bf16 CPU flag"))
    served = P.apply_precision(tiny[0], "auto", tiny[1], "sha-a")
    assert not any(c.startswith("bf16") for c in calls[0]) and served.precision == "fp32"
    assert "bf16 not measured: no amx_bf16" in P.describe(served)
    # a bf16 choice cached on a bf16 CPU with the same name is not served here either
    cache.write_text(json.dumps({P.cache_key("sha-b"): {"choice": "bf16", "reason": "auto: bf16", "measured_at": "x"}}))
    assert P.apply_precision(tiny[0], "auto", tiny[1], "sha-b").precision == "fp32" and len(calls) == 2


def test_auto_caches_its_choice_per_cpu_torch_and_checkpoint(tiny, cache, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "measure", fake_measure({"fp32": M(1.0, 1, 1), "int8-int_mm": M(0.5, 1, 1),
                                                    "int8-fbgemm": M(0.7, 1, 1)}, calls))
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "test"))
    first = P.apply_precision(tiny[0], "auto", tiny[1], "sha-1")
    assert first.precision == "int8-int_mm" and len(calls) == 1 and "[cached" not in P.describe(first)
    second = P.apply_precision(tiny[0], "auto", tiny[1], "sha-1")
    assert second.precision == "int8-int_mm" and len(calls) == 1 and "[cached" in P.describe(second)
    assert isinstance(second.bert.encoder.layer[0].intermediate.dense, Int8Linear)  # built from the cached choice
    P.apply_precision(tiny[0], "auto", tiny[1], "sha-2")  # another checkpoint
    assert len(calls) == 2
    monkeypatch.setattr(P, "cpu_info", lambda: ("Another CPU", set()))
    P.apply_precision(tiny[0], "auto", tiny[1], "sha-1")
    assert len(calls) == 3
    monkeypatch.setattr(torch, "__version__", "0.0.test")
    P.apply_precision(tiny[0], "auto", tiny[1], "sha-1")
    assert len(calls) == 4
    keys = list(json.loads(cache.read_text()))
    assert len(keys) == 4 and any("Another CPU" in k and "0.0.test" in k and "sha-1" in k for k in keys)


def test_a_measurement_under_load_is_cached_and_only_a_calmer_one_replaces_it(tiny, cache, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "measure", fake_measure({"fp32": M(1.0, 1, 1), "int8-int_mm": M(0.5, 1, 1),
                                                    "int8-fbgemm": M(2, 1, 1)}, calls))
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "test"))
    monkeypatch.setattr(P, "MIN_CPU_SHARE", 2.0)  # no process ever gets twice its threads' time: always "under load"
    served = P.apply_precision(tiny[0], "auto", tiny[1], "sha-l")
    assert served.precision == "int8-int_mm" and "measured under load" in P.describe(served)
    entry = json.loads(cache.read_text())[P.cache_key("sha-l")]
    assert entry["choice"] == "int8-int_mm" and 0 <= entry["cpu_share"] < 2.0
    hit = P.cached_choice("sha-l")
    assert hit.choice == "int8-int_mm" and hit.under_load and "[cached" in hit.reason
    assert P.apply_precision(tiny[0], "auto", tiny[1], "sha-l").precision == "int8-int_mm" and len(calls) == 1
    # measured again: a calmer measurement (a larger share) replaces the entry, a busier one leaves it
    entry["cpu_share"] = 1.5
    cache.write_text(json.dumps({P.cache_key("sha-l"): entry}))
    monkeypatch.setattr(P, "measure", fake_measure({"fp32": M(1.0, 1, 1), "int8-int_mm": M(2, 1, 1),
                                                    "int8-fbgemm": M(2, 1, 1)}, calls))
    choice, reason, _ = P.choose_auto(tiny[0], tiny[1], "sha-l", remeasure=True)
    assert choice == "int8-int_mm" and "[cached" in reason and len(calls) == 2  # the fake took ~0 CPU: busier
    entry["cpu_share"] = 0.0
    cache.write_text(json.dumps({P.cache_key("sha-l"): entry}))
    assert P.choose_auto(tiny[0], tiny[1], "sha-l", remeasure=True)[0] == "fp32"
    assert json.loads(cache.read_text())[P.cache_key("sha-l")]["choice"] == "fp32"


def test_the_app_serves_fp32_at_once_and_switches_when_auto_has_chosen(tiny_ckpt, cache, monkeypatch):
    from minbert.serve.predictor import Predictor
    calls, locks = [], []
    monkeypatch.setattr(P, "measure", fake_measure({"fp32": M(1.0, 1, 1), "int8-int_mm": M(0.5, 1, 1),
                                                    "int8-fbgemm": M(2, 1, 1)}, calls, locks))
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "test"))
    p = Predictor(tiny_ckpt, "auto", later=True)
    assert p.precision == "fp32" and p.choosing and not calls  # nothing measured before the server listens
    p.choose_later().join(60)
    assert p.precision == "int8-int_mm" and not p.choosing and p.served.startswith("auto: int8")
    assert locks == [p.lock]  # measured batch by batch under the model lock: requests never share its cores
    assert len(p.sentiment_probs(["a fine film"])[0]) == 5
    again = Predictor(tiny_ckpt, "auto", later=True)  # the next start: the cached choice, no measurement
    again.choose_later().join(60)
    assert again.precision == "int8-int_mm" and "[cached" in again.served and len(calls) == 1
    assert Predictor(tiny_ckpt, "fp32", later=True).choose_later() is None  # only auto chooses


def test_the_real_measurement_on_a_tiny_model(tiny, cache):
    """The measurement itself (no fakes): fp32 agrees with itself; every candidate is timed."""
    models = {n: P.build(tiny[0], n, tiny[1]) for n in P.candidates(P.fast_bf16()[0])}
    measured = P.measure(models, P.probe_batches(tiny[1])[:2])
    assert measured["fp32"].agreement == 1.0 and measured["fp32"].cosine_min > 0.9999
    assert set(measured) == set(models) and all(m.seconds > 0 for m in measured.values())


def test_bf16_model_keeps_the_original_and_hands_back_fp32(tiny):
    model, tok = tiny
    enc = tok(["a fine film", "a dull and overlong film"]).model_inputs()
    for autocast in (False, True):
        b = P.to_bf16(model, autocast=autocast)
        assert next(model.bert.parameters()).dtype == torch.float32  # the original is untouched
        assert next(b.bert.parameters()).dtype == (torch.float32 if autocast else torch.bfloat16)
        assert b.sst.classifier.weight.dtype == torch.float32  # the heads stay fp32
        with torch.no_grad():
            e = b.embed(**enc, task="sst")
            out = b.bert(**enc, output_attentions=True)
            emb = b.bert.embeddings.word_embeddings(enc["input_ids"]).float()
            b.bert(enc["input_ids"], enc["attention_mask"], inputs_embeds=emb)  # the attribution path runs too
        assert e.dtype == torch.float32 and out.last_hidden_state.dtype == torch.float32
        assert out.attentions[0].dtype == torch.float32 and b.sst(e)["logits"].dtype == torch.float32


@pytest.mark.skipif(not P.fast_bf16()[0], reason="this CPU has no fast bf16 (needs amx_bf16/avx512_bf16)")
def test_bf16_agrees_with_fp32_on_the_shipped_model(data_dir):
    from minbert.checkpoint import load_checkpoint
    from minbert.data import read_task_file
    from minbert.evaluate.inference import predict
    if not SHIPPED.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    ck = load_checkpoint(SHIPPED)
    dev = read_task_file(data_dir / "ids-sst-dev.csv").examples[:256]
    ref = predict(ck.model, "sst", dev, ck.tokenizer, with_embeddings=True)
    out = predict(P.to_bf16(ck.model), "sst", dev, ck.tokenizer, with_embeddings=True)
    agree = float((ref["pred"] == out["pred"]).mean())
    cos = torch.nn.functional.cosine_similarity(torch.from_numpy(ref["emb"]), torch.from_numpy(out["emb"]))
    assert agree >= 0.99 and float(cos.min()) >= 0.999, (agree, float(cos.min()))


def test_explicit_bf16_says_when_the_cpu_lacks_it(tiny, monkeypatch):
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "no amx_bf16/avx512_bf16 CPU flag"))
    served = P.apply_precision(tiny[0], "bf16", tiny[1])
    assert served.precision == "bf16" and "slower than fp32" in P.describe(served)
    with pytest.raises(ValueError, match="--precision must be one of"):
        P.apply_precision(tiny[0], "fp16", tiny[1])


def _csv(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("id,sentence\n1,a fine film\n2,dull and long\n")
    return inp


def test_predict_prints_the_one_line_reason(tiny_ckpt, tmp_path, cache, capsys, monkeypatch):
    from minbert.serve.batch_predict import main as predict_main
    monkeypatch.setattr(P, "measure", fake_measure({"fp32": M(1.0, 1, 1), "int8-int_mm": M(2, 1, 1),
                                                    "int8-fbgemm": M(2, 1, 1)}, []))
    monkeypatch.setattr(P, "fast_bf16", lambda: (False, "test"))
    args = ["--checkpoint", str(tiny_ckpt), "--task", "sentiment", "--input", str(_csv(tmp_path)), "--output",
            str(tmp_path / "out.csv")]
    assert predict_main(args + ["--precision", "auto"]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("precision:")]
    assert len(lines) == 1 and lines[0].startswith("precision: auto: fp32") and "int8 (int_mm) 0.50x" in lines[0]


def test_precision_int8_replaces_the_retired_quantize_flag(tiny_ckpt, tmp_path, capsys):
    from minbert.serve.batch_predict import main as predict_main
    out = tmp_path / "out.csv"
    args = ["--checkpoint", str(tiny_ckpt), "--task", "sentiment", "--input", str(_csv(tmp_path)), "--output", str(out)]
    assert predict_main(args + ["--precision", "int8"]) == 0 and out.is_file()
    assert any(x.startswith("precision: int8") for x in capsys.readouterr().err.splitlines())
    with pytest.raises(SystemExit):
        predict_main(args + ["--quantize", "int8"])
    assert "unrecognized arguments: --quantize" in capsys.readouterr().err


def test_evaluate_and_app_flags(capsys, monkeypatch):
    import app
    from minbert.evaluate import parse_args as eval_args
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    assert app.parse_args([]).precision == "auto"  # the app serves auto by default
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("127.0.0.1", 7860)
    assert (app.parse_args(["--host", "0.0.0.0", "--port", "8123"]).host, app.parse_args(["--port", "8123"]).port) \
        == ("0.0.0.0", 8123)
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("0.0.0.0", 7999)  # the variables still work
    assert app.parse_args(["--port", "8000"]).port == 8000  # and the flag wins over them
    with pytest.raises(SystemExit):
        app.parse_args(["--port", "0"])
    assert app.parse_args(["--precision", "int8"]).precision == "int8"
    assert eval_args(["--checkpoint", "x"]).precision == "fp32"
    assert eval_args(["--checkpoint", "x", "--precision", "bf16"]).precision == "bf16"
    with pytest.raises(SystemExit):
        eval_args(["--checkpoint", "x", "--precision", "int8", "--into-sidecar"])
    assert "fp32" in capsys.readouterr().err


def test_predictor_reports_what_it_serves(tiny_ckpt):
    from minbert.serve.predictor import Predictor
    p = Predictor(tiny_ckpt, "bf16")
    assert p.precision == "bf16" and p.served.startswith("bf16") and p.fast is not p.model
    assert next(p.model.bert.parameters()).dtype == torch.float32  # attributions keep the fp32 model
    assert len(p.sentiment_probs(["a fine film"])[0]) == 5
