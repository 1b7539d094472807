"""Shared fixtures. Tests needing task data skip without it, except under CI=true, where they fail."""
import os
from pathlib import Path

import pytest
import torch

from minbert import BertModel, Tokenizer
from minbert.data import find_data_dir
from minbert.pretrained import default_model_dir

# The tests' data is the folder beside the checkout (CI lays ../shared there); product code never names it.
_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("MINBERT_DATA", str(_SHARED))


@pytest.fixture(scope="session")
def data_dir():
    found = find_data_dir(required=False)
    if found is None:
        msg = "no task data: set MINBERT_DATA or run `python -m minbert.data fetch`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true: data is required)")
        pytest.skip(msg)
    return found


@pytest.fixture(scope="session")
def live_app():
    """One `python app.py` on the shipped checkpoint for the whole session, shared by the app, abuse and browser
    tests (start-up costs 10-20 s each time). Tests that need an app configured otherwise start their own."""
    from tests.app_server import CHECKPOINT, AppServer
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    with AppServer(args=("--precision", "fp32")) as server:  # the exactness tests compare with fp32 CLIs
        yield server


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, one for the session's browser tests."""
    from tests.app_server import CHECKPOINT
    from tests.screenshots import CHROMIUM, FLAGS
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing (.ci/run installs it)")
        pytest.skip("Debian chromium not installed")
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def model_dir():
    return default_model_dir()


@pytest.fixture(scope="session")
def base_model():
    return BertModel.from_pretrained()


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer.from_pretrained()


def write_tiny_bert(d: Path, model_dir: Path, positions: int = 128) -> Path:
    """A small random BERT (seed 0) in HF layout with the real vocabulary, written into d."""
    import json
    import shutil

    from safetensors.torch import save_file

    from minbert import BertConfig
    cfg = dict(model_type="bert", vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=positions)
    torch.manual_seed(0)
    save_file(BertModel(BertConfig.from_dict(cfg)).state_dict(), str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(cfg))
    shutil.copy(model_dir / "vocab.txt", d / "vocab.txt")
    return d


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, model_dir):
    """A small random BERT in HF layout with the real vocabulary: fast training tests."""
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), model_dir)


@pytest.fixture(scope="session")
def added_task_checkpoint(tmp_path_factory, model_dir, data_dir):
    """A tiny run trained on the three built-ins and CFIMDB (tasks/cfimdb.yaml, a task added by its spec file): the
    checkpoint stem. Seconds on a tiny BERT with 512 positions (the app reads up to 512 tokens, and CFIMDB's reviews
    are long); shared by the tests of an added task in the app and its views."""
    from minbert.data import task_file
    from minbert.tasks import resolve
    from minbert.train.loop import main as train
    from tests.tiny_recipe import TINY_RECIPE
    spec = Path(__file__).resolve().parent.parent / "tasks" / "cfimdb.yaml"
    if task_file(data_dir, resolve([str(spec)])[0], "dev") is None:
        pytest.skip("no CFIMDB files in the task data (python -m minbert.data fetch)")
    base = write_tiny_bert(tmp_path_factory.mktemp("tiny-bert-512"), model_dir, positions=512)
    out = tmp_path_factory.mktemp("cfimdb-run")
    assert train(["--base-model", str(base), "--data-dir", str(data_dir), "--out-dir", str(out),
                  "--tasks", f"sst,para,sts,{spec}", "--limit", "24", "--batch-size", "8", "--epochs", "1",
                  *TINY_RECIPE, "--quiet"]) == 0
    return out / "model"


@pytest.fixture(scope="session")
def tiny_multitask_ckpt(tiny_model_dir, tmp_path_factory):
    """A tiny multitask checkpoint with the example added task (CFIMDB, from tasks/cfimdb.yaml) and sentiment's own
    top layer; random heads and a perturbed encoder, so that every output field is non-trivial: fast predict tests."""
    from minbert.checkpoint import save_checkpoint
    from minbert.multitask import MultitaskConfig, MultitaskModel
    from minbert.tasks import read_spec
    torch.manual_seed(0)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=1),
                           [read_spec(Path(__file__).resolve().parent.parent / "tasks" / "cfimdb.yaml")]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(path, model, Tokenizer.from_pretrained(tiny_model_dir), {"train_config": {}}, torch.float32)
    return path
