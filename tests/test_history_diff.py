"""python -m minbert.train.history_diff: identical histories exit 0; any logged difference, however small, exits 1."""
import json

from minbert.train.history_diff import main


def write_run(folder, losses, sst_acc):
    folder.mkdir()
    records = [{"epoch": 0, "step": 10, "loss": 1.0},  # a progress line: not an epoch record
               {"epoch": 1, "loss_curve": {"sst": losses, "sts": [0.5]}, "dev": {"sst_acc": sst_acc, "overall": 0.7},
                "para_threshold": 0.57}]
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_identical_and_different_histories(tmp_path, capsys):
    a = write_run(tmp_path / "a", [1.6, 1.5], 0.5)
    b = write_run(tmp_path / "b", [1.6, 1.5], 0.5)
    c = write_run(tmp_path / "c", [1.6, 1.5 + 1e-12], 0.5)
    assert main([str(a), str(b)]) == 0
    assert "epoch 1: identical" in capsys.readouterr().out
    assert main([str(a), str(c)]) == 1
    assert "DIFFERENT" in capsys.readouterr().out
    d = write_run(tmp_path / "d", [1.6, 1.5], 0.5 + 1e-15)  # a library's float rounding of a metric
    assert main([str(a), str(d)]) == 1 and main([str(a), str(d), "--metric-tol", "1e-12"]) == 0
    assert main([str(a), str(c), "--metric-tol", "1"]) == 1  # losses are always exact


def test_missing_log_and_too_many_epochs(tmp_path, capsys):
    a = write_run(tmp_path / "a", [1.6], 0.5)
    assert main([str(a), str(a), "--epochs", "2"]) == 2
    try:
        main([str(a), str(tmp_path / "nowhere")])
    except SystemExit as e:
        assert "log.jsonl not found" in str(e)
    else:
        raise AssertionError("a missing run must be refused")
