"""The exported encoder in other inference engines, for bench/peers.py: ONNX Runtime and OpenVINO.

One ONNX graph serves both: the `transformers` BertModel of an exported folder (minbert/export.py) with the
folder's pooling on top, (input_ids, attention_mask) -> (B, H), exported by torch.onnx.export(dynamo=True)
with a dynamic batch and sequence length. (The legacy TorchScript exporter bakes traced shapes into
transformers 5's attention-mask code and is wrong at other lengths; sentence-transformers' backend="onnx"
needs optimum-onnx, which needs transformers < 4.58.) Each engine runs with torch's thread count.

- ONNX Runtime int8: onnxruntime.quantization.quantize_dynamic (int8 weights per channel, activations
  quantized per call).
- OpenVINO bf16: the fp32 graph compiled with INFERENCE_PRECISION_HINT bf16.
- OpenVINO int8: NNCF post-training static quantization (model_type TRANSFORMER) calibrated on given sentences,
  compiled with OpenVINO's default precision for the rest of the graph.
Every builder returns run(batch) -> (B, H) float32 array for a dict of int64 arrays input_ids, attention_mask.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

Run = Callable[[dict[str, np.ndarray]], np.ndarray]
INPUTS = ("input_ids", "attention_mask")


class PooledBert(nn.Module):
    """A transformers BertModel plus pooling: (input_ids, attention_mask) -> (B, H) sentence embeddings."""

    def __init__(self, bert: nn.Module, pooling: str):
        super().__init__()
        self.bert, self.pooling = bert, pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        if self.pooling == "cls":
            return h[:, 0]
        m = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * m).sum(1) / m.sum(1).clamp_min(1e-9)


def pooling_of(folder: Path) -> str:
    """"mean" or "cls", from the sentence-transformers pooling config the export wrote."""
    cfg = json.loads((folder / "1_Pooling" / "config.json").read_text())
    return "cls" if cfg.get("pooling_mode_cls_token") else "mean"


def export_onnx(folder: Path, out: Path) -> Path:
    """`folder`'s encoder and pooling as one ONNX file (weights inside), dynamic in batch and length."""
    from transformers import AutoModel, AutoTokenizer
    module = PooledBert(AutoModel.from_pretrained(str(folder)).eval(), pooling_of(folder)).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    example = tok(["a short one", "a somewhat longer sentence than the first"], padding=True, return_tensors="pt")
    example = {k: example[k] for k in INPUTS}
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=module.bert.config.max_position_embeddings)
    with torch.no_grad():
        torch.onnx.export(module, (), str(out), kwargs=example, dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes={k: {0: batch, 1: seq} for k in INPUTS}, input_names=list(INPUTS),
                          output_names=["sentence_embedding"])
    return out


def ort_int8(onnx_path: Path, threads: int) -> Run:
    """ONNX Runtime on the dynamically quantized graph: the MatMuls' weights in int8 per output channel, as
    optimum's AVX512-VNNI dynamic config (per tensor and with the embedding lookups quantized too, as
    quantize_dynamic's defaults do, the minimum cosine to fp32 fell to 0.78-0.87 here)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    q = onnx_path.with_name(onnx_path.stem + ".int8.onnx")
    quantize_dynamic(str(onnx_path), str(q), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(q), opts, providers=["CPUExecutionProvider"])
    return lambda batch: session.run(None, {k: batch[k] for k in INPUTS})[0]


def openvino(onnx_path: Path, threads: int, precision: str,
             calibration: list[dict[str, np.ndarray]] | None = None) -> Run:
    """OpenVINO on CPU: precision "bf16" (the fp32 graph run in bf16) or "int8" (NNCF static quantization
    calibrated on `calibration`, one tokenized sentence per item)."""
    import openvino as ov
    core = ov.Core()
    model = core.read_model(str(onnx_path))
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision == "bf16":
        config["INFERENCE_PRECISION_HINT"] = "bf16"
    elif precision == "int8":
        import logging

        import nncf
        nncf.set_log_level(logging.ERROR)
        dataset = nncf.Dataset(calibration, lambda item: {k: item[k] for k in INPUTS})
        model = nncf.quantize(model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration))
    else:
        raise ValueError(f"OpenVINO precision must be bf16 or int8, not {precision!r}")
    compiled = core.compile_model(model, "CPU", config)
    out = compiled.output(0)
    return lambda batch: compiled({k: batch[k] for k in INPUTS})[out]
