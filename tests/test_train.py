"""Training end to end on a tiny model: checkpoint + log, resume, DDP, config files, evaluate CLI."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.train.loop import main as train_main
from minbert.train.recipe import parse_args
from tests.tiny_recipe import TINY_RECIPE


def _args(tiny_model_dir, data_dir, out, *extra):
    return ["--base-model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out-dir", str(out),
            "--limit", "24", "--batch-size", "8", *TINY_RECIPE, "--quiet", *extra]


@pytest.mark.slow
def test_tiny_end_to_end_writes_loadable_checkpoint_and_log(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "run"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "2", "--mlm-epochs", "1",
                            "--para-head", "features")) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert {"sst_acc", "para_acc", "sts_pearson", "overall"} <= log[-1]["dev"].keys()
    assert set(log[-1]["train"]) == set(log[-1]["dev"])
    ckpt = load_checkpoint(out / "model")
    assert ckpt.meta["dtype"] == "float16" and ckpt.meta["mlm_history"] is not None
    assert ckpt.meta["model_config"]["para_head"] == "features"
    assert 0 <= ckpt.meta["metrics"]["sst_acc"] <= 1 and "para_protocol" in ckpt.meta
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == 2


@pytest.mark.slow
def test_resume_continues_from_the_same_step(tiny_model_dir, data_dir, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train_main(_args(tiny_model_dir, data_dir, straight, "--epochs", "2")) == 0
    assert train_main(_args(tiny_model_dir, data_dir, resumed, "--epochs", "2", "--max-steps", "5")) == 0
    progress = json.loads((resumed / "state.json").read_text())["progress"]
    assert (progress["epoch"], progress["step_in_epoch"], progress["global_step"]) == (0, 5, 5)
    assert not (resumed / "model.safetensors").exists()
    assert train_main(_args(tiny_model_dir, data_dir, resumed, "--epochs", "2", "--resume")) == 0
    a, b = load_file(str(straight / "state.safetensors")), load_file(str(resumed / "state.safetensors"))
    for k in a:
        if k.startswith("model."):
            torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    assert json.loads((resumed / "state.json").read_text())["progress"]["global_step"] == \
        json.loads((straight / "state.json").read_text())["progress"]["global_step"]


@pytest.mark.slow
def test_ema_is_evaluated_exported_and_resumed(tiny_model_dir, data_dir, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    ema = ("--epochs", "2", "--ema", "0.9")
    assert train_main(_args(tiny_model_dir, data_dir, straight, *ema)) == 0
    assert train_main(_args(tiny_model_dir, data_dir, resumed, *ema, "--max-steps", "5")) == 0
    assert train_main(_args(tiny_model_dir, data_dir, resumed, *ema, "--resume")) == 0
    a, b = load_file(str(straight / "state.safetensors")), load_file(str(resumed / "state.safetensors"))
    assert any(k.startswith("ema.") for k in a) and int(a["ema_steps"]) == int(b["ema_steps"]) > 5
    for k in a:
        if k.startswith(("model.", "ema.")):
            torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    one = tmp_path / "one"  # one epoch: the best checkpoint is the average at its end, not the live weights
    assert train_main(_args(tiny_model_dir, data_dir, one, "--epochs", "1", "--ema", "0.9")) == 0
    state, best = load_file(str(one / "state.safetensors")), load_file(str(one / "best.safetensors"))
    name = next(k[4:] for k in state if k.startswith("ema.bert.encoder"))
    assert torch.equal(best[name], state[f"ema.{name}"]) and not torch.equal(best[name], state[f"model.{name}"])


def test_ema_update_by_hand():
    from minbert.train.ema import EMA
    lin = torch.nn.Linear(1, 1, bias=False)
    lin.weight.data.fill_(0.0)
    ema, shadow = EMA(lin, 0.5), 0.0
    for n, w in enumerate([1.0, 2.0, 3.0, 4.0]):
        lin.weight.data.fill_(w)
        ema.update(lin)
        d = min(0.5, (1 + n) / (10 + n))
        shadow = d * shadow + (1 - d) * w
    assert ema.shadow["weight"].item() == pytest.approx(shadow)
    with ema.applied(lin):
        assert lin.weight.item() == pytest.approx(shadow)
    assert lin.weight.item() == 4.0


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           "-m", "minbert.train", *_args(tiny_model_dir, data_dir, out, "--epochs", "1", "--threads", "1")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert load_checkpoint(out / "model").meta["history"][0]["epoch"] == 1


def test_config_file_sets_defaults_and_flags_override(tmp_path):
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text("epochs: 7\nlr: 0.001\ntasks: [sst, sts]\n")
    c = parse_args(["--config", str(cfg), "--lr", "0.002"])
    assert (c.epochs, c.lr, c.tasks) == (7, 0.002, ("sst", "sts"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"epoch": 3}')
    with pytest.raises(SystemExit, match="unknown option"):
        parse_args(["--config", str(bad)])


@pytest.mark.slow
def test_corrupt_checkpoint_is_a_clear_error(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "run"
    train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "1", "--tasks", "sst"))
    w = out / "model.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(out / "model")
    r = subprocess.run([sys.executable, "-m", "minbert.evaluate", "--checkpoint", str(out / "model")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "corrupt or truncated" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_evaluate_writes_metrics_and_prediction_files(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "run"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "1")) == 0
    from minbert.evaluate import EvalArgs, run
    m = run(EvalArgs(out / "model", str(data_dir), tmp_path / "m.json", tmp_path / "pred", 64, "fp32", True))
    saved = json.loads((tmp_path / "m.json").read_text())
    assert {"sst_acc", "para_acc", "sts_pearson", "overall", "para_protocol"} <= saved.keys()
    for k in ("sst_acc", "sst_macro_f1", "para_acc", "para_f1", "sts_pearson", "sts_spearman", "overall"):
        lo, hi = saved[f"{k}_ci95"]
        assert lo <= saved[k] <= hi, k
    meta = load_checkpoint(out / "model").meta  # the sidecar still verifies, and holds the intervals
    assert meta["metrics_ci95"]["overall_ci95"] == saved["overall_ci95"] and "bootstrap" in meta["ci95_method"]
    assert saved["overall"] == pytest.approx(m["overall"])
    assert saved["tasks"]["sst"]["confusion"] and len(saved["tasks"]["sst"]["per_class"]["f1"]) == 5
    headers = {"sst-dev-output.csv": "id,Predicted_Sentiment", "para-dev-output.csv": "id,Predicted_Is_Paraphrase",
               "sts-dev-output.csv": "id,Predicted_Similarity", "sts-test-output.csv": "id,Predicted_Similarity",
               "sst-test-output.csv": "id,Predicted_Sentiment"}
    for name, header in headers.items():
        lines = (tmp_path / "pred" / name).read_text().splitlines()
        assert lines[0] == header and len(lines) > 100, name
    sts = [float(line.split(",")[1]) for line in (tmp_path / "pred" / "sts-dev-output.csv").read_text().splitlines()[1:]]
    assert all(0 <= s <= 5 for s in sts)
    never = run(EvalArgs(out / "model", str(data_dir), None, None, 64, "fp32", False, para_threshold=1e6))
    from minbert.data import load_tasks
    negatives = 1 - np.mean([e.label for e in load_tasks(str(data_dir)).dev["para"]])
    stored = float(load_checkpoint(out / "model").model.para.threshold)  # the default recipe fits one (--para-val)
    assert never["para_acc"] == pytest.approx(negatives) and never["para_threshold_stored"] == stored  # all "no"
    assert never["sst_acc"] == m["sst_acc"] and m["para_threshold"] == stored != 0.0


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_training_runs_and_loads_on_cpu(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "cuda"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "1", "--device", "cuda")) == 0
    ckpt = load_checkpoint(out / "model")  # on the CPU
    assert json.loads((out / "config.json").read_text())["config"]["precision"] == "auto"
    assert 0 <= ckpt.meta["metrics"]["sst_acc"] <= 1


@pytest.mark.slow
def test_bf16_autocast_on_cpu_runs(tiny_model_dir, data_dir, tmp_path):
    """The same autocast path on the CPU (where the GPU test cannot run): --precision bf16."""
    out = tmp_path / "bf16"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "1", "--precision", "bf16",
                            "--device", "cpu")) == 0
    assert load_checkpoint(out / "model").meta["train_config"]["precision"] == "bf16"


def test_param_groups_encoder_at_lr_heads_at_head_lr():
    from minbert.config import BertConfig
    from minbert.model import BertModel
    from minbert.multitask import MultitaskConfig, MultitaskModel
    from minbert.train.loop import param_groups
    bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))
    model = MultitaskModel(bert, MultitaskConfig(sst_layers=1))
    groups = param_groups(model, lr=1e-4, head_lr=1e-3)
    lr_of = {id(p): g["base_lr"] for g in groups for p in g["params"]}
    assert len(lr_of) == len(list(model.parameters()))  # every parameter, once
    for p in (bert.encoder.layer[2].output.dense.weight, bert.embeddings.word_embeddings.weight,
              bert.pooler.dense.weight, model.sst_encoder[0].output.dense.weight):
        assert lr_of[id(p)] == pytest.approx(1e-4)
    assert lr_of[id(model.sst.classifier.weight)] == pytest.approx(1e-3)
    assert lr_of[id(model.para.scale)] == pytest.approx(1e-3)


@pytest.mark.slow
def test_ship_copies_the_export_verified_and_keeps_recipe_tables(tiny_model_dir, data_dir, tmp_path):
    from minbert.checkpoint import update_sidecar
    from minbert.train.ship import main as ship_main
    out = tmp_path / "run"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "1")) == 0
    dest = tmp_path / "ckpt" / "model-a"
    assert ship_main([str(out), "--to", str(dest)]) == 0
    update_sidecar(dest, levers={"rows": []}, learning_curves={"sts": {}},
                   calibration={"old": 1})  # two recipe tables and a model-level result
    assert ship_main([str(out), "--to", str(dest)]) == 0  # replace it
    ckpt = load_checkpoint(dest)
    assert ckpt.meta["weights_file"] == "model-a.safetensors" and ckpt.meta["shipped_from"] == str(out)
    assert ckpt.meta["levers"] == {"rows": []} and ckpt.meta["learning_curves"] == {"sts": {}}
    assert "calibration" not in ckpt.meta
    assert ckpt.meta["wall_minutes_total"] >= 0 and "fp16 export written" in ckpt.meta["wall_clock"]
    assert (dest.with_suffix(".safetensors")).read_bytes() == (out / "model.safetensors").read_bytes()
    raw = bytearray((out / "model.safetensors").read_bytes())
    raw[-1] ^= 1
    (out / "model.safetensors").write_bytes(bytes(raw))
    assert ship_main([str(out), "--to", str(tmp_path / "other")]) == 2  # a tampered export is refused
    assert not (tmp_path / "other.json").exists()


def test_the_default_recipe_is_the_shipped_models():
    """`python -m minbert.train` with no flags must train what checkpoints/ ships (README: the default recipe), and
    minbert/train/recipes/shipped.yaml is the dump of those defaults (`python -m minbert.train --print-config`)."""
    import dataclasses
    from pathlib import Path

    from minbert import legacy
    from minbert.checkpoint import read_sidecar
    from minbert.train.recipe import TrainConfig, recipe_yaml
    shipped = read_sidecar(Path(__file__).parents[1] / "checkpoints" / "minbert-multitask")["train_config"]
    default = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(TrainConfig()).items()}
    assert set(shipped) <= set(default) | set(legacy.RETIRED)  # nothing unknown
    assert set(default) - set(shipped) <= set(legacy.TRAIN_FIELDS_ADDED)  # a field added since: trained as off
    then = legacy.saved_train_config(shipped, default)
    assert set(then) == set(default)  # a retired lever was off in the shipped recipe
    recipe = [f.name for f in TrainConfig.recipe_fields()]  # not the run's folder, --quiet or threads
    assert {k: then[k] for k in recipe} == {k: default[k] for k in recipe}
    path = Path(__file__).parents[1] / "minbert" / "train" / "recipes" / "shipped.yaml"
    assert dataclasses.replace(parse_args(["--config", str(path)]), command="") == TrainConfig()
    header, dump = path.read_text().split("\n\n", 1)
    assert dump == recipe_yaml(TrainConfig()), "regenerate the dump: python -m minbert.train --print-config"
    assert all(line.startswith("# ") for line in header.splitlines())


@pytest.mark.slow
def test_para_val_holds_pairs_out_and_fits_the_served_threshold(tiny_model_dir, data_dir, tmp_path):
    from minbert.data import load_tasks
    from minbert.train.loop import task_splits
    data = load_tasks(str(data_dir))

    def splits(*extra):
        c = parse_args(_args(tiny_model_dir, data_dir, tmp_path / "x", *extra))
        return task_splits(data, list(c.tasks), seed=c.seed, limit=c.limit, train_limit=c.train_limit,
                           dev_limit=c.dev_limit, para_val=c.para_val, train_eval_size=c.train_eval_size)
    plain, held = splits("--para-val", "0"), splits("--para-val", "6", "--limit", "60")
    assert len(plain.train["para"]) == 24 and plain.held_out == {}
    assert len(held.held_out["para"]) == 6 and len(held.train["para"]) == 60 - 6  # out of the 60-row pool
    assert not {e.id for e in held.held_out["para"]} & {e.id for e in held.train["para"]}  # never trained on
    same = splits("--para-val", "0", "--limit", "60")
    assert (held.train["sst"], held.train["sts"]) == (same.train["sst"], same.train["sts"])  # other tasks untouched
    assert held.train_eval.keys() == plain.train_eval.keys() == {"sst", "para", "sts"}
    lim = ("--train-limit", "10")  # a sample leaves spare pairs: they are held out, the sample is unchanged
    ref, sub = splits(*lim, "--para-val", "0"), splits(*lim, "--para-val", "6")
    assert sub.train == ref.train and len(sub.held_out["para"]) == 6
    assert not {e.id for e in sub.held_out["para"]} & {e.id for e in sub.train["para"]}
    out = tmp_path / "run"
    assert train_main(_args(tiny_model_dir, data_dir, out, "--epochs", "2", "--para-val", "6")) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    ckpt = load_checkpoint(out / "model")
    best = ckpt.meta["history"][ckpt.meta["best_epoch"] - 1]
    assert all("para_threshold" in r for r in log)
    assert float(ckpt.model.para.threshold) == pytest.approx(best["para_threshold"], abs=1e-2)  # fp16 export
    with pytest.raises(SystemExit):
        parse_args(_args(tiny_model_dir, data_dir, out, "--para-val", "-1"))
    capped = splits("--para-val", "24")  # more than the pool can spare: a tenth of the 24 pairs
    assert len(capped.held_out["para"]) == 2 and len(capped.train["para"]) == 22
    assert splits("--para-val", "5", "--limit", "9").held_out["para"] == []  # under 10 pairs: none held out, logit 0


def test_help_shows_every_flag_with_its_choices_and_default():
    from minbert.train.recipe import TrainConfig, build_parser
    text = " ".join(build_parser().format_help().split())  # argparse wraps lines
    assert "--schedule {exponential,linear,constant}" in text and "(default: linear)" in text
    assert "--para-head {cosine,features,cross}" in text and "--sts-loss {cosine_embedding,mse,cosent}" in text
    assert "--sst-phrases SST_PHRASES labelled treebank phrases" in text and "(default: 40000)" in text
    for f in dataclasses.fields(TrainConfig):  # every field documented: a flag, or a --config key listed in the epilog
        if f.metadata["set_by"] == "flag":
            assert "--" + f.name.replace("_", "-") in text
        elif f.metadata["set_by"] == "config":
            assert f"{f.name} {f.metadata['doc']} (default: {f.default})" in text


def test_a_recipe_file_is_checked_against_the_fields_choices_and_ranges(tmp_path, capsys):
    f = tmp_path / "r.yaml"
    for text, message in (("schedule: cosine\n", "schedule must be one of exponential, linear, constant"),
                          ("para_head: mlp\n", "para_head must be one of cosine, features, cross"),
                          ("max_length: 1000\n", "max_length must be in 3..512")):
        f.write_text(text)
        with pytest.raises(SystemExit):
            parse_args(["--config", str(f)])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--sampling", "random"])  # argparse's own choices on the command line
    assert "invalid choice: 'random'" in capsys.readouterr().err


def test_print_config_writes_a_recipe_that_reads_back_the_same(tmp_path, capsys):
    report = Path(__file__).parents[1] / "minbert" / "train" / "recipes" / "report.yaml"
    with pytest.raises(SystemExit) as e:
        parse_args(["--config", str(report), "--lr", "1e-4", "--print-config"])
    assert e.value.code == 0
    (tmp_path / "r.yaml").write_text(capsys.readouterr().out)
    again = parse_args(["--config", str(tmp_path / "r.yaml")])
    want = parse_args(["--config", str(report), "--lr", "1e-4"])
    assert dataclasses.replace(again, command="") == dataclasses.replace(want, command="")


def test_on_the_training_path_only_fit_takes_the_whole_config():
    """The loop's helpers take the values they need (issue 34): a function of minbert/ with a TrainConfig parameter (or
    one named cfg) is fit, or the recipe's own (which makes and prints configs)."""
    import ast
    root = Path(__file__).parents[1] / "minbert"
    takers = set()
    for path in root.rglob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
                if any(a.arg == "cfg" or a.annotation is not None and "TrainConfig" in ast.unparse(a.annotation)
                       for a in args):
                    takers.add(f"{path.relative_to(root)}:{fn.name}")
    assert takers == {"train/loop.py:fit", "train/recipe.py:recipe_yaml"}


def test_a_retired_lever_in_a_recipe_file_gets_a_message(tmp_path):
    from minbert.train.recipe import parse_args
    f = tmp_path / "old.yaml"
    f.write_text("mnrl_weight: 1\n")
    with pytest.raises(SystemExit, match="retired option.*mnrl_weight.*8a2619e"):
        parse_args(["--config", str(f)])
    f.write_text("mnrl_weight: 0\nlr: 1.0e-4\n")  # at its off value: what every run trains now
    assert parse_args(["--config", str(f)]).lr == 1e-4
    with pytest.raises(SystemExit):
        parse_args(["--mnrl-weight", "1"])  # no longer a flag
