"""The match threshold sits in the measured genuine/impostor gap; the gallery applies it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.calibration import embed_labelled, measure_distances
from inference.identity import DEFAULT_MATCH_THRESHOLD, Gallery, GalleryError


def test_threshold_separates_genuine_from_impostor_pairs(engine: Any, faces_dir: Path) -> None:
    # given the embeddings of every enrollment photo and probe of the shared set
    result = measure_distances(embed_labelled(engine, faces_dir))
    # then every same-person distance is below the threshold and every other one above it
    assert result["n_genuine"] >= 15 and result["n_impostor"] >= 90
    assert result["genuine_max"] < DEFAULT_MATCH_THRESHOLD < result["impostor_min"]


def unit(i: int, scale: float = 1.0) -> np.ndarray:
    vector = np.zeros(128, np.float32)
    vector[i] = scale
    return vector


def test_gallery_names_only_faces_within_the_threshold() -> None:
    # given one participant with two templates
    gallery = Gallery.from_templates({"p1": [unit(0), unit(1)]})
    # when a face at distance 0.5 from one template and one at 0.7 from both are matched
    near, far = gallery.match(np.stack([unit(0, 1.5), unit(0) + unit(2, 0.7)]), 0.6)
    # then the first is p1 with its distance to the nearest template, the second nobody
    assert near.identity == "p1" and near.distance == pytest.approx(0.5)
    assert far.identity is None and far.distance is None


def test_empty_gallery_names_nobody() -> None:
    # given a class with no enrolled participant / then every face is unknown
    matches = Gallery.from_templates({}).match(np.stack([unit(0), unit(1)]), 0.6)
    assert [(m.identity, m.distance) for m in matches] == [(None, None), (None, None)]


@pytest.mark.parametrize(
    "template", [np.zeros(64, np.float32), np.full(128, np.nan, np.float32)], ids=["64d", "nan"]
)
def test_malformed_templates_are_refused(template: np.ndarray) -> None:
    # given a template of the wrong size or with NaNs / then GalleryError names the participant
    with pytest.raises(GalleryError, match="p7"):
        Gallery.from_templates({"p7": [template]})
