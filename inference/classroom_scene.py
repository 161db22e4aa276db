"""Synthetic classroom frames for benchmarks: real face photos pasted onto a 1280x720 canvas.

Deterministic for a given seed, so benchmark figures are comparable between runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inference.detection import HogDetector


def crop_faces(images: Sequence[np.ndarray], margin: float = 0.6) -> list[np.ndarray]:
    """Square BGR head crops (face box grown by ``margin`` of its size) of every HOG face."""
    detector = HogDetector(upsample=0)
    crops = []
    for bgr in images:
        for det in detector.detect(np.ascontiguousarray(bgr[:, :, ::-1])):
            x, y, w, h = det.box
            side = int(max(w, h) * (1 + margin))
            cx, cy = x + w // 2, y + h // 2
            x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
            crop = bgr[y0 : y0 + side, x0 : x0 + side]
            if min(crop.shape[:2]) >= side * 0.8:
                crops.append(crop)
    return crops


def compose_classroom(
    heads: Sequence[np.ndarray],
    n_faces: int = 30,
    size: tuple[int, int] = (1280, 720),
    face_px: tuple[int, int] = (60, 90),
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paste ``n_faces`` head crops on a grid (6 per row); return (BGR frame, head boxes).

    Head crops are scaled so the face inside is roughly ``face_px`` wide, the range a
    classroom camera sees for the front and middle rows.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    frame = np.full((height, width, 3), 180, dtype=np.uint8)
    frame[:] = rng.integers(140, 200, size=3, dtype=np.uint8)
    cols = 6
    rows = -(-n_faces // cols)
    cell_w, cell_h = width // cols, height // rows
    boxes = []
    for i in range(n_faces):
        head = heads[i % len(heads)]
        side = int(rng.integers(face_px[0], face_px[1] + 1) * 1.6)
        side = min(side, cell_w - 4, cell_h - 4)
        tile = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            tile = tile[:, ::-1]
        x = (i % cols) * cell_w + int(rng.integers(0, cell_w - side + 1))
        y = (i // cols) * cell_h + int(rng.integers(0, cell_h - side + 1))
        frame[y : y + side, x : x + side] = tile
        boxes.append((x, y, side, side))
    return frame, boxes
