"""The model families, sized for 48x48 or 64x64 face crops.

- ``baseline``: the seeds' custom CNN (conv blocks with batch-norm, pooling, dropout, dense head).
- ``vgg``: a deeper VGG-style stack (two or three 3x3 convs per stage).
- ``resnet``: a residual network of basic blocks (pre-activation shortcuts by 1x1 conv).
- ``mobile``: depthwise-separable inverted residuals (MobileNetV2-style) for the cheapest runs.
- ``face-recognition``: dlib's face-recognition ResNet to its level 1, from dlib's weights, with
  a new head (``training.face_recognition_transfer``).

All return logits over ``CANONICAL_CLASSES`` (softmax is added at export time). ``width``
multiplies every channel count, so one family spans a range of costs; ``count_macs`` reports
the multiply-accumulates of one forward pass, the figure that bounds CPU latency.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from inference.model_manifest import CANONICAL_CLASSES
from training.errors import ConfigError

N_CLASSES = len(CANONICAL_CLASSES)


def conv_bn(
    cin: int, cout: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """3x3 (or depthwise when groups == cin) conv, batch-norm and optional ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def scaled(channels: Sequence[int], width: float) -> list[int]:
    return [max(8, round(c * width / 8) * 8) for c in channels]


def classifier_head(cin: int, dropout: float, hidden: int = 0) -> nn.Sequential:
    """Global average pool, dropout and a linear (or one hidden-layer) classifier."""
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout)]
    if hidden:
        layers += [nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        layers += [nn.Dropout(dropout)]
        cin = hidden
    layers.append(nn.Linear(cin, N_CLASSES))
    return nn.Sequential(*layers)


def build_baseline(in_ch: int, width: float, dropout: float) -> nn.Module:
    """Four conv blocks (conv-BN-ReLU, conv-BN-ReLU, max-pool, dropout) and a dense head."""
    chans = scaled([32, 64, 128, 256], width)
    layers: list[nn.Module] = []
    cin = in_ch
    for c in chans:
        layers += [conv_bn(cin, c), conv_bn(c, c), nn.MaxPool2d(2), nn.Dropout2d(dropout / 4)]
        cin = c
    return nn.Sequential(*layers, classifier_head(cin, dropout, hidden=256))


def build_vgg(in_ch: int, width: float, dropout: float) -> nn.Module:
    """VGG-style: stages of 2, 2, 3, 3 convs at widths 32..256 separated by max-pooling."""
    chans = scaled([32, 64, 128, 256], width)
    layers: list[nn.Module] = []
    cin = in_ch
    for c, depth in zip(chans, (2, 2, 3, 3), strict=True):
        for _ in range(depth):
            layers.append(conv_bn(cin, c))
            cin = c
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, classifier_head(cin, dropout))


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or strided 1x1 conv) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, stride), conv_bn(cout, cout, act=False))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def build_resnet(
    in_ch: int, width: float, dropout: float, blocks: Sequence[int] = (1, 2, 2, 1)
) -> nn.Module:
    """Stem at full resolution, then four stages of basic blocks, each halving the resolution."""
    stem_c, *chans = scaled([32, 48, 96, 192, 384], width)
    layers: list[nn.Module] = [conv_bn(in_ch, stem_c)]
    cin = stem_c
    for c, n in zip(chans, blocks, strict=True):
        for i in range(n):
            layers.append(BasicBlock(cin, c, 2 if i == 0 else 1))
            cin = c
    return nn.Sequential(*layers, classifier_head(cin, dropout))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def build_mobile(in_ch: int, width: float, dropout: float) -> nn.Module:
    """MobileNetV2-style stack: (channels, blocks, first stride) per stage, expansion 4."""
    stages = [(24, 2, 1), (32, 2, 2), (64, 3, 2), (96, 2, 1), (160, 2, 2)]
    stem_c = scaled([32], width)[0]
    layers: list[nn.Module] = [conv_bn(in_ch, stem_c), conv_bn(stem_c, stem_c, 2, groups=stem_c)]
    cin = stem_c
    for c, n, stride in stages:
        cout = scaled([c], width)[0]
        for i in range(n):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand=4))
            cin = cout
    last = scaled([512], width)[0]
    layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(inplace=True)]
    return nn.Sequential(*layers, classifier_head(last, dropout))


def build_face_recognition(in_channels: int, width: float, dropout: float) -> nn.Module:
    # Imported when used: it parses dlib's 22 MB weight file (training.face_recognition_transfer).
    from training.face_recognition_transfer import build_face_recognition as build

    return build(in_channels, width, dropout)


BUILDERS = {
    "baseline": build_baseline,
    "vgg": build_vgg,
    "resnet": build_resnet,
    "mobile": build_mobile,
}
# Families from weights learned elsewhere: gray input at width 1.0 only, so they are not in
# BUILDERS (whose families take any width and gray or RGB input).
TRANSFER_BUILDERS = {"face-recognition": build_face_recognition}
FAMILIES = {**BUILDERS, **TRANSFER_BUILDERS}


def build_model(
    family: str, in_channels: int = 1, width: float = 1.0, dropout: float = 0.3
) -> nn.Module:
    """A model of ``family``, freshly initialised (transfer families: their source weights and a
    fresh head); raises ConfigError for an unknown family."""
    try:
        builder = FAMILIES[family]
    except KeyError as exc:
        raise ConfigError(
            f"unknown model family {family!r}; choose from {sorted(FAMILIES)}"
        ) from exc
    return builder(in_channels, width, dropout)


def count_macs(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Multiply-accumulates of one forward pass (convs and linear layers) for one input."""
    total = 0

    def hook(module: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += int(out.numel()) * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
