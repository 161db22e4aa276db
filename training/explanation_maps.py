"""``python -m training explain``: Grad-CAM and occlusion maps over one face, for developers.

Grad-CAM (Selvaraju et al., 2017) weights the last convolutional feature maps by the gradient
of the predicted class score; it needs a PyTorch module: a checkpoint's, or one rebuilt from a
registered model this pipeline exported (training.onnx_weights). Occlusion slides a grey patch over
the face and records how much the predicted class probability drops; it works for any model,
ONNX included. Both maps are rendered next to the face in one PNG. Explanations are for model
developers debugging a model, never shown about a participant (nothing here stores a face).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inference.emotion_preprocessing import preprocess_faces
from inference.model_manifest import CANONICAL_CLASSES
from training.dataset_loaders import read_image
from training.model_evaluation import Predict
from training.model_predictors import LoadedModel

PANEL = 192  # pixels per panel in the output PNG


def split_at_head(
    model: nn.Module,
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(input -> last feature maps, feature maps -> logits) of a model of training.model_zoo."""
    if isinstance(model, nn.Sequential):
        return model[:-1], model[-1]
    features, classify = getattr(model, "features", None), getattr(model, "classify", None)
    if callable(features) and callable(classify):
        return features, classify
    raise TypeError("grad_cam expects an nn.Sequential ending in its head, or features/classify")


def grad_cam(model: nn.Module, inputs: np.ndarray, target: int) -> np.ndarray:
    """(H, W) map in [0, 1] for class ``target`` of one preprocessed input (1, C, H, W).

    The model is an nn.Sequential whose last element is the classifier head (the families
    trained from scratch), or has ``features`` (input -> last feature maps) and ``classify``
    (feature maps -> logits) methods (the transfer families); TypeError otherwise.
    """
    body, head = split_at_head(model)
    model.eval()
    x = torch.from_numpy(inputs)
    features = body(x).detach().requires_grad_(True)
    score = head(features)[0, target]
    (grads,) = torch.autograd.grad(score, features)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * features).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=inputs.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    return normalise_map(cam.detach().numpy())


def occlusion_map(
    predict: Predict, inputs: np.ndarray, target: int, patch: int = 8, stride: int = 4
) -> np.ndarray:
    """(H, W) map in [0, 1]: drop of P(target) when a patch around each pixel is blanked.

    The patch is filled with 0.0 in normalised units (the dataset-mean grey). All occluded
    copies are scored in one batch.
    """
    _, _, h, w = inputs.shape
    base = float(predict(inputs)[0, target])
    corners = [
        (y, x) for y in range(0, h - patch + 1, stride) for x in range(0, w - patch + 1, stride)
    ]
    batch = np.repeat(inputs, len(corners), axis=0)
    for i, (y, x) in enumerate(corners):
        batch[i, :, y : y + patch, x : x + patch] = 0.0
    drops = base - predict(batch)[:, target]
    heat, hits = np.zeros((h, w)), np.zeros((h, w))
    for (y, x), drop in zip(corners, drops, strict=True):
        heat[y : y + patch, x : x + patch] += drop
        hits[y : y + patch, x : x + patch] += 1
    return normalise_map(np.clip(heat / np.maximum(hits, 1), 0, None))


def normalise_map(values: np.ndarray) -> np.ndarray:
    top = float(values.max())
    return (values / top if top > 0 else np.zeros_like(values)).astype(np.float32)


def overlay(face: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Face (gray uint8, PANEL x PANEL) blended with a JET-coloured heat map."""
    coloured = cv2.applyColorMap(
        (cv2.resize(heat, (PANEL, PANEL)) * 255).astype(np.uint8), cv2.COLORMAP_JET
    )
    face_bgr = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(face_bgr, 0.55, coloured, 0.45, 0)


def caption(panel: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((28, panel.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, text, (4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, panel])


def explain_image(loaded: LoadedModel, image_path: Path, out_path: Path) -> dict[str, object]:
    """Write face | Grad-CAM | occlusion panels to ``out_path``; returns the prediction.

    The image is taken as a face crop (as the engine passes to the classifier). Grad-CAM is
    drawn when a PyTorch module is at hand (a checkpoint, or a registered model exported by
    this pipeline); other ONNX models get the face and occlusion panels.
    """
    crop = read_image(image_path)
    inputs = preprocess_faces([crop], loaded.preprocessing)
    probs = loaded.predict(inputs)[0]
    target = int(probs.argmax())
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    face = cv2.resize(gray, (PANEL, PANEL), interpolation=cv2.INTER_LINEAR)
    label = f"{CANONICAL_CLASSES[target]} {probs[target]:.2f}"
    panels = [caption(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), label)]
    if loaded.module is not None:
        panels.append(caption(overlay(face, grad_cam(loaded.module, inputs, target)), "Grad-CAM"))
    panels.append(
        caption(overlay(face, occlusion_map(loaded.predict, inputs, target)), "occlusion")
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_path), np.hstack(panels)):
        raise OSError(f"could not write {out_path}")
    return {
        "image": str(image_path),
        "predicted": CANONICAL_CLASSES[target],
        "probabilities": {
            c: round(float(p), 4) for c, p in zip(CANONICAL_CLASSES, probs, strict=True)
        },
        "grad_cam": loaded.module is not None,
        "out": str(out_path),
    }
