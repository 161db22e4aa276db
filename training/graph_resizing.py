"""Shrinking a square NCHW input inside an ONNX graph, as cv2.INTER_AREA shrinks a face.

A member of an ensemble that reads smaller faces than the ensemble's input gets its input
through two MatMuls with constant box-overlap weight matrices (``rows @ x @ cols``): the exact
area resampling of ``cv2.resize(..., interpolation=cv2.INTER_AREA)`` for any shrink factor,
integer or not. ONNX ``Resize`` has no area mode and its antialiasing needs opset 18, while our
graphs are opset 17 (whose ``ReduceMean`` differs from opset 18's). The weights of each output
pixel sum to 1, so the shrink commutes with the manifests' per-channel ``(x * scale - mean) /
std`` normalisation: shrinking the normalised tensor equals normalising the shrunk face.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def area_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) float32 weights: row j averages source pixels by their overlap with j's span.

    Raises ValueError unless ``0 < dst <= src`` (this module only shrinks).
    """
    if not 0 < dst <= src:
        raise ValueError(f"area resampling shrinks: cannot go from {src} to {dst} px")
    ratio = src / dst
    weights = np.zeros((dst, src), dtype=np.float64)
    for j in range(dst):
        start, stop = j * ratio, (j + 1) * ratio
        for k in range(int(np.floor(start)), int(np.ceil(stop))):
            weights[j, k] = min(stop, k + 1) - max(start, k)
    return (weights / ratio).astype(np.float32)


def shrink_nodes(
    prefix: str, x_name: str, out_name: str, src: int, dst: int
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes and weights shrinking ``x_name`` (N, C, src, src) to ``out_name`` (N, C, dst, dst)."""
    rows = area_matrix(src, dst)
    rows_name, cols_name, half = f"{prefix}rows", f"{prefix}cols", f"{prefix}half_shrunk"
    nodes = [
        helper.make_node("MatMul", [x_name, cols_name], [half], name=f"{prefix}shrink_cols"),
        helper.make_node("MatMul", [rows_name, half], [out_name], name=f"{prefix}shrink_rows"),
    ]
    initializers = [
        numpy_helper.from_array(rows, rows_name),
        numpy_helper.from_array(np.ascontiguousarray(rows.T), cols_name),
    ]
    return nodes, initializers


def shrink_onnx(inputs: np.ndarray, dst: int) -> np.ndarray:
    """``inputs`` (N, C, S, S) float32 shrunk to (N, C, dst, dst) by the same nodes, run by ORT.

    Used to check an ensemble's wiring: the expected member outputs see exactly these values.
    """
    c, src = inputs.shape[1], inputs.shape[2]
    nodes, initializers = shrink_nodes("", "x", "y", src, dst)
    graph = helper.make_graph(
        nodes,
        "shrink",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c, src, src])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", c, dst, dst])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(None, {"x": inputs.astype(np.float32)})[0]
    return result
