"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as ONNX.

dlib runs this network single-threaded at ~75 ms per face on our CPU; ONNX Runtime runs the
same weights several times faster. This module reads dlib's binary ``serialize(net)`` format
(no dlib needed) and rebuilds the network with the ONNX helper API.

The network type, from dlib's examples/dnn_face_recognition_ex.cpp::

    block<N,BN,stride>    = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    residual<N>           = add_prev1<block<N,affine,1,tag1<SUBNET>>>
    residual_down<N>      = add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>
    ares / ares_down      = relu<residual> / relu<residual_down>
    alevel0 = ares_down<256>; alevel1/alevel2 = ares,ares,ares_down (256/128);
    alevel3 = ares x3, ares_down (64); alevel4 = ares x3 (32)
    anet_type = loss_metric<fc_no_bias<128,avg_pool_everything<alevel0<...<alevel4<
                max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,input_rgb_image_sized<150>>>>>>>>>>>>>

The file format (dlib/serialize.h, dlib/dnn/{core,layers,input,loss,tensor}.h): integers are a
control byte (low nibble = byte count, bit 7 = negative) and little-endian bytes; floats and
doubles are an integer mantissa and exponent (value = m * 2**e); strings are a length and bytes;
bools are the characters '0'/'1'; tensors are (version, n, k, nr, nc) then raw float32 LE.
``serialize(add_layer)`` writes its version, then its subnetwork, then its own details, so the
file holds all versions top-down and then every layer's details bottom-up. Tag and skip layers
write nothing but a version, so the residual wiring is not in the file: we check that the file's
layer sequence is exactly the one this type produces and wire it from the type above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

# The engine imports this module's names only; onnx (~0.25 s, 12 MB) is imported by the
# conversion functions when they run.

INPUT_NAME = "chips"  # N x 3 x 150 x 150 float32, RGB planes, pixel values 0..255
OUTPUT_NAME = "embeddings"  # N x 128 float32
OPSET = 17
# input_rgb_image_sized::to_tensor divides (pixel - channel average) by 256.
PIXEL_SCALE = 1.0 / 256.0


class DlibFormatError(ValueError):
    """The file is not the dlib face-recognition ResNet in the serialization we understand."""


class _Stream:
    """Cursor over dlib's serialization primitives; every read raises DlibFormatError at EOF."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise DlibFormatError(f"file ends at byte {len(self.data)}, needed {count} more")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def int_(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at {self.pos - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float_(self) -> float:
        mantissa, exponent = self.int_(), self.int_()
        # float_details marks inf/nan with reserved exponents (>= 32000); none are expected.
        if abs(exponent) >= 32000:
            raise DlibFormatError(f"non-finite float (exponent {exponent}) at {self.pos}")
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        return self.take(self.int_()).decode("latin-1")

    def bool_(self) -> bool:
        char = self.take(1)
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {char!r} at {self.pos - 1}")
        return char == b"1"

    def tensor(self) -> np.ndarray:
        self.version(2, "tensor")
        shape = tuple(self.int_() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.take(4 * count), dtype="<f4")
        return values.reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        self.version(1, "alias_tensor")
        return tuple(self.int_() for _ in range(4))

    def version(self, expected: int, what: str) -> None:
        found = self.int_()
        if found != expected:
            raise DlibFormatError(
                f"{what}: version {found} at byte {self.pos}, expected {expected}"
            )

    def tag(self, *allowed: str) -> str:
        found = self.string()
        if found not in allowed:
            raise DlibFormatError(f"found layer {found!r} at byte {self.pos}, expected {allowed}")
        return found


@dataclass(frozen=True)
class Conv:
    weights: np.ndarray  # (out, in, kh, kw), applied as cross-correlation like ONNX Conv
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    gamma: np.ndarray  # per channel: y = x * gamma + beta (batch norm frozen at training end)
    beta: np.ndarray


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    window: tuple[int, int]  # (0, 0) = the whole feature map
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Dense:
    weights: np.ndarray  # (inputs, outputs): y = x @ weights, no bias


@dataclass(frozen=True)
class Marker:
    """relu, tag1/tag2, skip1, add_prev1/add_prev2: layers without parameters."""

    kind: str


Layer = Conv | Affine | Pool | Dense | Marker


@dataclass(frozen=True)
class DlibResNet:
    """The parsed network: input normalisation and layers listed from input to output."""

    channel_means: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[Layer]


def _block() -> list[str]:
    return ["affine", "con", "relu", "affine", "con"]


def _ares() -> list[str]:
    return ["relu", "add_prev1", *_block(), "tag1"]


def _ares_down() -> list[str]:
    return ["relu", "add_prev2", "avg_pool", "skip1", "tag2", *_block(), "tag1"]


def expected_layers() -> list[str]:
    """Layer kinds of anet_type from the output (fc) down to the first con (see module doc)."""
    level0 = _ares_down()
    level1 = [*_ares(), *_ares(), *_ares_down()]
    level3 = [*_ares(), *_ares(), *_ares(), *_ares_down()]
    level4 = [*_ares(), *_ares(), *_ares()]
    stem = ["max_pool", "relu", "affine", "con"]
    return ["fc", "avg_pool", *level0, *level1, *level1, *level3, *level4, *stem]


def _read_conv(s: _Stream) -> Conv:
    s.tag("con_4")
    params = s.tensor().reshape(-1)
    filters, nr, nc = s.int_(), s.int_(), s.int_()
    stride = (s.int_(), s.int_())
    padding = (s.int_(), s.int_())
    shape = s.alias()
    s.alias()  # biases: the rest of params
    for _ in range(4):
        s.float_()  # learning-rate and weight-decay multipliers (training only)
    count = int(np.prod(shape))
    if shape[0] != filters or shape[2:] != (nr, nc) or params.size != count + filters:
        raise DlibFormatError(f"con_ parameters do not fit {filters} filters of {shape}")
    weights = params[:count].reshape(shape)
    return Conv(weights, params[count:], stride, padding)


def _read_affine(s: _Stream) -> Affine:
    s.tag("affine_")
    params = s.tensor().reshape(-1)
    gamma_shape, beta_shape = s.alias(), s.alias()
    mode = s.int_()
    channels = int(np.prod(gamma_shape))
    if mode != 0 or gamma_shape != beta_shape or params.size != 2 * channels:
        raise DlibFormatError(f"affine_ is not a per-channel (CONV_MODE) layer: mode {mode}")
    return Affine(params[:channels], params[channels:])


def _read_pool(s: _Stream, kind: str) -> Pool:
    s.tag(f"{kind}_pool_2")
    window = (s.int_(), s.int_())
    stride = (s.int_(), s.int_())
    return Pool(kind, window, stride, (s.int_(), s.int_()))


def _read_dense(s: _Stream) -> Dense:
    s.tag("fc_2")
    outputs, inputs = s.int_(), s.int_()
    params = s.tensor().reshape(-1)
    s.alias()
    biases = s.alias()
    bias_mode = s.int_()  # enum fc_bias_mode { FC_HAS_BIAS = 0, FC_NO_BIAS = 1 }
    for _ in range(4):
        s.float_()
    if bias_mode != 1 or any(biases) or params.size != inputs * outputs:
        raise DlibFormatError(f"fc_ is not fc_no_bias<{outputs}> over {inputs} inputs")
    return Dense(params.reshape(inputs, outputs))


def _read_details(s: _Stream, kind: str) -> Layer:
    if kind == "con":
        return _read_conv(s)
    if kind == "affine":
        return _read_affine(s)
    if kind in ("max_pool", "avg_pool"):
        return _read_pool(s, kind.split("_")[0])
    if kind == "fc":
        return _read_dense(s)
    s.tag({"relu": "relu_", "add_prev1": "add_prev_", "add_prev2": "add_prev_"}[kind])
    return Marker(kind)


def _read_layer_state(s: _Stream, tensors: int) -> None:
    """Skip add_layer's training state: 3 bools, then x_grad, cached_output and, in version 2
    and in the input add_layer, params_grad/grad_final."""
    for _ in range(3):
        s.bool_()
    for _ in range(tensors):
        s.tensor()


def parse_dlib_resnet(data: bytes) -> DlibResNet:
    """Parse the bytes of dlib_face_recognition_resnet_model_v1.dat; DlibFormatError if foreign."""
    s = _Stream(data)
    s.version(1, "add_loss_layer")
    s.tag("loss_metric_2")
    s.float_(), s.float_()  # margin and distance threshold: training only
    kinds = expected_layers()
    versions = []
    for kind in kinds[:-1]:
        versions.append(s.int_())
        wanted = (1,) if kind.startswith(("tag", "skip")) else (1, 2)
        if versions[-1] not in wanted:
            raise DlibFormatError(f"layer {kind} has version {versions[-1]} at byte {s.pos}")
    input_version = s.int_()
    if input_version not in (2, 3):
        raise DlibFormatError(f"input add_layer has version {input_version}, expected 2 or 3")
    s.tag("input_rgb_image_sized")
    means = (s.float_(), s.float_(), s.float_())
    size = (s.int_(), s.int_())
    layers: list[Layer] = [_read_details(s, "con")]
    _read_layer_state(s, 3)
    if input_version == 3:
        s.int_()  # sample expansion factor
    for kind, version in reversed(list(zip(kinds[:-1], versions, strict=True))):
        if kind.startswith(("tag", "skip")):
            layers.append(Marker(kind))
            continue
        layers.append(_read_details(s, kind))
        _read_layer_state(s, 3 if version == 2 else 2)
    if s.pos != len(data):
        raise DlibFormatError(f"{len(data) - s.pos} unexpected bytes after the network")
    return DlibResNet(means, size, layers)


def read_dlib_resnet(path: Path) -> DlibResNet:
    """Parse a .dat file; OSError if unreadable, DlibFormatError if not this network."""
    return parse_dlib_resnet(path.read_bytes())


class _Graph:
    """ONNX nodes and initializers, tracking each value's (channels, rows, cols)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, int, int]] = {}

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def add(self, op: str, inputs: list[str], shape: tuple[int, int, int], **attrs: Any) -> str:
        from onnx import helper

        out = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shapes[out] = shape
        return out


def _out_size(size: int, window: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - window) // stride + 1


def _add_conv(g: _Graph, x: str, conv: Conv, affine: Affine | None) -> str:
    """Conv with the following affine layer folded in: (W*x + b) * gamma + beta."""
    weights, bias = conv.weights.astype(np.float64), conv.bias.astype(np.float64)
    if affine is not None:
        gamma = affine.gamma.astype(np.float64)
        weights = weights * gamma[:, None, None, None]
        bias = bias * gamma + affine.beta
    _, rows, cols = g.shapes[x]
    kh, kw = conv.weights.shape[2:]
    (sy, sx), (py, px) = conv.stride, conv.padding
    shape = (conv.weights.shape[0], _out_size(rows, kh, sy, py), _out_size(cols, kw, sx, px))
    w = g.const(f"w{len(g.inits)}", weights.astype(np.float32))
    b = g.const(f"b{len(g.inits)}", bias.astype(np.float32))
    return g.add(
        "Conv", [x, w, b], shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px]
    )


def _add_pool(g: _Graph, x: str, pool: Pool) -> str:
    channels, rows, cols = g.shapes[x]
    if pool.window == (0, 0):  # avg_pool_everything
        return g.add("GlobalAveragePool", [x], (channels, 1, 1))
    if pool.kind == "avg" and pool.padding != (0, 0):
        raise DlibFormatError("padded avg_pool is not supported (dlib and ONNX differ there)")
    (kh, kw), (sy, sx), (py, px) = pool.window, pool.stride, pool.padding
    shape = (channels, _out_size(rows, kh, sy, py), _out_size(cols, kw, sx, px))
    op = "MaxPool" if pool.kind == "max" else "AveragePool"
    return g.add(op, [x], shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])


def _pad_to(g: _Graph, x: str, shape: tuple[int, int, int]) -> str:
    """Zero-pad channels/rows/cols at the end, as dlib's tt::add does for unequal tensors."""
    have = g.shapes[x]
    if have == shape:
        return x
    extra = [0] + [want - got for want, got in zip(shape, have, strict=True)]
    pads = g.const(f"pads{len(g.inits)}", np.array([0, 0, 0, 0, *extra], dtype=np.int64))
    return g.add("Pad", [x, pads], shape)


def _add_prev(g: _Graph, x: str, other: str) -> str:
    shape = tuple(max(a, b) for a, b in zip(g.shapes[x], g.shapes[other], strict=True))
    full = (shape[0], shape[1], shape[2])
    return g.add("Add", [_pad_to(g, x, full), _pad_to(g, other, full)], full)


def _add_layers(g: _Graph, x: str, layers: list[Layer]) -> str:
    """Wire the layers (input to output) with dlib's tag/skip/add_prev semantics."""
    tags: dict[str, str] = {}
    for i, layer in enumerate(layers):
        if isinstance(layer, Conv):
            following = layers[i + 1] if i + 1 < len(layers) else None
            x = _add_conv(g, x, layer, following if isinstance(following, Affine) else None)
        elif isinstance(layer, Affine):
            if not isinstance(layers[i - 1], Conv):
                raise DlibFormatError("an affine layer that does not follow a con layer")
        elif isinstance(layer, Pool):
            x = _add_pool(g, x, layer)
        elif isinstance(layer, Dense):
            flat = g.add("Flatten", [x], g.shapes[x], axis=1)
            x = g.add("MatMul", [flat, g.const("fc_weights", layer.weights)], g.shapes[x])
        elif layer.kind == "relu":
            x = g.add("Relu", [x], g.shapes[x])
        elif layer.kind.startswith("tag"):
            tags[layer.kind[-1]] = x
        elif layer.kind.startswith("skip"):
            x = tags[layer.kind[-1]]
        else:  # add_prevN
            x = _add_prev(g, x, tags[layer.kind[-1]])
    return x


def build_onnx(net: DlibResNet) -> onnx.ModelProto:
    """ONNX graph: chips (N,3,rows,cols) RGB 0..255 float32 -> embeddings (N,128) float32."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    rows, cols = net.input_size
    g.shapes[INPUT_NAME] = (3, rows, cols)
    means = np.array(net.channel_means, dtype=np.float32).reshape(1, 3, 1, 1)
    centred = g.add("Sub", [INPUT_NAME, g.const("channel_means", means)], (3, rows, cols))
    scale = g.const("pixel_scale", np.array(PIXEL_SCALE, dtype=np.float32))
    x = g.add("Mul", [centred, scale], (3, rows, cols))
    x = _add_layers(g, x, net.layers)
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
    dims = net.layers[-1].weights.shape[1] if isinstance(net.layers[-1], Dense) else None
    if dims is None:
        raise DlibFormatError("the network does not end in an fc layer")
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, rows, cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", dims])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model.producer_name = "wellbeing.inference.dlib_resnet_onnx"
    onnx.checker.check_model(model)
    return model


# ---- python -m inference models import dlib-resnet-onnx ------------------------------------

MODEL_NAME = "dlib-resnet-onnx"
INFO_FILE = "embedder.json"  # not manifest.json: the emotion-model registry globs for those
SOURCE = "face-recognition-models==0.3.0: models/dlib_face_recognition_resnet_model_v1.dat"
SOURCE_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
PARITY_TOLERANCE = 1e-4
PARITY_CHIPS = 12


class ModelImportError(RuntimeError):
    """Checksum, conversion or parity failed; the models directory is left as it was."""


def make_parity_chips(count: int = PARITY_CHIPS, seed: int = 0) -> np.ndarray:
    """Deterministic 150x150 RGB uint8 test inputs: half raw noise, half smooth blobs."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(count, 150, 150, 3), dtype=np.uint8)
    blobs = [cv2.GaussianBlur(n, (0, 0), 6.0).astype(np.float64) for n in noise[count // 2 :]]
    stretched = [255.0 * (b - b.min()) / max(float(np.ptp(b)), 1.0) for b in blobs]
    return np.concatenate([noise[: count // 2], np.stack(stretched).astype(np.uint8)])


def run_onnx(model: bytes | str, chips: np.ndarray, threads: int = 1) -> np.ndarray:
    """(N,150,150,3) uint8 RGB chips -> (N,128) embeddings with an ONNX Runtime CPU session."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    batch = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
    return np.asarray(session.run(None, {INPUT_NAME: batch})[0])


def run_dlib(source: Path, chips: np.ndarray) -> np.ndarray:
    """The same chips through dlib.face_recognition_model_v1 (the reference)."""
    import dlib

    net = dlib.face_recognition_model_v1(str(source))
    vectors = net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
    return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


def convert_verified_parse(source: Path) -> DlibResNet:
    """Check the .dat's pinned sha256 and parse it (the network the embedder and training use)."""
    import hashlib

    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        raise ModelImportError(f"{source}: sha256 {digest} differs from pinned {SOURCE_SHA256}")
    return parse_dlib_resnet(data)


def convert_verified(source: Path) -> bytes:
    """Check the .dat's pinned sha256, parse it and return the serialized ONNX model."""
    return build_onnx(convert_verified_parse(source)).SerializeToString()


def import_dlib_resnet(
    models_dir: Path, source: Path | None = None, calibration: Path | None = None
) -> dict[str, object]:
    """Convert, check parity with dlib, write <models_dir>/dlib-resnet-onnx/; return the info.

    With ``calibration`` (a folder of group photos, ../shared/testdata/classroom), also write
    the INT8 form (inference.embedder_quantization) and its entry ``int8`` in the info.
    Raises ModelImportError (checksum, parity, no calibration faces) or DlibFormatError;
    writes nothing then.
    """
    import hashlib
    import json

    from inference.dlib_models import model_path

    source = source or model_path("resnet")
    model = convert_verified(source)
    chips = make_parity_chips()
    diff = float(np.abs(run_onnx(model, chips) - run_dlib(source, chips)).max())
    if not diff <= PARITY_TOLERANCE:
        raise ModelImportError(f"ONNX and dlib differ by {diff:.2e} > {PARITY_TOLERANCE}")
    info: dict[str, object] = {
        "name": MODEL_NAME,
        "file": "model.onnx",
        "sha256": hashlib.sha256(model).hexdigest(),
        "source": SOURCE,
        "source_sha256": SOURCE_SHA256,
        "licence": "CC0-1.0 / public domain (Davis King, dlib-models; the wheel's LICENSE)",
        "input": f"{INPUT_NAME}: N x 3 x 150 x 150 float32, RGB 0..255 of a dlib face chip",
        "output": f"{OUTPUT_NAME}: N x 128 float32, same values as compute_face_descriptor",
        "parity": {
            "chips": len(chips),
            "max_abs_diff": float(f"{diff:.1e}"),
            "tolerance": PARITY_TOLERANCE,
        },
        "converter": "python -m inference models import dlib-resnet-onnx",
    }
    int8 = quantized(model, calibration) if calibration is not None else None
    if int8 is not None:
        info["int8"] = int8_info(hashlib.sha256(int8).hexdigest())
    target = models_dir / MODEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    (target / "model.onnx").write_bytes(model)
    if int8 is not None:
        (target / "model-int8.onnx").write_bytes(int8)
    (target / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def quantized(model: bytes, calibration: Path) -> bytes:
    """The INT8 form of ``model`` calibrated on the faces of ``calibration``; ModelImportError."""
    from inference.embedder_quantization import (
        EmbedderCalibrationError,
        calibration_chips,
        quantize_embedder,
    )

    try:
        return quantize_embedder(model, calibration_chips(calibration), INPUT_NAME)
    except EmbedderCalibrationError as exc:
        raise ModelImportError(str(exc)) from exc


def int8_info(sha256: str) -> dict[str, object]:
    return {
        "file": "model-int8.onnx",
        "sha256": sha256,
        "scheme": "ONNX Runtime static quantization, QOperator, per-channel INT8 weights, "
        "UINT8 activations, MinMax ranges",
        "calibration": "every 4th aligned chip (at most 200) of the faces the FP32 detector "
        "finds in ../shared/testdata/classroom (no identity figure is measured there)",
        "used": "precision auto: only where the CPU has VNNI (inference.embedder_quantization)",
    }
