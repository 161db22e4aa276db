"""ONNX Runtime static INT8 quantization of an in-memory FP32 graph, as the shipped detector and
embedder are made: QOperator (QLinearConv), per-channel INT8 weights, UINT8 activations, MinMax
ranges from the calibration feeds. Deterministic for the same graph, feeds and ONNX Runtime
release (the import tests compare what it makes with the committed files).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


def quantize_qoperator(
    fp32: bytes, feeds: Iterator[dict[str, np.ndarray]], exclude: Iterable[str] = ()
) -> bytes:
    """The INT8 model of ``fp32`` calibrated on ``feeds`` (input name -> batch); the nodes
    named in ``exclude`` stay FP32. Writes only to a private temporary folder (the quantizer
    works on files), removed on return."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    with tempfile.TemporaryDirectory(prefix="int8-") as scratch:
        source, prepared, out = (Path(scratch) / n for n in ("fp32.onnx", "pre.onnx", "q.onnx"))
        source.write_bytes(fp32)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
        quantize_static(
            str(prepared),
            str(out),
            Reader(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=False,
            nodes_to_exclude=list(exclude),
        )
        return out.read_bytes()
