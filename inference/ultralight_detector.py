"""The Ultra-Light RFB face detector (MIT) on ONNX Runtime: faces from about 16 px.

The network (``models/ultra-light-rfb``, converted by ``inference.ultralight_import``) is
fully convolutional: it runs on the whole frame at its own resolution, padded to multiples of
64, so a 20 px back-row face in a 1080p frame is seen at 20 px rather than shrunk into a fixed
640x480 input (which would make it 7 px). Frames whose longer side exceeds ``max_side`` are
downscaled first, which bounds the cost of 4K and larger frames. Boxes follow the WIDER FACE
convention (hairline to chin), confidence is the network's face probability.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np

from inference.detection import Detection, to_detection
from inference.tracking import box_iou

MODEL_NAME = "ultra-light-rfb"
# Anchor sizes (px of the network input) per head and the heads' strides, as trained.
MIN_BOXES = ((10.0, 16.0, 24.0), (32.0, 48.0), (64.0, 96.0), (128.0, 192.0, 256.0))
STRIDES = (8, 16, 32, 64)
CENTER_VARIANCE = 0.1
SIZE_VARIANCE = 0.2
PAD_TO = 64
PAD_VALUE = 127  # the normalisation's zero: the network sees (pixel - 127) / 128
SCALE = 1.0 / 128.0
# dlib's 5-point predictor was trained on HOG boxes (square, brow to lip); RFB boxes are tall
# (hairline to chin, width/height ~0.71). Median HOG box relative to the RFB box of the same
# face over the 24 faces of ../shared/testdata/faces both detectors find: centre shifted by
# (0.019 w, 0.027 h), width 1.105 w, height 0.748 h.
LANDMARK_SHIFT = (0.019, 0.027)
LANDMARK_SCALE = (1.105, 0.748)


class DetectorModelError(RuntimeError):
    """The detector's model folder is missing or its model.onnx fails its sha256."""


@lru_cache(maxsize=16)
def generate_priors(width: int, height: int) -> np.ndarray:
    """(P, 4) float32 priors (centre x, centre y, width, height as fractions of the input).

    Order matches the network's outputs: per head, row by row, column by column, anchor by
    anchor. Centres are at (i + 0.5) / feature-map size, exactly as the original export baked
    them in for 640x480. Cached: a camera's frames all have one size.
    """
    parts = []
    for stride, sizes in zip(STRIDES, MIN_BOXES, strict=True):
        cols, rows = math.ceil(width / stride), math.ceil(height / stride)
        cx, cy = np.meshgrid((np.arange(cols) + 0.5) / cols, (np.arange(rows) + 0.5) / rows)
        centres = np.repeat(np.stack([cx, cy], axis=-1).reshape(-1, 1, 2), len(sizes), axis=1)
        dims = np.broadcast_to([[s / width, s / height] for s in sizes], centres.shape)
        parts.append(np.concatenate([centres, dims], axis=-1).reshape(-1, 4))
    priors = np.clip(np.concatenate(parts), 0.0, 1.0).astype(np.float32)
    priors.setflags(write=False)
    return priors


def decode_boxes(locations: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """SSD offsets (P, 4) against priors (P, 4) -> corner boxes (x1, y1, x2, y2) as fractions."""
    centres = priors[:, :2] + locations[:, :2] * CENTER_VARIANCE * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(locations[:, 2:] * SIZE_VARIANCE)
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def model_folder(directory: Path | None = None) -> Path:
    """Where ``ultra-light-rfb`` lives: $WELLBEING_MODELS_DIR or the package's models folder."""
    if directory is not None:
        return directory / MODEL_NAME
    from inference.model_manifest import models_dir

    candidate = models_dir() / MODEL_NAME
    if candidate.is_dir():
        return candidate
    return Path(__file__).resolve().parent / "models" / MODEL_NAME


def verified_model_bytes(folder: Path, precision: str = "int8") -> bytes:
    """The model file's bytes after checking them against detector.json; DetectorModelError.

    ``precision``: "int8" (model-int8.onnx, the default) or "fp32" (model.onnx).
    """
    info_path = folder / "detector.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    entry = info.get("int8", {}) if precision == "int8" else info
    model_path = folder / entry.get("file", "model.onnx")
    if not entry or not model_path.is_file():
        raise DetectorModelError(
            f"face detector ({precision}) missing in {folder}: run `python -m inference models "
            f"import {MODEL_NAME}`"
        )
    data = model_path.read_bytes()
    expected = entry["sha256"]
    if hashlib.sha256(data).hexdigest() != expected:
        raise DetectorModelError(f"{model_path} does not match the sha256 in detector.json")
    return data


def pad_input(rgb: np.ndarray) -> np.ndarray:
    """1 x 3 x H' x W' float32 network input, H', W' the next multiples of PAD_TO.

    Each colour plane is normalised by OpenCV in one pass straight into its place in a zeroed
    canvas (zero is PAD_VALUE normalised): 3.7 ms for a 1080p frame, against 5.8 ms for a
    uint8 canvas converted and normalised by NumPy, and 18 ms for converting first; the
    values are identical.
    """
    height, width = rgb.shape[:2]
    padded_h = math.ceil(height / PAD_TO) * PAD_TO
    padded_w = math.ceil(width / PAD_TO) * PAD_TO
    x = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
    for channel, plane in enumerate(cv2.split(rgb)):
        target = x[0, channel, :height, :width]
        cv2.addWeighted(plane, SCALE, plane, 0.0, -PAD_VALUE * SCALE, dst=target, dtype=cv2.CV_32F)
    return x


class UltraLightDetector:
    """RFB detector; see the module doc. Thread-safe (ONNX Runtime sessions are).

    ``precision``: "int8" (default, inference.detector_quantization) or "fp32".
    ``score_threshold`` is the face probability a box needs; ``nms_iou`` the overlap above
    which the weaker of two boxes is dropped; ``max_side`` (px) the longer side frames are
    downscaled to before detection.
    """

    name = "rfb"

    def __init__(
        self,
        threads: int = 1,
        score_threshold: float = 0.7,  # chosen on bench/classroom (docs/inference.md)
        nms_iou: float = 0.3,
        max_side: int = 1920,
        directory: Path | None = None,
        precision: str = "int8",
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's memory pattern pre-plans one block per input size that holds every
        # activation; at 1920x1088 that put the process's peak 290 MB above the engine's
        # baseline (the whole engine at 598 MB, target 600). Without it: +158 MB, same speed.
        options.enable_mem_pattern = False
        folder = model_folder(directory)
        data = verified_model_bytes(folder, precision)
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        # The INT8 network's borderline calls are made again by the FP32 one (see confirmed).
        self.verifier = (
            ort.InferenceSession(
                verified_model_bytes(folder, "fp32"), options, providers=["CPUExecutionProvider"]
            )
            if precision == "int8"
            else None
        )
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_side = max_side

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 image, strongest first; boxes in the image's pixels.

        Two passes (see PASSES): the frame at up to ``max_side`` for faces up to FINE_MAX_PX,
        and a quarter-size copy for larger faces, which the network's anchors (10-256 px)
        cannot cover at full size; a webcam close-up would otherwise come back as fragments.
        """
        height, width = rgb.shape[:2]
        if height < 2 or width < 2:
            return []
        fine = min(1.0, self.max_side / max(height, width))
        fine_image = resized(rgb, fine)  # once: a 33 MP frame is shrunk a single time
        boxes, scores, scales = [], [], []
        for factor, smallest, largest in PASSES:
            scale = fine * factor
            if factor < 1.0 and min(height, width) * fine < largest_needed(smallest):
                continue  # no face too large for the fine pass fits into this frame
            found, found_scores = self.raw_boxes(resized(fine_image, factor))
            sides = np.minimum(found[:, 2] - found[:, 0], found[:, 3] - found[:, 1])
            keep = (sides >= smallest) & (sides <= largest)
            boxes.append(found[keep] / scale)
            scores.append(found_scores[keep])
            scales.append(np.full(int(keep.sum()), scale))
        merged, merged_scores = np.concatenate(boxes), np.concatenate(scores)
        merged_scales = np.concatenate(scales)
        order = suppress_overlaps(merged, merged_scores, self.nms_iou)
        order = np.asarray(
            [
                i
                for i in order
                if self.confirmed(rgb, merged[i], merged_scores[i], float(merged_scales[i]))
            ],
            dtype=np.int64,
        )
        return [
            d
            for box, score in zip(merged[order], merged_scores[order], strict=True)
            if (d := to_detection(box_rect(box), float(score), width, height, rect_of(box)))
            is not None
        ]

    def confirmed(self, rgb: np.ndarray, box: np.ndarray, score: float, scale: float = 1.0) -> bool:
        """A second look at an uncertain box (score < CONFIRM_BELOW, at least CONFIRM_MIN_PX:
        smaller faces are too blurred when enlarged, and are never named); the box stands if
        each look finds a face overlapping it (IoU >= 0.4) scoring at least the threshold:

        1. for the INT8 network, the FP32 network on the box and a margin of one box around it,
           at ``scale``, the one of the pass that found the box (frame pixels to network
           pixels): quantization moves borderline scores by up to ~0.2 (an arm scored 0.62 in
           FP32 and 0.78 in INT8), so the FP32 network re-makes the same call;
        2. the box cut out with the same margin and scaled so the face is CONFIRM_PX.

        On the labelled group photos the second look removed every false positive (hands,
        fingers, a sleeve: scores 0.72-0.91) and no labelled face of 16 px or more
        (docs/inference.md, "Detector"); each look costs ~1-2 ms per uncertain box.
        """
        x1, y1, x2, y2 = (float(v) for v in box)
        if score >= CONFIRM_BELOW or min(x2 - x1, y2 - y1) < CONFIRM_MIN_PX:
            return True
        if self.verifier is not None and not self.found_again(rgb, box, scale, self.verifier):
            return False
        return self.found_again(rgb, box, CONFIRM_PX / max(x2 - x1, y2 - y1, 1.0), self.session)

    def found_again(self, rgb: np.ndarray, box: np.ndarray, factor: float, session: Any) -> bool:
        """Whether ``session`` finds a face overlapping ``box`` (IoU >= 0.4) in the box and a
        margin of one box side around it, scaled by ``factor``."""
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1, 1.0)
        left, top = max(0, int(x1 - side)), max(0, int(y1 - side))
        right, bottom = min(rgb.shape[1], int(x2 + side)), min(rgb.shape[0], int(y2 + side))
        crop = resized(rgb[top:bottom, left:right], factor)
        if min(crop.shape[:2]) < 2:
            return False
        found, _ = self.raw_boxes(crop, session)
        again = found / factor + np.array([left, top, left, top], dtype=np.float32)
        target = (x1, y1, x2 - x1, y2 - y1)
        return any(box_iou((b[0], b[1], b[2] - b[0], b[3] - b[1]), target) >= 0.4 for b in again)

    def raw_boxes(self, rgb: np.ndarray, session: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) corner boxes in rgb's pixels and (N,) scores after threshold and NMS, by
        ``session`` (default: the detector's own network)."""
        x = pad_input(rgb)
        scores, locations = (session or self.session).run(None, {"input": x})
        padded_h, padded_w = x.shape[2:]
        face = scores[0, :, 1]
        keep = face > self.score_threshold
        priors = generate_priors(padded_w, padded_h)[keep]
        scale = np.array([padded_w, padded_h, padded_w, padded_h], dtype=np.float32)
        boxes = decode_boxes(locations[0][keep], priors) * scale
        face = face[keep]
        order = non_max_suppression(boxes, face, self.nms_iou)
        return boxes[order], face[order]


CONFIRM_BELOW = 0.95
CONFIRM_PX = 64.0
CONFIRM_MIN_PX = 16.0
# (scale factor of the pass, smallest and largest face side kept, in that pass's pixels).
# The coarse pass starts where the fine one stops (FINE_MAX_PX / 4 = 48), with some overlap.
FINE_MAX_PX = 192.0
PASSES = ((1.0, 0.0, FINE_MAX_PX), (0.25, 40.0, math.inf))


def largest_needed(smallest_coarse_px: float) -> float:
    """Frames whose shorter side is under this (fine-pass px) cannot hold a coarse-pass face."""
    return smallest_coarse_px * 4


def resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def suppress_overlaps(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> np.ndarray:
    """NMS across passes, then drop boxes lying mostly (> 60%) inside a stronger kept box."""
    kept: list[int] = []
    for i in non_max_suppression(boxes, scores, max_iou):
        if not any(inside_share(boxes[i], boxes[j]) > 0.6 for j in kept):
            kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def inside_share(box: np.ndarray, other: np.ndarray) -> float:
    """Share of ``box``'s area that lies inside ``other`` (corner boxes)."""
    ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return float(ix * iy / area)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> np.ndarray:
    """Indices of the boxes kept, highest score first (greedy NMS on corner boxes)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    chosen = cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(), 0.0, max_iou)
    kept = np.asarray(chosen, dtype=np.int64).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")]


def box_rect(box: np.ndarray) -> dlib.rectangle:
    """The dlib rectangle of a corner box as is (inclusive right/bottom, as dlib counts)."""
    left, top, right, bottom = (round(float(v)) for v in box)
    return dlib.rectangle(left, top, right - 1, bottom - 1)


def rect_of(box: np.ndarray) -> dlib.rectangle:
    """The square, HOG-like dlib rectangle that the 5-point predictor expects for a corner box.

    See LANDMARK_SHIFT/LANDMARK_SCALE: feeding the predictor the tall RFB box itself puts its
    eye points too high.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2 + LANDMARK_SHIFT[0] * w
    cy = (y1 + y2) / 2 + LANDMARK_SHIFT[1] * h
    half = (LANDMARK_SCALE[0] * w + LANDMARK_SCALE[1] * h) / 4
    return dlib.rectangle(round(cx - half), round(cy - half), round(cx + half), round(cy + half))
