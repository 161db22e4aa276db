"""Shrinking inside an ONNX graph (training.graph_resizing): the same pixels as cv2.INTER_AREA."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.graph_resizing import area_matrix, shrink_onnx


@pytest.mark.parametrize(("src", "dst"), [(64, 48), (48, 24), (64, 16), (7, 5), (48, 48)])
def test_the_graph_shrinks_faces_as_cv2_inter_area_does(src: int, dst: int) -> None:
    # given three random faces of src px, as float pixel values
    faces = np.random.default_rng(src * dst).uniform(0, 255, (3, src, src)).astype(np.float32)
    # when shrunk to dst px by the graph's two matrix products
    shrunk = shrink_onnx(faces[:, None], dst)[:, 0]
    # then each equals OpenCV's area resampling of it (integer and non-integer factors alike)
    expected = [cv2.resize(f, (dst, dst), interpolation=cv2.INTER_AREA) for f in faces]
    assert shrunk.shape == (3, dst, dst)
    assert np.abs(shrunk - np.stack(expected)).max() < 1e-3


def test_each_output_pixel_is_an_average() -> None:
    # given the weights shrinking 64 px to 48 px
    weights = area_matrix(64, 48)
    # when summed per output pixel, then they sum to 1 (so normalisation commutes with it)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert (weights >= 0).all()


def test_growing_is_refused() -> None:
    # given a 48 px input and a 64 px target, when asked, then it says it only shrinks
    with pytest.raises(ValueError, match="shrinks: cannot go from 48 to 64 px"):
        area_matrix(48, 64)
