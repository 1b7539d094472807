"""Learning curves: the line in log2(size) against SciPy's linregress; a tiny curve end to end, reused on a rerun."""
import json
import os

import numpy as np
import pytest
from scipy.stats import linregress

from minbert.machine import cpu_info

from analysis.experiments.learning_curve import CurveConfig, fit_line, markdown, parse_args, run_curve, size_for, summarise, verdict


def test_the_line_is_scipys_least_squares_in_log2_size():
    n = [1000, 1000, 2000, 2000, 4000, 4000, 8000]
    y = [0.70, 0.71, 0.74, 0.73, 0.77, 0.775, 0.80]
    line, ref = fit_line(n, y), linregress(np.log2(n), y)
    assert line["per_doubling"] == pytest.approx(ref.slope)
    assert line["intercept"] == pytest.approx(ref.intercept)
    assert line["per_doubling_se"] == pytest.approx(ref.stderr)


def test_the_size_for_a_target_lies_on_the_line():
    line = fit_line([1000, 2000, 4000], [0.70, 0.73, 0.76])
    n = size_for(line, 0.85)
    assert line["intercept"] + line["per_doubling"] * np.log2(n) == pytest.approx(0.85)
    assert n == pytest.approx(4000 * 2 ** 3)  # three more doublings at +0.03 each
    assert size_for(fit_line([1000, 2000], [0.8, 0.8]), 0.9) is None  # a flat line never gets there
    assert fit_line([1000, 1000], [0.7, 0.8])["per_doubling"] is None  # one size: no line


def test_rows_are_means_over_seeds_in_size_order():
    cells = {0: {1: (13174, 0.84, 9.0), 2: (13174, 0.82, 8.0)}, 1646: {1: (1646, 0.78, 2.0), 2: (1646, 0.80, 2.0)}}
    c = summarise(cells, "para", 0.87)
    assert [r["examples"] for r in c["rows"]] == [1646, 13174]
    assert c["rows"][1]["mean"] == pytest.approx(0.83) and c["rows"][1]["sd"] == pytest.approx(np.std([0.84, 0.82], ddof=1))
    assert c["line"]["per_doubling"] == pytest.approx(linregress(np.log2([13174, 13174, 1646, 1646]),
                                                                 [0.84, 0.82, 0.78, 0.80]).slope)
    assert c["examples_for_target"] > 13174
    assert "| 13,174 | 2 | 0.8300 ± 0.0141 | 8.5 |" in markdown(c)
    assert "lower bound" in verdict(c) and "per doubling" in verdict(c)


def test_bad_flags_get_a_message(capsys):
    for bad in (["--sizes", "10,x"], ["--sizes", "10,10"], ["--epochs", "0"], ["--task", "nli"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
        assert "error:" in capsys.readouterr().err
    assert parse_args(["--task", "sts"]).out == "runs/curve-sts"


@pytest.mark.slow
def test_a_tiny_curve_end_to_end_and_reused(tiny_model_dir, data_dir, tmp_path):
    cfg = CurveConfig(task="para", sizes=(16, 32), seeds=(1,), epochs=1, threads=1, out=str(tmp_path / "c"),
                      dev_limit=40, data_dir=str(data_dir), base_model=str(tiny_model_dir))
    curve = run_curve(cfg)
    assert [r["examples"] for r in curve["rows"]] == [16, 32]
    assert all(0 <= r["mean"] <= 1 for r in curve["rows"])
    assert json.loads((tmp_path / "c" / "curve.json").read_text())["rows"] == curve["rows"]
    assert curve["title"].endswith(f"seeds 1, {os.cpu_count()}-core {cpu_info()[0]}")  # the machine it ran on
    run = tmp_path / "c" / "para-n16-seed1" / "model.safetensors"
    before = run.stat().st_mtime_ns
    again = run_curve(CurveConfig(**{**cfg.__dict__, "table_only": True}))
    assert again["rows"] == curve["rows"] and run.stat().st_mtime_ns == before  # nothing trained again


def test_the_training_tab_figure_draws_each_recorded_curve():
    from analysis.studio.training_view import learning_curve_figure
    cells = {n: {1: (n, 0.7 + 0.02 * i, 1.0), 2: (n, 0.71 + 0.02 * i, 1.0)} for i, n in enumerate((1000, 2000, 4000))}
    meta = {"learning_curves": {"para": summarise(cells, "para", 0.87), "sts": summarise(cells, "sts", None)}}
    fig = learning_curve_figure(meta)
    assert [a.text for a in fig.layout.annotations][:2] == ["Quora accuracy: +0.0200 per doubling",
                                                            "STS-B Pearson r: +0.0200 per doubling"]
    points = [t for t in fig.data if t.mode == "markers"]
    assert len(points) == 2 and list(points[0].x) == [1000, 2000, 4000]
    assert list(points[0].error_y.array) == pytest.approx([np.std([0.7, 0.71], ddof=1)] * 3)
    assert any("target 0.87 at ≥" in (a.text or "") for a in fig.layout.annotations)
    empty = learning_curve_figure({})
    assert any("python -m analysis.experiments.learning_curve" in (a.text or "") for a in empty.layout.annotations)


def test_curves_of_several_tasks_share_the_sidecar(tmp_path, monkeypatch):
    import analysis.experiments.learning_curve as lc
    from minbert.checkpoint import read_sidecar
    stem = tmp_path / "ck"
    from minbert.checkpoint import FORMAT
    (tmp_path / "ck.json").write_text(json.dumps({"format": FORMAT, "metrics": {}}))
    for task in ("para", "sts"):
        monkeypatch.setattr(lc, "run_curve", lambda cfg: summarise({8: {1: (8, 0.5, 0.1)}}, cfg.task, None))
        assert lc.main(["--task", task, "--sidecar", str(stem), "--out", str(tmp_path / "c")]) == 0
    assert sorted(read_sidecar(stem)["learning_curves"]) == ["para", "sts"]
