"""Transfer from dlib's face-recognition ResNet: the ``face-recognition`` model family.

Every network of ``training.model_zoo`` starts from random weights and sees only FER-2013's
28,709 training faces. dlib's ResNet (``face_recognition_models`` wheel, CC0, the same file the
identity embedder runs, ``inference/dlib_resnet_onnx.py``) was trained on about three million
faces to tell people apart. Its final embedding is built to ignore expression (a linear probe
on it scores 0.40 on FER-2013 val), but its middle levels still carry it (0.55-0.57 for a
linear probe on levels 3 to 1), so this family fine-tunes the network up to the end of its
level 1 and puts a new head on it (docs/training.md, twenty-seventh session).

Contract of the module built here:

- input: ``(N, 1, S, S)`` gray faces normalised as ``(pixel / 255 - 0.5) / 0.3`` (the
  preprocessing of every FER config, checked by ``check_preprocessing``), any S;
- inside: bilinear resize to ``input_size`` (112 by default; dlib's own chips are 150), and one
  stem convolution on the gray plane whose weights are dlib's three colour planes summed, with
  dlib's input centring (channel means, / 256) and our normalisation folded into its weights and
  bias: exact, because that convolution has no padding and bilinear resizing preserves affine
  maps;
- output: logits over the seven canonical classes.

The residual wiring follows ``inference.dlib_resnet_onnx`` (tag/skip/add_prev, with dlib's
zero-padding of the narrower operand), so the same parse of the .dat drives both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference.dlib_models import model_path
from inference.dlib_resnet_onnx import (
    PIXEL_SCALE,
    Affine,
    Conv,
    Dense,
    DlibResNet,
    Layer,
    Pool,
    convert_verified_parse,
)
from inference.model_manifest import CANONICAL_CLASSES, Preprocessing
from training.errors import ConfigError

FAMILY = "face-recognition"
INPUT_SIZE = 112
# The normalisation every FER config uses; the stem folds it in (see the module docstring).
GRAY_SCALE, GRAY_MEAN, GRAY_STD = 1.0 / 255.0, 0.5, 0.3
# The last level (one ares_down of 256 channels) and the pooling and fc of the embedding are
# dropped: 11 layer entries for the ares_down, then avg_pool_everything and fc.
LEVEL0_AND_EMBEDDING = 13


Padding = tuple[int, int, int, int, int, int]  # F.pad order: W, H, C (before, after each)


@dataclass(frozen=True)
class _Op:
    kind: str  # conv | pool | relu | tag | skip | add
    index: int = 0  # conv: position in the module list
    pool: Pool | None = None
    tag: str = ""


def check_preprocessing(spec: Preprocessing) -> None:
    """ConfigError unless ``spec`` is the gray normalisation the folded stem expects."""
    expected = Preprocessing(
        color="gray", size=spec.size, scale=GRAY_SCALE, mean=(GRAY_MEAN,), std=(GRAY_STD,)
    )
    if spec != expected:
        raise ConfigError(
            f"the {FAMILY} family folds the input normalisation into its stem: it needs "
            f"[preprocessing] color = 'gray', scale = 1/255, mean = [{GRAY_MEAN}], "
            f"std = [{GRAY_STD}], layout = 'NCHW' (found {spec})"
        )


def gray_stem(conv: Conv, affine: Affine, means: tuple[float, float, float]) -> nn.Conv2d:
    """dlib's first conv + affine as one conv on a normalised gray plane (exact: no padding)."""
    if conv.padding != (0, 0):
        raise ConfigError("dlib's stem convolution is padded: the input folding would not be exact")
    gamma = affine.gamma.astype(np.float64)
    weights = conv.weights.astype(np.float64) * gamma[:, None, None, None]
    bias = conv.bias.astype(np.float64) * gamma + affine.beta
    # dlib sees (pixel - mean_c) / 256 on each colour plane; a gray face is one pixel value p on
    # all three, and p = (x * std + mean) * 255 for our normalised input x.
    bias = bias - np.einsum("ochw,c->o", weights, np.asarray(means)) * PIXEL_SCALE
    gray = weights.sum(axis=1, keepdims=True) * PIXEL_SCALE
    bias = bias + gray.sum(axis=(1, 2, 3)) * GRAY_MEAN / GRAY_SCALE
    gray = gray * GRAY_STD / GRAY_SCALE
    return _conv_module(gray, bias, conv)


def _conv_module(weights: np.ndarray, bias: np.ndarray, conv: Conv) -> nn.Conv2d:
    module = nn.Conv2d(
        weights.shape[1], weights.shape[0], weights.shape[2:], conv.stride, conv.padding
    )
    module.weight.data = torch.from_numpy(weights.astype(np.float32))
    assert module.bias is not None
    module.bias.data = torch.from_numpy(bias.astype(np.float32))
    return module


def _folded_conv(conv: Conv, affine: Layer | None) -> nn.Conv2d:
    weights, bias = conv.weights.astype(np.float64), conv.bias.astype(np.float64)
    if isinstance(affine, Affine):
        gamma = affine.gamma.astype(np.float64)
        weights, bias = weights * gamma[:, None, None, None], bias * gamma + affine.beta
    return _conv_module(weights, bias, conv)


class FaceRecognitionNet(nn.Module):
    """dlib's ResNet to the end of level 1 (or whole, for the parity test), on gray faces."""

    def __init__(
        self,
        net: DlibResNet,
        input_size: int = INPUT_SIZE,
        dropout: float = 0.3,
        whole: bool = False,
    ) -> None:
        super().__init__()
        layers = net.layers if whole else net.layers[:-LEVEL0_AND_EMBEDDING]
        stem, affine = layers[0], layers[1]
        if not isinstance(stem, Conv) or not isinstance(affine, Affine):
            raise ConfigError("dlib's network does not start with con + affine")
        self.input_size = input_size
        self.convs = nn.ModuleList([gray_stem(stem, affine, net.channel_means)])
        self.ops = self._wire(layers[2:])
        self.embedding = self._embedding(net) if whole else None
        channels = self._channels()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, len(CANONICAL_CLASSES)))
        self.pads: dict[int, tuple[Padding, Padding]] = {}
        with torch.no_grad():  # measures every add's padding once (see _run_op)
            self.features(torch.zeros(1, 1, input_size, input_size))

    def _wire(self, layers: list[Layer]) -> list[_Op]:
        ops = [_Op("conv", 0)]
        for i, layer in enumerate(layers):
            if isinstance(layer, Conv):
                following = layers[i + 1] if i + 1 < len(layers) else None
                ops.append(_Op("conv", len(self.convs)))
                self.convs.append(_folded_conv(layer, following))
            elif isinstance(layer, Pool):
                ops.append(_Op("pool", pool=layer))
            elif isinstance(layer, (Affine, Dense)):
                continue  # affines are folded; the fc is kept apart (whole networks only)
            elif layer.kind == "relu":
                ops.append(_Op("relu"))
            else:  # tagN, skipN, add_prevN
                ops.append(
                    _Op(
                        layer.kind.rstrip("0123456789").replace("add_prev", "add"),
                        tag=layer.kind[-1],
                    )
                )
        return ops

    @staticmethod
    def _embedding(net: DlibResNet) -> nn.Parameter:
        fc = net.layers[-1]
        assert isinstance(fc, Dense)
        return nn.Parameter(torch.from_numpy(fc.weights.astype(np.float32)), requires_grad=False)

    def _channels(self) -> int:
        last = self.convs[-1]
        assert isinstance(last, nn.Conv2d)
        return int(last.out_channels)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) normalised gray -> dlib's feature maps at the end of the kept levels."""
        x = F.interpolate(
            x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
        )
        tags: dict[str, torch.Tensor] = {}
        for i, op in enumerate(self.ops):
            x = self._run_op(i, op, x, tags)
        return x

    def _run_op(
        self, i: int, op: _Op, x: torch.Tensor, tags: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        if op.kind == "conv":
            return self.convs[op.index](x)
        if op.kind == "relu":
            return F.relu(x)
        if op.kind == "tag":
            tags[op.tag] = x
            return x
        if op.kind == "skip":
            return tags[op.tag]
        if op.kind == "add":
            # Faces are resized to input_size first, so every add's shapes are constants of the
            # graph: measured once at construction, they stay Python ints when the model is
            # traced for ONNX export (no shape arithmetic on traced tensors).
            if i not in self.pads:
                self.pads[i] = add_padding(x.shape, tags[op.tag].shape)
            return _padded(x, self.pads[i][0]) + _padded(tags[op.tag], self.pads[i][1])
        assert op.pool is not None
        return _pool(op.pool, x)

    def classify(self, maps: torch.Tensor) -> torch.Tensor:
        """Feature maps -> logits (dlib's 128-d embedding for a whole network)."""
        pooled = maps.mean(dim=(2, 3))
        if self.embedding is not None:
            return pooled @ self.embedding
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def _pool(pool: Pool, x: torch.Tensor) -> torch.Tensor:
    if pool.window == (0, 0):
        return x.mean(dim=(2, 3), keepdim=True)
    if pool.kind == "max":
        return F.max_pool2d(x, pool.window, pool.stride, pool.padding)
    return F.avg_pool2d(x, pool.window, pool.stride)


def add_padding(a: torch.Size, b: torch.Size) -> tuple[Padding, Padding]:
    """dlib's add_prev zero-pads the smaller operand at the end of its channels, rows and
    columns: the F.pad amounts of ``a`` and of ``b`` (N, C, H, W shapes)."""
    shape = [max(x, y) for x, y in zip(a[1:], b[1:], strict=True)]

    def padding(s: torch.Size) -> Padding:
        c, h, w = (int(want) - int(have) for want, have in zip(shape, s[1:], strict=True))
        return (0, w, 0, h, 0, c)

    return padding(a), padding(b)


def _padded(t: torch.Tensor, padding: Padding) -> torch.Tensor:
    """``t`` zero-padded at the end of each dimension by ``padding`` (F.pad order). Built by
    concatenating zeros rather than by F.pad, whose ONNX form reverses a constant pad list
    with a Slice that the exporter cannot fold (a warning on every export)."""
    for dim, extra in ((1, padding[5]), (2, padding[3]), (3, padding[1])):
        if extra:
            zeros = torch.zeros_like(t.narrow(dim, 0, 1)).repeat_interleave(extra, dim)
            t = torch.cat([t, zeros], dim)
    return t


def build_face_recognition(in_channels: int, width: float, dropout: float) -> nn.Module:
    """The family's builder for ``model_zoo.build_model``: dlib's weights, a fresh head."""
    if in_channels != 1 or width != 1.0:
        raise ConfigError(f"the {FAMILY} family takes gray input at width 1.0 (dlib's network)")
    return FaceRecognitionNet(convert_verified_parse(model_path("resnet")), dropout=dropout)
