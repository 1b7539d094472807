"""int8 inference: every kernel this machine has, its accuracy, and the fallback to fp32 where none is fast."""
from pathlib import Path

import pytest
import torch

import minbert.serve.quantize as Q
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "minbert-multitask"
KERNELS = [k for k in Q.INT8_KERNELS if Q.kernel_available(k)]


@pytest.fixture(scope="module")
def shipped():
    from minbert.checkpoint import load_checkpoint
    if not SHIPPED.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    return load_checkpoint(SHIPPED)


def test_some_int8_kernel_exists_on_x86():
    import platform
    if platform.machine() in ("x86_64", "AMD64"):
        assert KERNELS, "neither torch._int_mm nor fbgemm is available"


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_agrees_with_fp32_on_sst_dev(kernel, shipped, data_dir):
    from minbert.data import read_task_file
    from minbert.evaluate.inference import predict
    dev = read_task_file(data_dir / "ids-sst-dev.csv").examples
    fp32 = predict(shipped.model, "sst", dev, shipped.tokenizer)["pred"]
    q = Q.quantize_int8(shipped.model, kernel=kernel, tokenizer=shipped.tokenizer)
    assert q.int8_kernel == kernel
    agree = float((fp32 == predict(q, "sst", dev, shipped.tokenizer)["pred"]).mean())
    assert agree >= 0.97, (kernel, agree)


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_replaces_only_encoder_linears(kernel, tiny_model_dir):
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig()).eval()
    q = Q.quantize_int8(model, kernel=kernel)
    kinds = {n: type(m) for n, m in q.named_modules()}
    replaced = Q.Int8Linear if kernel == "int_mm" else Q.SmoothedDynamicLinear
    for n, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and ".layer." in n:
            assert kinds[n] is (replaced if Q.quantized_by(kernel, n) else torch.nn.Linear), n
    assert kinds["bert.pooler.dense"] is torch.nn.Linear and kinds["sst.classifier"] is torch.nn.Linear
    assert not any(isinstance(m, (Q.Int8Linear, Q.SmoothedDynamicLinear)) for m in model.modules())  # original untouched
    x = torch.randint(1000, 2000, (2, 9))
    with torch.no_grad():
        ref, out = model.embed(x, torch.ones_like(x)), q.embed(x, torch.ones_like(x))
    assert torch.nn.functional.cosine_similarity(ref, out).min() > 0.98


def test_int8_linear_matches_fp32_even_with_outlier_channels():
    """Per-token scales keep small values resolved when one channel is 50x larger (as after BERT's LayerNorms)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 48)
    x = torch.randn(3, 7, 64)
    x[..., 5] *= 50  # an outlier channel in every token
    x[1] *= 20  # one sentence far louder than the others
    with torch.no_grad():
        ref, out = lin(x), Q.Int8Linear(lin)(x)
    assert out.shape == ref.shape
    rel = (out - ref).norm(dim=-1) / ref.norm(dim=-1)  # per token
    assert float(rel.max()) < 0.03, float(rel.max())
    # what a single per-tensor activation scale gives on the same input: far worse for the quiet sentences
    s = x.abs().max() / 127
    with torch.no_grad():
        per_tensor = torch.nn.functional.linear((x / s).round() * s, lin.weight, lin.bias)
    assert float(((per_tensor - ref).norm(dim=-1) / ref.norm(dim=-1)).max()) > 3 * float(rel.max())


@pytest.mark.skipif("fbgemm" not in KERNELS, reason="fbgemm not available")
def test_smoothing_helps_the_fbgemm_kernel_on_an_outlier_channel():
    """SmoothQuant moves the outlier's range into the weights: the error falls against unsmoothed fbgemm."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 48)
    x = torch.randn(40, 64)
    x[:, 5] *= 60
    with torch.no_grad():
        ref = lin(x)
        err = {a: float((Q.SmoothedDynamicLinear(lin, x.abs().amax(0), a)(x) - ref).norm() / ref.norm()) for a in (0.0, 0.6)}
    assert err[0.6] < 0.7 * err[0.0], err


@pytest.mark.skipif("fbgemm" not in KERNELS, reason="fbgemm not available")
def test_quantize_int8_passes_its_smoothing_strength_to_every_fbgemm_linear(tiny_model_dir):
    from minbert.tokenizer import Tokenizer
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig()).eval()
    tok = Tokenizer.from_pretrained(tiny_model_dir)
    smooth = {a: [m.inv_scale.clone() for m in Q.quantize_int8(model, kernel="fbgemm", tokenizer=tok, smooth_alpha=a).modules()
                  if isinstance(m, Q.SmoothedDynamicLinear)] for a in (0.0, Q.SMOOTH_ALPHA)}
    assert smooth[0.0] and all(torch.equal(s, torch.ones_like(s)) for s in smooth[0.0])  # 0: no smoothing
    assert all(not torch.equal(s, torch.ones_like(s)) for s in smooth[Q.SMOOTH_ALPHA])


def test_choice_falls_back_to_fp32_when_no_int8_kernel_is_faster():
    kernel, note = Q.choose_kernel({"fp32": 0.035, "int_mm": 1.197, "fbgemm": 0.040})  # an AVX2-only EPYC's shape
    assert kernel == "fp32" and "serving fp32" in note
    kernel, _ = Q.choose_kernel({"fp32": 0.035, "int_mm": 1.197, "fbgemm": 0.010})
    assert kernel == "fbgemm"
    kernel, _ = Q.choose_kernel({"fp32": 0.035, "int_mm": 0.007, "fbgemm": 0.007})
    assert kernel == "int_mm"  # same speed: int_mm runs all six Linears in int8, fbgemm leaves one in fp32
    assert Q.choose_kernel({"fp32": 0.035})[0] == "fp32"


def test_a_cpu_without_a_fast_kernel_serves_fp32_and_says_so(tiny_model_dir, monkeypatch):
    """Force the measured choice: every int8 kernel 30x slower than fp32, as _int_mm is on some AVX2 CPUs."""
    from minbert.serve.precision import apply_precision, describe
    monkeypatch.setattr(Q, "probe_kernels", lambda *a, **k: {"fp32": 0.001, "int_mm": 0.030, "fbgemm": 0.030})
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig()).eval()
    served = apply_precision(model, "int8", inplace=True)  # --precision int8
    assert served is model and served.int8_kernel == "fp32" and served.precision == "fp32"
    assert not any(isinstance(m, (Q.Int8Linear, Q.SmoothedDynamicLinear)) for m in served.modules())
    line = describe(served)
    assert line.count("\n") == 0 and "no int8 kernel beats fp32" in line and "serving fp32" in line


def test_probe_times_every_available_kernel():
    t = Q.probe_kernels(64, 256, repeats=1)
    assert set(t) == {"fp32", *KERNELS} and all(v > 0 for v in t.values())


def test_env_forces_a_kernel(tiny_model_dir, monkeypatch):
    monkeypatch.setenv(Q.KERNEL_ENV, "fp32")
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig()).eval()
    assert Q.quantize_int8(model).int8_kernel == "fp32"
    monkeypatch.setenv(Q.KERNEL_ENV, "bogus")
    with pytest.raises(ValueError, match="int8 kernel must be"):
        Q.quantize_int8(model)
